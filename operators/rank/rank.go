// Package rank is the operator of plan.Rank (Top-N): it keeps the rows of
// each partition in sort order and emits the changes of the rows whose
// rank number lies in the node's range, as Flink's rank operators do.
//
// State is one keyed table: per partition (its key the partition key's
// encoding) the rows it holds, written at a barrier when the partition
// changed since the last one. Rescaling restores each key group's
// partitions where the key group now lives.
package rank

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// entry is one row of a partition: its sort key (the ORDER BY columns
// encoded as state keys are, which sort like the values, each byte
// complemented for a DESC column) and the row's columns, encoded alike.
// Entries sort by sort key, then by row, so equal rows are neighbours and
// the order of ties does not depend on arrival.
type entry struct {
	sort []byte
	row  []byte
}

func compareEntries(a, b entry) int {
	if c := bytes.Compare(a.sort, b.sort); c != 0 {
		return c
	}
	return bytes.Compare(a.row, b.row)
}

// partition is the state of one partition key.
type partition struct {
	key    string
	rows   []entry // sorted
	access int64   // ms of processing time of the last change (state TTL)
	dirty  bool    // changed since the last barrier
	// due is the event time (ms) at which the watermark emits the
	// partition: a window Top-N's window end, a keep-first
	// deduplication's candidate's time.
	due  int64
	done bool // a keep-first deduplication emitted the partition's row
}

// op is the operator of plan.Rank.
//
// For each input row the partition's visible rows (rank in [start, end],
// with their numbers) before and after the change are compared; rows that
// left are retracted and rows that arrived are inserted: paired as -U/+U
// when the number is output (one update per rank position, as Flink's
// operators emit), -D and +I otherwise. With an append-only input a
// partition keeps only the rows that can still rank within end (later
// rows only push rows down); with an updating input it keeps every row, so
// that a retracted row's successor can move up.
type op struct {
	id       string
	m        *exec.OperatorMetrics
	alloc    memory.Allocator
	clock    exec.Clock
	maxP     int
	fn       plan.RankFunc
	start    int64
	end      int64
	output   bool
	updating bool
	ttl      int64
	window   bool
	wendCol  int
	wzone    *types.Zone // plan.Rank.WindowZone
	first    bool
	wm       exec.Watermark
	// top1: a Top-1 by ROW_NUMBER over an append-only input, not a
	// window's: a partition holds its best row only (op.best1), in t1
	// rather than in parts.
	top1 bool
	t1   *top1Store

	ncols    int
	colTypes []types.Type
	partEnc  *state.KeyEncoder
	sortEnc  *state.KeyEncoder
	rowEnc   *state.KeyEncoder
	partCols []int
	order    []plan.SortKey
	outSch   *arrow.Schema

	parts   map[string]*partition
	rows    int // rows held, all partitions
	deletes []string
	dirties []*partition
	nextTTL time.Time

	tables *state.Tables
	table  *state.Table

	// Scratch.
	keyBuf       []byte
	sortBuf      []byte
	rowBuf       []byte
	oldV, newV   []visible
	partArrs     []arrow.Array
	sortArrs     []arrow.Array
	rowArrs      []arrow.Array
	rb           *array.RecordBuilder
	last         lastSize
	kinds        []types.RowKind
	oldUsed      []bool
	newUsed      []bool
	removed, add []visible
	decs         []colDec            // per input column, its output builder
	rankB        *array.Int64Builder // the rank number's, when output
	// pend is the rows appended since the last record (with o.kinds),
	// decoded by build; arena holds copies of those whose bytes were
	// reused since.
	pend  []visible
	arena []byte
	cur   []int // per pending row, the offset of its next column
	ints  []int64
	valid []bool
	ends  []int
}

// colDec decodes one held row column into its output builder: i64, ts or
// str is the builder when the column is held as such (decoded in place),
// b in any case.
type colDec struct {
	t   types.Type
	b   array.Builder
	i64 *array.Int64Builder
	ts  *array.TimestampBuilder
	str *array.StringBuilder
}

