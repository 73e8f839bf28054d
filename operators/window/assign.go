package window

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

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

// The window assignment operator: a window TVF consumed without
// aggregation (plan.WindowAssign). Each row is emitted once per window it
// belongs to, its columns followed by window_start, window_end and
// window_time (window_end - 1), all times in milliseconds:
//
//   - TUMBLE(size, offset): the window [s, s+size) with
//     s = ts - floorMod(ts - offset, size), as Flink's
//     TimeWindow.getWindowStartWithOffset.
//   - HOP(slide, size, offset): the windows [s, s+size) for s from
//     ts - floorMod(ts - offset, slide) down while s > ts - size, latest
//     start first (Flink's SlidingWindowAssigner order).
//   - CUMULATE(step, size, offset): the windows [s, e) with
//     s = ts - floorMod(ts - offset, size) and e from the first step end
//     after ts up to s + size, smallest first.
//   - SESSION(gap) PARTITION BY k: rows are held per key until the
//     watermark closes their session (window_end - 1 <= watermark); then
//     every row of the session is emitted with the session's bounds. A row
//     at ts opens [ts, ts+gap) and merges with every open session of its
//     key that it intersects, bounds included (as the window aggregation's
//     sessions). A row that merges with no open session and whose own
//     window has closed is late: dropped and counted.
//
// The time-aligned kinds are stateless and emit a row's windows as soon as
// the row arrives (as Flink's window TVF does: it does not drop late rows).
// Rows whose event time is NULL are dropped and counted as late, as in Flink.
//
// Output of one watermark (SESSION) is ordered by window_end, then
// window_start, then key encoding; within a session, by event time, then
// arrival. The order does not depend on batch boundaries, and a restored
// operator emits the same rows in the same order.
type windowAssignOp struct {
	id      string
	w       plan.Window
	m       *exec.OperatorMetrics
	alloc   memory.Allocator
	schema  *arrow.Schema // output
	inTypes []types.Type
	ncols   int // input columns

	// Scratch for the aligned kinds.
	idx     []int32
	starts  []arrow.Timestamp
	ends    []arrow.Timestamp
	timeBuf []int64

	sess *sessionBuffer // SESSION only
}

var _ exec.Operator = (*windowAssignOp)(nil)

// newWindowAssign builds the operator of n, running as one task.
func newWindowAssign(n *plan.WindowAssign, m *exec.OperatorMetrics, alloc memory.Allocator) (*windowAssignOp, error) {
	return newWindowAssignSubtask(n, m, alloc, state.Single(0))
}

// NewAssign builds the window assignment of n for the subtask env
// describes (the operator registry's constructor).
func NewAssign(n *plan.WindowAssign, env exec.OperatorEnv) (exec.Operator, error) {
	sub, err := env.StateSubtask()
	if err != nil {
		return nil, fmt.Errorf("window: assignment %q: %w", n.ID(), err)
	}
	env = env.WithDefaults()
	return NewAssignSubtask(n, env.Metrics, env.Alloc, sub)
}

// NewAssignSubtask builds the operator of n as subtask sub: a
// SESSION assignment restores the sessions of sub's key groups (those of
// its partition keys).
func NewAssignSubtask(n *plan.WindowAssign, m *exec.OperatorMetrics, alloc memory.Allocator, sub state.Subtask) (exec.Operator, error) {
	return newWindowAssignSubtask(n, m, alloc, sub)
}

