package join

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/expr"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/operators/internal/joinside"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// The interval join (plan.IntervalJoin), Flink's event-time interval
// join. Its condition is the equi-keys, Lower <= left.ts - right.ts <=
// Upper (ms) and the residual. Times below are in ms; wm is the
// operator's watermark (the minimum over both inputs).
//
//   - A row whose time is at or below wm when it arrives is late: it is
//     dropped and counted (OperatorMetrics.LateRecords), on an inner and
//     an outer side alike, so that the result is exactly the join of the
//     rows that came on time, whatever the order they came in. (Flink
//     still joins a late row with what it happens to hold, and pads it
//     if it found nothing: rows that can no longer join are padded or
//     dropped depending on when its cleanup timers ran.)
//   - An arriving row joins the held rows of the other side with its key
//     whose time lies in its interval ([ts - Upper, ts - Lower] for a left
//     row, [ts + Lower, ts + Upper] for a right row) and pass the
//     residual; then it is held while a row of the other side could still
//     join it: a left row while wm < ts - Lower, a right row while
//     wm < ts + Upper. Each joined pair is emitted once, when the later
//     of its two rows arrives.
//   - A row whose key or time is NULL joins nothing and is not held.
//   - When the watermark passes a held row's interval, the row is
//     dropped; a row of an outer side that joined nothing is emitted then,
//     padded with NULLs (at once, for a row that arrives too late to be
//     held or with a NULL key or time).
//   - Output is append-only (+I). The output watermark is wm -
//     max(0, -Lower, Upper) (plan.IntervalJoin.Delay): every row emitted
//     after it has both its time columns above it, so windows and other
//     interval joins downstream see no late rows.
//
// State: two keyed tables, "left" and "right", each entry keyed by the
// encoded join key, the row's time (8 bytes, order-preserving) and the
// encoded row, in the key group of the join key; its value is the row's
// count (identical rows are one entry) and, for an outer side, whether it
// joined a row. A non-keyed table holds the watermark (Union, the largest
// wins), so that lateness after a restore is what it was before. Barriers
// write the entries changed since the last one; dropped rows are deleted,
// so the checkpoint holds only what the interval keeps.

// ivEntry is one distinct held row of a side, or a dropped one not yet
// deleted from the checkpointed state: its encoded join key and row are
// in the side's slab, the entry itself holds no pointer.
type ivEntry struct {
	slot // flags: fUsed, fDirty, fPersisted, fMatched (joined a row: outer sides)
	time int64
}

// ivBucket lists the rows of one join key, linked by their entries' next
// in time order (rows of one time in arrival order). Rows arrive mostly
// in time order, at the tail; they expire from the head.
type ivBucket struct {
	head, tail int32 // -1: a free bucket
	run        int32 // the first row of the tail's time
	hnext      int32 // the next bucket of the same key hash, or the next free one
}

// ivTimer asks for the rows of bucket b to be checked once wm >= at (b
// may have been freed, or reused for another key, since: checking it
// then is harmless).
type ivTimer struct {
	at int64
	b  int32
}

type ivTimers []ivTimer

func (h ivTimers) Len() int           { return len(h) }
func (h ivTimers) Less(i, j int) bool { return h[i].at < h[j].at }
func (h ivTimers) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *ivTimers) Push(x any)        { *h = append(*h, x.(ivTimer)) }
func (h *ivTimers) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

// ivSide is the state and encoders of one input. Its held rows are in an
// arena as the regular join's are (arena.go): their state keys in a slab,
// their entries in chunks, a dropped one a tombstone until a barrier.
type ivSide struct {
	name  string
	table *state.Table
	outer bool
	joinside.Codec
	arena[ivEntry, *ivEntry]
	timeCol int
	life    int64 // a row of time ts is held while wm < ts + life
	seed    maphash.Seed
	byKey   map[uint64]int32 // hash of a join key → its bucket (chained by hnext)
	bkts    []ivBucket
	freeB   int32
	timers  ivTimers
	kr      []byte
}

// appendStateKey appends the state key of e: join key, time, row.
func (s *ivSide) appendStateKey(buf []byte, e *ivEntry) []byte {
	buf = append(buf, s.slab.at(e.chunk, e.pos, int(e.klen))...)
	buf = binary.BigEndian.AppendUint64(buf, uint64(e.time)^(1<<63))
	return append(buf, s.row(e)...)
}

