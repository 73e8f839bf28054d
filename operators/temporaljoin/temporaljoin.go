// Package temporaljoin is the operator of plan.TemporalJoin, the
// event-time temporal join of an append-only stream (input 0) with a
// versioned table (input 1, a changelog keyed by its primary key), with
// Flink's semantics (its TemporalRowTimeJoinOperator): left rows are held
// until the watermark (the runtime's minimum over both inputs) passes
// their time, then joined with the version of their key valid at it, the
// newest right row at or before that time unless it is a deletion.
// Right -U rows are ignored (the +U after them is the new version); a
// right row at the time of a held version replaces it. When the
// watermark advances, the rows it passed are emitted in time order (and
// by key within a time) and the versions older than each key's newest
// one at or before the watermark are dropped: a later left row cannot
// need them. A left row already behind the watermark is joined at the
// next one with the versions still held, as in Flink.
//
// State: two keyed tables, each entry keyed by the encoded join key (so
// it lives in the key group of the hash exchanges in front of both
// inputs), then the row's time (8 bytes, order-preserving): "left" then
// the encoded row, valued by its count; "right" valued by a deletion flag
// and the encoded row. Barriers write the entries changed since the last
// one.
package temporaljoin

import (
	"cmp"
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
	"github.com/streamsql/streamsql/exec/expr"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/operators/internal/joinside"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// held is one distinct held left row.
type held struct {
	ts    int64
	row   string
	count int64
}

// version is one version of a right key.
type version struct {
	ts      int64
	row     string
	deleted bool
}

// side is the encoders of one input.
type side struct {
	joinside.Codec
	timeCol int
}

type op struct {
	id       string
	m        *exec.OperatorMetrics
	alloc    memory.Allocator
	maxP     int
	outer    bool
	sides    [2]*side
	tables   *state.Tables
	left     *state.Table
	right    *state.Table
	residual expr.Evaluator
	outArrow *arrow.Schema
	nLeft    int

	held     map[string][]*held   // join key → held rows
	versions map[string][]version // join key → versions, by time
	trim     map[string]bool      // keys with versions that may be dropped
	dirtyL   map[string]*held     // state key → row (count 0: deleted)
	dirtyR   map[string]*version  // state key → version (nil: deleted)
	minHeld  int64                // no held row is older
	live     int
	kbuf     []byte
}

var _ exec.Operator = (*op)(nil)

// New builds the operator of n for the subtask env describes.
func New(n *plan.TemporalJoin, env exec.OperatorEnv) (exec.Operator, error) {
	sub, err := env.StateSubtask()
	if err != nil {
		return nil, fmt.Errorf("temporal join: %q: %w", n.ID(), err)
	}
	return NewSubtask(n, env.Metrics, env.Alloc, sub)
}

// NewSubtask builds the operator of n as subtask sub.
func NewSubtask(n *plan.TemporalJoin, m *exec.OperatorMetrics, alloc memory.Allocator, sub state.Subtask) (exec.Operator, error) {
	errf := func(format string, args ...any) error {
		return fmt.Errorf("temporal join: %q: %s", n.ID(), fmt.Sprintf(format, args...))
	}
	if m == nil {
		m = &exec.OperatorMetrics{}
	}
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	if len(n.LeftKeys) == 0 || len(n.LeftKeys) != len(n.RightKeys) {
		return nil, errf("%d left and %d right key columns", len(n.LeftKeys), len(n.RightKeys))
	}
	o := &op{id: n.ID(), m: m, alloc: alloc, maxP: sub.MaxParallelism, outer: n.Type.LeftOuter(),
		outArrow: n.Schema().Arrow(), nLeft: n.Left.Schema().Len(),
		held: map[string][]*held{}, versions: map[string][]version{}, trim: map[string]bool{},
		dirtyL: map[string]*held{}, dirtyR: map[string]*version{}, minHeld: int64(exec.MaxWatermark)}
	var specs []state.Spec
	for i, in := range []plan.Node{n.Left, n.Right} {
		keys, tc, name := n.LeftKeys, n.LeftTime, "left"
		if i == 1 {
			keys, tc, name = n.RightKeys, n.RightTime, "right"
		}
		sch := in.Schema()
		s := &side{timeCol: tc}
		if tc < 0 || tc >= sch.Len() || !sch.Fields[tc].Type.IsTemporal() {
			return nil, errf("%s time column #%d is not a timestamp", name, tc)
		}
		var err error
		if s.Codec, err = joinside.New(name, sch, keys); err != nil {
			return nil, errf("%v", err)
		}
		o.sides[i] = s
		specs = append(specs, state.Spec{Name: name, Keyed: true, Held: true, Layout: layout(name, s)})
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
	var err error
	if o.tables, err = state.NewTables(n.ID(), sub, specs...); err != nil {
		return nil, err
	}
	o.left, o.right = o.tables.Table("left"), o.tables.Table("right")
	return o, nil
}

// layout describes one side's state encoding.
func layout(name string, s *side) string {
	v := "count"
	if name == "right" {
		v = "deleted row"
	}
	return fmt.Sprintf("v1 key [%s] time, %s [%s]", joinside.TypeList(s.KeyTypes), v, joinside.TypeList(s.Types))
}

var errState = errors.New("corrupt temporal join state")

// appendTime appends ts so that byte order is time order.
func appendTime(b []byte, ts int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(ts)^(1<<63))
}

func readTime(b []byte) (int64, []byte, error) {
	if len(b) < 8 {
		return 0, nil, errState
	}
	return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)), b[8:], nil
}

