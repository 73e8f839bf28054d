// Package over is the operator of plan.OverAgg: OVER aggregation on event
// time (agg(x) OVER (PARTITION BY k ORDER BY ts ROWS|RANGE BETWEEN …
// PRECEDING AND CURRENT ROW)), as Flink's row-time over aggregate
// functions compute it.
//
// Rows wait in state, per partition, until the watermark passes their
// event time; then every due row, in event-time order (ties: partition,
// then arrival), is added to its partition's accumulators (exec/agg,
// which retract), the rows that left its frame are retracted, and the row
// is emitted with the aggregates' results. In RANGE mode the rows of one
// time in one partition are peers: all of them are added before any is
// emitted, so each sees the others. A partition keeps the rows of its
// current frame (not for UNBOUNDED PRECEDING) so that it can retract
// them later.
//
// State is one keyed entry per partition (its accumulators, its frame's
// rows and its waiting rows, encoded with the key encoding of exec/state),
// written when it changed since the last barrier, plus the watermark and
// the late-row count (non-keyed): a checkpoint restores at another
// parallelism. With a state TTL, a partition idle for that long (processing
// time) and with no row waiting is dropped.
package over

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/agg"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// hrow is one held row: its event time, its arrival number within its
// partition and its columns, encoded as keys are.
type hrow struct {
	ts   int64
	seq  uint64
	data []byte
	pos  int // its row in the firing's work record (during a firing)
}

// part is one partition's state.
type part struct {
	key     string
	slot    int32
	frame   []hrow // rows in the accumulators, in order (empty for UNBOUNDED)
	pending []hrow // rows waiting for the watermark, unordered
	seq     uint64 // next arrival number
	access  int64  // last row, ms of processing time (state TTL)
	dirty   bool
}

type op struct {
	id        string
	n         *plan.OverAgg
	m         *exec.OperatorMetrics
	alloc     memory.Allocator
	clock     exec.Clock
	maxP      int
	in        types.Schema
	inArrow   *arrow.Schema
	outArrow  *arrow.Schema
	colTypes  []types.Type
	rowEnc    *state.KeyEncoder
	partEnc   *state.KeyEncoder
	partCols  []int
	aggs      []agg.Accumulator
	wm        exec.Watermark
	late      int64
	lateDirty bool

	parts   map[string]*part
	slots   int32
	free    []int32
	deleted []string // persisted partitions dropped since the last barrier
	held    int

	tables     *state.Tables
	partsT     *state.Table
	wmT, lateT *state.Table
	keyBuf     []byte
	partArrs   []arrow.Array
	arrs       []arrow.Array
}

var _ exec.Operator = (*op)(nil)

var errState = errors.New("corrupt over-aggregation state")

// New builds the operator of n for the subtask env describes.
func New(n *plan.OverAgg, env exec.OperatorEnv) (exec.Operator, error) {
	sub, err := env.StateSubtask()
	if err != nil {
		return nil, fmt.Errorf("over: %q: %w", n.ID(), err)
	}
	env = env.WithDefaults()
	return NewSubtask(n, env.Metrics, env.Alloc, env.Clock, sub)
}

