package groupagg

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/agg"
	"github.com/streamsql/streamsql/exec/expr"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// groupAggOp is the operator of plan.GroupAgg.
//
// Each live group key owns a slot: an index into the accumulators' dense
// per-slot state (exec/agg) and into the operator's per-slot arrays. Rows
// are processed in chunks in which no key appears twice: the chunk's rows
// are mapped to slots, each touched group's current row (its "old" row) is
// appended to the output, the chunk is folded into the accumulators in one
// pass per aggregate, and each touched group's new row is appended; then
// HAVING is evaluated over old and new rows together and the changelog is
// chosen per group. Without mini-batch a chunk ends where a key repeats,
// so each input row yields its own update, as Flink's GroupAggregate does;
// with mini-batch the whole buffer is one chunk and a key changes once per
// batch (Flink's MiniBatchGroupAggFunction).
//
// Per group the changelog is, old and new meaning "the group has rows and
// its row satisfies HAVING":
//
//	old, new, rows differ   -U old, +U new
//	old, new, rows equal    nothing
//	old, not new            -D old
//	not old, new            +I new
//
// A group whose row count drops to zero is deleted (its state too). A
// retraction of a key without state (never seen, or expired) is ignored, as
// in Flink.
type groupAggOp struct {
	id        string
	m         *exec.OperatorMetrics
	alloc     memory.Allocator
	clock     exec.Clock
	maxP      int
	keyCols   []int
	keyTypes  []types.Type
	enc       *state.KeyEncoder
	keyArrs   []arrow.Array
	calls     []plan.AggCall
	in        types.Schema
	aggs      []agg.Accumulator // calls2's, per call
	calls2    *agg.Calls
	having    expr.Evaluator
	outSchema *arrow.Schema
	mini      plan.MiniBatch
	ttl       int64

	// Group key → slot: groups by the key's encoding, or, with one
	// INT, BIGINT or TIMESTAMP key column (intKey), ints by its value and
	// nullSlot for NULL (-1: none), which spares the hot path the encoding
	// and the string hash.
	groups   map[string]int32
	intKey   bool
	ints     map[int64]int32
	nullSlot int32
	intBuf   []int64
	used     []bool // the slot holds a live group
	slotKey  []string
	count    []int64 // rows per group (adds minus retractions)
	access   []int64 // last access, ms of processing time (state TTL)
	dirty    []bool
	pers     []bool // written by a barrier and not deleted since
	mark     []uint32
	nslots   int // slots the accumulators have room for
	free     []int32
	live     int
	gen      uint32
	dirties  []int32
	deletes  []string // encoded keys of persisted groups deleted since the last barrier

	tables  *state.Tables
	groupsT *state.Table

	// The mini-batch buffer: retained input records.
	buffered []arrow.Record
	bufRows  int
	bufSince time.Time
	nextTTL  time.Time

	// Scratch.
	segs      []segment
	slotBufs  [][]int32
	touched   []int32
	oldCount  []int64
	scratch   []int32
	masks     [][]int32 // per call with a FILTER, its slots masked
	callSlots [][]int32 // per call, its slots
	joint     [][]int32
	keyBuf    []byte
	idx       []int32
	kinds     []types.RowKind
	part      rowRange

	// The output builder: the old and new rows of the groups the chunks
	// since the last emit touched (rows of them), described by pend.
	rb    *array.RecordBuilder
	rows  int
	pend  []pending
	nowMs int64
}

// pending is one touched group's change, not yet emitted: its old and new
// rows in the output builder and its row counts before and after.
type pending struct {
	old, new           int32
	oldCount, newCount int64
}

// segment is the rows [lo, hi) of rec that belong to the current chunk,
// with their slots (len rec.NumRows(); -1 for rows outside or ignored).
type segment struct {
	rec    arrow.Record
	slots  []int32
	lo, hi int
}

var _ exec.Operator = (*groupAggOp)(nil)

// groupsTable is the name of the operator's state table.
const groupsTable = "groups"

