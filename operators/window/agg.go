package window

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/expr"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// The window aggregation operator.
//
// Rows are grouped by (window, group key); each group owns a slot, an index
// into dense per-aggregate accumulator slices (see the accumulator interface). A batch is
// processed column at a time: first every row's slot is computed into a
// reusable []int32, then each aggregate folds the batch in one loop over
// that slice. A row of a HOP or CUMULATE window belongs to several windows:
// the operator makes one such pass per window "phase" (phase j is the j-th
// window of every row, counted from the one that ends last).
//
// Slots are found through a slotTable keyed by (window end, key). With one
// integer-like key column (INT, BIGINT, BOOLEAN, TIMESTAMP, INTERVAL) or no
// key at all, the key is the column's value itself. Other keys are encoded
// into bytes (package state's key encoding) and interned into dense key ids, reference
// counted by the slots that use them. A window's end determines its start
// for TUMBLE, HOP and CUMULATE.
//
// Semantics, all times in milliseconds, wm the current watermark:
//
//   - A window fires once, when wm >= window_end - 1: its rows are emitted
//     and its slots freed for reuse. OnWatermark(MaxWatermark) fires all.
//   - Time windows: a row contributes to each of its windows that has not
//     fired (window_end - 1 > wm); it is late, dropped and counted in
//     LateRecords, when all of them have fired, which is exactly when the
//     window that ends last has.
//   - SESSION(gap): a row at ts opens the window [ts, ts+gap); it merges with
//     every open session of its key that it intersects, bounds included (as
//     Flink's TimeWindow.intersects: [a,b) and [b,c) merge), and all of them
//     become one session [min start, max end). The row is late when it
//     merges with no open session and ts + gap - 1 <= wm; a row that bridges
//     into an open session is kept even if its own window alone would have
//     closed (as in Flink, lateness is judged on the merged window). With
//     allowed lateness L, fired sessions are kept (and merged into) until
//     wm >= end - 1 + L, and a row that merges with none is late when
//     ts + gap - 1 + L <= wm (emit.go).
//   - Late rows go to the late-rows output when the job keeps them
//     (exec.OperatorEnv.Late), as the operator received them.
//   - A row whose event time is NULL is dropped and counted as late.
//   - Output of one watermark is ordered by window_end, then window_start,
//     then group key in the order of the key encoding: NULL first, then
//     ascending values (strings bytewise). The order does not depend on
//     arrival order, so a restored operator emits the same rows in the same
//     order.
//
// Event times near the int64 limits overflow window bounds; the operator
// does not guard against it.
type windowAggOp struct {
	id        string
	w         plan.Window
	m         *exec.OperatorMetrics
	alloc     memory.Allocator
	outSchema *arrow.Schema
	keyTypes  []types.Type
	aggs      []accumulator
	ovfAggs   []ovfAgg // the aggregates whose sums can overflow
	keyName   string   // the group key column's name, when there is one
	filters   []int    // per aggregate: FILTER column, or -1
	layout    windowLayout
	phases    int

	// Group keys. fast: at most one integer-like key column (keyCol, -1
	// for none) used directly as the table key. Otherwise keys are
	// interned: intern maps the encoding to a key id indexing keyBytes.
	fast     bool
	keyCol   int
	keyCols  []int
	intern   map[string]int32
	keyBytes []string
	keyRefs  []int32
	freeKeys []int32

	table *slotTable

	// Per slot, indexed by slot (struct of arrays).
	slotKey   []int64 // key value (fast) or key id
	slotNull  []bool  // NULL key (fast path only)
	slotStart []int64
	slotEnd   []int64
	slotNext  []int32 // sessions: next slot of the same key, -1 ends
	live      []bool
	dirty     []bool // changed since the last barrier
	persisted []bool // written by a barrier and not deleted since
	persStart []int64
	persEnd   []int64 // sessions: bounds under which the slot was written
	free      []int32
	nlive     int
	aggCap    int // slots the aggregators have room for

	// Time windows open, by end: a min-heap of ends and their slots.
	winEnds windowEndHeap
	wins    map[int64][]int32
	// HOP windows by slices (slice.go): the slices by start, the bases of
	// windows restored from state that kept one accumulator per window, by
	// end, and the ends in winEnds; freeParts, mergeSlot (-1 until needed),
	// cursors, heap and group are reused.
	sliced      bool
	sliceParts  map[int64]*slicePart
	bases       map[int64]*slicePart
	pendingEnds map[int64]struct{}
	freeParts   []*slicePart
	mergeSlot   int32
	cursors     []sliceCursor
	heap        []int32
	group       []int32
	// Sessions: a lower bound of the end of every open session.
	minEnd int64

	wm   exec.Watermark
	late int64
	// zone, for a TUMBLE, HOP or CUMULATE window over a TIMESTAMP_LTZ
	// time attribute in a session zone other than UTC (plan.Window.Zone),
	// is that zone: rows are put in the windows of their local time, a
	// window is keyed by its local bounds (window_start, window_end), and
	// it fires when the watermark (an instant) reaches the instant of its
	// local end (utc); nil otherwise.
	zone     *types.Zone
	localBuf []int64
	// sessionZone is that zone for a SESSION window, whose bounds are
	// instants, shown as local times.
	sessionZone *types.Zone
	// lateOut, when the job keeps late rows, takes the rows dropped as
	// late (exec.OperatorEnv.Late); lateIdx is scratch for their indexes.
	lateOut exec.Emitter
	lateIdx []int32
	// procTime, for a window over processing time (procAgg), is the
	// clock's time (ms) that every row of the batch gets; -1 otherwise.
	procTime int64

	// Emit strategies (emit.go): allowed lateness and early firing.
	// updating is set with either; then prev holds, per slot, its
	// accumulators as last emitted (nil: never emitted), changed whether
	// it changed since; changes lists the changed slots of open windows
	// (early firing), lateChanges those of fired windows.
	lateness, earlyFire  int64
	lateFire             int64 // late-fire delay (ms); 0: late updates after every batch
	updating             bool
	prev                 [][]byte
	changed              []bool
	changes, lateChanges []int32
	// Fired windows kept for late rows, by end.
	retEnds  windowEndHeap
	retained map[int64][]int32
	// Sessions with an emit strategy (session.go): per slot, the bounds
	// it was last emitted with and whether it fired (kept for late rows);
	// retract lists the emitted sessions merged away in this batch;
	// minExpire is a lower bound of when a fired session is released.
	prevStart, prevEnd []int64
	fired              []bool
	retract            []int32
	minExpire          int64
	scratch            int32 // a slot that is never live, to decode prev into; -1 until needed
	kindBuf            []types.RowKind

	// Checkpoint dirty tracking.
	dirtyList []int32
	deletes   [][]byte // key group prefix and windows-table key
	// legacyDeletes are the keys of version 1 state (legacy.go) that the
	// next barrier deletes.
	legacyDeletes [][]byte
	// State tables: accumulators, watermark, late count, and the values
	// of the last two as last written.
	tables           *state.Tables
	accT, wmT, lateT *state.Table
	persWM, persLate []byte

	// Scratch, reused across batches.
	slots    []int32
	masked   []int32
	timeBuf  []int64
	keyBuf   []int64
	ids      []int64
	newKeys  []int32
	forward  map[int32]int32 // sessions: merged slot → slot it merged into
	merged   []int32
	encBuf   []byte
	keyEnc   *state.KeyEncoder // general keys: encodes each row's key
	keyArrs  []arrow.Array     // the key columns of the batch keyEnc is bound to
	firing   []int32
	sortBuf2 []int32 // sessions: the firing ones to emit
	sortBuf  []keySlot
	rb       *array.RecordBuilder
}