// NewSubtask builds the operator of n as subtask sub.
func NewSubtask(n *plan.OverAgg, m *exec.OperatorMetrics, alloc memory.Allocator, clock exec.Clock, sub state.Subtask) (exec.Operator, error) {
	errf := func(format string, args ...any) error {
		return fmt.Errorf("over: %q: %s", n.ID(), fmt.Sprintf(format, args...))
	}
	in := n.Input.Schema()
	o := &op{id: n.ID(), n: n, m: m, alloc: alloc, clock: clock, maxP: sub.MaxParallelism, in: in,
		inArrow: in.Arrow(), outArrow: n.Schema().Arrow(), partCols: n.Partition,
		wm: exec.MinWatermark, parts: map[string]*part{}}
	if n.TimeCol < 0 || n.TimeCol >= in.Len() {
		return nil, errf("time column #%d out of range", n.TimeCol)
	}
	if k := in.Fields[n.TimeCol].Type.Kind; k != types.Timestamp && k != types.TimestampLTZ {
		return nil, errf("column %d is not a timestamp", n.TimeCol)
	}
	for _, f := range in.Fields {
		o.colTypes = append(o.colTypes, f.Type)
	}
	var err error
	if o.rowEnc, err = state.NewKeyEncoder(o.colTypes); err != nil {
		return nil, errf("%v", err)
	}
	var pts []types.Type
	for _, c := range n.Partition {
		if c < 0 || c >= in.Len() {
			return nil, errf("partition column #%d out of range", c)
		}
		pts = append(pts, in.Fields[c].Type)
	}
	if o.partEnc, err = state.NewKeyEncoder(pts); err != nil {
		return nil, errf("%v", err)
	}
	for _, c := range n.Aggs {
		a, err := agg.New(c, in)
		if err != nil {
			return nil, errf("%v", err)
		}
		if c.Filter >= in.Len() || (c.Filter >= 0 && in.Fields[c.Filter].Type.Kind != types.Boolean) {
			return nil, errf("%s: FILTER column #%d is not a BOOLEAN column", c, c.Filter)
		}
		o.aggs = append(o.aggs, a)
	}
	if want := in.Len() + len(n.Aggs); len(o.outArrow.Fields()) != want {
		return nil, errf("output schema has %d columns, want %d", len(o.outArrow.Fields()), want)
	}
	o.tables, err = state.NewTables(n.ID(), sub,
		state.Spec{Name: "partitions", Keyed: true, Held: true, Layout: layout(n, in)},
		state.Spec{Name: "watermark", Layout: "BIGINT", Redistribute: state.Union, Merge: mergeVarints(func(a, b int64) int64 { return max(a, b) })},
		state.Spec{Name: "late", Layout: "BIGINT", Redistribute: state.Split, Merge: mergeVarints(func(a, b int64) int64 { return a + b })},
	)
	if err != nil {
		return nil, err
	}
	o.partsT, o.wmT, o.lateT = o.tables.Table("partitions"), o.tables.Table("watermark"), o.tables.Table("late")
	o.partArrs = make([]arrow.Array, len(n.Partition))
	o.arrs = make([]arrow.Array, in.Len())
	return o, nil
}

// layout describes the state's encoding: the row and partition types, the
// frame and the aggregates; state written under another layout is
// refused.
func layout(n *plan.OverAgg, in types.Schema) string {
	cols := make([]string, in.Len())
	for i, f := range in.Fields {
		cols[i] = f.Type.Nullable().String()
	}
	ps := make([]string, len(n.Partition))
	for i, c := range n.Partition {
		ps[i] = fmt.Sprint(c)
	}
	as := make([]string, len(n.Aggs))
	for i, a := range n.Aggs {
		as[i] = a.Describe(in)
	}
	return fmt.Sprintf("v1 rows [%s], partition [%s], order %d, %s, aggregates [%s]",
		strings.Join(cols, ", "), strings.Join(ps, ", "), n.TimeCol, n.Frame(), strings.Join(as, ", "))
}

func mergeVarints(f func(a, b int64) int64) func(_, a, b []byte) ([]byte, error) {
	return func(_, a, b []byte) ([]byte, error) {
		x, n := binary.Varint(a)
		y, m := binary.Varint(b)
		if n <= 0 || m <= 0 || n != len(a) || m != len(b) {
			return nil, errState
		}
		return binary.AppendVarint(nil, f(x, y)), nil
	}
}

// newPart returns a fresh partition with an empty accumulator slot.
func (o *op) newPart(key string) *part {
	var s int32
	if n := len(o.free); n > 0 {
		s, o.free = o.free[n-1], o.free[:n-1]
	} else {
		s = o.slots
		o.slots++
		for _, a := range o.aggs {
			a.Grow(int(o.slots))
		}
	}
	for _, a := range o.aggs {
		a.Reset(s)
	}
	p := &part{key: key, slot: s}
	o.parts[key] = p
	return p
}

// dropPart forgets p (state TTL).
func (o *op) dropPart(p *part) {
	o.held -= len(p.frame) + len(p.pending)
	for _, a := range o.aggs {
		a.Reset(p.slot)
	}
	o.free = append(o.free, p.slot)
	delete(o.parts, p.key)
	o.deleted = append(o.deleted, p.key)
}

