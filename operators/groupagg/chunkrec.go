package groupagg

import (
	"encoding/json"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// rowRange is rows [lo, hi) of a record as an arrow.Record whose columns
// are sliced when first read: a chunk folds only the columns its
// aggregates and FILTERs read, and a chunk of one row (a hot key without
// mini-batch) must not cost a sliced record of every column.
//
// The operator owns it and reuses it chunk after chunk: Retain and Release
// do nothing, and its readers (the accumulators) keep no column past the
// call they are given it in.
type rowRange struct {
	rec    arrow.Record
	lo, hi int64
	cols   []arrow.Array
}

var _ arrow.Record = (*rowRange)(nil)

// set makes r rows [lo, hi) of rec, dropping the columns sliced before.
func (r *rowRange) set(rec arrow.Record, lo, hi int64) {
	r.clear()
	r.rec, r.lo, r.hi = rec, lo, hi
	if n := int(rec.NumCols()); cap(r.cols) < n {
		r.cols = make([]arrow.Array, n)
	} else {
		r.cols = r.cols[:n]
	}
}

// clear releases the sliced columns.
func (r *rowRange) clear() {
	for i, c := range r.cols {
		if c != nil {
			c.Release()
			r.cols[i] = nil
		}
	}
	r.rec = nil
}

func (r *rowRange) Release()                         {}
func (r *rowRange) Retain()                          {}
func (r *rowRange) Schema() *arrow.Schema            { return r.rec.Schema() }
func (r *rowRange) NumRows() int64                   { return r.hi - r.lo }
func (r *rowRange) NumCols() int64                   { return r.rec.NumCols() }
func (r *rowRange) ColumnName(i int) string          { return r.rec.ColumnName(i) }
func (r *rowRange) NewSlice(i, j int64) arrow.Record { return r.rec.NewSlice(r.lo+i, r.lo+j) }

// Column returns column i of the rows, sliced on its first read.
func (r *rowRange) Column(i int) arrow.Array {
	if r.cols[i] == nil {
		r.cols[i] = array.NewSlice(r.rec.Column(i), r.lo, r.hi)
	}
	return r.cols[i]
}

func (r *rowRange) Columns() []arrow.Array {
	for i := range r.cols {
		r.Column(i)
	}
	return r.cols
}

// SetColumn returns a new record: the rows with column i replaced.
func (r *rowRange) SetColumn(i int, col arrow.Array) (arrow.Record, error) {
	s := r.rec.NewSlice(r.lo, r.hi)
	defer s.Release()
	return s.SetColumn(i, col)
}

func (r *rowRange) MarshalJSON() ([]byte, error) {
	s := r.rec.NewSlice(r.lo, r.hi)
	defer s.Release()
	return json.Marshal(s)
}