func newWindowAssignSubtask(n *plan.WindowAssign, m *exec.OperatorMetrics, alloc memory.Allocator, sub state.Subtask) (*windowAssignOp, error) {
	in := n.Input.Schema()
	w := n.Window
	errf := func(format string, args ...any) error {
		return fmt.Errorf("exec: window assignment %q: %s", n.ID(), fmt.Sprintf(format, args...))
	}
	if w.TimeCol < 0 || w.TimeCol >= in.Len() {
		return nil, errf("time column #%d out of range", w.TimeCol)
	}
	if t := in.Fields[w.TimeCol].Type; !t.IsTemporal() && t.Kind != types.BigInt {
		return nil, errf("time column %q has type %s, want TIMESTAMP(3)", in.Fields[w.TimeCol].Name, t)
	}
	switch w.Kind {
	case plan.Tumble:
		if w.Size <= 0 {
			return nil, errf("TUMBLE size must be positive, got %dms", w.Size)
		}
	case plan.Hop:
		if w.Size <= 0 || w.Slide <= 0 {
			return nil, errf("HOP size and slide must be positive, got %dms and %dms", w.Size, w.Slide)
		}
	case plan.Cumulate:
		if w.Size <= 0 || w.Step <= 0 || w.Size%w.Step != 0 {
			return nil, errf("CUMULATE size must be a positive multiple of step, got size %dms and step %dms", w.Size, w.Step)
		}
	case plan.Session:
		if w.Gap <= 0 {
			return nil, errf("SESSION gap must be positive, got %dms", w.Gap)
		}
	default:
		return nil, errf("unknown window kind %s", w.Kind)
	}
	if want := in.Len() + 3; n.Schema().Len() != want {
		return nil, errf("output schema has %d columns, want %d", n.Schema().Len(), want)
	}
	o := &windowAssignOp{id: n.ID(), w: w, m: m, alloc: alloc, schema: n.Schema().Arrow(), ncols: in.Len()}
	for _, f := range in.Fields {
		o.inTypes = append(o.inTypes, f.Type)
	}
	if w.Kind == plan.Session {
		for _, p := range n.Partition {
			if p < 0 || p >= in.Len() {
				return nil, errf("partition column #%d out of range", p)
			}
		}
		for _, f := range in.Fields {
			if t := f.Type; !state.KeyTypeSupported(t) {
				return nil, errf("cannot hold column %q of type %s in a SESSION window", f.Name, t)
			}
		}
		o.sess = newSessionBuffer(o, n.Partition)
		enc, err := state.NewKeyEncoder(o.inTypes)
		if err != nil {
			return nil, errf("%v", err)
		}
		o.sess.enc = enc
		if o.sess.tables, err = sessionTables(n.ID(), o.sess.layout, sub); err != nil {
			return nil, errf("%v", err)
		}
		o.sess.sessT, o.sess.wmT, o.sess.lateT = o.sess.tables.Table("sessions"), o.sess.tables.Table("watermark"), o.sess.tables.Table("late")
	}
	return o, nil
}

// Open implements Operator.
func (o *windowAssignOp) Open(_ context.Context, st checkpoint.StateReader) error {
	if st == nil || o.sess == nil {
		return nil
	}
	return o.sess.restore(st)
}

// Close implements Operator.
func (o *windowAssignOp) Close() error {
	if o.sess != nil && o.sess.rb != nil {
		o.sess.rb.Release()
		o.sess.rb = nil
	}
	return nil
}

// OnBatch implements Operator.
func (o *windowAssignOp) OnBatch(ctx context.Context, _ int, rec arrow.Record, out exec.Emitter) error {
	n := int(rec.NumRows())
	o.m.RecordsIn.Add(int64(n))
	if n == 0 {
		return nil
	}
	if o.sess != nil {
		return o.sess.add(rec)
	}
	tcol := rec.Column(o.w.TimeCol)
	times := accInt64Values(tcol, &o.timeBuf)[:n]
	idx, starts, ends := o.idx[:0], o.starts[:0], o.ends[:0]
	w := &o.w
	late := int64(0)
	zone := w.Zone
	if zone.IsUTC() {
		zone = nil
	}
	for i, ts := range times {
		if tcol.IsNull(i) {
			late++
			continue
		}
		if zone != nil { // windows of the local time (see plan.Window.Zone)
			ts = zone.ToLocal(ts)
		}
		switch w.Kind {
		case plan.Tumble:
			s := ts - windowFloorMod(ts-w.Offset, w.Size)
			idx, starts, ends = append(idx, int32(i)), append(starts, arrow.Timestamp(s)), append(ends, arrow.Timestamp(s+w.Size))
		case plan.Hop:
			for s := ts - windowFloorMod(ts-w.Offset, w.Slide); s > ts-w.Size; s -= w.Slide {
				idx, starts, ends = append(idx, int32(i)), append(starts, arrow.Timestamp(s)), append(ends, arrow.Timestamp(s+w.Size))
			}
		case plan.Cumulate:
			s := ts - windowFloorMod(ts-w.Offset, w.Size)
			for e := ts - windowFloorMod(ts-w.Offset, w.Step) + w.Step; e <= s+w.Size; e += w.Step {
				idx, starts, ends = append(idx, int32(i)), append(starts, arrow.Timestamp(s)), append(ends, arrow.Timestamp(e))
			}
		}
		// A row of HOP or CUMULATE is in many windows: bound the batches.
		if w.Kind != plan.Tumble && len(idx) >= windowOutputRows {
			if err := o.emitAligned(ctx, rec, idx, starts, ends, out); err != nil {
				return err
			}
			idx, starts, ends = idx[:0], starts[:0], ends[:0]
		}
	}
	o.idx, o.starts, o.ends = idx, starts, ends
	if late > 0 {
		o.m.LateRecords.Add(late)
	}
	return o.emitAligned(ctx, rec, idx, starts, ends, out)
}