// Open implements exec.Operator.
func (o *op) Open(_ context.Context, st checkpoint.StateReader) error {
	if st == nil {
		return nil
	}
	err := o.tables.Restore(st, func(_ *state.Table, _ int, key, value []byte) error {
		if err := o.restorePart(key, value); err != nil {
			return fmt.Errorf("over: %q: restore: partition %x: %w", o.id, key, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if v, ok := o.wmT.Get([]byte("wm")); ok {
		w, n := binary.Varint(v)
		if n <= 0 {
			return fmt.Errorf("over: %q: restore: %w", o.id, errState)
		}
		o.wm = exec.Watermark(w)
	}
	if v, ok := o.lateT.Get([]byte("n")); ok {
		l, n := binary.Varint(v)
		if n <= 0 {
			return fmt.Errorf("over: %q: restore: %w", o.id, errState)
		}
		o.late = l
		o.m.LateRecords.Store(l)
	}
	o.m.StateEntries.Store(int64(o.held))
	return nil
}

// encodePart writes p's state: seq, access, the accumulators, then the
// frame's and the pending rows.
func (o *op) encodePart(buf []byte, p *part) []byte {
	buf = binary.AppendUvarint(buf, p.seq)
	buf = binary.AppendVarint(buf, p.access)
	for _, a := range o.aggs {
		buf = a.Encode(buf, p.slot)
	}
	for _, rows := range [][]hrow{p.frame, p.pending} {
		buf = binary.AppendUvarint(buf, uint64(len(rows)))
		for _, r := range rows {
			buf = binary.AppendVarint(buf, r.ts)
			buf = binary.AppendUvarint(buf, r.seq)
			buf = binary.AppendUvarint(buf, uint64(len(r.data)))
			buf = append(buf, r.data...)
		}
	}
	return buf
}

func (o *op) restorePart(key, v []byte) error {
	if err := state.CheckKey(o.partTypes(), key); err != nil {
		return err
	}
	if _, dup := o.parts[string(key)]; dup {
		return errState
	}
	p := o.newPart(string(key))
	var n int
	if p.seq, n = binary.Uvarint(v); n <= 0 {
		return errState
	}
	v = v[n:]
	if p.access, n = binary.Varint(v); n <= 0 {
		return errState
	}
	v = v[n:]
	for _, a := range o.aggs {
		var err error
		if v, err = a.Decode(v, p.slot); err != nil {
			return err
		}
	}
	for i := range 2 {
		cnt, n := binary.Uvarint(v)
		if n <= 0 || cnt > uint64(len(v)) {
			return errState
		}
		v = v[n:]
		rows := make([]hrow, 0, cnt)
		for range cnt {
			var r hrow
			if r.ts, n = binary.Varint(v); n <= 0 {
				return errState
			}
			v = v[n:]
			if r.seq, n = binary.Uvarint(v); n <= 0 {
				return errState
			}
			v = v[n:]
			l, n := binary.Uvarint(v)
			if n <= 0 || l > uint64(len(v)-n) {
				return errState
			}
			r.data = slices.Clone(v[n : n+int(l)])
			v = v[n+int(l):]
			if err := state.CheckKey(o.colTypes, r.data); err != nil {
				return err
			}
			rows = append(rows, r)
		}
		if i == 0 {
			p.frame = rows
		} else {
			p.pending = rows
		}
	}
	if len(v) != 0 {
		return errState
	}
	o.held += len(p.frame) + len(p.pending)
	return nil
}

func (o *op) partTypes() []types.Type {
	ts := make([]types.Type, len(o.partCols))
	for i, c := range o.partCols {
		ts[i] = o.in.Fields[c].Type
	}
	return ts
}

// OnBatch implements exec.Operator: rows are held in their partitions;
// rows the watermark has passed are late and dropped.
func (o *op) OnBatch(_ context.Context, _ int, rec arrow.Record, _ exec.Emitter) error {
	n := int(rec.NumRows())
	o.m.RecordsIn.Add(int64(n))
	if kinds := exec.RowKinds(rec); kinds != nil {
		for i := 0; i < n; i++ {
			if k := types.RowKind(kinds.Value(i)); k != types.Insert {
				return fmt.Errorf("over: %q: OVER aggregation takes only inserts, got a %s row", o.id, k)
			}
		}
	}
	for i := range o.arrs {
		o.arrs[i] = rec.Column(i)
	}
	if err := o.rowEnc.Bind(o.arrs...); err != nil {
		return fmt.Errorf("over: %q: %w", o.id, err)
	}
	for i, c := range o.partCols {
		o.partArrs[i] = rec.Column(c)
	}
	if err := o.partEnc.Bind(o.partArrs...); err != nil {
		return fmt.Errorf("over: %q: %w", o.id, err)
	}
	tcol, ok := rec.Column(o.n.TimeCol).(*array.Timestamp)
	if !ok {
		return fmt.Errorf("over: %q: time column is %s, not a timestamp", o.id, rec.Column(o.n.TimeCol).DataType())
	}
	now := o.clock.Now().UnixMilli()
	late := int64(0)
	for i := 0; i < n; i++ {
		if tcol.IsNull(i) || exec.Watermark(tcol.Value(i)) <= o.wm {
			late++
			continue
		}
		o.keyBuf = o.partEnc.Append(o.keyBuf[:0], i)
		p := o.parts[string(o.keyBuf)]
		if p == nil {
			p = o.newPart(string(o.keyBuf))
		}
		p.pending = append(p.pending, hrow{ts: int64(tcol.Value(i)), seq: p.seq, data: o.rowEnc.Append(nil, i)})
		p.seq++
		p.access = now
		p.dirty = true
		o.held++
	}
	if late > 0 {
		o.late += late
		o.lateDirty = true
		o.m.LateRecords.Add(late)
	}
	o.m.StateEntries.Store(int64(o.held))
	return nil
}

// due is a row leaving at this watermark.
type due struct {
	p *part
	r hrow
}

// OnWatermark implements exec.Operator: the rows at or before wm leave, in
// event-time order, each with its frame's aggregates.
func (o *op) OnWatermark(ctx context.Context, wm exec.Watermark, out exec.Emitter) error {
	o.wm = wm
	var rows []due
	var touched []*part
	var dueN []int     // per touched partition: rows due
	var dueMax []int64 // per touched partition: the latest due time
	for _, p := range o.parts {
		keep := p.pending[:0]
		hit := false
		cnt, last := 0, int64(0)
		for _, r := range p.pending {
			if exec.Watermark(r.ts) <= wm {
				rows = append(rows, due{p, r})
				hit = true
				cnt++
				last = max(last, r.ts)
				if cnt == 1 {
					last = r.ts
				}
			} else {
				keep = append(keep, r)
			}
		}
		if hit {
			clear(p.pending[len(keep):])
			p.pending = keep
			p.dirty = true
			touched = append(touched, p)
			dueN, dueMax = append(dueN, cnt), append(dueMax, last)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	slices.SortFunc(rows, func(a, b due) int {
		switch {
		case a.r.ts != b.r.ts:
			return cmpInt(a.r.ts, b.r.ts)
		case a.p.slot != b.p.slot:
			return cmpInt(int64(a.p.slot), int64(b.p.slot))
		}
		return cmpInt(int64(a.r.seq), int64(b.r.seq))
	})
	// The work record: the frame rows of the touched partitions that this
	// firing may retract (the oldest ones), then the due rows in order.
	wb := array.NewRecordBuilder(o.alloc, o.inArrow)
	defer wb.Release()
	pos := 0
	decode := func(data []byte) error {
		rest := data
		for c, t := range o.colTypes {
			var err error
			if rest, err = state.DecodeKeyColumn(wb.Field(c), t, rest); err != nil {
				return fmt.Errorf("over: %q: held row: %w", o.id, err)
			}
		}
		pos++
		return nil
	}
	for ti, p := range touched {
		retract := len(p.frame)
		if o.n.Rows {
			retract = min(retract, max(0, len(p.frame)+dueN[ti]-int(o.n.Preceding)-1))
		} else {
			retract = 0
			for retract < len(p.frame) && p.frame[retract].ts < dueMax[ti]-o.n.Preceding {
				retract++
			}
		}
		for i := retract; i < len(p.frame); i++ {
			p.frame[i].pos = -1 // stays in the frame: never folded now
		}
		for i := range p.frame[:retract] {
			p.frame[i].pos = pos
			if err := decode(p.frame[i].data); err != nil {
				return err
			}
		}
	}
	for i := range rows {
		rows[i].r.pos = pos
		if err := decode(rows[i].r.data); err != nil {
			return err
		}
	}
	work := wb.NewRecord()
	defer work.Release()
	// One-row views of the work record, made on first use.
	views := make([]arrow.Record, work.NumRows())
	defer func() {
		for _, v := range views {
			if v != nil {
				v.Release()
			}
		}
	}()
	view := func(i int) arrow.Record {
		if views[i] == nil {
			views[i] = work.NewSlice(int64(i), int64(i+1))
		}
		return views[i]
	}
	fold := func(p *part, r hrow, retract bool) error {
		if r.pos < 0 {
			return fmt.Errorf("over: %q: a frame row to fold is not in the firing's work record", o.id)
		}
		v := view(r.pos)
		one := []int32{p.slot}
		for ai, a := range o.aggs {
			slots := one
			if f := o.n.Aggs[ai].Filter; f >= 0 {
				fc := v.Column(f).(*array.Boolean)
				if !(fc.IsValid(0) && fc.Value(0)) {
					continue
				}
			}
			var err error
			if retract {
				err = a.Retract(v, slots)
			} else {
				err = a.Add(v, slots)
			}
			if err != nil {
				return fmt.Errorf("over: %q: %s: %w", o.id, o.n.Aggs[ai].Describe(o.in), err)
			}
		}
		return nil
	}
	ob := array.NewRecordBuilder(o.alloc, o.outArrow)
	defer ob.Release()
	ncols := len(o.colTypes)
	emitRow := func(p *part, r hrow) error {
		rest := r.data
		for c, t := range o.colTypes {
			var err error
			if rest, err = state.DecodeKeyColumn(ob.Field(c), t, rest); err != nil {
				return fmt.Errorf("over: %q: held row: %w", o.id, err)
			}
		}
		for ai, a := range o.aggs {
			a.AppendResult(ob.Field(ncols+ai), p.slot)
		}
		return nil
	}
	flush := func() error {
		rec := ob.NewRecord()
		defer rec.Release()
		if rec.NumRows() == 0 {
			return nil
		}
		o.m.RecordsOut.Add(rec.NumRows())
		return out.Emit(ctx, rec)
	}
	bounded := o.n.Preceding >= 0
	emitted := 0
	for i := 0; i < len(rows); {
		p, t := rows[i].p, rows[i].r.ts
		j := i + 1
		if !o.n.Rows {
			// RANGE: the peers (same partition, same time) go in together.
			for j < len(rows) && rows[j].p == p && rows[j].r.ts == t {
				j++
			}
		}
		for _, d := range rows[i:j] {
			if err := fold(p, d.r, false); err != nil {
				return err
			}
			if bounded {
				p.frame = append(p.frame, d.r)
			}
		}
		if bounded {
			// Retract the rows that left the frame.
			drop := 0
			if o.n.Rows {
				drop = max(0, len(p.frame)-int(o.n.Preceding)-1)
			} else {
				for drop < len(p.frame) && p.frame[drop].ts < t-o.n.Preceding {
					drop++
				}
			}
			for _, r := range p.frame[:drop] {
				if err := fold(p, r, true); err != nil {
					return err
				}
			}
			if drop > 0 {
				clear(p.frame[:drop])
				p.frame = slices.Delete(p.frame, 0, drop)
			}
		}
		for _, d := range rows[i:j] {
			if err := emitRow(p, d.r); err != nil {
				return err
			}
			emitted++
		}
		if emitted >= 4096 {
			if err := flush(); err != nil {
				return err
			}
			emitted = 0
		}
		i = j
	}
	o.held = 0
	for _, p := range o.parts {
		o.held += len(p.frame) + len(p.pending)
	}
	o.m.StateEntries.Store(int64(o.held))
	return flush()
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// OnBarrier implements exec.Operator: the partitions changed since the
// last barrier are written, dropped ones deleted; idle partitions expire
// first when a state TTL is set.
func (o *op) OnBarrier(_ context.Context, _ exec.Barrier, w checkpoint.StateWriter, _ exec.Emitter) error {
	if o.n.StateTTL > 0 {
		now := o.clock.Now().UnixMilli()
		for _, p := range o.parts {
			if len(p.pending) == 0 && now-p.access > o.n.StateTTL {
				o.dropPart(p)
			}
		}
		o.m.StateEntries.Store(int64(o.held))
	}
	o.wmT.Put([]byte("wm"), binary.AppendVarint(nil, int64(o.wm)))
	if o.lateDirty {
		o.lateT.Put([]byte("n"), binary.AppendVarint(nil, o.late))
		o.lateDirty = false
	}
	sw, err := o.tables.Snapshot(w)
	if err != nil {
		return err
	}
	for _, k := range o.deleted {
		if _, live := o.parts[k]; live {
			continue // dropped, then started again: written below
		}
		if err := sw.Delete(o.partsT, state.KeyGroupOfKey([]byte(k), o.maxP), []byte(k)); err != nil {
			return err
		}
	}
	o.deleted = o.deleted[:0]
	var buf []byte
	for _, p := range o.parts {
		if !p.dirty {
			continue
		}
		buf = o.encodePart(buf[:0], p)
		if err := sw.Set(o.partsT, state.KeyGroupOfKey([]byte(p.key), o.maxP), []byte(p.key), buf); err != nil {
			return err
		}
		p.dirty = false
	}
	return nil
}

// Close implements exec.Operator.
func (o *op) Close() error { return nil }
