// Package join holds the join operators: the window join of
// plan.WindowJoin (window.go), the interval join of plan.IntervalJoin
// (interval.go, whose comment gives its semantics and state) and, here,
// the operator of plan.Join, the regular (unbounded) equi-join of two
// streams, with Flink's semantics (its
// StreamingJoinOperator): each side's rows are held in keyed state by the
// join key, counted (a row that arrives twice is one entry of count 2);
// a row arriving on one side is joined with the held rows of the other
// side that have its key and satisfy the residual condition, then held
// itself. Updating inputs are welcome: a retraction (-U, -D) of a held
// row retracts the rows it had joined.
//
// Outer sides. A held row of an outer side also counts its matches (the
// other side's rows it joins, with multiplicity). While it has none it is
// in the output padded with NULLs; when its first match arrives the padded
// row is retracted (-D) before the joined rows are inserted, and when its
// last match is retracted the padded row is inserted again (+I).
//
// Row kinds of the output, as Flink emits them: a row of an outer side
// makes +I and -D rows; a row of an inner side joined with an outer side
// makes +I rows (accumulate) or rows of its own kind (retract); between
// two inner sides the joined rows have the kind of the arriving row.
//
// Semi and anti joins (plan.SemiJoin, plan.AntiJoin: IN, EXISTS and their
// negations) emit left rows alone. A held left row counts its matches as
// an outer row does; a semi join emits it (+I, as many copies as it has)
// when its count goes 0→1 and deletes it (-D) when it goes back to 0, an
// anti join the other way round; a left row arriving (or retracted) is
// emitted (deleted) when it has a match (semi) or none (anti). A left row
// whose key has a NULL matches nothing: an anti join emits it.
//
// State: two keyed tables, "left" and "right", each entry keyed by the
// encoded join key followed by the encoded row (state.KeyEncoder), so it
// lives in the key group of the join key (the one the hash exchanges in
// front of both inputs route by); its value is the row's count, its
// number of matches (0 on an inner side) and its last access (ms of
// processing time, for table.exec.state.ttl). Barriers write the entries
// changed since the last one. A row whose join key has a NULL matches
// nothing and is not held.
package join

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

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

// held reports whether the side holds a live entry of the key and row of
// entry i (a dropped one).
func (s *side) held(i int32) bool {
	e := s.ent(i)
	_, j := s.lookup(s.keyRow(e), int(e.klen))
	return j >= 0
}

// outRow is one row of output of the interval and window joins: the
// encoded left and right parts (nil: NULLs) and its kind.
type outRow struct {
	kind        types.RowKind
	left, right []byte
}

type op struct {
	id       string
	m        *exec.OperatorMetrics
	alloc    memory.Allocator
	clock    exec.Clock
	maxP     int
	ttl      int64    // the shortest positive TTL of the sides: how often to expire
	sideTTL  [2]int64 // per input (plan.Join.TTL); 0 keeps its rows forever
	nextTTL  time.Time
	sides    [2]*side
	tables   *state.Tables
	residual expr.Evaluator
	out      types.Schema
	outArrow *arrow.Schema
	nLeft    int
	kind     plan.JoinKind

	outL *outLayout // the output's
	resL *outLayout // the residual's records'

	pending []joinRow
	// The batch being processed: its input and record, and each row's
	// encoded join key then row: curKR[curAt[i]:curAt[i+1]], of which the
	// first curKLen[i] bytes are the key (0: a NULL in the key).
	curIn   int
	cur     arrow.Record
	curKR   []byte
	curAt   []int
	curKLen []int
	curKH   []uint64 // the hashes of the keys
}

var _ exec.Operator = (*op)(nil)

// New builds the operator of n for the subtask env describes.
func New(n *plan.Join, env exec.OperatorEnv) (exec.Operator, error) {
	sub, err := env.StateSubtask()
	if err != nil {
		return nil, fmt.Errorf("join: %q: %w", n.ID(), err)
	}
	env = env.WithDefaults()
	return NewSubtask(n, env.Metrics, env.Alloc, env.Clock, sub)
}

