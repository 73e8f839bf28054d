package join

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec/expr"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// The output of the regular join (and the candidate pairs its residual
// condition is evaluated over) is built column by column: the columns of
// the side whose batch is being processed are gathered from that batch
// (expr.Take), the held side's decoded from their state encoding straight
// into pre-sized builders, and only the columns a record needs (the
// residual reads a few) are decoded at all.

// Where one side of an output row comes from.
const (
	fromNull  = iota // NULLs (the padding of an outer join)
	fromBatch        // row i of the batch being processed
	fromHeld         // held entry i of the side
)

// part is one side of an output row.
type part struct {
	from uint8
	i    int32
}

// joinRow is one row of the regular join's output: its left and right
// parts and its kind.
type joinRow struct {
	kind types.RowKind
	p    [2]part
}

// outLayout is the shape of a record built from outRows: which columns of
// each side it holds, in order, in fields pos[side][j] (by default the
// left ones from field 0 on, then the right ones); its other fields
// (nulls) are all NULL.
type outLayout struct {
	sch   *arrow.Schema
	cols  [2][]int
	pos   [2][]int
	nulls []int
	est   []float64 // per field: string bytes per row in the last record
}

func newLayout(sch *arrow.Schema, left, right []int) *outLayout {
	l := &outLayout{sch: sch, cols: [2][]int{left, right}, est: make([]float64, sch.NumFields())}
	for side, cols := range l.cols {
		for j := range cols {
			l.pos[side] = append(l.pos[side], j+side*len(left))
		}
	}
	return l
}

// outputLayout is the layout of the join's output records: the fields
// of each side's columns (the left ones from field 0, the right ones, if
// any, from field nLeft), but those in unread (plan.Join.Unread) NULL.
func outputLayout(sch *arrow.Schema, nLeft int, right bool, unread []int) *outLayout {
	skip := map[int]bool{}
	for _, f := range unread {
		skip[f] = true
	}
	l := &outLayout{sch: sch, est: make([]float64, sch.NumFields())}
	for f := 0; f < sch.NumFields(); f++ {
		side, c := 0, f
		if f >= nLeft {
			side, c = 1, f-nLeft
		}
		if skip[f] || side == 1 && !right {
			l.nulls = append(l.nulls, f)
			continue
		}
		l.cols[side] = append(l.cols[side], c)
		l.pos[side] = append(l.pos[side], f)
	}
	return l
}

// seq is 0, 1, …, n-1.
func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// build builds the record of layout l holding rows; the batch rows of the
// rows refer to o.cur (of input o.curIn, encoded in o.curKR).
func (o *op) build(l *outLayout, rows []joinRow) (arrow.Record, error) {
	n := len(rows)
	arrs := make([]arrow.Array, l.sch.NumFields())
	fail := func(err error) (arrow.Record, error) {
		for _, a := range arrs {
			if a != nil {
				a.Release()
			}
		}
		return nil, err
	}
	for side := 0; side < 2; side++ {
		cols := l.cols[side]
		if len(cols) == 0 {
			continue
		}
		gather := side == o.curIn && o.cur != nil
		for k := 0; gather && k < n; k++ {
			gather = rows[k].p[side].from == fromBatch
		}
		if gather {
			idx := make([]int32, n)
			for k := range rows {
				idx[k] = rows[k].p[side].i
			}
			for j, c := range cols {
				a, err := takeColumn(o.alloc, o.cur, c, idx)
				if err != nil {
					return fail(err)
				}
				arrs[l.pos[side][j]] = a
			}
			continue
		}
		s := o.sides[side]
		d := &s.dec
		bs := make([]array.Builder, len(cols))
		scs := make([]*strCol, len(cols))
		for j, c := range cols {
			f := l.pos[side][j]
			if ft := l.sch.Field(f).Type; ft.ID() == arrow.STRING && c < len(d.types) && d.types[c].Kind == types.String {
				scs[j] = newStrCol(n, int(l.est[f]*float64(n)*1.1)+64)
				continue
			}
			b := array.NewBuilder(o.alloc, l.sch.Field(f).Type)
			b.Reserve(n)
			bs[j] = b
		}
		err := d.bind(bs, scs, cols)
		for k := 0; err == nil && k < n; k++ {
			p := &rows[k].p[side]
			switch p.from {
			case fromNull:
				for j, b := range bs {
					if b != nil {
						b.AppendNull()
					} else {
						scs[j].appendNull()
					}
				}
			case fromBatch:
				err = d.decode(o.curKR[o.curAt[p.i]+o.curKLen[p.i] : o.curAt[p.i+1]])
			default:
				err = d.decode(s.row(p.i))
			}
		}
		for j, b := range bs {
			if b == nil {
				if err == nil {
					if n > 0 {
						l.est[l.pos[side][j]] = float64(len(scs[j].data)) / float64(n)
					}
					arrs[l.pos[side][j]] = scs[j].newArray()
				}
				continue
			}
			if err == nil {
				arrs[l.pos[side][j]] = b.NewArray()
			}
			b.Release()
		}
		if err != nil {
			return fail(fmt.Errorf("held row: %w", err))
		}
	}
	for _, f := range l.nulls {
		arrs[f] = array.MakeArrayOfNull(o.alloc, l.sch.Field(f).Type, n)
	}
	rec := array.NewRecord(l.sch, arrs, int64(n))
	for _, a := range arrs {
		a.Release()
	}
	return rec, nil
}