// visible is a row in the rank range and its number.
type visible struct {
	row  []byte
	rank int64
}

var _ exec.Operator = (*op)(nil)

const tableName = "partitions"

// New builds the operator of n for the subtask env describes.
func New(n *plan.Rank, env exec.OperatorEnv) (exec.Operator, error) {
	errf := func(format string, args ...any) error {
		return fmt.Errorf("rank: %q: %s", n.ID(), fmt.Sprintf(format, args...))
	}
	sub, err := env.StateSubtask()
	if err != nil {
		return nil, errf("%v", err)
	}
	env = env.WithDefaults()
	o := &op{
		id: n.ID(), m: env.Metrics, alloc: env.Alloc, clock: env.Clock, maxP: sub.MaxParallelism,
		fn: n.Func, start: n.Start, end: n.End, output: n.OutputRank, updating: n.InputUpdating, ttl: n.StateTTL,
		window: n.Window, wendCol: n.WindowEnd, wzone: n.WindowZone, first: n.KeepFirst, wm: exec.MinWatermark,
		partCols: n.Partition, order: n.Order, outSch: n.Schema().Arrow(), parts: map[string]*partition{},
	}
	o.top1 = n.Func == plan.RowNumber && n.Start == 1 && n.End == 1 && !n.InputUpdating && !n.Window && !n.KeepFirst
	if o.top1 {
		o.t1 = newTop1Store()
	}
	if n.Start < 1 || n.End < n.Start {
		return nil, errf("rank range [%d, %d]", n.Start, n.End)
	}
	in := n.Input.Schema()
	o.ncols = in.Len()
	for _, f := range in.Fields {
		o.colTypes = append(o.colTypes, f.Type)
	}
	pick := func(cols []int) ([]types.Type, error) {
		var ts []types.Type
		for _, c := range cols {
			if c < 0 || c >= in.Len() {
				return nil, errf("column #%d out of range", c)
			}
			ts = append(ts, in.Fields[c].Type)
		}
		return ts, nil
	}
	pt, err := pick(n.Partition)
	if err != nil {
		return nil, err
	}
	var sortCols []int
	for _, k := range n.Order {
		sortCols = append(sortCols, k.Col)
	}
	st, err := pick(sortCols)
	if err != nil {
		return nil, err
	}
	if o.partEnc, err = state.NewKeyEncoder(pt); err != nil {
		return nil, errf("%v", err)
	}
	if o.sortEnc, err = state.NewKeyEncoder(st); err != nil {
		return nil, errf("%v", err)
	}
	if o.rowEnc, err = state.NewKeyEncoder(o.colTypes); err != nil {
		return nil, errf("%v", err)
	}
	o.partArrs = make([]arrow.Array, len(n.Partition))
	o.sortArrs = make([]arrow.Array, len(sortCols))
	o.rowArrs = make([]arrow.Array, o.ncols)
	if o.tables, err = state.NewTables(n.ID(), sub, state.Spec{Name: tableName, Keyed: true, Held: true, Layout: layout(n)}); err != nil {
		return nil, err
	}
	o.table = o.tables.Table(tableName)
	o.rb = array.NewRecordBuilder(o.alloc, o.outSch)
	o.decs = make([]colDec, o.ncols)
	for c, t := range o.colTypes {
		d := &o.decs[c]
		d.t, d.b = t, o.rb.Field(c)
		switch b := d.b.(type) {
		case *array.Int64Builder:
			if state.IsIntKey(t) {
				d.i64 = b
			}
		case *array.TimestampBuilder:
			if state.IsIntKey(t) {
				d.ts = b
			}
		case *array.StringBuilder:
			if t.Kind == types.String {
				d.str = b
			}
		}
	}
	if o.output {
		o.rankB = o.rb.Field(o.ncols).(*array.Int64Builder)
	}
	return o, nil
}

// layout describes the state's encoding; state written under another
// layout is refused.
func layout(n *plan.Rank) string {
	in := n.Input.Schema()
	var b bytes.Buffer
	b.WriteString("v1 access due done rows [")
	for i, f := range in.Fields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Type.Nullable().String())
	}
	fmt.Fprintf(&b, "], partition %v, order %v, window %v, keep-first %v", n.Partition, n.Order, n.Window, n.KeepFirst)
	return b.String()
}