// NewSubtask builds the operator of n as subtask sub.
func NewSubtask(n *plan.Join, m *exec.OperatorMetrics, alloc memory.Allocator, clock exec.Clock, sub state.Subtask) (exec.Operator, error) {
	errf := func(format string, args ...any) error {
		return fmt.Errorf("join: %q: %s", n.ID(), fmt.Sprintf(format, args...))
	}
	if len(n.LeftKeys) == 0 || len(n.LeftKeys) != len(n.RightKeys) {
		return nil, errf("%d left and %d right key columns", len(n.LeftKeys), len(n.RightKeys))
	}
	o := &op{id: n.ID(), m: m, alloc: alloc, clock: clock, maxP: sub.MaxParallelism, sideTTL: [2]int64{n.TTL(0), n.TTL(1)},
		out: n.Schema(), outArrow: n.Schema().Arrow(), nLeft: n.Left.Schema().Len(), kind: n.Type}
	if n.Type.LeftOnly() && n.Residual != nil {
		return nil, errf("a %s join has no residual condition", n.Type)
	}
	for _, t := range o.sideTTL {
		if t > 0 && (o.ttl <= 0 || t < o.ttl) {
			o.ttl = t
		}
	}
	var specs []state.Spec
	for i, in := range []plan.Node{n.Left, n.Right} {
		keys := n.LeftKeys
		s := newSide("left", n.Type.LeftOuter())
		if i == 1 {
			keys = n.RightKeys
			s = newSide("right", n.Type.RightOuter())
		}
		var err error
		if s.Codec, err = joinside.New(s.name, in.Schema(), keys); err != nil {
			return nil, errf("%v", err)
		}
		s.dec = newRowDecoder(s.Types)
		o.sides[i] = s
		l := layout(s)
		if n.Type.LeftOnly() {
			l += ", " + strings.ToLower(n.Type.String())
		}
		specs = append(specs, state.Spec{Name: s.name, Keyed: true, Held: true, Layout: l})
	}
	if err := joinside.CheckKeys(&o.sides[0].Codec, &o.sides[1].Codec); err != nil {
		return nil, errf("%v", err)
	}
	o.sides[1].seed = o.sides[0].seed // a key hashed once finds its buckets on both sides
	if n.Residual != nil {
		var err error
		if o.residual, o.resL, err = compileResidual(n.Residual, n.Schema(), o.nLeft, alloc); err != nil {
			return nil, errf("residual condition: %v", err)
		}
	}
	// A semi or anti join emits left rows alone.
	o.outL = outputLayout(o.outArrow, o.nLeft, !n.Type.LeftOnly(), n.Unread)
	var err error
	if o.tables, err = state.NewTables(n.ID(), sub, specs...); err != nil {
		return nil, err
	}
	for _, s := range o.sides {
		s.table = o.tables.Table(s.name)
	}
	return o, nil
}

// layout describes one side's state encoding.
func layout(s *side) string {
	return fmt.Sprintf("v1 count matches access, key [%s], row [%s], outer %v", joinside.TypeList(s.KeyTypes), joinside.TypeList(s.Types), s.outer)
}

var errState = errors.New("corrupt join state")

// Open implements exec.Operator.
func (o *op) Open(_ context.Context, st checkpoint.StateReader) error {
	if st == nil {
		return nil
	}
	err := o.tables.Restore(st, func(t *state.Table, _ int, key, value []byte) error {
		s := o.sides[0]
		if t == o.sides[1].table {
			s = o.sides[1]
		}
		if err := o.restoreEntry(s, key, value); err != nil {
			return fmt.Errorf("join: %q: restore: %s row %x: %w", o.id, s.name, key, err)
		}
		return nil
	})
	o.m.StateEntries.Store(int64(o.sides[0].live + o.sides[1].live))
	return err
}

func (o *op) restoreEntry(s *side, key, value []byte) error {
	rest := key
	for _, t := range s.KeyTypes {
		var err error
		if rest, err = state.SkipKeyColumn(t, rest); err != nil {
			return err
		}
	}
	if err := state.CheckKey(s.Types, rest); err != nil {
		return err
	}
	klen := len(key) - len(rest)
	cnt, n := binary.Uvarint(value)
	if n <= 0 || cnt == 0 {
		return errState
	}
	value = value[n:]
	matches, n := binary.Uvarint(value)
	if n <= 0 {
		return errState
	}
	value = value[n:]
	access, n := binary.Varint(value)
	if n <= 0 || n != len(value) {
		return errState
	}
	b, i := s.lookup(key, klen)
	if i >= 0 {
		return errState
	}
	i = s.insert(b, key, klen)
	e := s.ent(i)
	e.count, e.matches, e.access = int64(cnt), int64(matches), access
	e.flags |= fPersisted // restored as it is stored
	return nil
}

// Close implements exec.Operator.
func (o *op) Close() error { return nil }