// emitAligned emits the rows idx of rec with the window bounds starts and
// ends.
func (o *windowAssignOp) emitAligned(ctx context.Context, rec arrow.Record, idx []int32, starts, ends []arrow.Timestamp, out exec.Emitter) error {
	if len(idx) == 0 {
		return nil
	}
	var cols arrow.Record
	if o.w.Kind == plan.Tumble && len(idx) == int(rec.NumRows()) {
		rec.Retain() // every row, once, in order: no copy
		cols = rec
	} else {
		var err error
		if cols, err = expr.Take(rec, idx, o.alloc); err != nil {
			return fmt.Errorf("exec: window assignment %q: %w", o.id, err)
		}
	}
	defer cols.Release()
	res := o.withWindows(cols, starts, ends)
	defer res.Release()
	o.m.RecordsOut.Add(res.NumRows())
	return out.Emit(ctx, res)
}

// withWindows returns the columns of rec followed by the window columns of
// bounds starts and ends.
func (o *windowAssignOp) withWindows(rec arrow.Record, starts, ends []arrow.Timestamp) arrow.Record {
	cols := make([]arrow.Array, 0, o.ncols+3)
	for c := range o.ncols {
		a := rec.Column(c)
		a.Retain()
		cols = append(cols, a)
	}
	wt := make([]arrow.Timestamp, len(ends))
	for i, e := range ends {
		wt[i] = e - 1
		if z := o.w.Zone; !z.IsUTC() && o.sess == nil {
			wt[i] = arrow.Timestamp(z.ToUTC(int64(e)) - 1)
		}
	}
	for k, vals := range [][]arrow.Timestamp{starts, ends, wt} {
		b := array.NewBuilder(o.alloc, o.schema.Field(o.ncols+k).Type).(*array.TimestampBuilder)
		b.AppendValues(vals, nil)
		cols = append(cols, b.NewArray())
		b.Release()
	}
	return expr.Project(o.schema, cols, int64(len(starts)))
}

// OnWatermark implements Operator.
func (o *windowAssignOp) OnWatermark(ctx context.Context, wm exec.Watermark, out exec.Emitter) error {
	if o.sess == nil {
		return nil
	}
	return o.sess.fire(ctx, wm, out)
}

// OnBarrier implements Operator.
func (o *windowAssignOp) OnBarrier(_ context.Context, _ exec.Barrier, w checkpoint.StateWriter, _ exec.Emitter) error {
	if o.sess == nil {
		return nil
	}
	if err := o.sess.snapshot(w); err != nil {
		return fmt.Errorf("exec: window assignment %q: checkpoint: %w", o.id, err)
	}
	return nil
}

// Checkpointed state of a SESSION window assignment, as declared state
// tables (package state):
//
//	sessions (keyed, held)   start end partitionkey → the session's rows
//	watermark (non-keyed, Union, largest kept), late (non-keyed, Split,
//	summed): as the window aggregation's (state.go)
//
// start and end are 8 bytes big endian with the sign bit flipped, the
// partition key is the key encoding of package state, and an entry's key
// group is the partition key's. The sessions table's layout names the gap
// and the column and partition types; state written under another layout
// is refused; state of version 1 is imported (legacy.go). A session's
// value is a uvarint row count, then per row its event time (zig-zag
// varint) and its columns in the key encoding (a uvarint length, then the
// bytes). Each barrier deletes the keys of
// sessions fired or merged away (or whose bounds changed) since the
// previous barrier, sets the sessions changed since it, and the watermark
// and late count when they changed.