var errState = errors.New("corrupt rank state")

// Open implements exec.Operator.
func (o *op) Open(_ context.Context, st checkpoint.StateReader) error {
	if st == nil {
		return nil
	}
	err := o.tables.Restore(st, func(_ *state.Table, _ int, key, value []byte) error {
		if err := o.restore(key, value); err != nil {
			return fmt.Errorf("rank: %q: restore: partition %x: %w", o.id, key, err)
		}
		return nil
	})
	o.m.StateEntries.Store(int64(o.rows))
	return err
}

// A partition's value: access (varint), due (varint), done (a byte, 0 or
// 1), the number of rows (uvarint), then per row its sort key and its row,
// each uvarint-length-prefixed.
func (o *op) restore(key, value []byte) error {
	if _, dup := o.parts[string(key)]; dup {
		return errState
	}
	acc, n := binary.Varint(value)
	if n <= 0 {
		return errState
	}
	value = value[n:]
	due, n := binary.Varint(value)
	if n <= 0 || len(value) <= n || value[n] > 1 {
		return errState
	}
	done := value[n] == 1
	value = value[n+1:]
	cnt, n := binary.Uvarint(value)
	if n <= 0 || cnt > uint64(len(value)) {
		return errState
	}
	value = value[n:]
	p := &partition{key: string(key), access: acc, due: due, done: done, rows: make([]entry, 0, cnt)}
	field := func() ([]byte, error) {
		l, n := binary.Uvarint(value)
		if n <= 0 || l > uint64(len(value)-n) {
			return nil, errState
		}
		f := slices.Clone(value[n : n+int(l)])
		value = value[n+int(l):]
		return f, nil
	}
	for range cnt {
		s, err := field()
		if err != nil {
			return err
		}
		r, err := field()
		if err != nil {
			return err
		}
		if err := state.CheckKey(o.colTypes, r); err != nil {
			return err
		}
		p.rows = append(p.rows, entry{sort: s, row: r})
	}
	if len(value) != 0 || !slices.IsSortedFunc(p.rows, compareEntries) {
		return errState
	}
	if o.top1 {
		return o.restore1(key, acc, p.rows)
	}
	o.parts[p.key] = p
	o.rows += len(p.rows)
	return nil
}

// Close implements exec.Operator.
func (o *op) Close() error {
	if o.rb != nil {
		o.rb.Release()
		o.rb = nil
	}
	return nil
}