func leftKey(key string, h *held) string {
	return key + string(appendTime(nil, h.ts)) + h.row
}

func rightKey(key string, ts int64) string { return key + string(appendTime(nil, ts)) }

// Open implements exec.Operator.
func (o *op) Open(_ context.Context, st checkpoint.StateReader) error {
	if st == nil {
		return nil
	}
	err := o.tables.Restore(st, func(t *state.Table, _ int, key, value []byte) error {
		s, name := o.sides[0], "left"
		if t == o.right {
			s, name = o.sides[1], "right"
		}
		if err := o.restoreEntry(s, t == o.right, key, value); err != nil {
			return fmt.Errorf("temporal join: %q: restore: %s entry %x: %w", o.id, name, key, err)
		}
		return nil
	})
	for k, vs := range o.versions {
		slices.SortFunc(vs, func(a, b version) int { return cmp.Compare(a.ts, b.ts) })
		if len(vs) > 1 || vs[0].deleted {
			o.trim[k] = true
		}
	}
	o.m.StateEntries.Store(int64(o.live))
	return err
}

func (o *op) restoreEntry(s *side, right bool, key, value []byte) error {
	rest := key
	for _, t := range s.KeyTypes {
		var err error
		if rest, err = state.SkipKeyColumn(t, rest); err != nil {
			return err
		}
	}
	k := string(key[:len(key)-len(rest)])
	ts, rest, err := readTime(rest)
	if err != nil {
		return err
	}
	if right {
		if len(rest) != 0 || len(value) < 1 || value[0] > 1 {
			return errState
		}
		if err := state.CheckKey(s.Types, value[1:]); err != nil {
			return err
		}
		o.versions[k] = append(o.versions[k], version{ts: ts, row: string(value[1:]), deleted: value[0] == 1})
		o.live++
		return nil
	}
	if err := state.CheckKey(s.Types, rest); err != nil {
		return err
	}
	cnt, n := binary.Uvarint(value)
	if n <= 0 || n != len(value) || cnt == 0 {
		return errState
	}
	o.held[k] = append(o.held[k], &held{ts: ts, row: string(rest), count: int64(cnt)})
	o.minHeld = min(o.minHeld, ts)
	o.live++
	return nil
}

// Close implements exec.Operator.
func (o *op) Close() error { return nil }

// OnBarrier implements exec.Operator.
func (o *op) OnBarrier(_ context.Context, _ exec.Barrier, w checkpoint.StateWriter, _ exec.Emitter) error {
	sw, err := o.tables.Snapshot(w)
	if err != nil {
		return err
	}
	nk := func(k string) []byte {
		rest := []byte(k)
		for _, t := range o.sides[0].KeyTypes {
			rest, _ = state.SkipKeyColumn(t, rest)
		}
		return []byte(k[:len(k)-len(rest)])
	}
	var val []byte
	for k, h := range o.dirtyL {
		kg := state.KeyGroupOfKey(nk(k), o.maxP)
		if h.count <= 0 {
			err = sw.Delete(o.left, kg, []byte(k))
		} else {
			val = binary.AppendUvarint(val[:0], uint64(h.count))
			err = sw.Set(o.left, kg, []byte(k), val)
		}
		if err != nil {
			return fmt.Errorf("temporal join: %q: checkpoint: %w", o.id, err)
		}
	}
	for k, v := range o.dirtyR {
		kg := state.KeyGroupOfKey(nk(k), o.maxP)
		if v == nil {
			err = sw.Delete(o.right, kg, []byte(k))
		} else {
			val = val[:0]
			if v.deleted {
				val = append(val, 1)
			} else {
				val = append(val, 0)
			}
			val = append(val, v.row...)
			err = sw.Set(o.right, kg, []byte(k), val)
		}
		if err != nil {
			return fmt.Errorf("temporal join: %q: checkpoint: %w", o.id, err)
		}
	}
	clear(o.dirtyL)
	clear(o.dirtyR)
	return nil
}