var _ exec.Operator = (*windowAggOp)(nil)

// windowSessionHead is the window coordinate under which the slot table keeps
// the first session slot of a key.
const windowSessionHead = math.MinInt64

// windowOutputRows bounds the rows of one emitted batch.
const windowOutputRows = 8192

// NewAgg builds the window aggregation of n for the subtask env
// describes (the operator registry's constructor): it owns the key groups
// state.RangeFor(env.Subtask, env.Parallelism, env.MaxParallelism).
// env.Alloc allocates output batches.
func NewAgg(n *plan.WindowAgg, env exec.OperatorEnv) (exec.Operator, error) {
	sub, err := env.StateSubtask()
	if err != nil {
		return nil, fmt.Errorf("window: aggregation %q: %w", n.ID(), err)
	}
	env = env.WithDefaults()
	op, err := NewAggSubtask(n, env.Metrics, env.Alloc, sub)
	if err != nil {
		return op, err
	}
	op.(*windowAggOp).lateOut = env.Late
	clock := env.Clock
	switch {
	case n.Window.ProcTime && n.EarlyFire > 0:
		return nil, fmt.Errorf("window: aggregation %q: early firing of a processing-time window is not supported", n.ID())
	case n.Window.ProcTime:
		return &procAgg{windowAggOp: op.(*windowAggOp), clock: clock}, nil
	case n.EarlyFire > 0 || n.LateFire > 0:
		return &timedAgg{windowAggOp: op.(*windowAggOp), clock: clock}, nil
	}
	return op, nil
}