// OnBatch implements exec.Operator.
func (o *op) OnBatch(ctx context.Context, _ int, rec arrow.Record, out exec.Emitter) error {
	n := int(rec.NumRows())
	o.m.RecordsIn.Add(int64(n))
	if n == 0 {
		return nil
	}
	now := o.clock.Now()
	o.expire(now)
	nowMs := now.UnixMilli()
	if int(exec.DataColumns(rec)) != o.ncols {
		return fmt.Errorf("rank: %q: batch has %d columns, want %d", o.id, exec.DataColumns(rec), o.ncols)
	}
	for i, c := range o.partCols {
		o.partArrs[i] = rec.Column(c)
	}
	for i, k := range o.order {
		o.sortArrs[i] = rec.Column(k.Col)
	}
	for i := range o.rowArrs {
		o.rowArrs[i] = rec.Column(i)
	}
	defer func() { clear(o.partArrs); clear(o.sortArrs); clear(o.rowArrs) }()
	if err := o.partEnc.Bind(o.partArrs...); err != nil {
		return o.wrap(err)
	}
	if err := o.sortEnc.Bind(o.sortArrs...); err != nil {
		return o.wrap(err)
	}
	if err := o.rowEnc.Bind(o.rowArrs...); err != nil {
		return o.wrap(err)
	}
	kinds := exec.RowKinds(rec)
	var wends *array.Timestamp
	if o.window {
		var ok bool
		if wends, ok = rec.Column(o.wendCol).(*array.Timestamp); !ok {
			return fmt.Errorf("rank: %q: window_end column is %s, not a timestamp", o.id, rec.Column(o.wendCol).DataType())
		}
	}
	var times *array.Timestamp
	if o.first {
		var ok bool
		if times, ok = rec.Column(o.order[0].Col).(*array.Timestamp); !ok {
			return fmt.Errorf("rank: %q: time column is %s, not a timestamp", o.id, rec.Column(o.order[0].Col).DataType())
		}
	}
	o.kinds, o.pend = o.kinds[:0], o.pend[:0]
	if o.top1 {
		o.t1.compact()
		for i := 0; i < n; i++ {
			o.keyBuf = o.partEnc.Append(o.keyBuf[:0], i)
			o.sortKey(i)
			if err := o.best1(i, nowMs); err != nil {
				return o.wrap(err)
			}
		}
		o.m.StateEntries.Store(int64(o.rows))
		return o.wrap(o.emit(ctx, out))
	}
	for i := 0; i < n; i++ {
		retract := kinds != nil && exec.RowKindAt(kinds, i).IsRetraction()
		if wends != nil && (wends.IsNull(i) || exec.Watermark(o.wzone.ToUTC(int64(wends.Value(i)))) <= o.wm) {
			o.m.LateRecords.Add(1) // its window has been emitted
			continue
		}
		o.keyBuf = o.partEnc.Append(o.keyBuf[:0], i)
		p := o.parts[string(o.keyBuf)]
		if p == nil {
			if retract {
				continue // no state for the partition: ignored, as in Flink
			}
			p = &partition{key: string(o.keyBuf)}
			if wends != nil {
				p.due = o.wzone.ToUTC(int64(wends.Value(i)))
			}
			o.parts[p.key] = p
		}
		o.sortKey(i)
		if times != nil {
			if err := o.keepFirst(p, i, times); err != nil {
				return o.wrap(err)
			}
			o.touch(p, nowMs)
			continue
		}
		if !retract && !o.updating && o.fn != plan.DenseRank && int64(len(p.rows)) >= o.end &&
			bytes.Compare(o.sortBuf, p.rows[len(p.rows)-1].sort) > 0 {
			// Behind a full range of an append-only input: its number
			// would be past the range (the common case, without copying
			// the row).
			continue
		}
		e := o.newEntry(i)
		if !o.window {
			o.oldV = o.visibleRows(p, o.oldV[:0])
		}
		at, found := slices.BinarySearchFunc(p.rows, e, compareEntries)
		switch {
		case retract && !found:
			continue // not held (trimmed, or expired): ignored
		case retract:
			p.rows = slices.Delete(p.rows, at, at+1)
			o.rows--
		default:
			p.rows = slices.Insert(p.rows, at, e)
			o.rows++
			if !o.updating {
				o.trim(p)
			}
		}
		if !o.window {
			o.newV = o.visibleRows(p, o.newV[:0])
			if err := o.diff(); err != nil {
				return o.wrap(err)
			}
		}
		o.touch(p, nowMs)
		if len(p.rows) == 0 {
			delete(o.parts, p.key)
			o.deletes = append(o.deletes, p.key)
		}
	}
	o.m.StateEntries.Store(int64(o.rows))
	return o.wrap(o.emit(ctx, out))
}

// sortKey encodes the sort key of row i into o.sortBuf.
func (o *op) sortKey(i int) {
	o.sortBuf = o.sortBuf[:0]
	for c, k := range o.order {
		from := len(o.sortBuf)
		o.sortBuf = o.sortEnc.AppendColumn(o.sortBuf, c, i)
		if k.Desc {
			for j := from; j < len(o.sortBuf); j++ {
				o.sortBuf[j] = ^o.sortBuf[j]
			}
		}
	}
}

// touch records a change of p at nowMs.
func (o *op) touch(p *partition, nowMs int64) {
	p.access = nowMs
	if !p.dirty {
		p.dirty = true
		o.dirties = append(o.dirties, p)
	}
}