// sessionBuffer holds the rows of open sessions.
type sessionBuffer struct {
	o        *windowAssignOp
	part     []int
	layout   string
	sessions map[string][]*bufferedSession // by partition key encoding
	minEnd   int64                         // a lower bound of every open session's end
	rows     int64                         // rows held
	wm       exec.Watermark
	late     int64
	dirty    []*bufferedSession
	deletes  [][]byte // key group prefix and sessions-table key
	// legacyDeletes are the keys of version 1 state (legacy.go) that the
	// next barrier deletes.
	legacyDeletes [][]byte
	enc           *state.KeyEncoder // encodes rows, column by column
	cols          []arrow.Array     // the columns of the batch enc is bound to
	keyBuf        []byte
	rowBuf        []byte
	rb            *array.RecordBuilder
	pending       int // rows in rb
	// State tables, and the watermark and late count as last written.
	tables            *state.Tables
	sessT, wmT, lateT *state.Table
	persWM, persLate  []byte
}

// bufferedSession is one open session of one partition key.
type bufferedSession struct {
	key        string
	start, end int64
	times      []int64
	rows       []string // each row's columns, group-key encoded
	persisted  []byte   // key group prefix and the sessions-table key it was last written under, or nil
	dirty      bool
	gone       bool // fired or merged into another session
}

func newSessionBuffer(o *windowAssignOp, part []int) *sessionBuffer {
	b := &sessionBuffer{o: o, part: part, sessions: map[string][]*bufferedSession{}, minEnd: math.MaxInt64, wm: exec.MinWatermark}
	ts := make([]string, len(o.inTypes))
	for i, t := range o.inTypes {
		ts[i] = t.Nullable().String()
	}
	b.layout = fmt.Sprintf("SESSION(gap=%d) columns=[%s] partition=%v", o.w.Gap, strings.Join(ts, ", "), part)
	b.cols = make([]arrow.Array, len(o.inTypes))
	return b
}

// add buffers the rows of rec in their sessions.
func (b *sessionBuffer) add(rec arrow.Record) error {
	o := b.o
	n := int(rec.NumRows())
	for c := range b.cols {
		b.cols[c] = rec.Column(c)
	}
	err := b.enc.Bind(b.cols...)
	clear(b.cols)
	if err != nil {
		return fmt.Errorf("exec: window assignment %q: %w", o.id, err)
	}
	tcol := rec.Column(o.w.TimeCol)
	times := accInt64Values(tcol, &o.timeBuf)[:n]
	gap := o.w.Gap
	wm := int64(b.wm)
	late := int64(0)
	for i, ts := range times {
		if tcol.IsNull(i) {
			late++
			continue
		}
		key := b.keyBuf[:0]
		for _, p := range b.part {
			key = b.enc.AppendColumn(key, p, i)
		}
		b.keyBuf = key
		// A key's sessions are disjoint and sorted by start (so by end
		// too): the ones [start, end] intersects are a run from the first
		// that ends at or after start.
		list := b.sessions[string(key)]
		start, end := ts, ts+gap
		lo, _ := slices.BinarySearchFunc(list, start, func(s *bufferedSession, t int64) int { return cmp.Compare(s.end, t) })
		hi := lo
		for hi < len(list) && list[hi].start <= end {
			hi++
		}
		var into *bufferedSession
		if lo < hi {
			into = list[lo]
			start, end = min(start, into.start), max(end, list[hi-1].end)
			for _, s := range list[lo+1 : hi] {
				// s merges into into: its rows move, its state goes.
				into.times = append(into.times, s.times...)
				into.rows = append(into.rows, s.rows...)
				b.forget(s)
			}
			list = slices.Delete(list, lo+1, hi)
		} else {
			if end-1 <= wm {
				late++
				continue
			}
			into = &bufferedSession{key: string(key), start: start, end: end}
			list = slices.Insert(list, lo, into)
		}
		b.sessions[into.key] = list
		if into.start != start || into.end != end {
			if into.persisted != nil {
				b.deletes = append(b.deletes, into.persisted)
				into.persisted = nil
			}
			into.start, into.end = start, end
		}
		row := b.rowBuf[:0]
		row = b.enc.Append(row, i)
		b.rowBuf = row
		into.times = append(into.times, ts)
		into.rows = append(into.rows, string(row))
		b.rows++
		b.minEnd = min(b.minEnd, into.end)
		if !into.dirty {
			into.dirty = true
			b.dirty = append(b.dirty, into)
		}
	}
	if late > 0 {
		b.late += late
		o.m.LateRecords.Add(late)
	}
	o.m.StateEntries.Store(b.rows)
	return nil
}

