package expr

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Take returns the rows idx of rec, in that order (an index may repeat, to
// replicate a row); the caller releases the result.
func Take(rec arrow.Record, idx []int32, alloc memory.Allocator) (arrow.Record, error) {
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	n := int32(rec.NumRows())
	for _, i := range idx {
		if i < 0 || i >= n {
			return nil, fmt.Errorf("expr: take row %d of a batch of %d", i, n)
		}
	}
	cols := make([]arrow.Array, rec.NumCols())
	for c := range cols {
		a, err := take(alloc, rec.Column(c), idx)
		if err != nil {
			release(cols[:c]...)
			return nil, fmt.Errorf("expr: take column %q: %w", rec.ColumnName(c), err)
		}
		cols[c] = a
	}
	return Project(rec.Schema(), cols, int64(len(idx))), nil
}