// keepFirst folds row i into the keep-first deduplication's partition p:
// the earliest row (in event time, then by its columns) is held until the
// watermark passes it, then emitted once; later rows of the partition are
// ignored. The first row of a partition that is already behind the
// watermark is emitted at once (no earlier row can come but late).
func (o *op) keepFirst(p *partition, i int, times *array.Timestamp) error {
	if p.done || times.IsNull(i) {
		return nil
	}
	t := int64(times.Value(i))
	e := o.newEntry(i)
	switch {
	case len(p.rows) == 0 && exec.Watermark(t) <= o.wm:
		p.done = true
		return o.appendRow(visible{row: e.row, rank: 1}, types.Insert)
	case len(p.rows) == 0:
		p.rows, p.due = []entry{e}, t
		o.rows++
	case compareEntries(e, p.rows[0]) < 0:
		p.rows[0], p.due = e, t
	}
	return nil
}

// appendCopy appends a copy of row (in o.arena, until the record is
// built) to the output, numbered 1: best1 writes a partition's better
// row over the bytes of the one it replaces.
func (o *op) appendCopy(row []byte, kind types.RowKind) error {
	at := len(o.arena)
	o.arena = append(o.arena, row...)
	return o.appendRow(visible{row: o.arena[at:len(o.arena):len(o.arena)], rank: 1}, kind)
}

// newEntry returns the entry of row i, its sort key the one in o.sortBuf:
// one allocation holds both (the sort key's capacity ends at its length,
// so that nothing appends over the row).
func (o *op) newEntry(i int) entry {
	ls := len(o.sortBuf)
	o.rowBuf = o.rowEnc.Append(o.rowBuf[:0], i)
	buf := make([]byte, ls+len(o.rowBuf))
	copy(buf, o.sortBuf)
	copy(buf[ls:], o.rowBuf)
	return entry{sort: buf[:ls:ls], row: buf[ls:]}
}

func (o *op) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("rank: %q: %w", o.id, err)
}

// rankOf numbers the rows of p in order: it calls fn with each row's
// index and number until fn returns false.
func (o *op) rankOf(p *partition, fn func(i int, rank int64) bool) {
	var rank, dense int64
	for i := range p.rows {
		tie := i > 0 && bytes.Equal(p.rows[i].sort, p.rows[i-1].sort)
		switch {
		case o.fn == plan.RowNumber:
			rank = int64(i + 1)
		case o.fn == plan.RankNumber && !tie:
			rank = int64(i + 1)
		case o.fn == plan.DenseRank && !tie:
			dense++
			rank = dense
		}
		if !fn(i, rank) {
			return
		}
	}
}

// visibleRows appends the rows of p whose number is in the range.
func (o *op) visibleRows(p *partition, dst []visible) []visible {
	o.rankOf(p, func(i int, rank int64) bool {
		if rank > o.end {
			return false
		}
		if rank >= o.start {
			dst = append(dst, visible{row: p.rows[i].row, rank: rank})
		}
		return true
	})
	return dst
}

// trim drops the rows of p whose number is past the range: with an
// append-only input they can never rank within it again.
func (o *op) trim(p *partition) {
	keep := len(p.rows)
	o.rankOf(p, func(i int, rank int64) bool {
		if rank > o.end {
			keep = i
			return false
		}
		return true
	})
	if keep < len(p.rows) {
		o.rows -= len(p.rows) - keep
		clear(p.rows[keep:])
		p.rows = p.rows[:keep]
	}
}