// takeColumn gathers the rows idx of column c of rec.
func takeColumn(alloc memory.Allocator, rec arrow.Record, c int, idx []int32) (arrow.Array, error) {
	col := rec.Column(c)
	one := array.NewRecord(arrow.NewSchema([]arrow.Field{rec.Schema().Field(c)}, nil), []arrow.Array{col}, rec.NumRows())
	defer one.Release()
	t, err := expr.Take(one, idx, alloc)
	if err != nil {
		return nil, err
	}
	defer t.Release()
	a := t.Column(0)
	a.Retain()
	return a, nil
}

// Column decoders of rowDecoder.
const (
	decSkip = iota
	decInt64
	decTimestamp
	decString
	decStrCol
	decOther
)

// rowDecoder decodes the columns of held rows (state key encoding of a
// side's columns) into builders.
type rowDecoder struct {
	types []types.Type
	fixed []int   // per column, the length of its encoding when fixed (0: a string's)
	kinds []uint8 // per column, while bound
	last  int     // the last column bound (-1: none)
	bs    []array.Builder
	i64   []*array.Int64Builder
	ts    []*array.TimestampBuilder
	str   []*array.StringBuilder
	sc    []*strCol
	buf   []byte
}

func newRowDecoder(ts []types.Type) rowDecoder {
	n := len(ts)
	d := rowDecoder{types: ts, fixed: make([]int, n), kinds: make([]uint8, n), last: -1, bs: make([]array.Builder, n),
		i64: make([]*array.Int64Builder, n), ts: make([]*array.TimestampBuilder, n), str: make([]*array.StringBuilder, n),
		sc: make([]*strCol, n)}
	for c, t := range ts {
		switch {
		case state.IsIntKey(t), t.Kind == types.Float, t.Kind == types.Double:
			d.fixed[c] = 9
		case t.Kind == types.Decimal:
			d.fixed[c] = 17
		}
	}
	return d
}

// bind directs column cols[j] into bs[j] or, where that is nil, into the
// STRING column scs[j] (nil scs: bs only); the other columns are skipped.
// The builders are reserved for the rows decoded.
func (d *rowDecoder) bind(bs []array.Builder, scs []*strCol, cols []int) error {
	clear(d.kinds)
	clear(d.bs)
	clear(d.sc)
	d.last = -1
	for j, c := range cols {
		if c < 0 || c >= len(d.types) {
			return fmt.Errorf("column %d of %d", c, len(d.types))
		}
		d.last = max(d.last, c)
		if bs[j] == nil {
			if scs == nil || scs[j] == nil || d.types[c].Kind != types.String {
				return fmt.Errorf("column %d: no builder", c)
			}
			d.kinds[c], d.sc[c] = decStrCol, scs[j]
			continue
		}
		d.bs[c] = bs[j]
		k := uint8(decOther)
		switch b := bs[j].(type) {
		case *array.Int64Builder:
			if state.IsIntKey(d.types[c]) {
				k, d.i64[c] = decInt64, b
			}
		case *array.TimestampBuilder:
			if state.IsIntKey(d.types[c]) {
				k, d.ts[c] = decTimestamp, b
			}
		case *array.StringBuilder:
			if d.types[c].Kind == types.String {
				k, d.str[c] = decString, b
			}
		}
		d.kinds[c] = k
	}
	return nil
}