// OnWatermark implements exec.Operator: a regular join does not use event
// time.
func (o *op) OnWatermark(context.Context, exec.Watermark, exec.Emitter) error { return nil }

// OnBarrier implements exec.Operator: the entries changed since the last
// barrier are written (deleted when their count dropped to zero).
func (o *op) OnBarrier(_ context.Context, _ exec.Barrier, w checkpoint.StateWriter, _ exec.Emitter) error {
	sw, err := o.tables.Snapshot(w)
	if err != nil {
		return err
	}
	var val []byte
	for _, s := range o.sides {
		for k, i := range s.dirty {
			e := s.ent(i)
			if e.flags&fDirty == 0 {
				continue // stale
			}
			e.flags &^= fDirty
			if e.count <= 0 && (e.flags&fPersisted == 0 || s.held(i)) {
				s.release(i) // never written, or a live entry of the same row replaced it
				continue
			}
			key := s.keyRow(e)
			kg := state.KeyGroupOfKey(key[:e.klen], o.maxP)
			if e.count <= 0 {
				err = sw.Delete(s.table, kg, key)
				s.release(i)
			} else {
				val = binary.AppendUvarint(val[:0], uint64(e.count))
				val = binary.AppendUvarint(val, uint64(e.matches))
				val = binary.AppendVarint(val, e.access)
				err = sw.Set(s.table, kg, key, val)
				e.flags |= fPersisted
			}
			if err != nil {
				// The entries not yet written stay dirty (the job fails
				// over to the last complete checkpoint anyway).
				s.dirty = append(s.dirty[:0], s.dirty[k+1:]...)
				return fmt.Errorf("join: %q: checkpoint: %w", o.id, err)
			}
		}
		s.dirty = s.dirty[:0]
		s.compactSlab()
	}
	return nil
}

// expire drops the rows not written for longer than their side's state
// TTL, emitting nothing (as Flink's state TTL does).
func (o *op) expire(now time.Time) {
	if o.ttl <= 0 || now.Before(o.nextTTL) {
		return
	}
	o.nextTTL = now.Add(time.Duration(max(o.ttl/2, 1)) * time.Millisecond)
	for i, s := range o.sides {
		if o.sideTTL[i] <= 0 {
			continue
		}
		limit := now.UnixMilli() - o.sideTTL[i]
		for j := int32(0); j < s.nEnt; j++ {
			if e := s.ent(j); e.flags&fHeld != 0 && e.access < limit {
				s.drop(j)
			}
		}
	}
}

// OnBatch implements exec.Operator: the rows of input in (0 left, 1
// right) are joined in order with the other side's held rows.
func (o *op) OnBatch(ctx context.Context, in int, rec arrow.Record, out exec.Emitter) error {
	n := int(rec.NumRows())
	o.m.RecordsIn.Add(int64(n))
	if n == 0 {
		return nil
	}
	if in != 0 && in != 1 {
		return fmt.Errorf("join: %q: batch on input %d", o.id, in)
	}
	now := o.clock.Now()
	o.expire(now)
	if err := o.process(in, rec, now.UnixMilli()); err != nil {
		return fmt.Errorf("join: %q: %w", o.id, err)
	}
	o.m.StateEntries.Store(int64(o.sides[0].live + o.sides[1].live))
	err := o.flush(ctx, out)
	// The output refers to held rows by their place in the slab until it
	// is built.
	for _, s := range o.sides {
		s.compactDirty()
		s.compactSlab()
	}
	return err
}

// pair is a candidate match: row i of the batch with held entry e.
type pair struct {
	i int
	e int32
}