// NewAggSubtask builds the operator for n as subtask sub: it
// restores the accumulators of sub's key groups.
func NewAggSubtask(n *plan.WindowAgg, m *exec.OperatorMetrics, alloc memory.Allocator, sub state.Subtask) (exec.Operator, error) {
	in := n.Input.Schema()
	w := n.Window
	errf := func(format string, args ...any) error {
		return fmt.Errorf("exec: window aggregation %q: %s", n.ID(), fmt.Sprintf(format, args...))
	}
	if w.TimeCol < 0 || w.TimeCol >= in.Len() {
		return nil, errf("time column #%d out of range", w.TimeCol)
	}
	if t := in.Fields[w.TimeCol].Type; !t.IsTemporal() && t.Kind != types.BigInt {
		return nil, errf("time column %q has type %s, want TIMESTAMP(3)", in.Fields[w.TimeCol].Name, t)
	}
	o := &windowAggOp{
		id: n.ID(), w: w, m: m, alloc: alloc,
		outSchema: n.Schema().Arrow(),
		wins:      make(map[int64][]int32),
		wm:        exec.MinWatermark,
		minEnd:    math.MaxInt64,
		minExpire: math.MaxInt64,
		keyCol:    -1,
		procTime:  -1,
		scratch:   -1,
		mergeSlot: -1,
		lateness:  n.AllowLateness,
		earlyFire: n.EarlyFire,
		lateFire:  n.LateFire,
		updating:  n.AllowLateness > 0 || n.EarlyFire > 0,
	}
	switch {
	case w.Zone.IsUTC():
	case w.Kind == plan.Session:
		o.sessionZone = w.Zone
	default:
		o.zone = w.Zone
	}
	o.table = newSlotTable(o, 1024)
	if o.sliced = slicedWindow(w, o.updating); o.sliced {
		o.sliceParts = make(map[int64]*slicePart)
		o.bases = make(map[int64]*slicePart)
		o.pendingEnds = make(map[int64]struct{})
	}
	switch w.Kind {
	case plan.Tumble:
		if w.Size <= 0 {
			return nil, errf("TUMBLE size must be positive, got %dms", w.Size)
		}
		o.phases = 1
	case plan.Hop:
		if w.Size <= 0 || w.Slide <= 0 {
			return nil, errf("HOP size and slide must be positive, got %dms and %dms", w.Size, w.Slide)
		}
		o.phases = int((w.Size + w.Slide - 1) / w.Slide)
	case plan.Cumulate:
		if w.Size <= 0 || w.Step <= 0 || w.Size%w.Step != 0 {
			return nil, errf("CUMULATE size must be a positive multiple of step, got size %dms and step %dms", w.Size, w.Step)
		}
		o.phases = int(w.Size / w.Step)
	case plan.Session:
		if w.Gap <= 0 {
			return nil, errf("SESSION gap must be positive, got %dms", w.Gap)
		}
		o.phases = 1
	default:
		return nil, errf("unknown window kind %s", w.Kind)
	}
	for _, k := range n.Keys {
		if k < 0 || k >= in.Len() {
			return nil, errf("key column #%d out of range", k)
		}
		t := in.Fields[k].Type
		if !state.KeyTypeSupported(t) {
			return nil, errf("cannot group by %s", t)
		}
		o.keyTypes = append(o.keyTypes, t)
	}
	switch {
	case len(n.Keys) == 0:
		o.fast = true
	case len(n.Keys) == 1 && state.IsIntKey(o.keyTypes[0]):
		o.fast, o.keyCol = true, n.Keys[0]
	default:
		o.intern = make(map[string]int32)
		var err error
		if o.keyEnc, err = state.NewKeyEncoder(o.keyTypes); err != nil {
			return nil, errf("%v", err)
		}
		o.keyArrs = make([]arrow.Array, len(n.Keys))
	}
	keyIdx := n.Keys
	for _, c := range n.Aggs {
		a, err := newAccumulator(c, in)
		if err != nil {
			return nil, errf("%v", err)
		}
		if c.Filter >= in.Len() || (c.Filter >= 0 && in.Fields[c.Filter].Type.Kind != types.Boolean) {
			return nil, errf("%s: FILTER column #%d is not a BOOLEAN column", c, c.Filter)
		}
		o.aggs = append(o.aggs, a)
		o.filters = append(o.filters, c.Filter)
		if r, ok := a.(overflowReporter); ok {
			o.ovfAggs = append(o.ovfAggs, ovfAgg{r: r, call: c, arg: in.Fields[c.Arg].Name, argType: in.Fields[c.Arg].Type})
		}
	}
	if want := len(keyIdx) + 3 + len(n.Aggs); len(o.outSchema.Fields()) != want {
		return nil, errf("output schema has %d columns, want %d", len(o.outSchema.Fields()), want)
	}
	o.layout = newWindowLayout(n, in)
	tables, err := windowTables(n.ID(), o.layout, sub)
	if err != nil {
		return nil, errf("%v", err)
	}
	o.tables, o.accT, o.wmT, o.lateT = tables, tables.Table("windows"), tables.Table("watermark"), tables.Table("late")
	o.rb = array.NewRecordBuilder(alloc, o.outSchema)
	o.keyCols = keyIdx
	if len(keyIdx) == 1 {
		o.keyName = in.Fields[keyIdx[0]].Name
	}
	return o, nil
}

