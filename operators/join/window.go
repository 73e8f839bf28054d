package join

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"unsafe"

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

// The window join (plan.WindowJoin), as Flink's WindowJoinOperator.
//
// Each side's rows are held by their join key, whose first two columns
// are the row's window_start and window_end (the rest the equi-keys), so
// one key names one window and the rows of both sides that may match
// meet under it. A row whose window_end - 1 is at or below the watermark
// when it arrives is late: its window has fired; it is dropped and
// counted in LateRecords. When the watermark reaches window_end - 1 the
// window fires: under each key its left rows are paired with its right
// rows, the pairs for which the residual condition is TRUE are emitted,
// then (outer sides) the rows that matched nothing, padded with NULLs;
// the window's rows are dropped. Rows whose equi-key has a NULL match
// nothing; only an outer side holds them (to pad them). The output is
// append-only.
//
// A semi (anti) window join emits, when the window fires, each left row
// of the window that matches a right row (none), once per copy held, and
// no right columns; the left side of an anti join holds the rows whose
// equi-key has a NULL, as an outer side does (they match nothing, so are
// emitted). Its right rows are only ever matched.
//
// Output order, for one watermark: windows by end, then keys and rows in
// the order of their encodings (left rows, then right rows within a
// pair), so a restored operator emits what an uninterrupted one does.
//
// State: two keyed tables, "window-left" and "window-right", each entry
// keyed by the encoded join key followed by the encoded row, in the key
// group of the join key (the one the hash exchanges route by), its value
// the row's count (uvarint); and the non-keyed "watermark" (varint),
// merged by maximum on a rescale, so that rows late before a restore are
// late after it.

// wjEntry is one distinct held row.
type wjEntry struct {
	key, row  string // encoded join key and row
	count     int64  // 0: dropped (fired or never held)
	persisted bool   // written by a barrier and not deleted since
	dirty     bool   // listed in dirty
	side      uint8  // 0 left, 1 right
}

// wjKey holds the rows of one join key of one window.
type wjKey struct {
	key  string
	null bool // an equi-key column is NULL: matches nothing
	// order lists each side's entries in the order they were created:
	// an input that arrives sorted by row (a window aggregation's, by
	// its group key) needs no sort when the window fires.
	order [2][]*wjEntry
	// rows indexes a side's entries by row once they arrived out of
	// order; while nil, order is strictly increasing by row, so a row
	// is held already only if it is order's last.
	rows [2]map[string]*wjEntry
}

// wjSide is the encoding of one input.
type wjSide struct {
	name  string
	table *state.Table
	outer bool
	joinside.Codec
}

type windowJoinOp struct {
	id       string
	m        *exec.OperatorMetrics
	alloc    memory.Allocator
	maxP     int
	sides    [2]*wjSide
	tables   *state.Tables
	wmT      *state.Table
	residual expr.Evaluator
	// resCols marks the output columns the residual condition reads:
	// only those are decoded into its candidate pairs.
	resCols  []bool
	outArrow *arrow.Schema
	nLeft    int
	kind     plan.JoinKind

	// windows holds the open windows' keys by window end.
	windows map[int64]map[string]*wjKey
	wm      exec.Watermark
	persWM  exec.Watermark
	dirty   []*wjEntry
	live    int
	kbuf    []byte
	rbuf    []byte
	lastKey *wjKey // the key hold found last, until a window fires
}

var _ exec.Operator = (*windowJoinOp)(nil)

// NewWindow builds the operator of n for the subtask env describes.
func NewWindow(n *plan.WindowJoin, env exec.OperatorEnv) (exec.Operator, error) {
	sub, err := env.StateSubtask()
	if err != nil {
		return nil, fmt.Errorf("window join: %q: %w", n.ID(), err)
	}
	env = env.WithDefaults()
	return NewWindowSubtask(n, env.Metrics, env.Alloc, sub)
}