// forget drops session s (fired, or merged into another) and queues the
// deletion of its state.
func (b *sessionBuffer) forget(s *bufferedSession) {
	if s.persisted != nil {
		b.deletes = append(b.deletes, s.persisted)
		s.persisted = nil
	}
	s.gone = true
	s.times, s.rows = nil, nil
}

// fire emits and drops every session with end - 1 <= wm.
func (b *sessionBuffer) fire(ctx context.Context, wm exec.Watermark, out exec.Emitter) error {
	if wm <= b.wm {
		return nil
	}
	b.wm = wm
	if int64(wm) < b.minEnd-1 {
		return nil
	}
	var fired []*bufferedSession
	b.minEnd = math.MaxInt64
	for key, list := range b.sessions {
		kept := list[:0]
		for _, s := range list {
			if s.end-1 <= int64(wm) {
				fired = append(fired, s)
				continue
			}
			kept = append(kept, s)
			b.minEnd = min(b.minEnd, s.end)
		}
		if len(kept) == 0 {
			delete(b.sessions, key)
		} else {
			b.sessions[key] = kept
		}
	}
	slices.SortFunc(fired, func(x, y *bufferedSession) int {
		return cmp.Or(cmp.Compare(x.end, y.end), cmp.Compare(x.start, y.start), strings.Compare(x.key, y.key))
	})
	for _, s := range fired {
		if err := b.emit(ctx, out, s); err != nil {
			return err
		}
		b.rows -= int64(len(s.rows))
		b.forget(s)
	}
	b.o.m.StateEntries.Store(b.rows)
	return b.flush(ctx, out)
}

// flush emits the rows appended to the record builder, if any.
func (b *sessionBuffer) flush(ctx context.Context, out exec.Emitter) error {
	if b.pending == 0 {
		return nil
	}
	b.pending = 0
	rec := b.rb.NewRecord()
	defer rec.Release()
	b.o.m.RecordsOut.Add(rec.NumRows())
	return out.Emit(ctx, rec)
}