// diff appends the changes from oldV to newV to the output.
func (o *op) diff() error {
	same := func(a, b visible) bool {
		return (!o.output || a.rank == b.rank) && bytes.Equal(a.row, b.row)
	}
	o.oldUsed = slices.Grow(o.oldUsed[:0], len(o.oldV))[:len(o.oldV)]
	o.newUsed = slices.Grow(o.newUsed[:0], len(o.newV))[:len(o.newV)]
	clear(o.oldUsed)
	clear(o.newUsed)
	// The lists are short (the range) and mostly shifted copies of each
	// other: match each old row with an equal new one.
	for i, a := range o.oldV {
		for j, b := range o.newV {
			if !o.newUsed[j] && same(a, b) {
				o.oldUsed[i], o.newUsed[j] = true, true
				break
			}
		}
	}
	o.removed, o.add = o.removed[:0], o.add[:0]
	for i, a := range o.oldV {
		if !o.oldUsed[i] {
			o.removed = append(o.removed, a)
		}
	}
	for j, b := range o.newV {
		if !o.newUsed[j] {
			o.add = append(o.add, b)
		}
	}
	pairs := 0
	if o.output {
		pairs = min(len(o.removed), len(o.add))
	}
	for i := 0; i < pairs; i++ {
		if err := o.appendRow(o.removed[i], types.UpdateBefore); err != nil {
			return err
		}
		if err := o.appendRow(o.add[i], types.UpdateAfter); err != nil {
			return err
		}
	}
	for _, v := range o.removed[pairs:] {
		if err := o.appendRow(v, types.Delete); err != nil {
			return err
		}
	}
	for _, v := range o.add[pairs:] {
		if err := o.appendRow(v, types.Insert); err != nil {
			return err
		}
	}
	return nil
}

// appendRow appends v to the output, as a row of kind: its columns are
// decoded when the record is built (build), column by column.
func (o *op) appendRow(v visible, kind types.RowKind) error {
	o.pend = append(o.pend, v)
	o.kinds = append(o.kinds, kind)
	return nil
}

// build decodes the held rows appended since the last record into the
// builder, column by column: BIGINT and TIMESTAMP columns are gathered
// and appended at once, STRING ones (without an escaped zero byte) copied
// into reserved buffers; other types, NULLs and escaped strings are
// decoded by state.DecodeKeyColumn.
func (o *op) build() error {
	n := len(o.pend)
	defer func() {
		clear(o.pend)
		o.pend = o.pend[:0]
		o.arena = o.arena[:0]
	}()
	if n == 0 {
		return nil
	}
	if o.last.rows > 0 {
		o.reserve()
	}
	o.cur = slices.Grow(o.cur[:0], n)[:n]
	clear(o.cur)
	for c := range o.decs {
		d := &o.decs[c]
		var err error
		switch {
		case d.i64 != nil || d.ts != nil:
			err = o.buildInts(d)
		case d.str != nil:
			err = o.buildStrings(d)
		default:
			err = o.buildAny(d)
		}
		if err != nil {
			return fmt.Errorf("held row: %w", err)
		}
	}
	if o.rankB != nil {
		o.ints = o.ints[:0]
		for _, v := range o.pend {
			o.ints = append(o.ints, v.rank)
		}
		o.rankB.AppendValues(o.ints, nil)
	}
	return nil
}

// buildInts appends an integer column of the pending rows (d.i64 or d.ts
// its builder).
func (o *op) buildInts(d *colDec) error {
	o.ints, o.valid = o.ints[:0], o.valid[:0]
	nulls := false
	for r, v := range o.pend {
		rest := v.row[o.cur[r]:]
		switch {
		case len(rest) >= 9 && rest[0] == 1:
			o.ints = append(o.ints, int64(binary.BigEndian.Uint64(rest[1:])^(1<<63)))
			o.valid = append(o.valid, true)
			o.cur[r] += 9
		case len(rest) > 0 && rest[0] == 0:
			o.ints = append(o.ints, 0)
			o.valid = append(o.valid, false)
			o.cur[r]++
			nulls = true
		default:
			return state.ErrCorruptKey
		}
	}
	valid := o.valid
	if !nulls {
		valid = nil
	}
	if d.i64 != nil {
		d.i64.AppendValues(o.ints, valid)
	} else {
		d.ts.AppendValues(unsafe.Slice((*arrow.Timestamp)(unsafe.SliceData(o.ints)), len(o.ints)), valid)
	}
	return nil
}