// NewWindowSubtask builds the operator of n as subtask sub.
func NewWindowSubtask(n *plan.WindowJoin, m *exec.OperatorMetrics, alloc memory.Allocator, sub state.Subtask) (exec.Operator, error) {
	errf := func(format string, args ...any) error {
		return fmt.Errorf("window join: %q: %s", n.ID(), fmt.Sprintf(format, args...))
	}
	if len(n.LeftKeys) < 2 || len(n.LeftKeys) != len(n.RightKeys) {
		return nil, errf("%d left and %d right key columns (window_start and window_end first)", len(n.LeftKeys), len(n.RightKeys))
	}
	o := &windowJoinOp{id: n.ID(), m: m, alloc: alloc, maxP: sub.MaxParallelism, outArrow: n.Schema().Arrow(),
		nLeft: n.Left.Schema().Len(), kind: n.Type, windows: map[int64]map[string]*wjKey{}, wm: exec.MinWatermark, persWM: exec.MinWatermark}
	var specs []state.Spec
	for i, in := range []plan.Node{n.Left, n.Right} {
		keys := n.LeftKeys
		s := &wjSide{name: "left", outer: n.Type.LeftOuter() || n.Type == plan.AntiJoin}
		if i == 1 {
			keys = n.RightKeys
			s.name, s.outer = "right", n.Type.RightOuter()
		}
		sch := in.Schema()
		var err error
		if s.Codec, err = joinside.New(s.name, sch, keys); err != nil {
			return nil, errf("%v", err)
		}
		for j, t := range s.KeyTypes[:2] {
			if t.Kind != types.Timestamp && t.Kind != types.TimestampLTZ {
				return nil, errf("%s window column %s is %s, not a timestamp", s.name, sch.Fields[keys[j]].Name, t)
			}
		}
		o.sides[i] = s
		specs = append(specs, state.Spec{Name: "window-" + s.name, Keyed: true, Held: true,
			Layout: fmt.Sprintf("v1 count, key [%s], row [%s], outer %v", joinside.TypeList(s.KeyTypes), joinside.TypeList(s.Types), s.outer)})
	}
	if err := joinside.CheckKeys(&o.sides[0].Codec, &o.sides[1].Codec); err != nil {
		return nil, errf("%v", err)
	}
	specs = append(specs, state.Spec{Name: "watermark", Layout: "BIGINT", Redistribute: state.Union, Merge: mergeMax})
	if n.Residual != nil {
		if n.Type.LeftOnly() {
			return nil, errf("a %s window join has no residual condition", n.Type)
		}
		var err error
		if o.residual, err = expr.Compile(n.Residual, n.Schema(), alloc); err != nil {
			return nil, errf("residual condition: %v", err)
		}
		o.resCols = make([]bool, n.Schema().Len())
		if !readColumns(n.Residual, o.resCols) {
			o.resCols = nil
		}
	}
	var err error
	if o.tables, err = state.NewTables(n.ID(), sub, specs...); err != nil {
		return nil, err
	}
	for _, s := range o.sides {
		s.table = o.tables.Table("window-" + s.name)
	}
	o.wmT = o.tables.Table("watermark")
	return o, nil
}

// readColumns marks in cols the columns e reads; false if one is out of
// range.
func readColumns(e plan.Expr, cols []bool) bool {
	switch x := e.(type) {
	case nil, *plan.Literal:
		return true
	case *plan.ColumnRef:
		if x.Index < 0 || x.Index >= len(cols) {
			return false
		}
		cols[x.Index] = true
		return true
	case *plan.Call:
		for _, a := range x.Args {
			if !readColumns(a, cols) {
				return false
			}
		}
		return true
	case *plan.UDFCall:
		for _, a := range x.Args {
			if !readColumns(a, cols) {
				return false
			}
		}
		return true
	case *plan.Cast:
		return readColumns(x.Arg, cols)
	case *plan.Case:
		for _, w := range x.Whens {
			if !readColumns(w.Cond, cols) || !readColumns(w.Result, cols) {
				return false
			}
		}
		return readColumns(x.Else, cols)
	}
	return false // an expression this does not know: read them all
}

