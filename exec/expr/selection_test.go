package expr

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestFilterStrings: Filter of a string column (sliced or not, with
// NULLs) by random masks, dense and sparse, keeps exactly the rows the
// mask selects, in order.
func TestFilterStrings(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewSource(1))
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	for round := 0; round < 200; round++ {
		n := 1 + r.Intn(100)
		sb := array.NewStringBuilder(mem)
		var rows []*string
		for i := 0; i < n; i++ {
			if r.Intn(10) == 0 {
				sb.AppendNull()
				rows = append(rows, nil)
				continue
			}
			v := strings.Repeat(string(rune('a'+r.Intn(26))), r.Intn(5))
			sb.Append(v)
			rows = append(rows, &v)
		}
		col := sb.NewArray()
		sb.Release()
		lo := 0
		if round%3 == 0 {
			lo = r.Intn(n)
			s := array.NewSlice(col, int64(lo), int64(n))
			col.Release()
			col, rows, n = s, rows[lo:], n-lo
		}
		dense := r.Intn(2) == 0
		mb := array.NewBooleanBuilder(mem)
		var want []*string
		for i := 0; i < n; i++ {
			keep := r.Intn(10) < 2
			if dense {
				keep = r.Intn(10) < 9
			}
			mb.Append(keep)
			if keep {
				want = append(want, rows[i])
			}
		}
		mask := mb.NewBooleanArray()
		mb.Release()
		rec := array.NewRecord(schema, []arrow.Array{col}, int64(n))
		col.Release()
		out, err := Filter(rec, mask, mem)
		if err != nil {
			t.Fatal(err)
		}
		got := out.Column(0).(*array.String)
		if got.Len() != len(want) {
			t.Fatalf("round %d: %d rows, want %d", round, got.Len(), len(want))
		}
		for i, w := range want {
			switch {
			case w == nil && !got.IsNull(i):
				t.Fatalf("round %d, row %d: %q, want NULL", round, i, got.Value(i))
			case w != nil && (got.IsNull(i) || got.Value(i) != *w):
				t.Fatalf("round %d, row %d: %q (null %v), want %q", round, i, got.Value(i), got.IsNull(i), *w)
			}
		}
		out.Release()
		rec.Release()
		mask.Release()
	}
}