// New builds the operator of n for the subtask env describes (the operator
// registry's constructor): it owns the key groups env.KeyGroups.
func New(n *plan.GroupAgg, env exec.OperatorEnv) (exec.Operator, error) {
	sub, err := env.StateSubtask()
	if err != nil {
		return nil, fmt.Errorf("groupagg: %q: %w", n.ID(), err)
	}
	env = env.WithDefaults()
	return NewSubtask(n, env.Metrics, env.Alloc, env.Clock, sub)
}

// NewSubtask builds the operator of n as subtask sub.
func NewSubtask(n *plan.GroupAgg, m *exec.OperatorMetrics, alloc memory.Allocator, clock exec.Clock, sub state.Subtask) (exec.Operator, error) {
	errf := func(format string, args ...any) error {
		return fmt.Errorf("groupagg: %q: %s", n.ID(), fmt.Sprintf(format, args...))
	}
	in := n.Input.Schema()
	o := &groupAggOp{
		id: n.ID(), m: m, alloc: alloc, clock: clock, maxP: sub.MaxParallelism,
		keyCols: n.Keys, calls: n.Aggs, in: in, outSchema: n.Schema().Arrow(),
		mini: n.MiniBatch, ttl: n.StateTTL,
		groups: map[string]int32{}, nullSlot: -1,
	}
	for _, k := range n.Keys {
		if k < 0 || k >= in.Len() {
			return nil, errf("key column #%d out of range", k)
		}
		o.keyTypes = append(o.keyTypes, in.Fields[k].Type)
	}
	if len(o.keyTypes) == 1 {
		switch o.keyTypes[0].Kind {
		case types.Int, types.BigInt, types.Timestamp, types.TimestampLTZ:
			o.intKey, o.ints, o.groups = true, map[int64]int32{}, nil
		}
	}
	var err error
	if o.enc, err = state.NewKeyEncoder(o.keyTypes); err != nil {
		return nil, errf("%v", err)
	}
	o.keyArrs = make([]arrow.Array, len(n.Keys))
	for _, c := range n.Aggs {
		if c.Filter >= in.Len() {
			return nil, errf("%s: FILTER column #%d out of range", c, c.Filter)
		}
	}
	newCalls := agg.NewCalls
	if n.InputAppendOnly {
		newCalls = agg.NewCallsAppendOnly // MIN/MAX keep no multiset
	}
	if o.calls2, err = newCalls(n.Aggs, in); err != nil {
		return nil, errf("%v", err)
	}
	o.aggs = o.calls2.Accumulators()
	o.masks = make([][]int32, len(n.Aggs))
	o.callSlots = make([][]int32, len(n.Aggs))
	if n.Having != nil {
		if o.having, err = expr.Compile(n.Having, n.Schema(), alloc); err != nil {
			return nil, errf("HAVING: %v", err)
		}
	}
	if o.tables, err = state.NewTables(n.ID(), sub, state.Spec{Name: groupsTable, Keyed: true, Held: true, Layout: layout(n, in)}); err != nil {
		return nil, err
	}
	o.groupsT = o.tables.Table(groupsTable)
	o.rb = array.NewRecordBuilder(alloc, o.outSchema)
	return o, nil
}

// layout describes the state's encoding: the key types and the
// aggregates; state written under another layout is refused.
func layout(n *plan.GroupAgg, in types.Schema) string {
	ks := make([]string, len(n.Keys))
	for i, k := range n.Keys {
		ks[i] = in.Fields[k].Type.Nullable().String()
	}
	as := make([]string, len(n.Aggs))
	for i, a := range n.Aggs {
		if a.Func == plan.CountStar {
			as[i] = "COUNT(*)"
			continue
		}
		d := ""
		if a.Distinct {
			d = "DISTINCT "
		}
		as[i] = fmt.Sprintf("%s(%s%s)", a.Func, d, in.Fields[a.Arg].Type.Nullable())
	}
	return fmt.Sprintf("v1 count access, group keys [%s], aggregates [%s]", strings.Join(ks, ", "), strings.Join(as, ", "))
}

// Open implements exec.Operator.
func (o *groupAggOp) Open(_ context.Context, st checkpoint.StateReader) error {
	if st == nil {
		return nil
	}
	err := o.tables.Restore(st, func(_ *state.Table, _ int, key, value []byte) error {
		if err := o.restoreGroup(key, value); err != nil {
			return fmt.Errorf("groupagg: %q: restore: group %x: %w", o.id, key, err)
		}
		return nil
	})
	o.m.StateEntries.Store(int64(o.live))
	return err
}