// OnBatch implements exec.Operator: left rows are held, right rows become
// versions.
func (o *op) OnBatch(ctx context.Context, in int, rec arrow.Record, out exec.Emitter) error {
	n := int(rec.NumRows())
	o.m.RecordsIn.Add(int64(n))
	if n == 0 {
		return nil
	}
	if in != 0 && in != 1 {
		return fmt.Errorf("temporal join: %q: batch on input %d", o.id, in)
	}
	s := o.sides[in]
	if err := s.Bind(rec); err != nil {
		return err
	}
	times, ok := rec.Column(s.timeCol).(*array.Timestamp)
	if !ok {
		return fmt.Errorf("temporal join: %q: time column is %s", o.id, rec.Column(s.timeCol).DataType())
	}
	kinds := exec.RowKinds(rec)
	var padded []pair
	for i := 0; i < n; i++ {
		kind := exec.RowKindAt(kinds, i)
		null := times.IsNull(i)
		for _, a := range s.KeyArrs {
			null = null || a.IsNull(i)
		}
		if in == 0 {
			if kind != types.Insert {
				return fmt.Errorf("temporal join: %q: a %s row on the append-only left input", o.id, kind)
			}
			if null {
				if o.outer { // matches nothing, ever
					padded = append(padded, pair{left: s.RowEnc.Append(nil, i)})
				}
				continue
			}
			o.kbuf = s.KeyEnc.Append(o.kbuf[:0], i)
			o.hold(string(o.kbuf), int64(times.Value(i)), string(s.RowEnc.Append(nil, i)))
			continue
		}
		if null || kind == types.UpdateBefore {
			continue
		}
		o.kbuf = s.KeyEnc.Append(o.kbuf[:0], i)
		o.addVersion(string(o.kbuf), version{ts: int64(times.Value(i)), row: string(s.RowEnc.Append(nil, i)), deleted: kind == types.Delete})
	}
	o.m.StateEntries.Store(int64(o.live))
	return o.emit(ctx, padded, out)
}

func (o *op) hold(key string, ts int64, row string) {
	hs := o.held[key]
	for _, h := range hs {
		if h.ts == ts && h.row == row {
			h.count++
			o.dirtyL[leftKey(key, h)] = h
			return
		}
	}
	h := &held{ts: ts, row: row, count: 1}
	o.held[key] = append(hs, h)
	o.dirtyL[leftKey(key, h)] = h
	o.minHeld = min(o.minHeld, ts)
	o.live++
}

func (o *op) addVersion(key string, v version) {
	vs := o.versions[key]
	i, found := slices.BinarySearchFunc(vs, v.ts, func(a version, ts int64) int { return cmp.Compare(a.ts, ts) })
	if found {
		vs[i] = v
	} else {
		vs = slices.Insert(vs, i, v)
		o.live++
	}
	o.versions[key] = vs
	vv := v
	o.dirtyR[rightKey(key, v.ts)] = &vv
	if len(vs) > 1 || v.deleted {
		o.trim[key] = true
	}
}

// pair is one output row: encoded left and right rows (right nil: NULLs).
type pair struct {
	ts          int64
	key         string
	left, right []byte
}

