package expr

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Filter returns the rows of rec where mask is TRUE (NULL and FALSE drop
// the row); the caller releases the result. When every row passes it may
// return rec retained.
func Filter(rec arrow.Record, mask *array.Boolean, alloc memory.Allocator) (arrow.Record, error) {
	out, _, err := filterCols(rec, mask, alloc, nil, nil)
	return out, err
}

// filterCols is Filter, except that the columns c with skip[c] (skip may
// be nil) are not copied: placeholder(c, cnt) stands for them in the
// result. dropped reports whether some were.
func filterCols(rec arrow.Record, mask *array.Boolean, alloc memory.Allocator, skip []bool, placeholder func(c, n int) arrow.Array) (_ arrow.Record, dropped bool, _ error) {
	n := int(rec.NumRows())
	if mask.Len() != n {
		return nil, false, fmt.Errorf("expr: filter mask has %d rows, batch has %d", mask.Len(), n)
	}
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	vals, valid, scratch := boolBits(alloc, mask)
	defer releaseBuf(scratch...)
	sbuf, sel := newBitmap(alloc, n)
	defer sbuf.Release()
	for i := range sel {
		v := vals[i]
		if valid != nil {
			v &= valid[i]
		}
		sel[i] = v
	}
	cnt := popcount(sel, n)
	if cnt == n {
		rec.Retain()
		return rec, false, nil
	}
	if cnt == 0 {
		return rec.NewSlice(0, 0), false, nil
	}
	ibuf, idx := newFixed[int32](alloc, cnt)
	defer ibuf.Release()
	selectedRows(sel, n, idx)
	cols := make([]arrow.Array, rec.NumCols())
	for c := range cols {
		if c < len(skip) && skip[c] {
			cols[c] = placeholder(c, cnt)
			dropped = true
			continue
		}
		if col := rec.Column(c); col.NullN() == n {
			// All NULL (a column a source does not fill): any cnt of its
			// rows are the selection.
			cols[c] = array.NewSlice(col, 0, int64(cnt))
			continue
		}
		a, err := take(alloc, rec.Column(c), idx)
		if err != nil {
			release(cols...)
			return nil, false, fmt.Errorf("expr: filter column %q: %w", rec.ColumnName(c), err)
		}
		cols[c] = a
	}
	return Project(rec.Schema(), cols, int64(cnt)), dropped, nil
}

// selectedRows writes the positions of the set bits of sel (n bits) to idx.
func selectedRows(sel []byte, n int, idx []int32) {
	k := 0
	for i, b := range sel {
		if b == 0 {
			continue
		}
		if b == 0xff && (i+1)*8 <= n {
			base := int32(i * 8)
			x := idx[k : k+8 : k+8]
			x[0], x[1], x[2], x[3] = base, base+1, base+2, base+3
			x[4], x[5], x[6], x[7] = base+4, base+5, base+6, base+7
			k += 8
			continue
		}
		for j := 0; j < 8 && i*8+j < n; j++ {
			if b>>j&1 != 0 {
				idx[k] = int32(i*8 + j)
				k++
			}
		}
	}
}

// Project builds a record with the given schema from the evaluated
// columns (takes ownership of cols).
func Project(schema *arrow.Schema, cols []arrow.Array, nrows int64) arrow.Record {
	rec := array.NewRecord(schema, cols, nrows)
	release(cols...)
	return rec
}

// take returns the rows idx of a; a negative index gives NULL.
func take(alloc memory.Allocator, a arrow.Array, idx []int32) (arrow.Array, error) {
	return gather(alloc, a.DataType(), []arrow.Array{a}, nil, idx, len(idx))
}

// gather builds an array of n rows of type dt where row i is row idx[i]
// (i when idx is nil) of srcs[src[i]] (srcs[0] when src is nil). A
// negative idx[i] gives NULL. Either src or idx is nil. With src, a source
// of one row when n > 1 is a constant (a CASE's literal arm): every row
// taken from it is its row 0.
func gather(alloc memory.Allocator, dt arrow.DataType, srcs []arrow.Array, src []uint8, idx []int32, n int) (arrow.Array, error) {
	if src != nil && idx != nil {
		return nil, fmt.Errorf("expr: gather by source and index")
	}
	neg := false
	for _, j := range idx {
		if j < 0 {
			neg = true
			break
		}
	}
	// Validity first, for every layout.
	var vbuf *memory.Buffer
	nulls := 0
	anyNulls := neg
	for _, a := range srcs {
		if a.NullN() > 0 {
			anyNulls = true
		}
	}
	if anyNulls {
		var valid []byte
		vbuf, valid = newBitmap(alloc, n)
		if src == nil {
			bm, off := validity(srcs[0])
			for i, j := range idx {
				if j >= 0 && (bm == nil || bitIsSet(bm, off+int(j))) {
					valid[i>>3] |= 1 << (i & 7)
				}
			}
		} else {
			bms := make([][]byte, len(srcs))
			offs := make([]int, len(srcs))
			for k, a := range srcs {
				bms[k], offs[k] = validity(a)
			}
			step := constSteps(srcs, n)
			for i, k := range src[:n] {
				if bm := bms[k]; bm == nil || bitIsSet(bm, offs[k]+i*step[k]) {
					valid[i>>3] |= 1 << (i & 7)
				}
			}
		}
		nulls = n - popcount(valid, n)
		if nulls == 0 {
			vbuf.Release()
			vbuf = nil
		}
	}
	fail := func(err error) (arrow.Array, error) {
		releaseBuf(vbuf)
		return nil, err
	}
	switch dt.ID() {
	case arrow.BOOL:
		out, bm := newBitmap(alloc, n)
		bits := make([][]byte, len(srcs))
		offs := make([]int, len(srcs))
		for k, a := range srcs {
			bits[k], offs[k] = valueBits(a), a.Data().Offset()
		}
		if src == nil {
			for i, j := range idx {
				if j >= 0 && bitIsSet(bits[0], offs[0]+int(j)) {
					bm[i>>3] |= 1 << (i & 7)
				}
			}
		} else {
			step := constSteps(srcs, n)
			for i, k := range src[:n] {
				if bitIsSet(bits[k], offs[k]+i*step[k]) {
					bm[i>>3] |= 1 << (i & 7)
				}
			}
		}
		return makeArray(dt, n, nulls, vbuf, out), nil
	case arrow.STRING, arrow.BINARY:
		return gatherBinary(alloc, dt, srcs, src, idx, n, nulls, vbuf), nil
	case arrow.DICTIONARY, arrow.FIXED_SIZE_BINARY:
		return fail(fmt.Errorf("unsupported column type %s", dt))
	}
	fw, ok := dt.(arrow.FixedWidthDataType)
	if !ok {
		return fail(fmt.Errorf("unsupported column type %s", dt))
	}
	switch fw.BitWidth() {
	case 8:
		return gatherFixed[uint8](alloc, dt, srcs, src, idx, neg, n, nulls, vbuf), nil
	case 16:
		return gatherFixed[uint16](alloc, dt, srcs, src, idx, neg, n, nulls, vbuf), nil
	case 32:
		return gatherFixed[uint32](alloc, dt, srcs, src, idx, neg, n, nulls, vbuf), nil
	case 64:
		return gatherFixed[uint64](alloc, dt, srcs, src, idx, neg, n, nulls, vbuf), nil
	case 128:
		return gatherFixed[[2]uint64](alloc, dt, srcs, src, idx, neg, n, nulls, vbuf), nil
	}
	return fail(fmt.Errorf("unsupported column type %s", dt))
}

// constSteps returns, by source of a gather by source of n rows, the
// step of its row per output row: 0 for a constant (a source of one row
// when n > 1), else 1.
func constSteps(srcs []arrow.Array, n int) []int {
	step := make([]int, len(srcs))
	for k, a := range srcs {
		if a.Len() != 1 || n <= 1 {
			step[k] = 1
		}
	}
	return step
}

func gatherFixed[T any](alloc memory.Allocator, dt arrow.DataType, srcs []arrow.Array, src []uint8, idx []int32, neg bool, n, nulls int, valid *memory.Buffer) arrow.Array {
	buf, out := newFixed[T](alloc, n)
	switch {
	case src == nil && !neg:
		v := fixedValues[T](srcs[0])
		idx = idx[:len(out)]
		for i := range out {
			out[i] = v[idx[i]]
		}
	case src == nil:
		v := fixedValues[T](srcs[0])
		var zero T
		for i, j := range idx[:len(out)] {
			if j >= 0 {
				out[i] = v[j]
			} else {
				out[i] = zero
			}
		}
	default:
		vals := make([][]T, len(srcs))
		step := constSteps(srcs, n)
		for k, a := range srcs {
			vals[k] = fixedValues[T](a)
		}
		src = src[:len(out)]
		for i := range out {
			k := src[i]
			out[i] = vals[k][i*step[k]]
		}
	}
	return makeArray(dt, n, nulls, valid, buf)
}

// offsetsOf returns the n+1 value offsets of a string or binary array.
func offsetsOf(a arrow.Array) []int32 {
	d := a.Data()
	b := d.Buffers()[1]
	if b == nil {
		return []int32{0}
	}
	return int32s(b.Bytes())[d.Offset() : d.Offset()+d.Len()+1]
}

// dataOf returns the value bytes buffer of a string or binary array.
func dataOf(a arrow.Array) []byte {
	b := a.Data().Buffers()[2]
	if b == nil {
		return nil
	}
	return b.Bytes()
}

func gatherBinary(alloc memory.Allocator, dt arrow.DataType, srcs []arrow.Array, src []uint8, idx []int32, n, nulls int, valid *memory.Buffer) arrow.Array {
	if src == nil {
		if out := takeBinaryRuns(alloc, dt, srcs[0], idx[:n], nulls, valid); out != nil {
			return out
		}
	}
	offs := make([][]int32, len(srcs))
	data := make([][]byte, len(srcs))
	for k, a := range srcs {
		offs[k], data[k] = offsetsOf(a), dataOf(a)
	}
	var step []int
	if src != nil {
		step = constSteps(srcs, n)
	}
	// row returns the source and row of output row i, or -1.
	row := func(i int) (int, int) {
		if src == nil {
			return 0, int(idx[i])
		}
		k := int(src[i])
		return k, i * step[k]
	}
	total := 0
	for i := 0; i < n; i++ {
		if k, j := row(i); j >= 0 {
			total += int(offs[k][j+1] - offs[k][j])
		}
	}
	obuf, o := newFixed[int32](alloc, n+1)
	dbuf := memory.NewResizableBuffer(alloc)
	dbuf.Resize(total)
	d := dbuf.Bytes()
	pos := 0
	for i := 0; i < n; i++ {
		o[i] = int32(pos)
		if k, j := row(i); j >= 0 {
			pos += copyShort(d[pos:], data[k][offs[k][j]:offs[k][j+1]])
		}
	}
	o[n] = int32(pos)
	return makeArray(dt, n, nulls, valid, obuf, dbuf)
}

// takeBinaryRuns is gatherBinary of the rows idx of one array when no
// index is negative (a filter's take): a run of consecutive rows is
// copied in one piece, its offsets shifted. Nil when an index is
// negative.
func takeBinaryRuns(alloc memory.Allocator, dt arrow.DataType, a arrow.Array, idx []int32, nulls int, valid *memory.Buffer) arrow.Array {
	offs, data := offsetsOf(a), dataOf(a)
	n := len(idx)
	total := 0
	for i := 0; i < n; {
		j := idx[i]
		if j < 0 {
			return nil
		}
		k := i + 1
		for k < n && idx[k] == idx[k-1]+1 {
			k++
		}
		total += int(offs[idx[k-1]+1] - offs[j])
		i = k
	}
	obuf, o := newFixed[int32](alloc, n+1)
	dbuf, d := newFixed[byte](alloc, total)
	pos := int32(0)
	for i := 0; i < n; {
		j := idx[i]
		k := i + 1
		for k < n && idx[k] == idx[k-1]+1 {
			k++
		}
		base := offs[j]
		shift := pos - base
		for r, x := range offs[j : j+int32(k-i)] {
			o[i+r] = x + shift
		}
		end := offs[idx[k-1]+1]
		pos += int32(copy(d[pos:], data[base:end]))
		i = k
	}
	o[n] = pos
	return makeArray(dt, n, nulls, valid, obuf, dbuf)
}

// evalOn evaluates ev over only the rows of rec selected by mask (a bitmap
// of rec.NumRows() bits at offset 0); the other rows of the result are
// NULL. It is the fallback of conditional evaluation after ev failed with
// err over the whole batch: when every row is selected, err stands.
//
// s is the Shared ev was compiled with (or nil): when rec is the batch
// whose unread columns s.Filter dropped, the rows are taken from the
// batch with all its columns, as ev reevaluates over them.
func evalOn(ev Evaluator, rec arrow.Record, mask []byte, err error, alloc memory.Allocator, s *Shared) (arrow.Array, error) {
	n := int(rec.NumRows())
	cnt := popcount(mask, n)
	if cnt == n {
		return nil, err
	}
	if cnt == 0 {
		return allNull(alloc, ev.Type().Arrow(), n), nil
	}
	mbuf, m := newBitmap(alloc, n)
	copy(m, mask)
	marr := makeArray(arrow.FixedWidthTypes.Boolean, n, 0, nil, mbuf).(*array.Boolean)
	defer marr.Release()
	full, err := s.whole(rec, alloc)
	if err != nil {
		return nil, err
	}
	sub, err := Filter(full, marr, alloc)
	if err != nil {
		return nil, err
	}
	defer sub.Release()
	res, err := ev.Eval(sub)
	if err != nil {
		return nil, err
	}
	defer res.Release()
	ibuf, idx := newFixed[int32](alloc, n)
	defer ibuf.Release()
	k := int32(0)
	for i := range idx {
		if bitIsSet(mask, i) {
			idx[i] = k
			k++
		} else {
			idx[i] = -1
		}
	}
	return gather(alloc, res.DataType(), []arrow.Array{res}, nil, idx, n)
}