// decode appends the bound columns of row; it reads no further than the
// last of them.
func (d *rowDecoder) decode(row []byte) error {
	for c := 0; c <= d.last; c++ {
		t := d.types[c]
		if len(row) == 0 {
			return state.ErrCorruptKey
		}
		k := d.kinds[c]
		if row[0] == 0 { // NULL
			switch k {
			case decSkip:
			case decStrCol:
				d.sc[c].appendNull()
			default:
				d.bs[c].AppendNull()
			}
			row = row[1:]
			continue
		}
		if k == decSkip {
			if n := d.fixed[c]; n > 0 && len(row) >= n {
				row = row[n:]
				continue
			}
			if t.Kind == types.String {
				if j := bytes.IndexByte(row[1:], 0) + 1; j > 0 && j+1 < len(row) && row[j+1] == 1 {
					row = row[j+2:] // no escaped NUL
					continue
				}
			}
		}
		switch k {
		case decInt64, decTimestamp:
			if len(row) < 9 {
				return state.ErrCorruptKey
			}
			v := int64(be64(row[1:]) ^ (1 << 63))
			if k == decInt64 {
				d.i64[c].UnsafeAppend(v)
			} else {
				d.ts[c].UnsafeAppend(arrow.Timestamp(v))
			}
			row = row[9:]
		case decStrCol:
			n, err := d.sc[c].appendEncoded(row)
			if err != nil {
				return err
			}
			row = row[n:]
		case decString:
			j := bytes.IndexByte(row[1:], 0) + 1
			if j > 0 && j+1 < len(row) && row[j+1] == 1 { // no escaped NUL
				d.str[c].BinaryBuilder.Append(row[1:j])
				row = row[j+2:]
				continue
			}
			fallthrough
		default:
			n, err := columnLen(t, row)
			if err != nil {
				return err
			}
			if k != decSkip {
				d.buf = append(d.buf[:0], row[:n]...)
				if _, err := state.DecodeKeyColumn(d.bs[c], t, d.buf); err != nil {
					return err
				}
			}
			row = row[n:]
		}
	}
	if d.last == len(d.types)-1 && len(row) != 0 {
		return state.ErrCorruptKey
	}
	return nil
}

// strCol is a STRING column of an output record, built in Go memory: a
// StringBuilder reserved for a batch zeroes its bytes twice (the
// allocator's make, then the builder's own clearing), and then copies
// each value once more than this does.
type strCol struct {
	n     int // the rows it is made for
	offs  []int32
	data  []byte
	valid []byte // the validity bitmap, nil while no row is NULL
	nulls int
}

func newStrCol(n, est int) *strCol {
	offs := make([]int32, 1, n+1)
	return &strCol{n: n, offs: offs, data: make([]byte, 0, est)}
}

func (c *strCol) appendNull() {
	r := len(c.offs) - 1
	if c.valid == nil {
		c.valid = make([]byte, bitutil.BytesForBits(int64(max(c.n, r+1))))
		bitutil.SetBitsTo(c.valid, 0, int64(r), true)
	} else if r >= 8*len(c.valid) {
		c.valid = append(c.valid, make([]byte, len(c.valid)+1)...)
	}
	c.offs = append(c.offs, int32(len(c.data)))
	c.nulls++
}

// appendEncoded appends the string encoded (state key encoding, not
// NULL) at the front of row and returns the length of its encoding.
func (c *strCol) appendEncoded(row []byte) (int, error) {
	n := 0
	if j := bytes.IndexByte(row[1:], 0) + 1; j > 0 && j+1 < len(row) && row[j+1] == 1 {
		c.data = append(c.data, row[1:j]...) // no escaped NUL
		n = j + 2
	} else {
		var err error
		if n, err = columnLen(types.StringType, row); err != nil {
			return 0, err
		}
		for v := row[1 : n-2]; len(v) > 0; {
			j := bytes.IndexByte(v, 0)
			if j < 0 {
				c.data = append(c.data, v...)
				break
			}
			c.data = append(c.data, v[:j+1]...) // 0x00 0xFF is a NUL
			v = v[j+2:]
		}
	}
	r := len(c.offs) - 1
	if c.valid != nil {
		if r >= 8*len(c.valid) {
			c.valid = append(c.valid, make([]byte, len(c.valid)+1)...)
		}
		bitutil.SetBit(c.valid, r)
	}
	c.offs = append(c.offs, int32(len(c.data)))
	return n, nil
}

// newArray is the column.
func (c *strCol) newArray() arrow.Array {
	bufs := []*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(c.offs)), memory.NewBufferBytes(c.data)}
	if c.valid != nil {
		bufs[0] = memory.NewBufferBytes(c.valid)
	}
	d := array.NewData(arrow.BinaryTypes.String, len(c.offs)-1, bufs, nil, c.nulls, 0)
	defer d.Release()
	return array.NewStringData(d)
}