var errState = errors.New("corrupt group state")

func (o *groupAggOp) restoreGroup(key, value []byte) error {
	if err := state.CheckKey(o.keyTypes, key); err != nil {
		return err
	}
	if _, dup := o.lookup(string(key)); dup {
		return errState
	}
	cnt, n := binary.Varint(value)
	if n <= 0 || cnt <= 0 {
		return errState
	}
	value = value[n:]
	acc, n := binary.Varint(value)
	if n <= 0 {
		return errState
	}
	value = value[n:]
	s := o.newSlot(string(key))
	o.count[s], o.access[s], o.pers[s] = cnt, acc, true
	for _, a := range o.aggs {
		var err error
		if value, err = a.Decode(value, s); err != nil {
			return err
		}
	}
	if len(value) != 0 {
		return errState
	}
	return nil
}

// Close implements exec.Operator.
func (o *groupAggOp) Close() error {
	for _, r := range o.buffered {
		r.Release()
	}
	o.buffered = nil
	if o.rb != nil {
		o.rb.Release()
		o.rb = nil
	}
	return nil
}

// newSlot gives key a fresh slot with empty accumulators.
func (o *groupAggOp) newSlot(key string) int32 {
	var s int32
	if n := len(o.free); n > 0 {
		s = o.free[n-1]
		o.free = o.free[:n-1]
		o.slotKey[s] = key
	} else {
		s = int32(len(o.slotKey))
		o.slotKey = append(o.slotKey, key)
		o.count = append(o.count, 0)
		o.access = append(o.access, 0)
		o.dirty = append(o.dirty, false)
		o.pers = append(o.pers, false)
		o.mark = append(o.mark, 0)
		o.used = append(o.used, false)
		if len(o.slotKey) > o.nslots {
			o.nslots = max(64, 2*o.nslots)
			for _, a := range o.aggs {
				a.Grow(o.nslots)
			}
		}
	}
	o.used[s] = true
	o.index(key, s)
	o.live++
	return s
}

// intOfKey decodes the encoding of one integer key column.
func intOfKey(key string) (v int64, null bool) {
	if len(key) != 9 {
		return 0, true
	}
	return int64(binary.BigEndian.Uint64([]byte(key[1:])) ^ (1 << 63)), false
}

// lookup returns the slot of the group whose key encodes as key.
func (o *groupAggOp) lookup(key string) (int32, bool) {
	if !o.intKey {
		s, ok := o.groups[key]
		return s, ok
	}
	if v, null := intOfKey(key); !null {
		s, ok := o.ints[v]
		return s, ok
	}
	return o.nullSlot, o.nullSlot >= 0
}

// index makes s the slot of key (-1: removes key).
func (o *groupAggOp) index(key string, s int32) {
	switch {
	case !o.intKey && s >= 0:
		o.groups[key] = s
	case !o.intKey:
		delete(o.groups, key)
	default:
		v, null := intOfKey(key)
		switch {
		case null:
			o.nullSlot = s
		case s >= 0:
			o.ints[v] = s
		default:
			delete(o.ints, v)
		}
	}
}

// dropSlot deletes slot s's group from memory; its stored state is deleted
// at the next barrier.
func (o *groupAggOp) dropSlot(s int32) {
	key := o.slotKey[s]
	o.index(key, -1)
	o.used[s] = false
	if o.pers[s] {
		o.deletes = append(o.deletes, key)
	}
	for _, a := range o.aggs {
		a.Reset(s)
	}
	o.count[s], o.dirty[s], o.pers[s], o.slotKey[s] = 0, false, false, ""
	o.free = append(o.free, s)
	o.live--
}