// mergeMax merges two watermarks (varints) of subtasks that meet in one
// after a rescale: the later one.
func mergeMax(_, a, b []byte) ([]byte, error) {
	x, n := binary.Varint(a)
	y, m := binary.Varint(b)
	if n <= 0 || m <= 0 || n != len(a) || m != len(b) {
		return nil, errState
	}
	return binary.AppendVarint(nil, max(x, y)), nil
}

// windowEnd returns the window_end of an encoded join key (its second
// column, after window_start; both 0x01 and 8 bytes, never NULL).
func windowEnd(key string) (int64, bool) {
	if len(key) < 18 || key[0] != 1 || key[9] != 1 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64([]byte(key[10:18])) ^ (1 << 63)), true
}

// Open implements exec.Operator.
func (o *windowJoinOp) Open(_ context.Context, st checkpoint.StateReader) error {
	if st == nil {
		return nil
	}
	err := o.tables.Restore(st, func(t *state.Table, _ int, key, value []byte) error {
		in := 0
		if t == o.sides[1].table {
			in = 1
		}
		if err := o.restoreEntry(in, key, value); err != nil {
			return fmt.Errorf("window join: %q: restore: %s row %x: %w", o.id, o.sides[in].name, key, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if v, ok := o.wmT.Get([]byte("wm")); ok {
		wm, n := binary.Varint(v)
		if n <= 0 || n != len(v) {
			return fmt.Errorf("window join: %q: restore: watermark: %w", o.id, errState)
		}
		o.wm, o.persWM = exec.Watermark(wm), exec.Watermark(wm)
	}
	o.m.StateEntries.Store(int64(o.live))
	return nil
}

func (o *windowJoinOp) restoreEntry(in int, key, value []byte) error {
	s := o.sides[in]
	rest := key
	null := false
	for j, t := range s.KeyTypes {
		if j >= 2 && len(rest) > 0 && rest[0] == 0 {
			null = true
		}
		var err error
		if rest, err = state.SkipKeyColumn(t, rest); err != nil {
			return err
		}
	}
	if err := state.CheckKey(s.Types, rest); err != nil {
		return err
	}
	cnt, n := binary.Uvarint(value)
	if n <= 0 || n != len(value) || cnt == 0 {
		return errState
	}
	e, err := o.hold(in, key[:len(key)-len(rest)], rest, null)
	if err != nil {
		return err
	}
	if e.count != 0 {
		return errState // a duplicate entry
	}
	e.count, e.persisted = int64(cnt), true
	return nil
}

// hold returns the entry of row under key on side in, creating it (count
// 0) if needed.
func (o *windowJoinOp) hold(in int, key, row []byte, null bool) (*wjEntry, error) {
	k := o.lastKey
	if k == nil || k.key != string(key) {
		end, ok := windowEnd(string(key))
		if !ok {
			return nil, errState
		}
		w := o.windows[end]
		if w == nil {
			w = map[string]*wjKey{}
			o.windows[end] = w
		}
		if k = w[string(key)]; k == nil {
			k = &wjKey{key: string(key), null: null}
			w[k.key] = k
		}
		o.lastKey = k
	}
	es := k.order[in]
	m := k.rows[in]
	if m == nil && len(es) > 0 {
		switch last := es[len(es)-1]; cmp.Compare(last.row, string(row)) {
		case 0:
			return last, nil
		case 1: // out of order: index the rows
			m = make(map[string]*wjEntry, 2*len(es))
			for _, e := range es {
				m[e.row] = e
			}
			k.rows[in] = m
		}
	}
	if m != nil {
		if e := m[string(row)]; e != nil {
			return e, nil
		}
	}
	e := &wjEntry{key: k.key, row: string(row), side: uint8(in)}
	if m != nil {
		m[e.row] = e
	}
	k.order[in] = append(es, e)
	o.live++
	return e, nil
}

func (o *windowJoinOp) markDirty(e *wjEntry) {
	if !e.dirty {
		e.dirty = true
		if len(o.dirty) >= 2*o.live+4096 {
			o.compactDirty()
		}
		o.dirty = append(o.dirty, e)
	}
}

// compactDirty drops from dirty the entries a barrier would not write:
// dropped and never written (held and fired since the last barrier).
// Without it, dirty would keep every row held since the last barrier,
// that is every row of a job that takes no checkpoints.
func (o *windowJoinOp) compactDirty() {
	kept := o.dirty[:0]
	for _, e := range o.dirty {
		if e.count > 0 || e.persisted {
			kept = append(kept, e)
		} else {
			e.dirty = false
		}
	}
	clear(o.dirty[len(kept):])
	o.dirty = kept
}

// Close implements exec.Operator.
func (o *windowJoinOp) Close() error { return nil }

// OnBatch implements exec.Operator: each row is held in its window, or
// dropped when the window has fired.
func (o *windowJoinOp) OnBatch(_ context.Context, in int, rec arrow.Record, _ exec.Emitter) error {
	n := int(rec.NumRows())
	o.m.RecordsIn.Add(int64(n))
	if n == 0 {
		return nil
	}
	if in != 0 && in != 1 {
		return fmt.Errorf("window join: %q: batch on input %d", o.id, in)
	}
	s := o.sides[in]
	if err := s.Bind(rec); err != nil {
		return fmt.Errorf("window join: %q: %w", o.id, err)
	}
	kinds := exec.RowKinds(rec)
	var late int64
	for i := 0; i < n; i++ {
		if k := exec.RowKindAt(kinds, i); k != types.Insert {
			return fmt.Errorf("window join: %q: a %s row: the window join takes only inserts", o.id, k)
		}
		if s.KeyArrs[0].IsNull(i) || s.KeyArrs[1].IsNull(i) {
			late++ // no window: as a row without event time
			continue
		}
		null := false
		for _, a := range s.KeyArrs[2:] {
			null = null || a.IsNull(i)
		}
		if null && !s.outer {
			continue // matches nothing and is not padded
		}
		o.kbuf = s.KeyEnc.Append(o.kbuf[:0], i)
		end, _ := windowEnd(string(o.kbuf))
		if exec.Watermark(end-1) <= o.wm {
			late++
			continue
		}
		o.rbuf = s.RowEnc.Append(o.rbuf[:0], i)
		e, err := o.hold(in, o.kbuf, o.rbuf, null)
		if err != nil {
			return fmt.Errorf("window join: %q: %w", o.id, err)
		}
		e.count++
		o.markDirty(e)
	}
	if late > 0 {
		o.m.LateRecords.Add(late)
	}
	o.m.StateEntries.Store(int64(o.live))
	return nil
}

// OnWatermark implements exec.Operator: the windows whose end - 1 the
// watermark reached fire, in order of end.
func (o *windowJoinOp) OnWatermark(ctx context.Context, wm exec.Watermark, out exec.Emitter) error {
	if wm <= o.wm {
		return nil
	}
	o.wm = wm
	var ends []int64
	for end := range o.windows {
		if exec.Watermark(end-1) <= wm {
			ends = append(ends, end)
		}
	}
	slices.Sort(ends)
	if len(ends) > 0 {
		o.lastKey = nil
	}
	var rows []outRow
	for _, end := range ends {
		var err error
		if rows, err = o.fire(o.windows[end], rows); err != nil {
			return fmt.Errorf("window join: %q: %w", o.id, err)
		}
		delete(o.windows, end)
	}
	o.m.StateEntries.Store(int64(o.live))
	return o.emit(ctx, out, rows)
}

// fire appends the output rows of window w to rows and drops its rows.
// view is the bytes of the held encoded row s, not copied: an output row
// only reads them (and never NULL: nil is a NULL side).
func view(s string) []byte {
	if len(s) == 0 {
		return []byte{}
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

func (o *windowJoinOp) fire(w map[string]*wjKey, rows []outRow) ([]outRow, error) {
	type pairRef struct{ l, r *wjEntry }
	keys := slices.Sorted(maps.Keys(w))
	// sorted sorts the entries in place (the window is being dropped):
	// in the order they arrived, often sorted already, which the sort
	// checks in one pass.
	sorted := func(es []*wjEntry) []*wjEntry {
		if !slices.IsSortedFunc(es, cmpEntry) {
			slices.SortFunc(es, cmpEntry)
		}
		return es
	}
	if o.kind.LeftOnly() {
		return o.fireLeftOnly(w, keys, sorted, rows), nil
	}
	// Candidate pairs of every key, to evaluate the residual condition
	// in one pass.
	var pairs []pairRef
	perKey := make([][2][]*wjEntry, len(keys))
	for i, key := range keys {
		k := w[key]
		perKey[i] = [2][]*wjEntry{sorted(k.order[0]), sorted(k.order[1])}
		if k.null {
			continue
		}
		for _, l := range perKey[i][0] {
			for _, r := range perKey[i][1] {
				pairs = append(pairs, pairRef{l, r})
			}
		}
	}
	var pass []bool
	if o.residual != nil && len(pairs) > 0 {
		cand := make([]outRow, len(pairs))
		for p, pr := range pairs {
			cand[p] = outRow{left: view(pr.l.row), right: view(pr.r.row)}
		}
		var err error
		if pass, err = o.evalResidual(cand); err != nil {
			return nil, err
		}
	}
	matched := map[*wjEntry]bool{}
	for p, pr := range pairs {
		if pass != nil && !pass[p] {
			continue
		}
		matched[pr.l], matched[pr.r] = true, true
		for range pr.l.count * pr.r.count {
			rows = append(rows, outRow{kind: types.Insert, left: view(pr.l.row), right: view(pr.r.row)})
		}
	}
	for i := range keys {
		for in, es := range perKey[i] {
			for _, e := range es {
				if o.sides[in].outer && !matched[e] {
					r := outRow{kind: types.Insert, left: view(e.row)}
					if in == 1 {
						r = outRow{kind: types.Insert, right: view(e.row)}
					}
					for range e.count {
						rows = append(rows, r)
					}
				}
				e.count = 0
				o.live--
				if e.persisted {
					o.markDirty(e)
				}
			}
		}
	}
	return rows, nil
}

// fireLeftOnly appends the output rows of a semi (anti) join's window w,
// whose keys are sorted, to rows and drops its rows.
func (o *windowJoinOp) fireLeftOnly(w map[string]*wjKey, keys []string, sorted func([]*wjEntry) []*wjEntry, rows []outRow) []outRow {
	for _, key := range keys {
		k := w[key]
		match := len(k.order[1]) > 0 && !k.null
		for in, es := range k.order {
			if in == 0 {
				es = sorted(es)
			}
			for _, e := range es {
				if in == 0 && match == (o.kind == plan.SemiJoin) {
					for range e.count {
						rows = append(rows, outRow{kind: types.Insert, left: view(e.row)})
					}
				}
				e.count = 0
				o.live--
				if e.persisted {
					o.markDirty(e)
				}
			}
		}
	}
	return rows
}

// cmpEntry orders entries by encoded row.
func cmpEntry(a, b *wjEntry) int { return cmp.Compare(a.row, b.row) }

// evalResidual evaluates the residual condition over the candidate rows.
func (o *windowJoinOp) evalResidual(cand []outRow) ([]bool, error) {
	rec, err := o.buildCols(cand, o.resCols)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	res, err := o.residual.Eval(rec)
	if err != nil {
		return nil, fmt.Errorf("residual condition: %w", err)
	}
	defer res.Release()
	b, ok := res.(*array.Boolean)
	if !ok {
		return nil, fmt.Errorf("residual condition is %s, not BOOLEAN", res.DataType())
	}
	pass := make([]bool, len(cand))
	for p := range pass {
		pass[p] = b.IsValid(p) && b.Value(p)
	}
	return pass, nil
}

// build decodes rows into a record of the output schema.
func (o *windowJoinOp) build(rows []outRow) (arrow.Record, error) {
	return o.buildCols(rows, nil)
}

// buildCols decodes the columns cols marks (all when nil) of rows into a
// record of the output schema; the others are NULL.
func (o *windowJoinOp) buildCols(rows []outRow, cols []bool) (arrow.Record, error) {
	rb := array.NewRecordBuilder(o.alloc, o.outArrow)
	defer rb.Release()
	if cols != nil {
		for c := range o.outArrow.NumFields() {
			rb.Field(c).Reserve(len(rows))
		}
		for _, r := range rows {
			if err := decodeCols(rb, 0, o.sides[0].Types, r.left, cols); err != nil {
				return nil, err
			}
			if err := decodeCols(rb, o.nLeft, o.sides[1].Types, r.right, cols[o.nLeft:]); err != nil {
				return nil, err
			}
		}
		return rb.NewRecord(), nil
	}
	for _, r := range rows {
		if err := joinside.DecodeInto(rb, 0, o.sides[0].Types, r.left); err != nil {
			return nil, err
		}
		if o.kind.LeftOnly() {
			continue
		}
		if err := joinside.DecodeInto(rb, o.nLeft, o.sides[1].Types, r.right); err != nil {
			return nil, err
		}
	}
	return rb.NewRecord(), nil
}

// decodeCols decodes the columns cols marks of the held row into the
// builders of rb from first on, and appends NULL to the others (and to
// all of them when row is nil).
func decodeCols(rb *array.RecordBuilder, first int, ts []types.Type, row []byte, cols []bool) error {
	for c, t := range ts {
		b := rb.Field(first + c)
		if row == nil {
			b.AppendNull()
			continue
		}
		var err error
		if cols[c] {
			row, err = state.DecodeKeyColumn(b, t, row)
		} else {
			b.AppendNull()
			row, err = state.SkipKeyColumn(t, row)
		}
		if err != nil {
			return fmt.Errorf("held row: %w", err)
		}
	}
	return nil
}

// emit emits rows (all inserts) in batches.
func (o *windowJoinOp) emit(ctx context.Context, out exec.Emitter, rows []outRow) error {
	const batch = 4096
	for start := 0; start < len(rows); start += batch {
		rec, err := o.build(rows[start:min(start+batch, len(rows))])
		if err != nil {
			return fmt.Errorf("window join: %q: %w", o.id, err)
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

// OnBarrier implements exec.Operator: the entries changed since the last
// barrier are written, those dropped since deleted, and the watermark.
func (o *windowJoinOp) OnBarrier(_ context.Context, _ exec.Barrier, w checkpoint.StateWriter, _ exec.Emitter) error {
	if o.wm != o.persWM {
		o.wmT.Put([]byte("wm"), binary.AppendVarint(nil, int64(o.wm)))
		o.persWM = o.wm
	}
	sw, err := o.tables.Snapshot(w)
	if err != nil {
		return err
	}
	var key, val []byte
	for _, e := range o.dirty {
		s := o.sides[e.side]
		e.dirty = false
		key = append(append(key[:0], e.key...), e.row...)
		kg := state.KeyGroupOfKey([]byte(e.key), o.maxP)
		switch {
		case e.count > 0:
			val = binary.AppendUvarint(val[:0], uint64(e.count))
			err = sw.Set(s.table, kg, key, val)
			e.persisted = true
		case e.persisted:
			err = sw.Delete(s.table, kg, key)
			e.persisted = false
		}
		if err != nil {
			return fmt.Errorf("window join: %q: checkpoint: %w", o.id, err)
		}
	}
	clear(o.dirty)
	o.dirty = o.dirty[:0]
	return nil
}