func (o *op) process(in int, rec arrow.Record, now int64) error {
	s, other := o.sides[in], o.sides[1-in]
	n := int(rec.NumRows())
	if err := s.Bind(rec); err != nil {
		return err
	}
	o.curIn, o.cur = in, rec
	kinds := exec.RowKinds(rec)
	kr := o.curKR[:0]
	at := append(o.curAt[:0], 0)
	klens := o.curKLen[:0]
	khs := o.curKH[:0]
	var pairs []pair
	start := make([]int, n+1)
	for i := 0; i < n; i++ {
		start[i] = len(pairs)
		nullKey := false
		for _, a := range s.KeyArrs {
			if a.IsNull(i) {
				nullKey = true
			}
		}
		k := len(kr)
		if !nullKey {
			kr = s.KeyEnc.Append(kr, i)
		}
		klen := len(kr) - k
		kr = s.RowEnc.Append(kr, i)
		at = append(at, len(kr))
		klens = append(klens, klen)
		if nullKey {
			khs = append(khs, 0)
			continue
		}
		kh := s.hash(kr[k : k+klen])
		khs = append(khs, kh)
		if b := other.bucketOfHash(kr[k:k+klen], kh); b >= 0 {
			for e := other.bkts[b].head; e >= 0; e = other.ent(e).next {
				pairs = append(pairs, pair{i, e})
			}
		}
	}
	start[n] = len(pairs)
	o.curKR, o.curAt, o.curKLen, o.curKH = kr, at, klens, khs
	// The other side's rows do not change while this batch is processed
	// (only their match counts do), so the residual condition is
	// evaluated for every candidate pair at once.
	pass, err := o.evalResidual(in, pairs)
	if err != nil {
		return err
	}
	var matched []int32
	for i := 0; i < n; i++ {
		matched = matched[:0]
		var m int64
		for p := start[i]; p < start[i+1]; p++ {
			if pass == nil || pass[p] {
				matched = append(matched, pairs[p].e)
				m += other.ent(pairs[p].e).count
			}
		}
		kind := exec.RowKindAt(kinds, i)
		r := arriving{i: int32(i), kr: kr[at[i]:at[i+1]:at[i+1]], klen: klens[i], kh: khs[i]}
		if o.kind.LeftOnly() {
			o.semi(in, s, other, kind, r, matched, m, now)
			continue
		}
		if !kind.IsRetraction() {
			o.accumulate(in, s, other, kind, r, matched, m, now)
		} else {
			o.retract(in, s, other, kind, r, matched, m, now)
		}
	}
	return nil
}

// arriving is a row of the batch being processed: its index and its
// encoded join key (the first klen bytes, none: a NULL in the key, of
// hash kh) then row.
type arriving struct {
	i    int32
	kr   []byte
	klen int
	kh   uint64 // the key's hash
}

func (r arriving) nullKey() bool { return r.klen == 0 }

func (r arriving) part() part { return part{from: fromBatch, i: r.i} }

func heldPart(e int32) part { return part{from: fromHeld, i: e} }

// emit appends count copies of the output row of input-side part mine
// and other-side part theirs, for a row arriving on input in.
func (o *op) emit(in int, kind types.RowKind, mine, theirs part, count int64) {
	r := joinRow{kind: kind, p: [2]part{mine, theirs}}
	if in == 1 {
		r.p[0], r.p[1] = theirs, mine
	}
	for ; count > 0; count-- {
		o.pending = append(o.pending, r)
	}
}

var nullPart = part{from: fromNull}

func (o *op) accumulate(in int, s, other *side, kind types.RowKind, r arriving, matched []int32, m, now int64) {
	outKind := kind
	if s.outer || other.outer {
		outKind = types.Insert
	}
	if m == 0 {
		if s.outer {
			o.emit(in, types.Insert, r.part(), nullPart, 1)
		}
	} else {
		if other.outer {
			for _, i := range matched {
				e := other.ent(i)
				if e.matches == 0 {
					o.emit(1-in, types.Delete, heldPart(i), nullPart, e.count)
				}
				e.matches++
				e.access = now
				other.markDirty(i)
			}
		}
		for _, i := range matched {
			o.emit(in, outKind, r.part(), heldPart(i), other.ent(i).count)
		}
	}
	if !r.nullKey() {
		matches := int64(0)
		if s.outer {
			matches = m
		}
		s.addHashed(r.kr, r.klen, r.kh, matches, now)
	}
}

func (o *op) retract(in int, s, other *side, kind types.RowKind, r arriving, matched []int32, m, now int64) {
	if !r.nullKey() {
		s.retract(r.kr, r.klen, now)
	}
	if m == 0 {
		if s.outer {
			o.emit(in, types.Delete, r.part(), nullPart, 1)
		}
		return
	}
	outKind := kind
	if s.outer {
		outKind = types.Delete
	}
	for _, i := range matched {
		o.emit(in, outKind, r.part(), heldPart(i), other.ent(i).count)
	}
	if other.outer {
		for _, i := range matched {
			e := other.ent(i)
			if e.matches == 1 {
				o.emit(1-in, types.Insert, heldPart(i), nullPart, e.count)
			}
			if e.matches > 0 {
				e.matches--
			}
			e.access = now
			other.markDirty(i)
		}
	}
}