// emit appends the rows of session s, in order of event time, then
// arrival, to the output batch, emitting it when it is full.
func (b *sessionBuffer) emit(ctx context.Context, out exec.Emitter, s *bufferedSession) error {
	o := b.o
	if b.rb == nil {
		b.rb = array.NewRecordBuilder(o.alloc, o.schema)
	}
	order := make([]int, len(s.rows))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(s.times[x], s.times[y]) })
	for _, r := range order {
		row := []byte(s.rows[r])
		for c, t := range o.inTypes {
			var err error
			if row, err = state.DecodeKeyColumn(b.rb.Field(c), t, row); err != nil {
				return fmt.Errorf("exec: window assignment %q: %w", o.id, err)
			}
		}
		start, end := s.start, s.end
		if z := o.w.Zone; !z.IsUTC() { // sessions are found in instants, shown as local times
			start, end = z.ToLocal(start), z.ToLocal(end)
		}
		b.rb.Field(o.ncols).(*array.TimestampBuilder).Append(arrow.Timestamp(start))
		b.rb.Field(o.ncols + 1).(*array.TimestampBuilder).Append(arrow.Timestamp(end))
		b.rb.Field(o.ncols + 2).(*array.TimestampBuilder).Append(arrow.Timestamp(s.end - 1))
		if b.pending++; b.pending >= windowOutputRows {
			if err := b.flush(ctx, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// stateKey returns the key group prefix and sessions-table key of s.
func (b *sessionBuffer) stateKey(s *bufferedSession) []byte {
	kg := state.KeyGroupOf(state.HashKeyString(s.key), b.tables.Subtask().MaxParallelism)
	k := appendWindowTimeKey(state.AppendKeyGroup(nil, kg), s.start)
	k = appendWindowTimeKey(k, s.end)
	return append(k, s.key...)
}

// sessionTables declares the SESSION assignment's state tables.
func sessionTables(id, layout string, sub state.Subtask) (*state.Tables, error) {
	return state.NewTables(id, sub,
		state.Spec{Name: "sessions", Keyed: true, Held: true, Layout: layout},
		state.Spec{Name: "watermark", Layout: "BIGINT", Redistribute: state.Union, Merge: mergeVarints(func(a, b int64) int64 { return max(a, b) })},
		state.Spec{Name: "late", Layout: "BIGINT", Redistribute: state.Split, Merge: mergeVarints(func(a, b int64) int64 { return a + b })},
	)
}

// snapshot writes the deletions queued since the previous barrier, the
// sessions changed since then, and the watermark and late count if they
// changed.
func (b *sessionBuffer) snapshot(sw checkpoint.StateWriter) error {
	if len(b.legacyDeletes) > 0 {
		if err := writeLegacyDeletes(sw, b.legacyDeletes); err != nil {
			return err
		}
		b.legacyDeletes = nil
	}
	if v := binary.AppendVarint(nil, int64(b.wm)); !bytes.Equal(v, b.persWM) {
		b.wmT.Put([]byte("wm"), v)
		b.persWM = v
	}
	if v := binary.AppendVarint(nil, b.late); !bytes.Equal(v, b.persLate) {
		b.lateT.Put([]byte("n"), v)
		b.persLate = v
	}
	w, err := b.tables.Snapshot(sw)
	if err != nil {
		return err
	}
	for _, k := range b.deletes {
		kg, _ := state.KeyGroupPrefix(k)
		if err := w.Delete(b.sessT, kg, k[state.KeyGroupPrefixLen:]); err != nil {
			return err
		}
	}
	b.deletes = b.deletes[:0]
	for _, s := range b.dirty {
		s.dirty = false
		if s.gone {
			continue
		}
		k := b.stateKey(s)
		v := binary.AppendUvarint(nil, uint64(len(s.rows)))
		for i, r := range s.rows {
			v = binary.AppendVarint(v, s.times[i])
			v = binary.AppendUvarint(v, uint64(len(r)))
			v = append(v, r...)
		}
		kg, _ := state.KeyGroupPrefix(k)
		if err := w.Set(b.sessT, kg, k[state.KeyGroupPrefixLen:], v); err != nil {
			return err
		}
		s.persisted = k
	}
	b.dirty = b.dirty[:0]
	return nil
}

// restore loads the sessions of a checkpoint.
func (b *sessionBuffer) restore(st checkpoint.StateReader) error {
	o := b.o
	bad := func(what string) error {
		return fmt.Errorf("exec: window assignment %q: restore: %w: %s", o.id, errWindowState, what)
	}
	whole := state.Unrestricted(st)
	if meta, ok, err := legacyMeta(whole); err != nil {
		return fmt.Errorf("window assignment %q: restore: %w", o.id, err)
	} else if ok {
		return b.restoreLegacy(whole, meta)
	}
	err := b.tables.Restore(st, func(_ *state.Table, kg int, k, v []byte) error {
		if len(k) < 16 {
			return bad(fmt.Sprintf("malformed key %x", k))
		}
		s := &bufferedSession{
			start:     int64(binary.BigEndian.Uint64(k[0:8]) ^ (1 << 63)),
			end:       int64(binary.BigEndian.Uint64(k[8:16]) ^ (1 << 63)),
			key:       string(k[16:]),
			persisted: append(state.AppendKeyGroup(nil, kg), k...),
		}
		cnt, n := binary.Uvarint(v)
		if n <= 0 {
			return bad("truncated session")
		}
		v = v[n:]
		for range cnt {
			ts, n := binary.Varint(v)
			if n <= 0 {
				return bad("truncated row")
			}
			v = v[n:]
			l, m := binary.Uvarint(v)
			if m <= 0 || uint64(len(v)-m) < l {
				return bad("truncated row")
			}
			s.times = append(s.times, ts)
			s.rows = append(s.rows, string(v[m:m+int(l)]))
			v = v[m+int(l):]
		}
		b.sessions[s.key] = append(b.sessions[s.key], s)
		b.rows += int64(len(s.rows))
		b.minEnd = min(b.minEnd, s.end)
		return nil
	})
	if err != nil {
		return err
	}
	if v, ok := b.wmT.Get([]byte("wm")); ok {
		wm, n := binary.Varint(v)
		if n <= 0 || n != len(v) {
			return bad("malformed watermark")
		}
		b.wm, b.persWM = exec.Watermark(wm), slices.Clone(v)
	}
	if v, ok := b.lateT.Get([]byte("n")); ok {
		late, n := binary.Varint(v)
		if n <= 0 || n != len(v) {
			return bad("malformed late count")
		}
		b.late, b.persLate = late, slices.Clone(v)
		o.m.LateRecords.Store(late)
	}
	for _, list := range b.sessions {
		slices.SortFunc(list, func(x, y *bufferedSession) int { return cmp.Compare(x.start, y.start) })
	}
	o.m.StateEntries.Store(b.rows)
	return nil
}