// columnLen is the length of the encoded column of type t at the front of
// row (not NULL).
func columnLen(t types.Type, row []byte) (int, error) {
	switch {
	case state.IsIntKey(t), t.Kind == types.Float, t.Kind == types.Double:
		if len(row) < 9 {
			return 0, state.ErrCorruptKey
		}
		return 9, nil
	case t.Kind == types.Decimal:
		if len(row) < 17 {
			return 0, state.ErrCorruptKey
		}
		return 17, nil
	case t.Kind == types.String:
		for i := 1; ; {
			j := bytes.IndexByte(row[i:], 0)
			if j < 0 || i+j+1 >= len(row) {
				return 0, state.ErrCorruptKey
			}
			switch row[i+j+1] {
			case 1:
				return i + j + 2, nil
			case 0xFF:
				i += j + 2
			default:
				return 0, state.ErrCorruptKey
			}
		}
	}
	return 0, fmt.Errorf("state: no key encoding for %s", t)
}

// be64 is the big-endian uint64 at the front of s.
func be64(s []byte) uint64 { return binary.BigEndian.Uint64(s) }

// residualColumns adds the columns e reads to seen and reports whether
// every node of e is of a kind remapColumns knows.
func residualColumns(e plan.Expr, seen map[int]bool) bool {
	switch e := e.(type) {
	case *plan.ColumnRef:
		seen[e.Index] = true
		return true
	case *plan.Literal:
		return true
	case *plan.Call:
		for _, a := range e.Args {
			if !residualColumns(a, seen) {
				return false
			}
		}
		return true
	case *plan.UDFCall:
		for _, a := range e.Args {
			if !residualColumns(a, seen) {
				return false
			}
		}
		return true
	case *plan.Cast:
		return residualColumns(e.Arg, seen)
	case *plan.Case:
		for _, w := range e.Whens {
			if !residualColumns(w.Cond, seen) || !residualColumns(w.Result, seen) {
				return false
			}
		}
		return residualColumns(e.Else, seen)
	}
	return false
}

// remapColumns returns a copy of e reading column m[i] where e reads i.
func remapColumns(e plan.Expr, m map[int]int) plan.Expr {
	switch e := e.(type) {
	case *plan.ColumnRef:
		c := *e
		c.Index = m[e.Index]
		return &c
	case *plan.Call:
		c := *e
		c.Args = make([]plan.Expr, len(e.Args))
		for i, a := range e.Args {
			c.Args[i] = remapColumns(a, m)
		}
		return &c
	case *plan.UDFCall:
		c := *e
		c.Args = make([]plan.Expr, len(e.Args))
		for i, a := range e.Args {
			c.Args[i] = remapColumns(a, m)
		}
		return &c
	case *plan.Cast:
		c := *e
		c.Arg = remapColumns(e.Arg, m)
		return &c
	case *plan.Case:
		c := *e
		c.Whens = make([]plan.When, len(e.Whens))
		for i, w := range e.Whens {
			c.Whens[i] = plan.When{Cond: remapColumns(w.Cond, m), Result: remapColumns(w.Result, m)}
		}
		c.Else = remapColumns(e.Else, m)
		return &c
	}
	return e
}

// compileResidual compiles the residual condition cond (over out, the
// join's output schema, whose first nLeft columns are the left side's)
// over only the columns it reads, and returns the layout of the records
// it is evaluated over.
func compileResidual(cond plan.Expr, out types.Schema, nLeft int, alloc memory.Allocator) (expr.Evaluator, *outLayout, error) {
	seen := map[int]bool{}
	if !residualColumns(cond, seen) || len(seen) == 0 {
		ev, err := expr.Compile(cond, out, alloc)
		return ev, newLayout(out.Arrow(), seq(nLeft), seq(out.Len()-nLeft)), err
	}
	var left, right []int
	m := map[int]int{}
	var pruned types.Schema
	for c := 0; c < out.Len(); c++ {
		if !seen[c] {
			continue
		}
		if c < nLeft {
			left = append(left, c)
		} else {
			right = append(right, c-nLeft)
		}
		m[c] = pruned.Len()
		pruned.Fields = append(pruned.Fields, out.Fields[c])
	}
	ev, err := expr.Compile(remapColumns(cond, m), pruned, alloc)
	return ev, newLayout(pruned.Arrow(), left, right), err
}