// OnBatch implements exec.Operator.
func (o *groupAggOp) OnBatch(ctx context.Context, _ int, rec arrow.Record, out exec.Emitter) error {
	n := int(rec.NumRows())
	o.m.RecordsIn.Add(int64(n))
	if n == 0 {
		return nil
	}
	now := o.clock.Now()
	if err := o.expire(now); err != nil {
		return err
	}
	if o.mini.Size <= 0 {
		return o.wrap(o.process(ctx, []arrow.Record{rec}, false, now, out))
	}
	if len(o.buffered) == 0 {
		o.bufSince = now
	}
	rec.Retain()
	o.buffered = append(o.buffered, rec)
	o.bufRows += n
	if o.bufRows >= o.mini.Size || o.mini.Latency > 0 && now.Sub(o.bufSince).Milliseconds() >= o.mini.Latency {
		return o.wrap(o.flush(ctx, now, out))
	}
	return nil
}

// wrap prefixes err with the operator's package and id.
func (o *groupAggOp) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("groupagg: %q: %w", o.id, err)
}

// flush processes the mini-batch buffer as one chunk.
func (o *groupAggOp) flush(ctx context.Context, now time.Time, out exec.Emitter) error {
	if len(o.buffered) == 0 {
		return nil
	}
	recs := o.buffered
	o.buffered, o.bufRows = nil, 0
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	return o.process(ctx, recs, true, now, out)
}

// OnWatermark implements exec.Operator: the mini-batch buffer is flushed
// before the watermark goes on.
func (o *groupAggOp) OnWatermark(ctx context.Context, _ exec.Watermark, out exec.Emitter) error {
	// The runtime names the operator in errors of OnWatermark.
	if err := o.flush(ctx, o.clock.Now(), out); err != nil {
		return fmt.Errorf("groupagg: %w", err)
	}
	return nil
}

// process folds recs into the groups and emits the changes. whole: all of
// recs is one chunk (mini-batch); otherwise a chunk ends where a key
// repeats.
func (o *groupAggOp) process(ctx context.Context, recs []arrow.Record, whole bool, now time.Time, out exec.Emitter) error {
	if err := o.processChunks(recs, whole, now); err != nil {
		o.discard()
		return err
	}
	o.m.StateEntries.Store(int64(o.live))
	return o.emit(ctx, out)
}

// processChunks maps the rows of recs to groups chunk by chunk, folds
// each chunk and appends its changes to the output builder.
func (o *groupAggOp) processChunks(recs []arrow.Record, whole bool, now time.Time) error {
	o.nowMs = now.UnixMilli()
	if !whole {
		// Each row touches one group of one chunk: at most two rows out
		// per row in.
		rows := 0
		for _, r := range recs {
			rows += int(r.NumRows())
		}
		for i := range o.outSchema.NumFields() {
			o.rb.Field(i).Reserve(2 * rows)
		}
	}
	ri, row := 0, 0
	for ri < len(recs) {
		o.gen++
		if o.gen == 0 { // wrapped: clear the marks once every 2^32 chunks
			clear(o.mark)
			o.gen = 1
		}
		o.segs = o.segs[:0]
		o.touched = o.touched[:0]
		o.oldCount = o.oldCount[:0]
		stop := false
		for ri < len(recs) && !stop {
			rec := recs[ri]
			n := int(rec.NumRows())
			seg := segment{rec: rec, lo: row}
			seg.slots = o.slotsBuf(len(o.segs), n)
			kinds := exec.RowKinds(rec)
			var ints []int64
			var intArr arrow.Array
			if o.intKey {
				intArr = rec.Column(o.keyCols[0])
				var err error
				if ints, err = o.intValues(intArr); err != nil {
					return err
				}
				if intArr.NullN() == 0 {
					intArr = nil
				}
			} else {
				for i, k := range o.keyCols {
					o.keyArrs[i] = rec.Column(k)
				}
				if err := o.enc.Bind(o.keyArrs...); err != nil {
					return err
				}
			}
			for ; row < n; row++ {
				// Only seg.slots[seg.lo:seg.hi] is read: a row's slot is set
				// here, not the whole batch's for every chunk (a hot key
				// makes a chunk of nearly every row).
				seg.slots[row] = -1
				retract := kinds != nil && types.RowKind(kinds.Value(row)).IsRetraction()
				var s int32
				var ok, null bool
				switch {
				case !o.intKey:
					o.keyBuf = o.enc.Append(o.keyBuf[:0], row)
					s, ok = o.groups[string(o.keyBuf)]
				case intArr != nil && intArr.IsNull(row):
					s, ok, null = o.nullSlot, o.nullSlot >= 0, true
				default:
					s, ok = o.ints[ints[row]]
				}
				if ok && o.mark[s] == o.gen && !whole {
					stop = true
					break
				}
				if !ok {
					if retract {
						continue // no state for the key: ignored, as in Flink
					}
					if o.intKey {
						o.keyBuf = state.AppendIntKey(o.keyBuf[:0], ints[row], null)
					}
					s = o.newSlot(string(o.keyBuf))
				}
				if o.mark[s] != o.gen {
					o.mark[s] = o.gen
					o.touched = append(o.touched, s)
					o.oldCount = append(o.oldCount, o.count[s])
				}
				if retract {
					if o.count[s] <= 0 {
						continue
					}
					o.count[s]--
				} else {
					o.count[s]++
				}
				seg.slots[row] = s
			}
			seg.hi = row
			o.segs = append(o.segs, seg)
			if row >= n {
				ri, row = ri+1, 0
			}
		}
		clear(o.keyArrs)
		if err := o.chunk(whole); err != nil {
			return err
		}
	}
	return nil
}