// Open implements Operator.
func (o *windowAggOp) Open(_ context.Context, st checkpoint.StateReader) error {
	if st == nil {
		return nil
	}
	return o.restore(st)
}

// Close implements Operator.
func (o *windowAggOp) Close() error {
	if o.rb != nil {
		o.rb.Release()
		o.rb = nil
	}
	return nil
}

// OnBatch implements Operator.
func (o *windowAggOp) OnBatch(ctx context.Context, _ int, rec arrow.Record, out exec.Emitter) error {
	n := int(rec.NumRows())
	o.m.RecordsIn.Add(int64(n))
	if n == 0 {
		return nil
	}
	tcol := rec.Column(o.w.TimeCol)
	var times []int64
	if o.procTime >= 0 {
		times = growAccInt64(&o.timeBuf, n)
		for i := range times {
			times[i] = o.procTime
		}
	} else {
		times = accInt64Values(tcol, &o.timeBuf)[:n]
	}
	if o.zone != nil {
		local := growAccInt64(&o.localBuf, n)
		for i, ts := range times {
			local[i] = o.zone.ToLocal(ts)
		}
		times = local
	}
	var keys []int64
	var keyArr arrow.Array
	if o.fast {
		if o.keyCol >= 0 {
			keyArr = rec.Column(o.keyCol)
			keys = accInt64Values(keyArr, &o.keyBuf)[:n]
			if keyArr.NullN() == 0 {
				keyArr = nil
			}
		}
	} else {
		var err error
		if keys, err = o.internBatch(rec, n); err != nil {
			return fmt.Errorf("exec: window aggregation %q: %w", o.id, err)
		}
	}
	if cap(o.slots) < n {
		o.slots = make([]int32, n)
		o.masked = make([]int32, n)
	}
	slots := o.slots[:n]
	var timeNulls arrow.Array
	if tcol.NullN() > 0 && o.procTime < 0 {
		timeNulls = tcol
	}
	late := o.late
	if o.w.Kind == plan.Session {
		o.assignSessions(times, timeNulls, keys, keyArr, slots)
		if err := o.keepLate(ctx, rec, slots, late); err != nil {
			return err
		}
		o.updateAggs(rec, slots)
		if len(o.retract) > 0 {
			if err := o.emitRetractions(ctx, out); err != nil {
				return err
			}
		}
		o.releaseMerged()
	} else if o.sliced {
		o.assignSlices(times, timeNulls, keys, keyArr, slots)
		if err := o.keepLate(ctx, rec, slots, late); err != nil {
			return err
		}
		o.updateAggs(rec, slots)
	} else {
		for j := 0; j < o.phases; j++ {
			o.assignWindows(j, times, timeNulls, keys, keyArr, slots)
			if j == 0 {
				// Late rows are those without a phase-0 window.
				if err := o.keepLate(ctx, rec, slots, late); err != nil {
					return err
				}
			}
			o.updateAggs(rec, slots)
		}
	}
	if err := o.checkOverflow(); err != nil {
		return err
	}
	if len(o.lateChanges) > 0 && o.lateFire == 0 {
		if err := o.emitLateChanges(ctx, out); err != nil {
			return err
		}
	}
	if !o.fast {
		o.releaseNewKeys()
	}
	o.m.StateEntries.Store(int64(o.nlive))
	return nil
}