// row is the encoded row of e.
func (s *ivSide) row(e *ivEntry) []byte { return s.slab.at(e.chunk, e.pos+e.klen, int(e.rlen)) }

// key is the encoded join key of e.
func (s *ivSide) key(e *ivEntry) []byte { return s.slab.at(e.chunk, e.pos, int(e.klen)) }

// bucketOf returns the bucket of join key key, or -1.
func (s *ivSide) bucketOf(key []byte) int32 {
	b, ok := s.byKey[maphash.Bytes(s.seed, key)]
	if !ok {
		return -1
	}
	for ; b >= 0; b = s.bkts[b].hnext {
		if bytes.Equal(s.key(s.ent(s.bkts[b].head)), key) {
			return b
		}
	}
	return -1
}

// newBucket adds a bucket of key holding entry i alone.
func (s *ivSide) newBucket(key []byte, i int32) int32 {
	b := s.freeB
	if b >= 0 {
		s.freeB = s.bkts[b].hnext
	} else {
		b = int32(len(s.bkts))
		s.bkts = append(s.bkts, ivBucket{})
	}
	s.bkts[b] = ivBucket{head: i, tail: i, run: i, hnext: -1}
	h := maphash.Bytes(s.seed, key)
	if j, ok := s.byKey[h]; ok {
		s.bkts[b].hnext = j
	}
	s.byKey[h] = b
	return b
}

// freeBucket removes bucket b, of key hash h, now empty.
func (s *ivSide) freeBucket(b int32, h uint64) {
	bk := &s.bkts[b]
	if j := s.byKey[h]; j == b {
		if bk.hnext >= 0 {
			s.byKey[h] = bk.hnext
		} else {
			delete(s.byKey, h)
		}
	} else {
		for j >= 0 && s.bkts[j].hnext != b {
			j = s.bkts[j].hnext
		}
		if j >= 0 {
			s.bkts[j].hnext = bk.hnext
		}
	}
	*bk = ivBucket{head: -1, tail: -1, run: -1, hnext: s.freeB}
	s.freeB = b
}

// add holds one copy of row (of join key key and time ts).
func (s *ivSide) add(key []byte, ts int64, row []byte, matched bool) int32 {
	b := s.bucketOf(key)
	prev := int32(-1) // the row to insert after (-1: at the head)
	if b >= 0 {
		bk := &s.bkts[b]
		j := bk.head
		switch t := s.ent(bk.tail).time; {
		case t < ts: // the common case: a new tail
			prev, j = bk.tail, -1
		case t == ts: // at the tail, unless the tail's time has the row
			prev, j = bk.tail, bk.run
		}
		for ; j >= 0; j = s.ent(j).next {
			e := s.ent(j)
			if e.time > ts {
				break
			}
			if e.time == ts && bytes.Equal(s.row(e), row) {
				e.count++
				if matched {
					e.flags |= fMatched
				}
				s.markDirty(j)
				return j
			}
			prev = j
		}
	}
	i := s.newEntry()
	s.kr = append(append(s.kr[:0], key...), row...)
	c, pos := s.slab.put(s.kr)
	e := s.ent(i)
	*e = ivEntry{slot: slot{chunk: c, pos: pos, klen: int32(len(key)), rlen: int32(len(row)), count: 1, next: -1, flags: fUsed}, time: ts}
	if matched {
		e.flags |= fMatched
	}
	switch {
	case b < 0:
		b = s.newBucket(key, i)
		heap.Push(&s.timers, ivTimer{at: ts + s.life, b: b})
	case prev < 0: // a new head
		bk := &s.bkts[b]
		e.next = bk.head
		bk.head = i
		heap.Push(&s.timers, ivTimer{at: ts + s.life, b: b})
	default:
		bk := &s.bkts[b]
		p := s.ent(prev)
		e.next = p.next
		p.next = i
		if prev == bk.tail {
			if s.ent(bk.tail).time < ts {
				bk.run = i
			}
			bk.tail = i
		}
	}
	s.live++
	s.markDirty(i)
	return i
}