// intValues returns the values of an integer key column as int64s.
func (o *groupAggOp) intValues(a arrow.Array) ([]int64, error) {
	switch x := a.(type) {
	case *array.Int64:
		return x.Int64Values(), nil
	case *array.Timestamp:
		vs := x.TimestampValues()
		o.intBuf = o.intBuf[:0]
		for _, v := range vs {
			o.intBuf = append(o.intBuf, int64(v))
		}
		return o.intBuf, nil
	case *array.Int32:
		o.intBuf = o.intBuf[:0]
		for _, v := range x.Int32Values() {
			o.intBuf = append(o.intBuf, int64(v))
		}
		return o.intBuf, nil
	}
	return nil, fmt.Errorf("key column of type %s holds Arrow %s", o.keyTypes[0], a.DataType())
}

// slotsBuf returns a reusable []int32 of length n for segment i.
func (o *groupAggOp) slotsBuf(i, n int) []int32 {
	for len(o.slotBufs) <= i {
		o.slotBufs = append(o.slotBufs, nil)
	}
	if cap(o.slotBufs[i]) < n {
		o.slotBufs[i] = make([]int32, n)
	}
	return o.slotBufs[i][:n]
}

// chunk folds the current chunk's segments into the accumulators and
// appends the old and new rows of the touched groups to the output
// builder; emit turns them into the changelog. The changes of all chunks
// of one process call go out as one record, so a hot key (a chunk per
// row) costs a few appends per row, not a record.
func (o *groupAggOp) chunk(whole bool) error {
	n := len(o.touched)
	if n == 0 {
		return nil
	}
	if whole {
		// Old rows, before the fold; room for the new ones too.
		for i := range o.outSchema.NumFields() {
			o.rb.Field(i).Reserve(2 * n)
		}
	}
	base := int32(o.rows)
	o.appendRows(o.touched)
	for _, seg := range o.segs {
		// The chunk's rows of the batch, sliced when they are not all of
		// it, so that folding costs the chunk's rows, not the batch's.
		rec := seg.rec
		if seg.lo > 0 || seg.hi < int(rec.NumRows()) {
			o.part.set(rec, int64(seg.lo), int64(seg.hi))
			rec = &o.part
		}
		err := o.fold(rec, seg.slots[seg.lo:seg.hi])
		o.part.clear()
		if err != nil {
			return err
		}
	}
	o.appendRows(o.touched)
	o.rows += 2 * n
	for i, s := range o.touched {
		o.pend = append(o.pend, pending{old: base + int32(i), new: base + int32(n+i), oldCount: o.oldCount[i], newCount: o.count[s]})
		if o.count[s] <= 0 {
			o.dropSlot(s)
			continue
		}
		o.access[s] = o.nowMs
		if !o.dirty[s] {
			o.dirty[s] = true
			o.dirties = append(o.dirties, s)
		}
	}
	return nil
}