// keepLate emits the rows of rec that were dropped as late (slot -1) to
// the late-rows output, when the job keeps them and the batch had any
// (the late count grew from before).
func (o *windowAggOp) keepLate(ctx context.Context, rec arrow.Record, slots []int32, before int64) error {
	if o.lateOut == nil || o.late == before {
		return nil
	}
	idx := o.lateIdx[:0]
	for i, s := range slots {
		if s < 0 {
			idx = append(idx, int32(i))
		}
	}
	o.lateIdx = idx
	late, err := expr.Take(rec, idx, o.alloc)
	if err != nil {
		return fmt.Errorf("window: aggregation %q: late rows: %w", o.id, err)
	}
	defer late.Release()
	return o.lateOut.Emit(ctx, late)
}

// ovfAgg is an aggregate whose sum can overflow, with what its error names.
type ovfAgg struct {
	r       overflowReporter
	call    plan.AggCall
	arg     string // the argument column's name
	argType types.Type
}

// checkOverflow fails the query when a sum overflowed in the last batch:
// SQL's SUM does not wrap.
func (o *windowAggOp) checkOverflow() error {
	for _, a := range o.ovfAggs {
		s, ok := a.r.overflowed()
		if !ok {
			continue
		}
		what := a.call.Func.String()
		if a.call.Func == plan.Avg {
			what = "the sum of AVG"
		}
		d := ""
		if a.call.Distinct {
			d = "DISTINCT "
		}
		hint := "cast the argument to DECIMAL(38, 0) to sum larger values"
		if a.argType.Kind == types.Decimal {
			hint = "DECIMAL sums are limited to 38 digits"
		}
		start, end := o.overflowBounds(s)
		return fmt.Errorf("exec: window aggregation %q: %w: %s(%s%s) overflows %s (window %s – %s%s); %s",
			o.id, expr.ErrOverflow, what, d, a.arg, sumTypeName(a.argType),
			types.FormatTimestamp(start), types.FormatTimestamp(end), o.slotKeyText(s), hint)
	}
	return nil
}

// sumTypeName names the type a sum of arg is computed in.
func sumTypeName(arg types.Type) string {
	if arg.Kind == types.Decimal {
		return fmt.Sprintf("DECIMAL(38, %d)", arg.Scale)
	}
	return "BIGINT"
}

// slotKeyText describes slot s's group key for an error (", key k=v"),
// or nothing when the key is not a single integer column.
func (o *windowAggOp) slotKeyText(s int32) string {
	if !o.fast || o.keyCol < 0 || len(o.keyCols) != 1 {
		return ""
	}
	name := o.keyName
	if o.slotNull[s] {
		return fmt.Sprintf(", key %s=NULL", name)
	}
	return fmt.Sprintf(", key %s=%d", name, o.slotKey[s])
}

// updateAggs folds the rows of rec into their slots, applying each
// aggregate's FILTER.
func (o *windowAggOp) updateAggs(rec arrow.Record, slots []int32) {
	lastFilter := -1
	masked := o.masked[:len(slots)]
	for i, a := range o.aggs {
		f := o.filters[i]
		if f < 0 {
			a.update(rec, slots)
			continue
		}
		if f != lastFilter {
			fc := rec.Column(f).(*array.Boolean)
			for r, s := range slots {
				if s >= 0 && !(fc.IsValid(r) && fc.Value(r)) {
					s = -1
				}
				masked[r] = s
			}
			lastFilter = f
		}
		a.update(rec, masked)
	}
}

// windowFloorMod returns x mod m in [0, m).
func windowFloorMod(x, m int64) int64 {
	r := x % m
	if r < 0 {
		r += m
	}
	return r
}

// windowOf returns the phase-th window of a row at ts (start, end), whether
// the row has that window, and the range [lo, hi) of times whose phase-th
// window is the same, so that callers can skip recomputing it.
func (o *windowAggOp) windowOf(ts int64, phase int) (start, end int64, ok bool, lo, hi int64) {
	w := &o.w
	switch w.Kind {
	case plan.Tumble:
		start = ts - windowFloorMod(ts-w.Offset, w.Size)
		return start, start + w.Size, true, start, start + w.Size
	case plan.Hop:
		last := ts - windowFloorMod(ts-w.Offset, w.Slide)
		start = last - int64(phase)*w.Slide
		end = start + w.Size
		// When size is not a multiple of slide, the window holds only the
		// times of [last, last+slide) before its end.
		if end > ts {
			return start, end, true, last, min(last+w.Slide, end)
		}
		return start, end, false, end, last + w.Slide
	default: // Cumulate: phase j is the window with k = size/step - j steps.
		ps := ts - windowFloorMod(ts-w.Offset, w.Size)
		k0 := (ts-ps)/w.Step + 1 // steps of the smallest window holding ts
		k := w.Size/w.Step - int64(phase)
		lo = ps + (k0-1)*w.Step
		return ps, ps + k*w.Step, k >= k0, lo, lo + w.Step
	}
}

