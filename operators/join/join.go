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

// entry is one distinct held row of a side.
type entry struct {
	key     string // the encoded join key
	row     string // the encoded row (every column of its side)
	count   int64
	matches int64 // rows of the other side it joins (outer sides only)
	access  int64 // last write, ms of processing time
	// dirty: in its side's dirty list; persisted: in the last
	// checkpoint's state.
	dirty, persisted bool
}

// bucket holds the rows of one join key, in arrival order of their first
// copy (so that output is deterministic, swaps on removal aside).
type bucket struct {
	key  string
	rows []*entry
	idx  map[string]int // row → index in rows, once there are many
}

// indexed is how many rows a bucket holds before it indexes them.
const indexed = 8

// find returns the index of row in b.rows, or -1.
func (b *bucket) find(row string) int {
	if b.idx != nil {
		if i, ok := b.idx[row]; ok {
			return i
		}
		return -1
	}
	for i, e := range b.rows {
		if e.row == row {
			return i
		}
	}
	return -1
}

func (b *bucket) append(e *entry) {
	b.rows = append(b.rows, e)
	switch {
	case b.idx != nil:
		b.idx[e.row] = len(b.rows) - 1
	case len(b.rows) > indexed:
		b.idx = make(map[string]int, 2*len(b.rows))
		for i, e := range b.rows {
			b.idx[e.row] = i
		}
	}
}

func (b *bucket) remove(i int) {
	e := b.rows[i]
	last := len(b.rows) - 1
	b.rows[i] = b.rows[last]
	b.rows[last] = nil
	b.rows = b.rows[:last]
	if b.idx != nil {
		if i < last {
			b.idx[b.rows[i].row] = i
		}
		delete(b.idx, e.row)
	}
}

// side is the state and encoders of one input.
type side struct {
	name  string
	table *state.Table
	outer bool
	joinside.Codec
	dec     rowDecoder
	buckets map[string]*bucket
	// dirty lists the entries changed since the last barrier (count 0:
	// deleted, unless a live entry of the same row replaced it).
	dirty []*entry
	live  int
}

func (s *side) markDirty(e *entry) {
	if !e.dirty {
		e.dirty = true
		s.dirty = append(s.dirty, e)
	}
}

// compactDirty drops from the dirty list the rows dropped before any
// barrier wrote them (nothing to delete), once it has grown well past the
// held rows: without checkpoints (or between two far apart) the list is
// then bounded by the held rows, not by the stream.
func (s *side) compactDirty() {
	if len(s.dirty) <= 2*s.live+1024 {
		return
	}
	kept := s.dirty[:0]
	for _, e := range s.dirty {
		if e.count > 0 || e.persisted {
			kept = append(kept, e)
		} else {
			e.dirty = false
		}
	}
	clear(s.dirty[len(kept):])
	s.dirty = kept
}

// add adds one copy of row (of join key key) to the side.
func (s *side) add(key []byte, row string, matches, now int64) *entry {
	b := s.buckets[string(key)]
	if b == nil {
		b = &bucket{key: string(key)}
		s.buckets[b.key] = b
	}
	var e *entry
	if i := b.find(row); i >= 0 {
		e = b.rows[i]
	} else {
		e = &entry{key: b.key, row: row}
		b.append(e)
		s.live++
	}
	e.count++
	e.matches = matches
	e.access = now
	s.markDirty(e)
	return e
}

// retract removes one copy of row, if held.
func (s *side) retract(key []byte, row string, now int64) {
	b := s.buckets[string(key)]
	if b == nil {
		return
	}
	i := b.find(row)
	if i < 0 {
		return
	}
	e := b.rows[i]
	e.count--
	e.access = now
	s.markDirty(e)
	if e.count <= 0 {
		s.drop(b, i)
	}
}

// drop removes b.rows[i] from memory; the next barrier deletes it.
func (s *side) drop(b *bucket, i int) {
	e := b.rows[i]
	e.count = 0
	s.markDirty(e)
	b.remove(i)
	if len(b.rows) == 0 {
		delete(s.buckets, e.key)
	}
	s.live--
}