// emit chooses the changelog of the groups the chunks since the last emit
// touched, from their old and new rows in the output builder, and emits
// it.
func (o *groupAggOp) emit(ctx context.Context, out exec.Emitter) error {
	if o.rows == 0 {
		return nil
	}
	both := o.rb.NewRecord()
	defer both.Release()
	pend := o.pend
	o.pend, o.rows = o.pend[:0], 0
	var pass *array.Boolean
	if o.having != nil {
		m, err := o.having.Eval(both)
		if err != nil {
			return fmt.Errorf("HAVING: %w", err)
		}
		defer m.Release()
		pass = m.(*array.Boolean)
	}
	passes := func(i int32) bool { return pass == nil || pass.IsValid(int(i)) && pass.Value(int(i)) }
	idx := o.idx[:0]
	kinds := o.kinds[:0]
	for _, p := range pend {
		oldLive := p.oldCount > 0 && passes(p.old)
		newLive := p.newCount > 0 && passes(p.new)
		switch {
		case oldLive && newLive:
			if !o.sameAggs(both, int(p.old), int(p.new)) {
				idx = append(idx, p.old, p.new)
				kinds = append(kinds, types.UpdateBefore, types.UpdateAfter)
			}
		case oldLive:
			idx = append(idx, p.old)
			kinds = append(kinds, types.Delete)
		case newLive:
			idx = append(idx, p.new)
			kinds = append(kinds, types.Insert)
		}
	}
	o.idx, o.kinds = idx, kinds
	if len(idx) == 0 {
		return nil
	}
	res, err := expr.Take(both, idx, o.alloc)
	if err != nil {
		return err
	}
	defer res.Release()
	ka := exec.NewRowKinds(o.alloc, kinds)
	defer ka.Release()
	withKinds := exec.WithRowKinds(res, ka)
	defer withKinds.Release()
	o.m.RecordsOut.Add(withKinds.NumRows())
	return out.Emit(ctx, withKinds)
}

// discard drops the rows appended since the last emit (after an error).
func (o *groupAggOp) discard() {
	o.rb.NewRecord().Release()
	o.pend, o.rows = o.pend[:0], 0
}

// fold updates the accumulators with the rows of rec, of groups slots.
func (o *groupAggOp) fold(rec arrow.Record, slots []int32) error {
	kinds := exec.RowKinds(rec)
	for ai := range o.aggs {
		o.callSlots[ai] = slots
		f := o.calls[ai].Filter
		if f < 0 {
			continue
		}
		// Calls under the same FILTER column (q16's ranks) share its mask.
		shared := false
		for aj := range ai {
			if o.calls[aj].Filter == f {
				o.callSlots[ai], shared = o.callSlots[aj], true
				break
			}
		}
		if !shared {
			o.masks[ai] = filtered(rec.Column(f), slots, o.masks[ai])
			o.callSlots[ai] = o.masks[ai]
		}
	}
	if ai, err := o.calls2.Update(rec, o.callSlots, kinds, &o.scratch, &o.joint); err != nil {
		return fmt.Errorf("%s: %w", o.calls[ai].Describe(o.in), err)
	}
	clear(o.callSlots)
	return nil
}

// filtered returns slots with -1 where the FILTER column col is not TRUE,
// in buf.
func filtered(col arrow.Array, slots, buf []int32) []int32 {
	b, _ := col.(*array.Boolean)
	buf = append(buf[:0], slots...)
	for i := range buf {
		if b == nil || !b.IsValid(i) || !b.Value(i) {
			buf[i] = -1
		}
	}
	return buf
}

// appendRows appends the group rows (keys, then results) of slots ss to
// the output builder, column by column: the keys row by row (their
// encoding is one per row), then each aggregate's results.
func (o *groupAggOp) appendRows(ss []int32) {
	for _, s := range ss {
		// Read only: the decoder does not keep or modify key.
		key := unsafe.Slice(unsafe.StringData(o.slotKey[s]), len(o.slotKey[s]))
		for i, t := range o.keyTypes {
			var err error
			if key, err = state.DecodeKeyColumn(o.rb.Field(i), t, key); err != nil {
				// The key was encoded by this operator's encoder.
				panic(fmt.Sprintf("groupagg: %q: own key does not decode: %v", o.id, err))
			}
		}
	}
	k := len(o.keyTypes)
	for i, a := range o.aggs {
		b := o.rb.Field(k + i)
		for _, s := range ss {
			a.AppendResult(b, s)
		}
	}
}