// OnWatermark implements exec.Operator: the held rows at or before wm are
// joined and emitted, and the versions no later row can need dropped.
func (o *op) OnWatermark(ctx context.Context, wm exec.Watermark, out exec.Emitter) error {
	t := int64(wm)
	var pairs []pair
	if o.minHeld <= t {
		next := int64(exec.MaxWatermark)
		for key, hs := range o.held {
			k := 0
			for _, h := range hs {
				if h.ts > t {
					hs[k] = h
					k++
					next = min(next, h.ts)
					continue
				}
				var right []byte
				if v, ok := o.versionAt(key, h.ts); ok {
					right = []byte(v.row)
				}
				for c := int64(0); c < h.count; c++ {
					pairs = append(pairs, pair{ts: h.ts, key: key, left: []byte(h.row), right: right})
				}
				h.count = 0
				o.dirtyL[leftKey(key, h)] = h
				o.live--
			}
			clear(hs[k:])
			if k == 0 {
				delete(o.held, key)
			} else {
				o.held[key] = hs[:k]
			}
		}
		o.minHeld = next
	}
	for key := range o.trim {
		o.trimVersions(key, t)
	}
	slices.SortStableFunc(pairs, func(a, b pair) int {
		if c := cmp.Compare(a.ts, b.ts); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	if err := o.filter(pairs); err != nil {
		return err
	}
	o.m.StateEntries.Store(int64(o.live))
	return o.emit(ctx, o.kept(pairs), out)
}

// versionAt returns the version of key valid at ts, if any.
func (o *op) versionAt(key string, ts int64) (version, bool) {
	vs := o.versions[key]
	i, found := slices.BinarySearchFunc(vs, ts, func(a version, ts int64) int { return cmp.Compare(a.ts, ts) })
	if found {
		i++
	}
	if i == 0 || vs[i-1].deleted {
		return version{}, false
	}
	return vs[i-1], true
}

// trimVersions drops the versions of key before its newest one at or
// before t, and that one too when it is a deletion.
func (o *op) trimVersions(key string, t int64) {
	vs := o.versions[key]
	i, found := slices.BinarySearchFunc(vs, t, func(a version, ts int64) int { return cmp.Compare(a.ts, ts) })
	if found {
		i++
	}
	drop := i - 1 // the newest at or before t stays
	if drop >= 0 && vs[drop].deleted {
		drop++
	}
	if drop <= 0 {
		return
	}
	for _, v := range vs[:drop] {
		o.dirtyR[rightKey(key, v.ts)] = nil
		o.live--
	}
	vs = slices.Delete(vs, 0, drop)
	switch {
	case len(vs) == 0:
		delete(o.versions, key)
		delete(o.trim, key)
	case len(vs) == 1 && !vs[0].deleted:
		o.versions[key] = vs
		delete(o.trim, key)
	default:
		o.versions[key] = vs
	}
}

// filter applies the residual condition: a pair that fails it loses its
// right row (and is dropped by kept unless the join is LEFT).
func (o *op) filter(pairs []pair) error {
	if o.residual == nil || len(pairs) == 0 {
		return nil
	}
	var cand []pair
	var at []int
	for i, p := range pairs {
		if p.right != nil {
			cand = append(cand, p)
			at = append(at, i)
		}
	}
	if len(cand) == 0 {
		return nil
	}
	rec, err := o.build(cand)
	if err != nil {
		return err
	}
	defer rec.Release()
	res, err := o.residual.Eval(rec)
	if err != nil {
		return fmt.Errorf("temporal join: %q: residual condition: %w", o.id, err)
	}
	defer res.Release()
	b, ok := res.(*array.Boolean)
	if !ok {
		return fmt.Errorf("temporal join: %q: residual condition is %s, not BOOLEAN", o.id, res.DataType())
	}
	for j, i := range at {
		if !b.IsValid(j) || !b.Value(j) {
			pairs[i].right = nil
		}
	}
	return nil
}

// kept returns the pairs to emit: all of a LEFT join's, those with a
// right row of an INNER join's.
func (o *op) kept(pairs []pair) []pair {
	if o.outer {
		return pairs
	}
	k := 0
	for _, p := range pairs {
		if p.right != nil {
			pairs[k] = p
			k++
		}
	}
	return pairs[:k]
}

// build decodes pairs into a record of the output schema.
func (o *op) build(pairs []pair) (arrow.Record, error) {
	rb := array.NewRecordBuilder(o.alloc, o.outArrow)
	defer rb.Release()
	for _, p := range pairs {
		if err := joinside.DecodeInto(rb, 0, o.sides[0].Types, p.left); err != nil {
			return nil, err
		}
		if err := joinside.DecodeInto(rb, o.nLeft, o.sides[1].Types, p.right); err != nil {
			return nil, err
		}
	}
	return rb.NewRecord(), nil
}

// emit emits pairs in batches.
func (o *op) emit(ctx context.Context, pairs []pair, out exec.Emitter) error {
	const batch = 4096
	for start := 0; start < len(pairs); start += batch {
		rec, err := o.build(pairs[start:min(start+batch, len(pairs))])
		if err != nil {
			return fmt.Errorf("temporal join: %q: %w", o.id, err)
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