// semi processes a row arriving on input in of a semi or anti join: a
// left row is emitted (or deleted) when it has a match (semi) or none
// (anti), a right row changes the match counts of the left rows it
// matches, emitting (deleting) those whose count leaves or reaches 0.
func (o *op) semi(in int, s, other *side, kind types.RowKind, r arriving, matched []int32, m, now int64) {
	anti := o.kind == plan.AntiJoin
	if in == 0 {
		emitted := (m > 0) != anti
		if !kind.IsRetraction() {
			if emitted {
				o.emit(0, types.Insert, r.part(), nullPart, 1)
			}
			if !r.nullKey() {
				s.addHashed(r.kr, r.klen, r.kh, m, now)
			}
			return
		}
		if !r.nullKey() {
			s.retract(r.kr, r.klen, now)
		}
		if emitted {
			o.emit(0, types.Delete, r.part(), nullPart, 1)
		}
		return
	}
	if !kind.IsRetraction() {
		if !r.nullKey() {
			s.addHashed(r.kr, r.klen, r.kh, 0, now)
		}
		for _, i := range matched {
			e := other.ent(i)
			if e.matches == 0 {
				k := types.Insert
				if anti {
					k = types.Delete
				}
				o.emit(0, k, heldPart(i), nullPart, e.count)
			}
			e.matches++
			e.access = now
			other.markDirty(i)
		}
		return
	}
	if !r.nullKey() {
		s.retract(r.kr, r.klen, now)
	}
	for _, i := range matched {
		e := other.ent(i)
		if e.matches == 1 {
			k := types.Delete
			if anti {
				k = types.Insert
			}
			o.emit(0, k, heldPart(i), nullPart, e.count)
		}
		if e.matches > 0 {
			e.matches--
		}
		e.access = now
		other.markDirty(i)
	}
}

// evalResidual evaluates the residual condition over the candidate pairs
// (nil: every pair passes).
func (o *op) evalResidual(in int, pairs []pair) ([]bool, error) {
	if o.residual == nil || len(pairs) == 0 {
		return nil, nil
	}
	cand := make([]joinRow, len(pairs))
	for p, pr := range pairs {
		cand[p].p[in] = part{from: fromBatch, i: int32(pr.i)}
		cand[p].p[1-in] = heldPart(pr.e)
	}
	rec, err := o.build(o.resL, cand)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	return evalCondition(o.residual, rec)
}

// evalCondition evaluates a residual condition over rec: TRUE rows pass.
func evalCondition(cond expr.Evaluator, rec arrow.Record) ([]bool, error) {
	res, err := cond.Eval(rec)
	if err != nil {
		return nil, fmt.Errorf("residual condition: %w", err)
	}
	defer res.Release()
	b, ok := res.(*array.Boolean)
	if !ok {
		return nil, fmt.Errorf("residual condition is %s, not BOOLEAN", res.DataType())
	}
	pass := make([]bool, b.Len())
	for p := range pass {
		pass[p] = b.IsValid(p) && b.Value(p)
	}
	return pass, nil
}

// buildRows decodes rows into a record of schema sch, whose first nLeft
// columns are the left side's (of types lt), the others the right side's
// (rt).
func buildRows(alloc memory.Allocator, sch *arrow.Schema, nLeft int, lt, rt []types.Type, rows []outRow) (arrow.Record, error) {
	rb := array.NewRecordBuilder(alloc, sch)
	defer rb.Release()
	for _, r := range rows {
		if err := joinside.DecodeInto(rb, 0, lt, r.left); err != nil {
			return nil, err
		}
		if err := joinside.DecodeInto(rb, nLeft, rt, r.right); err != nil {
			return nil, err
		}
	}
	return rb.NewRecord(), nil
}

// flush emits the pending output rows.
func (o *op) flush(ctx context.Context, out exec.Emitter) error {
	const batch = 4096
	all := o.pending
	o.pending = o.pending[:0]
	defer func() { o.cur = nil }()
	for start := 0; start < len(all); start += batch {
		rows := all[start:min(start+batch, len(all))]
		rec, err := o.build(o.outL, rows)
		if err != nil {
			return fmt.Errorf("join: %q: %w", o.id, err)
		}
		allInserts := true
		kinds := make([]types.RowKind, len(rows))
		for i, r := range rows {
			kinds[i] = r.kind
			allInserts = allInserts && r.kind == types.Insert
		}
		if !allInserts {
			ka := exec.NewRowKinds(o.alloc, kinds)
			with := exec.WithRowKinds(rec, ka)
			ka.Release()
			rec.Release()
			rec = with
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