// buildStrings appends a STRING column of the pending rows.
func (o *op) buildStrings(d *colDec) error {
	// Each value's end (-1: NULL or escaped) first, to reserve its bytes.
	o.ends = o.ends[:0]
	total := 0
	for r, v := range o.pend {
		rest := v.row[o.cur[r]:]
		end := -1
		if len(rest) > 0 && rest[0] == 1 {
			if j := bytes.IndexByte(rest[1:], 0); j >= 0 && j+2 < len(rest) && rest[j+2] == 1 {
				end = j + 1
				total += j
			} else if after, err := state.SkipKeyColumn(d.t, rest); err == nil {
				// Escaped: decoded below, into the reserved bytes too
				// (fewer than its encoding's).
				total += len(rest) - len(after)
			}
		}
		o.ends = append(o.ends, end)
	}
	d.str.Reserve(len(o.pend))
	d.str.ReserveData(total)
	for r, v := range o.pend {
		if end := o.ends[r]; end >= 0 {
			at := o.cur[r]
			d.str.BinaryBuilder.UnsafeAppend(v.row[at+1 : at+end])
			o.cur[r] = at + end + 2
			continue
		}
		rest, err := state.DecodeKeyColumn(d.b, d.t, v.row[o.cur[r]:])
		if err != nil {
			return err
		}
		o.cur[r] = len(v.row) - len(rest)
	}
	return nil
}

// buildAny appends a column of the pending rows by state.DecodeKeyColumn.
func (o *op) buildAny(d *colDec) error {
	for r, v := range o.pend {
		rest, err := state.DecodeKeyColumn(d.b, d.t, v.row[o.cur[r]:])
		if err != nil {
			return err
		}
		o.cur[r] = len(v.row) - len(rest)
	}
	return nil
}

// lastSize is the size of the last record built: the builder reserves as
// much for the next one, instead of growing its buffers from nothing by
// doubling (each growth a copy) on every batch.
type lastSize struct {
	rows int
	data []int // per column, the value bytes of a string column
}

// reserve reserves the last record's size in the empty builder.
func (o *op) reserve() {
	o.rb.Reserve(o.last.rows)
	for c, n := range o.last.data {
		if n > 0 {
			if sb, ok := o.rb.Field(c).(*array.StringBuilder); ok {
				sb.ReserveData(n)
			}
		}
	}
}

// newRecord builds the record of the rows appended, remembering its size.
func (o *op) newRecord() (arrow.Record, error) {
	if err := o.build(); err != nil {
		o.rb.NewRecord().Release() // drop the columns built
		return nil, err
	}
	rec := o.rb.NewRecord()
	o.last.rows = int(rec.NumRows())
	o.last.data = slices.Grow(o.last.data[:0], int(rec.NumCols()))[:rec.NumCols()]
	for c, col := range rec.Columns() {
		o.last.data[c] = 0
		if sa, ok := col.(*array.String); ok {
			o.last.data[c] = len(sa.ValueBytes())
		}
	}
	return rec, nil
}

// emit sends the rows appended since the last emit.
func (o *op) emit(ctx context.Context, out exec.Emitter) error {
	if len(o.kinds) == 0 {
		return nil
	}
	rec, err := o.newRecord()
	if err != nil {
		o.kinds = o.kinds[:0]
		return err
	}
	defer rec.Release()
	if o.first {
		// Only inserts: no kinds column, as append-only streams carry.
		o.kinds = o.kinds[:0]
		o.m.RecordsOut.Add(rec.NumRows())
		return out.Emit(ctx, rec)
	}
	ka := exec.NewRowKinds(o.alloc, o.kinds)
	defer ka.Release()
	with := exec.WithRowKinds(rec, ka)
	defer with.Release()
	o.kinds = o.kinds[:0]
	o.m.RecordsOut.Add(with.NumRows())
	return out.Emit(ctx, with)
}

// expire drops the partitions idle for longer than the state TTL (no
// retraction is emitted, as in Flink). The partitions are scanned at most
// once per half TTL.
func (o *op) expire(now time.Time) {
	if o.ttl <= 0 || now.Before(o.nextTTL) {
		return
	}
	o.nextTTL = now.Add(time.Duration(max(o.ttl/2, 1)) * time.Millisecond)
	limit := now.UnixMilli() - o.ttl
	if o.top1 {
		o.expire1(limit)
		o.m.StateEntries.Store(int64(o.rows))
		return
	}
	for k, p := range o.parts {
		if p.access < limit {
			delete(o.parts, k)
			o.rows -= len(p.rows)
			p.rows, p.dirty = nil, false
			o.deletes = append(o.deletes, k)
		}
	}
	o.m.StateEntries.Store(int64(o.rows))
}