// assignWindows computes, for every row, the slot of its phase-th window,
// or -1. Phase 0 is each row's last-ending window; rows whose phase-0
// window has fired are late.
func (o *windowAggOp) assignWindows(phase int, times []int64, timeNulls arrow.Array, keys []int64, keyNulls arrow.Array, slots []int32) {
	wm := int64(o.wm)
	var lo, hi int64 = 1, 0 // empty: forces the first computation
	var start, end int64
	open := false
	late := int64(0)
	table := o.table
	for i, ts := range times {
		if timeNulls != nil && timeNulls.IsNull(i) {
			slots[i] = -1
			if phase == 0 {
				late++
			}
			continue
		}
		if ts < lo || ts >= hi {
			var ok bool
			start, end, ok, lo, hi = o.windowOf(ts, phase)
			open = ok && o.utc(end)-1+o.lateness > wm
			if phase == 0 && !open {
				// Cache nothing for late rows: the next row may be on time.
				lo, hi = 1, 0
			}
		}
		if !open {
			slots[i] = -1
			if phase == 0 {
				late++
			}
			continue
		}
		var k int64
		null := false
		if keys != nil {
			k = keys[i]
			null = keyNulls != nil && keyNulls.IsNull(i)
		}
		s := table.get(end, k, null)
		if s < 0 {
			s = o.newWindowSlot(start, end, k, null)
		}
		slots[i] = s
		if !o.dirty[s] {
			o.dirty[s] = true
			o.dirtyList = append(o.dirtyList, s)
		}
		if o.updating && !o.changed[s] {
			o.markChanged(s, o.utc(end)-1 <= wm)
		}
	}
	if late > 0 {
		o.late += late
		o.m.LateRecords.Add(late)
	}
}

// allocSlot returns a cleared slot for a group.
func (o *windowAggOp) allocSlot(start, end, k int64, null bool) int32 {
	var s int32
	if n := len(o.free); n > 0 {
		s = o.free[n-1]
		o.free = o.free[:n-1]
	} else {
		s = o.growSlot()
	}
	o.slotKey[s], o.slotNull[s] = k, null
	o.slotStart[s], o.slotEnd[s] = start, end
	o.live[s] = true
	o.nlive++
	if !o.fast {
		o.keyRefs[k]++
	}
	return s
}

// growSlot adds a slot to the per-slot slices and returns it.
func (o *windowAggOp) growSlot() int32 {
	s := int32(len(o.slotKey))
	n := len(o.slotKey) + 1
	o.slotKey = append(o.slotKey, 0)
	o.slotNull = append(o.slotNull, false)
	o.slotStart = append(o.slotStart, 0)
	o.slotEnd = append(o.slotEnd, 0)
	o.live = append(o.live, false)
	o.dirty = append(o.dirty, false)
	o.persisted = append(o.persisted, false)
	if o.w.Kind == plan.Session {
		o.slotNext = append(o.slotNext, -1)
		o.persStart = append(o.persStart, 0)
		o.persEnd = append(o.persEnd, 0)
	}
	if o.updating {
		o.prev = append(o.prev, nil)
		o.changed = append(o.changed, false)
		if o.w.Kind == plan.Session {
			o.prevStart = append(o.prevStart, 0)
			o.prevEnd = append(o.prevEnd, 0)
			o.fired = append(o.fired, false)
		}
	}
	// Grow accumulators in capacity-sized steps, not one by one.
	if c := cap(o.slotKey); n > o.aggCap {
		for _, a := range o.aggs {
			a.grow(c)
		}
		o.aggCap = c
	}
	return s
}

// newWindowSlot allocates the slot of a time window's group.
func (o *windowAggOp) newWindowSlot(start, end, k int64, null bool) int32 {
	s := o.allocSlot(start, end, k, null)
	o.table.put(end, k, null, s)
	if o.lateness > 0 && o.utc(end)-1 <= int64(o.wm) {
		// A group new to a window that fired: kept with the window.
		o.retain(end, s)
		return s
	}
	ws, ok := o.wins[end]
	if !ok {
		o.winEnds.push(end)
	}
	o.wins[end] = append(ws, s)
	return s
}