// expire drops the rows of the side whose interval wm has passed, calling
// pad for those of an outer side that joined nothing.
func (s *ivSide) expire(wm int64, pad func(row []byte, count int64)) {
	for len(s.timers) > 0 && s.timers[0].at <= wm {
		t := heap.Pop(&s.timers).(ivTimer)
		bk := &s.bkts[t.b]
		if bk.head < 0 || s.ent(bk.head).time+s.life > wm {
			continue // a free bucket, or a stale timer
		}
		h := maphash.Bytes(s.seed, s.key(s.ent(bk.head)))
		for bk.head >= 0 && s.ent(bk.head).time+s.life <= wm {
			i := bk.head
			e := s.ent(i)
			bk.head = e.next
			if s.outer && e.flags&fMatched == 0 {
				pad(s.row(e), e.count)
			}
			e.count, e.next = 0, -1
			if e.flags&fPersisted != 0 {
				s.markDirty(i) // the next barrier deletes it
			} else {
				s.release(i) // nothing to delete
			}
			s.live--
		}
		if bk.head < 0 {
			s.freeBucket(t.b, h)
			continue
		}
		heap.Push(&s.timers, ivTimer{at: s.ent(bk.head).time + s.life, b: t.b})
	}
	s.compactDirty()
}

type intervalOp struct {
	id       string
	m        *exec.OperatorMetrics
	alloc    memory.Allocator
	maxP     int
	sides    [2]*ivSide
	tables   *state.Tables
	wmT      *state.Table
	persWM   []byte
	wm       exec.Watermark
	lower    int64
	upper    int64
	delay    int64
	residual expr.Evaluator
	outArrow *arrow.Schema
	nLeft    int

	pending []outRow
	kbuf    []byte
}

var (
	_ exec.Operator         = (*intervalOp)(nil)
	_ exec.WatermarkDelayer = (*intervalOp)(nil)
)

// NewInterval builds the operator of interval join n for the subtask env
// describes.
func NewInterval(n *plan.IntervalJoin, env exec.OperatorEnv) (exec.Operator, error) {
	sub, err := env.StateSubtask()
	if err != nil {
		return nil, fmt.Errorf("interval join: %q: %w", n.ID(), err)
	}
	env = env.WithDefaults()
	return NewIntervalSubtask(n, env.Metrics, env.Alloc, sub)
}

// NewIntervalSubtask builds the operator of interval join n as subtask
// sub.
func NewIntervalSubtask(n *plan.IntervalJoin, m *exec.OperatorMetrics, alloc memory.Allocator, sub state.Subtask) (exec.Operator, error) {
	errf := func(format string, args ...any) error {
		return fmt.Errorf("interval join: %q: %s", n.ID(), fmt.Sprintf(format, args...))
	}
	if len(n.LeftKeys) == 0 || len(n.LeftKeys) != len(n.RightKeys) {
		return nil, errf("%d left and %d right key columns", len(n.LeftKeys), len(n.RightKeys))
	}
	o := &intervalOp{id: n.ID(), m: m, alloc: alloc, maxP: sub.MaxParallelism, wm: exec.MinWatermark,
		lower: n.Lower, upper: n.Upper, delay: n.Delay(), outArrow: n.Schema().Arrow(), nLeft: n.Left.Schema().Len()}
	var specs []state.Spec
	for i, in := range []plan.Node{n.Left, n.Right} {
		s := &ivSide{name: "left", outer: n.Type.LeftOuter(), timeCol: n.LeftTime, life: -n.Lower, seed: maphash.MakeSeed(), byKey: map[uint64]int32{}, arena: arena[ivEntry, *ivEntry]{free: -1}, freeB: -1}
		keys := n.LeftKeys
		if i == 1 {
			s.name, s.outer, s.timeCol, s.life = "right", n.Type.RightOuter(), n.RightTime, n.Upper
			keys = n.RightKeys
		}
		sch := in.Schema()
		if s.timeCol < 0 || s.timeCol >= sch.Len() || !sch.Fields[s.timeCol].Type.IsTemporal() {
			return nil, errf("%s time column #%d is not a timestamp", s.name, s.timeCol)
		}
		var err error
		if s.Codec, err = joinside.New(s.name, sch, keys); err != nil {
			return nil, errf("%v", err)
		}
		o.sides[i] = s
		specs = append(specs, state.Spec{Name: s.name, Keyed: true, Held: true, Layout: ivLayout(s, n)})
	}
	if err := joinside.CheckKeys(&o.sides[0].Codec, &o.sides[1].Codec); err != nil {
		return nil, errf("%v", err)
	}
	if n.Residual != nil {
		var err error
		if o.residual, err = expr.Compile(n.Residual, n.Schema(), alloc); err != nil {
			return nil, errf("residual condition: %v", err)
		}
	}
	specs = append(specs, state.Spec{Name: "watermark", Layout: "BIGINT", Redistribute: state.Union, Merge: maxVarint})
	var err error
	if o.tables, err = state.NewTables(n.ID(), sub, specs...); err != nil {
		return nil, err
	}
	for _, s := range o.sides {
		s.table = o.tables.Table(s.name)
	}
	o.wmT = o.tables.Table("watermark")
	return o, nil
}