// OnWatermark implements exec.Operator: a window Top-N emits the
// partitions of the windows the watermark closed, in window-end then key
// order, and drops them.
func (o *op) OnWatermark(ctx context.Context, wm exec.Watermark, out exec.Emitter) error {
	if !o.window && !o.first {
		return nil
	}
	o.wm = wm
	var due []*partition
	for _, p := range o.parts {
		if len(p.rows) > 0 && exec.Watermark(p.due) <= wm {
			due = append(due, p)
		}
	}
	if len(due) == 0 {
		return nil
	}
	slices.SortFunc(due, func(a, b *partition) int {
		if a.due != b.due {
			return cmp.Compare(a.due, b.due)
		}
		return strings.Compare(a.key, b.key)
	})
	o.kinds, o.pend = o.kinds[:0], o.pend[:0]
	for _, p := range due {
		for _, v := range o.visibleRows(p, o.newV[:0]) {
			if err := o.appendRow(v, types.Insert); err != nil {
				return fmt.Errorf("rank: %w", err)
			}
		}
		o.rows -= len(p.rows)
		if o.first {
			// The key stays, done: its later rows are not first.
			p.rows, p.done = nil, true
			o.touch(p, p.access)
			continue
		}
		delete(o.parts, p.key)
		o.deletes = append(o.deletes, p.key)
	}
	o.m.StateEntries.Store(int64(o.rows))
	// Without kinds: the output is append-only.
	if len(o.kinds) == 0 {
		return nil
	}
	rec, err := o.newRecord()
	if err != nil {
		o.kinds = o.kinds[:0]
		return err
	}
	defer rec.Release()
	o.kinds = o.kinds[:0]
	o.m.RecordsOut.Add(rec.NumRows())
	return out.Emit(ctx, rec)
}

// OnBarrier implements exec.Operator: the partitions changed since the
// previous barrier are written, the emptied and expired ones deleted.
func (o *op) OnBarrier(_ context.Context, _ exec.Barrier, sw checkpoint.StateWriter, _ exec.Emitter) error {
	o.expire(o.clock.Now())
	w, err := o.tables.Snapshot(sw)
	if err != nil {
		return err
	}
	wrap := func(err error) error { return fmt.Errorf("rank: %w", err) }
	for _, k := range o.deletes {
		if _, live := o.parts[k]; live || o.top1 && o.t1.lookup([]byte(k)) >= 0 {
			continue // emptied and filled again: the set below overwrites it
		}
		if err := w.Delete(o.table, state.KeyGroupOfKey([]byte(k), o.maxP), []byte(k)); err != nil {
			return wrap(err)
		}
	}
	o.deletes = o.deletes[:0]
	var val []byte
	for _, p := range o.dirties {
		if !p.dirty {
			continue // expired since
		}
		p.dirty = false
		if o.parts[p.key] != p {
			continue // emptied since
		}
		val = binary.AppendVarint(val[:0], p.access)
		val = binary.AppendVarint(val, p.due)
		if p.done {
			val = append(val, 1)
		} else {
			val = append(val, 0)
		}
		val = binary.AppendUvarint(val, uint64(len(p.rows)))
		for _, e := range p.rows {
			val = binary.AppendUvarint(val, uint64(len(e.sort)))
			val = append(val, e.sort...)
			val = binary.AppendUvarint(val, uint64(len(e.row)))
			val = append(val, e.row...)
		}
		key := []byte(p.key)
		if err := w.Set(o.table, state.KeyGroupOfKey(key, o.maxP), key, val); err != nil {
			return wrap(err)
		}
	}
	o.dirties = o.dirties[:0]
	if o.top1 {
		return o.barrier1(w)
	}
	return nil
}