// freeSlot releases slot s, which the caller has already removed from the
// table, and queues the deletion of its checkpointed state.
func (o *windowAggOp) freeSlot(s int32) {
	if o.persisted[s] {
		start, end := o.slotStart[s], o.slotEnd[s]
		if o.w.Kind == plan.Session {
			start, end = o.persStart[s], o.persEnd[s]
		}
		o.queueDelete(s, start, end)
		o.persisted[s] = false
	}
	o.dirty[s] = false
	if o.updating {
		o.prev[s], o.changed[s] = nil, false
		if o.w.Kind == plan.Session {
			o.fired[s] = false
		}
	}
	for _, a := range o.aggs {
		a.reset(s)
	}
	if !o.fast {
		k := int32(o.slotKey[s])
		o.keyRefs[k]--
		if o.keyRefs[k] == 0 {
			o.releaseKey(k)
		}
	}
	o.live[s] = false
	o.nlive--
	o.free = append(o.free, s)
}

// internBatch returns the interned key id of every row of rec. Keys first
// seen in this batch are listed in newKeys and released after the batch if
// no slot took them (all their rows were late).
func (o *windowAggOp) internBatch(rec arrow.Record, n int) ([]int64, error) {
	for i, c := range o.keyCols {
		o.keyArrs[i] = rec.Column(c)
	}
	err := o.keyEnc.Bind(o.keyArrs...)
	clear(o.keyArrs)
	if err != nil {
		return nil, err
	}
	ids := growAccInt64(&o.ids, n)
	buf := o.encBuf
	for r := 0; r < n; r++ {
		buf = o.keyEnc.Append(buf[:0], r)
		id, ok := o.intern[string(buf)]
		if !ok {
			id = o.internKey(string(buf))
			o.newKeys = append(o.newKeys, id)
		}
		ids[r] = int64(id)
	}
	o.encBuf = buf
	return ids, nil
}

func (o *windowAggOp) internKey(key string) int32 {
	var id int32
	if n := len(o.freeKeys); n > 0 {
		id = o.freeKeys[n-1]
		o.freeKeys = o.freeKeys[:n-1]
		o.keyBytes[id], o.keyRefs[id] = key, 0
	} else {
		id = int32(len(o.keyBytes))
		o.keyBytes = append(o.keyBytes, key)
		o.keyRefs = append(o.keyRefs, 0)
	}
	o.intern[key] = id
	return id
}

func (o *windowAggOp) releaseKey(id int32) {
	delete(o.intern, o.keyBytes[id])
	o.keyBytes[id] = ""
	o.freeKeys = append(o.freeKeys, id)
}

func (o *windowAggOp) releaseNewKeys() {
	for _, id := range o.newKeys {
		if o.keyRefs[id] == 0 && o.keyBytes[id] != "" {
			o.releaseKey(id)
		}
	}
	o.newKeys = o.newKeys[:0]
}

// OnWatermark implements Operator.
func (o *windowAggOp) OnWatermark(ctx context.Context, wm exec.Watermark, out exec.Emitter) error {
	if wm < o.wm {
		return nil
	}
	o.wm = wm
	var err error
	switch {
	case o.w.Kind == plan.Session:
		err = o.fireSessions(ctx, out)
	case o.sliced:
		err = o.fireSlices(ctx, out)
	default:
		err = o.fireWindows(ctx, out)
	}
	o.m.StateEntries.Store(int64(o.nlive))
	return err
}

// fireWindows emits and frees every time window with end - 1 <= wm, in
// order of end.
func (o *windowAggOp) fireWindows(ctx context.Context, out exec.Emitter) error {
	wm := int64(o.wm)
	for len(o.winEnds) > 0 && o.utc(o.winEnds[0])-1 <= wm {
		end := o.winEnds.pop()
		ss := o.wins[end]
		delete(o.wins, end)
		o.sortByKey(ss)
		if o.updating {
			if err := o.fireUpdating(ctx, out, end, ss); err != nil {
				return err
			}
			continue
		}
		if err := o.emit(ctx, out, ss); err != nil {
			return err
		}
		for _, s := range ss {
			o.table.del(end, o.slotKey[s], o.slotNull[s])
			o.freeSlot(s)
		}
	}
	if o.lateness > 0 {
		if err := o.expireRetained(ctx, out); err != nil {
			return err
		}
	}
	return nil
}