// maxVarint merges two restored watermarks: the largest.
func maxVarint(_, a, b []byte) ([]byte, error) {
	x, n := binary.Varint(a)
	y, m := binary.Varint(b)
	if n <= 0 || m <= 0 || n != len(a) || m != len(b) {
		return nil, errState
	}
	return binary.AppendVarint(nil, max(x, y)), nil
}

// ivLayout describes one side's state encoding.
func ivLayout(s *ivSide, n *plan.IntervalJoin) string {
	return fmt.Sprintf("v1 count matched, key [%s], time #%d, row [%s], outer %v, interval [%d, %d]",
		joinside.TypeList(s.KeyTypes), s.timeCol, joinside.TypeList(s.Types), s.outer, n.Lower, n.Upper)
}

// Open implements exec.Operator.
func (o *intervalOp) Open(_ context.Context, st checkpoint.StateReader) error {
	if st == nil {
		return nil
	}
	err := o.tables.Restore(st, func(t *state.Table, _ int, key, value []byte) error {
		s := o.sides[0]
		if t == o.sides[1].table {
			s = o.sides[1]
		}
		if err := o.restoreEntry(s, key, value); err != nil {
			return fmt.Errorf("interval join: %q: restore: %s row %x: %w", o.id, s.name, key, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if v, ok := o.wmT.Get([]byte("wm")); ok {
		wm, n := binary.Varint(v)
		if n <= 0 || n != len(v) {
			return fmt.Errorf("interval join: %q: restore: watermark: %w", o.id, errState)
		}
		o.wm, o.persWM = exec.Watermark(wm), slices.Clone(v)
	}
	for _, s := range o.sides {
		s.dirty = s.dirty[:0] // restored as stored
	}
	o.m.StateEntries.Store(int64(o.sides[0].live + o.sides[1].live))
	return nil
}

func (o *intervalOp) restoreEntry(s *ivSide, key, value []byte) error {
	rest := key
	for _, t := range s.KeyTypes {
		var err error
		if rest, err = state.SkipKeyColumn(t, rest); err != nil {
			return err
		}
	}
	if len(rest) < 8 {
		return errState
	}
	k := key[:len(key)-len(rest)]
	ts := int64(binary.BigEndian.Uint64(rest) ^ (1 << 63))
	rest = rest[8:]
	if err := state.CheckKey(s.Types, rest); err != nil {
		return err
	}
	cnt, n := binary.Uvarint(value)
	if n <= 0 || cnt == 0 || len(value) != n+1 || value[n] > 1 {
		return errState
	}
	e := s.ent(s.add(k, ts, rest, value[n] == 1))
	if e.count != 1 {
		return errState // stored twice
	}
	e.count = int64(cnt)
	e.flags = e.flags&^fDirty | fPersisted // Open empties the dirty lists
	return nil
}

// Close implements exec.Operator.
func (o *intervalOp) Close() error { return nil }

// OutputWatermark implements exec.WatermarkDelayer: the watermark held
// back by the interval.
func (o *intervalOp) OutputWatermark(wm exec.Watermark) exec.Watermark {
	if wm == exec.MaxWatermark || wm < exec.MinWatermark+exec.Watermark(o.delay) {
		return wm
	}
	return wm - exec.Watermark(o.delay)
}

// OnWatermark implements exec.Operator: rows whose interval the
// watermark passed are dropped, the unmatched ones of an outer side
// emitted padded with NULLs.
func (o *intervalOp) OnWatermark(ctx context.Context, wm exec.Watermark, out exec.Emitter) error {
	if wm <= o.wm {
		return nil
	}
	o.wm = wm
	for i, s := range o.sides {
		s.expire(int64(wm), func(row []byte, count int64) { o.emitPadded(i, row, count) })
	}
	o.m.StateEntries.Store(int64(o.sides[0].live + o.sides[1].live))
	return o.flushAndCompact(ctx, out)
}

// flushAndCompact emits the pending output rows, then compacts the
// slabs the rows referred to.
func (o *intervalOp) flushAndCompact(ctx context.Context, out exec.Emitter) error {
	err := o.flush(ctx, out)
	for _, s := range o.sides {
		s.compactSlab()
	}
	return err
}

// emitPadded appends count copies of row of input in padded with NULLs.
func (o *intervalOp) emitPadded(in int, row []byte, count int64) {
	for ; count > 0; count-- {
		if in == 0 {
			o.pending = append(o.pending, outRow{kind: types.Insert, left: row})
		} else {
			o.pending = append(o.pending, outRow{kind: types.Insert, right: row})
		}
	}
}

// OnBarrier implements exec.Operator: the watermark when it changed, and
// the entries changed since the last barrier (deleted when dropped).
func (o *intervalOp) OnBarrier(_ context.Context, _ exec.Barrier, w checkpoint.StateWriter, _ exec.Emitter) error {
	if v := binary.AppendVarint(nil, int64(o.wm)); !bytes.Equal(v, o.persWM) {
		o.wmT.Put([]byte("wm"), v)
		o.persWM = v
	}
	sw, err := o.tables.Snapshot(w)
	if err != nil {
		return err
	}
	var val []byte
	for _, s := range o.sides {
		for k, i := range s.dirty {
			e := s.ent(i)
			if e.flags&fDirty == 0 {
				continue // stale (see arena.go)
			}
			e.flags &^= fDirty
			o.kbuf = s.appendStateKey(o.kbuf[:0], e)
			key := o.kbuf
			kg := state.KeyGroupOfKey(key[:e.klen], o.maxP)
			if e.count <= 0 {
				if e.flags&fPersisted != 0 {
					err = sw.Delete(s.table, kg, key)
				}
				s.release(i)
			} else {
				e.flags |= fPersisted
				val = binary.AppendUvarint(val[:0], uint64(e.count))
				m := byte(0)
				if e.flags&fMatched != 0 {
					m = 1
				}
				val = append(val, m)
				err = sw.Set(s.table, kg, key, val)
			}
			if err != nil {
				// The entries not yet written stay dirty (the job fails
				// over to the last complete checkpoint anyway).
				s.dirty = append(s.dirty[:0], s.dirty[k+1:]...)
				return fmt.Errorf("interval join: %q: checkpoint: %w", o.id, err)
			}
		}
		s.dirty = s.dirty[:0]
		s.compactSlab()
	}
	return nil
}

// ivPair is a candidate match: row i of the batch with held entry e.
type ivPair struct {
	i int
	e int32
}

// OnBatch implements exec.Operator: the rows of input in (0 left, 1
// right) are joined in order with the other side's held rows.
func (o *intervalOp) OnBatch(ctx context.Context, in int, rec arrow.Record, out exec.Emitter) error {
	n := int(rec.NumRows())
	o.m.RecordsIn.Add(int64(n))
	if n == 0 {
		return nil
	}
	if in != 0 && in != 1 {
		return fmt.Errorf("interval join: %q: batch on input %d", o.id, in)
	}
	if err := o.process(in, rec); err != nil {
		return fmt.Errorf("interval join: %q: %w", o.id, err)
	}
	o.m.StateEntries.Store(int64(o.sides[0].live + o.sides[1].live))
	return o.flushAndCompact(ctx, out)
}

func (o *intervalOp) process(in int, rec arrow.Record) error {
	s, other := o.sides[in], o.sides[1-in]
	n := int(rec.NumRows())
	if err := s.Bind(rec); err != nil {
		return err
	}
	tcol, ok := rec.Column(s.timeCol).(*array.Timestamp)
	if !ok {
		return fmt.Errorf("%s time column #%d is %s, not a timestamp", s.name, s.timeCol, rec.Column(s.timeCol).DataType())
	}
	// The other side's times that row of time ts joins: [ts+lo, ts+hi].
	lo, hi := -o.upper, -o.lower
	if in == 1 {
		lo, hi = o.lower, o.upper
	}
	wm := int64(o.wm)
	// Row i's encoding is buf[at[i]:at[i]+rlen[i]], its join key's the
	// klen[i] bytes after it.
	buf := o.kbuf[:0]
	at := make([]int, n+1)
	rlen := make([]int, n)
	klen := make([]int, n)
	skip := make([]bool, n)  // late: dropped
	alone := make([]bool, n) // NULL key or time: joins nothing
	var pairs []ivPair
	start := make([]int, n+1)
	for i := 0; i < n; i++ {
		start[i] = len(pairs)
		at[i] = len(buf)
		if tcol.IsNull(i) {
			alone[i] = true
		} else if ts := int64(tcol.Value(i)); o.wm > exec.MinWatermark && ts <= wm {
			skip[i] = true
			o.m.LateRecords.Add(1)
			continue
		}
		for _, a := range s.KeyArrs {
			if a.IsNull(i) {
				alone[i] = true
			}
		}
		buf = s.RowEnc.Append(buf, i)
		rlen[i] = len(buf) - at[i]
		if alone[i] {
			continue
		}
		k := len(buf)
		buf = s.KeyEnc.Append(buf, i)
		klen[i] = len(buf) - k
		b := other.bucketOf(buf[k:])
		if b < 0 {
			continue
		}
		ts := int64(tcol.Value(i))
		for j := other.bkts[b].head; j >= 0; j = other.ent(j).next {
			if t := other.ent(j).time; t > ts+hi {
				break
			} else if t >= ts+lo {
				pairs = append(pairs, ivPair{i, j})
			}
		}
	}
	at[n] = len(buf)
	start[n] = len(pairs)
	o.kbuf = buf
	rows := make([][]byte, n)
	for i := range rows {
		rows[i] = buf[at[i] : at[i]+rlen[i] : at[i]+rlen[i]]
	}
	pass, err := o.evalResidual(in, rows, pairs)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if skip[i] {
			continue
		}
		matched := false
		for p := start[i]; p < start[i+1]; p++ {
			if pass != nil && !pass[p] {
				continue
			}
			e := other.ent(pairs[p].e)
			matched = true
			if other.outer && e.flags&fMatched == 0 {
				e.flags |= fMatched
				other.markDirty(pairs[p].e)
			}
			l, r := rows[i], other.row(e)
			if in == 1 {
				l, r = r, l
			}
			for c := e.count; c > 0; c-- {
				o.pending = append(o.pending, outRow{kind: types.Insert, left: l, right: r})
			}
		}
		if !alone[i] {
			if ts := int64(tcol.Value(i)); ts+s.life > wm {
				key := buf[at[i]+rlen[i] : at[i]+rlen[i]+klen[i]]
				s.add(key, ts, rows[i], matched)
				continue
			}
		}
		if s.outer && !matched {
			o.emitPadded(in, rows[i], 1)
		}
	}
	return nil
}

// evalResidual evaluates the residual condition over the candidate pairs
// (nil: every pair passes).
func (o *intervalOp) evalResidual(in int, rows [][]byte, pairs []ivPair) ([]bool, error) {
	if o.residual == nil || len(pairs) == 0 {
		return nil, nil
	}
	cand := make([]outRow, len(pairs))
	for p, pr := range pairs {
		l, r := rows[pr.i], o.sides[1-in].row(o.sides[1-in].ent(pr.e))
		if in == 1 {
			l, r = r, l
		}
		cand[p] = outRow{left: l, right: r}
	}
	rec, err := buildRows(o.alloc, o.outArrow, o.nLeft, o.sides[0].Types, o.sides[1].Types, cand)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	return evalCondition(o.residual, rec)
}

// flush emits the pending output rows (all inserts).
func (o *intervalOp) flush(ctx context.Context, out exec.Emitter) error {
	const batch = 4096
	all := o.pending
	o.pending = o.pending[:0]
	for start := 0; start < len(all); start += batch {
		rows := all[start:min(start+batch, len(all))]
		rec, err := buildRows(o.alloc, o.outArrow, o.nLeft, o.sides[0].Types, o.sides[1].Types, rows)
		if err != nil {
			return fmt.Errorf("interval join: %q: %w", o.id, err)
		}
		o.m.RecordsOut.Add(rec.NumRows())
		err = out.Emit(ctx, rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}