// sameAggs reports whether rows i and j of rec have equal aggregate
// results (their keys are equal).
func (o *groupAggOp) sameAggs(rec arrow.Record, i, j int) bool {
	for c := len(o.keyTypes); c < int(rec.NumCols()); c++ {
		if !sameValue(rec.Column(c), i, j) {
			return false
		}
	}
	return true
}

// sameValue reports whether rows i and j of a hold the same value (both
// NULL counts as the same).
func sameValue(a arrow.Array, i, j int) bool {
	ni, nj := a.IsNull(i), a.IsNull(j)
	if ni || nj {
		return ni == nj
	}
	switch x := a.(type) {
	case *array.Int64:
		return x.Value(i) == x.Value(j)
	case *array.Int32:
		return x.Value(i) == x.Value(j)
	case *array.Float64:
		return x.Value(i) == x.Value(j)
	case *array.String:
		return x.Value(i) == x.Value(j)
	case *array.Boolean:
		return x.Value(i) == x.Value(j)
	case *array.Decimal128:
		return x.Value(i) == x.Value(j)
	case *array.Timestamp:
		return x.Value(i) == x.Value(j)
	}
	return array.SliceEqual(a, int64(i), int64(i+1), a, int64(j), int64(j+1))
}

// expire drops the groups idle for longer than the state TTL (no
// retraction is emitted, as in Flink). The groups are scanned at most once
// per half TTL, so a group lives at most 1.5 TTL after its last access.
func (o *groupAggOp) expire(now time.Time) error {
	if o.ttl <= 0 || now.Before(o.nextTTL) {
		return nil
	}
	o.nextTTL = now.Add(time.Duration(max(o.ttl/2, 1)) * time.Millisecond)
	limit := now.UnixMilli() - o.ttl
	for s, used := range o.used {
		if used && o.access[s] < limit {
			o.dropSlot(int32(s))
		}
	}
	o.m.StateEntries.Store(int64(o.live))
	return nil
}

// OnBarrier implements exec.Operator: the mini-batch buffer is flushed
// first (its changes are then covered by the checkpoint), then the groups
// changed since the previous barrier are written and the deleted ones
// deleted.
func (o *groupAggOp) OnBarrier(ctx context.Context, _ exec.Barrier, sw checkpoint.StateWriter, out exec.Emitter) error {
	// The runtime names the checkpoint and the operator in errors of
	// OnBarrier.
	now := o.clock.Now()
	if err := o.flush(ctx, now, out); err != nil {
		return fmt.Errorf("groupagg: %w", err)
	}
	if err := o.expire(now); err != nil {
		return err
	}
	w, err := o.tables.Snapshot(sw)
	if err != nil {
		return err
	}
	wrap := func(err error) error { return fmt.Errorf("groupagg: %w", err) }
	for _, k := range o.deletes {
		if s, ok := o.lookup(k); ok && o.dirty[s] {
			continue // deleted and created again: the set below overwrites it
		}
		if err := w.Delete(o.groupsT, state.KeyGroupOfKey([]byte(k), o.maxP), []byte(k)); err != nil {
			return wrap(err)
		}
	}
	o.deletes = o.deletes[:0]
	var val []byte
	for _, s := range o.dirties {
		if !o.dirty[s] {
			continue // deleted since
		}
		o.dirty[s] = false
		val = binary.AppendVarint(val[:0], o.count[s])
		val = binary.AppendVarint(val, o.access[s])
		for _, a := range o.aggs {
			val = a.Encode(val, s)
		}
		key := []byte(o.slotKey[s])
		if err := w.Set(o.groupsT, state.KeyGroupOfKey(key, o.maxP), key, val); err != nil {
			return wrap(err)
		}
		o.pers[s] = true
	}
	o.dirties = o.dirties[:0]
	return nil
}