// sortByKey orders slots of one window by group key.
func (o *windowAggOp) sortByKey(ss []int32) {
	if !o.fast {
		slices.SortFunc(ss, func(a, b int32) int {
			return cmp.Compare(o.keyBytes[o.slotKey[a]], o.keyBytes[o.slotKey[b]])
		})
		return
	}
	// Sort (key, slot) pairs: comparing contiguous values is several
	// times faster than chasing slot indexes. NULL sorts first.
	pairs := o.sortBuf[:0]
	for _, s := range ss {
		k := o.slotKey[s]
		rank := uint8(1)
		if o.slotNull[s] {
			k, rank = 0, 0
		}
		pairs = append(pairs, keySlot{rank: rank, key: k, slot: s})
	}
	slices.SortFunc(pairs, func(a, b keySlot) int {
		if a.rank != b.rank {
			return int(a.rank) - int(b.rank)
		}
		return cmp.Compare(a.key, b.key)
	})
	for i, p := range pairs {
		ss[i] = p.slot
	}
	o.sortBuf = pairs
}

type keySlot struct {
	key  int64
	slot int32
	rank uint8
}

// appendRow appends the output row of slot s to o.rb, with the aggregate
// values of slot acc (s itself, or the scratch slot holding what s
// emitted before).
func (o *windowAggOp) appendRow(s, acc int32) error {
	return o.appendRowAt(s, acc, o.slotStart[s], o.slotEnd[s])
}

// appendRowAt is appendRow with the window bounds start, end (those a
// session was emitted with).
func (o *windowAggOp) appendRowAt(s, acc int32, start, end int64) error {
	rb := o.rb
	nk := len(o.keyTypes)
	if o.fast {
		if nk == 1 {
			if o.slotNull[s] {
				rb.Field(0).AppendNull()
			} else {
				appendAccInt(rb.Field(0), o.slotKey[s])
			}
		}
	} else {
		key := []byte(o.keyBytes[o.slotKey[s]])
		for c, t := range o.keyTypes {
			var err error
			if key, err = state.DecodeKeyColumn(rb.Field(c), t, key); err != nil {
				return fmt.Errorf("exec: window aggregation %q: %w", o.id, err)
			}
		}
	}
	wt := o.utc(end) - 1
	if o.sessionZone != nil { // sessions are found in instants
		start, end = o.sessionZone.ToLocal(start), o.sessionZone.ToLocal(end)
	}
	rb.Field(nk).(*array.TimestampBuilder).Append(arrow.Timestamp(start))
	rb.Field(nk + 1).(*array.TimestampBuilder).Append(arrow.Timestamp(end))
	rb.Field(nk + 2).(*array.TimestampBuilder).Append(arrow.Timestamp(wt))
	for i, a := range o.aggs {
		a.appendTo(rb.Field(nk+3+i), acc)
	}
	return nil
}

// emit appends the rows of slots ss to output batches and emits them.
func (o *windowAggOp) emit(ctx context.Context, out exec.Emitter, ss []int32) error {
	rb := o.rb
	for len(ss) > 0 {
		chunk := ss[:min(len(ss), windowOutputRows)]
		ss = ss[len(chunk):]
		for i := range o.outSchema.NumFields() {
			rb.Field(i).Reserve(len(chunk))
		}
		for _, s := range chunk {
			if err := o.appendRow(s, s); err != nil {
				return err
			}
		}
		rec := rb.NewRecord()
		o.m.RecordsOut.Add(rec.NumRows())
		err := out.Emit(ctx, rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// windowEndHeap is a min-heap of window ends.
type windowEndHeap []int64

func (h *windowEndHeap) push(v int64) {
	*h = append(*h, v)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if a[p] <= a[i] {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *windowEndHeap) pop() int64 {
	a := *h
	v := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && a[r] < a[l] {
			c = r
		}
		if a[i] <= a[c] {
			break
		}
		a[i], a[c] = a[c], a[i]
		i = c
	}
	*h = a
	return v
}

// compareSlotKeys orders two slots by group key (used for sessions).
func (o *windowAggOp) compareSlotKeys(a, b int32) int {
	if o.fast {
		if o.slotNull[a] != o.slotNull[b] {
			if o.slotNull[a] {
				return -1
			}
			return 1
		}
		return cmp.Compare(o.slotKey[a], o.slotKey[b])
	}
	return bytes.Compare([]byte(o.keyBytes[o.slotKey[a]]), []byte(o.keyBytes[o.slotKey[b]]))
}

// utc returns the instant of the local window bound b: b itself unless
// the window is over a TIMESTAMP_LTZ in a session zone (o.zone).
func (o *windowAggOp) utc(b int64) int64 {
	if o.zone == nil {
		return b
	}
	return o.zone.ToUTC(b)
}