// held reports whether the side holds a live entry of e's key and row.
func (s *side) held(e *entry) bool {
	b := s.buckets[e.key]
	return b != nil && b.find(e.row) >= 0
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
	// The batch being processed: its input, record and encoded rows.
	curIn   int
	cur     arrow.Record
	curRows []string
	kbuf    []byte
	rbuf    []byte
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
		s := &side{name: "left", outer: n.Type.LeftOuter(), buckets: map[string]*bucket{}}
		if i == 1 {
			keys = n.RightKeys
			s.name, s.outer = "right", n.Type.RightOuter()
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
	if n.Residual != nil {
		var err error
		if o.residual, o.resL, err = compileResidual(n.Residual, n.Schema(), o.nLeft, alloc); err != nil {
			return nil, errf("residual condition: %v", err)
		}
	}
	right := seq(len(o.sides[1].Types))
	if n.Type.LeftOnly() {
		right = nil // a semi or anti join emits left rows alone
	}
	o.outL = newLayout(o.outArrow, seq(o.nLeft), right)
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
	k, r := key[:len(key)-len(rest)], string(rest)
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
	if b := s.buckets[string(k)]; b != nil && b.find(r) >= 0 {
		return errState
	}
	e := s.add(k, r, int64(matches), access)
	e.count = int64(cnt)
	e.dirty, e.persisted = false, true // restored as it is stored
	s.dirty = s.dirty[:len(s.dirty)-1]
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
	var key, val []byte
	for _, s := range o.sides {
		for _, e := range s.dirty {
			e.dirty = false
			if e.count <= 0 && (!e.persisted || s.held(e)) {
				continue // never written, or a live entry of the same row replaced it
			}
			key = append(append(key[:0], e.key...), e.row...)
			kg := state.KeyGroupOfKey(key[:len(e.key)], o.maxP)
			if e.count <= 0 {
				err = sw.Delete(s.table, kg, key)
				e.persisted = false
			} else {
				val = binary.AppendUvarint(val[:0], uint64(e.count))
				val = binary.AppendUvarint(val, uint64(e.matches))
				val = binary.AppendVarint(val, e.access)
				err = sw.Set(s.table, kg, key, val)
				e.persisted = true
			}
			if err != nil {
				return fmt.Errorf("join: %q: checkpoint: %w", o.id, err)
			}
		}
		clear(s.dirty)
		s.dirty = s.dirty[:0]
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
		for _, b := range s.buckets {
			for i := 0; i < len(b.rows); {
				if e := b.rows[i]; e.access < limit {
					s.drop(b, i) // moves the last row to i
					continue
				}
				i++
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
	for _, s := range o.sides {
		s.compactDirty()
	}
	o.m.StateEntries.Store(int64(o.sides[0].live + o.sides[1].live))
	return o.flush(ctx, out)
}

// pair is a candidate match: row i of the batch with a held row.
type pair struct {
	i int
	e *entry
}

func (o *op) process(in int, rec arrow.Record, now int64) error {
	s, other := o.sides[in], o.sides[1-in]
	n := int(rec.NumRows())
	if err := s.Bind(rec); err != nil {
		return err
	}
	o.curIn, o.cur = in, rec
	kinds := exec.RowKinds(rec)
	if cap(o.curRows) < n {
		o.curRows = make([]string, n)
	}
	rows := o.curRows[:n]
	o.curRows = rows
	// keys[keyAt[i]:keyAt[i+1]] is row i's encoded join key (empty: NULL).
	keys := o.kbuf[:0]
	keyAt := make([]int, n+1)
	var pairs []pair
	start := make([]int, n+1)
	for i := 0; i < n; i++ {
		start[i] = len(pairs)
		keyAt[i] = len(keys)
		o.rbuf = s.RowEnc.Append(o.rbuf[:0], i)
		rows[i] = string(o.rbuf)
		nullKey := false
		for _, a := range s.KeyArrs {
			if a.IsNull(i) {
				nullKey = true
			}
		}
		if nullKey {
			continue
		}
		k := len(keys)
		keys = s.KeyEnc.Append(keys, i)
		if b := other.buckets[string(keys[k:])]; b != nil {
			for _, e := range b.rows {
				pairs = append(pairs, pair{i, e})
			}
		}
	}
	keyAt[n] = len(keys)
	start[n] = len(pairs)
	o.kbuf = keys
	// The other side's rows do not change while this batch is processed
	// (only their match counts do), so the residual condition is
	// evaluated for every candidate pair at once.
	pass, err := o.evalResidual(in, pairs)
	if err != nil {
		return err
	}
	var matched []*entry
	for i := 0; i < n; i++ {
		matched = matched[:0]
		var m int64
		for p := start[i]; p < start[i+1]; p++ {
			if pass == nil || pass[p] {
				matched = append(matched, pairs[p].e)
				m += pairs[p].e.count
			}
		}
		kind := exec.RowKindAt(kinds, i)
		key := keys[keyAt[i]:keyAt[i+1]]
		nullKey := len(key) == 0
		r := arriving{i: int32(i), row: rows[i], key: key, nullKey: nullKey}
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

// arriving is a row of the batch being processed: its index, encoding and
// encoded join key.
type arriving struct {
	i       int32
	row     string
	key     []byte
	nullKey bool
}

func (r arriving) part() part { return part{from: fromBatch, i: r.i} }

func heldPart(e *entry) part { return part{from: fromHeld, row: e.row} }

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

func (o *op) accumulate(in int, s, other *side, kind types.RowKind, r arriving, matched []*entry, m, now int64) {
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
			for _, e := range matched {
				if e.matches == 0 {
					o.emit(1-in, types.Delete, heldPart(e), nullPart, e.count)
				}
				e.matches++
				e.access = now
				other.markDirty(e)
			}
		}
		for _, e := range matched {
			o.emit(in, outKind, r.part(), heldPart(e), e.count)
		}
	}
	if !r.nullKey {
		matches := int64(0)
		if s.outer {
			matches = m
		}
		s.add(r.key, r.row, matches, now)
	}
}

func (o *op) retract(in int, s, other *side, kind types.RowKind, r arriving, matched []*entry, m, now int64) {
	if !r.nullKey {
		s.retract(r.key, r.row, now)
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
	for _, e := range matched {
		o.emit(in, outKind, r.part(), heldPart(e), e.count)
	}
	if other.outer {
		for _, e := range matched {
			if e.matches == 1 {
				o.emit(1-in, types.Insert, heldPart(e), nullPart, e.count)
			}
			if e.matches > 0 {
				e.matches--
			}
			e.access = now
			other.markDirty(e)
		}
	}
}

// semi processes a row arriving on input in of a semi or anti join: a
// left row is emitted (or deleted) when it has a match (semi) or none
// (anti), a right row changes the match counts of the left rows it
// matches, emitting (deleting) those whose count leaves or reaches 0.
func (o *op) semi(in int, s, other *side, kind types.RowKind, r arriving, matched []*entry, m, now int64) {
	anti := o.kind == plan.AntiJoin
	if in == 0 {
		emitted := (m > 0) != anti
		if !kind.IsRetraction() {
			if emitted {
				o.emit(0, types.Insert, r.part(), nullPart, 1)
			}
			if !r.nullKey {
				s.add(r.key, r.row, m, now)
			}
			return
		}
		if !r.nullKey {
			s.retract(r.key, r.row, now)
		}
		if emitted {
			o.emit(0, types.Delete, r.part(), nullPart, 1)
		}
		return
	}
	if !kind.IsRetraction() {
		if !r.nullKey {
			s.add(r.key, r.row, 0, now)
		}
		for _, e := range matched {
			if e.matches == 0 {
				k := types.Insert
				if anti {
					k = types.Delete
				}
				o.emit(0, k, heldPart(e), nullPart, e.count)
			}
			e.matches++
			e.access = now
			other.markDirty(e)
		}
		return
	}
	if !r.nullKey {
		s.retract(r.key, r.row, now)
	}
	for _, e := range matched {
		if e.matches == 1 {
			k := types.Delete
			if anti {
				k = types.Insert
			}
			o.emit(0, k, heldPart(e), nullPart, e.count)
		}
		if e.matches > 0 {
			e.matches--
		}
		e.access = now
		other.markDirty(e)
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
