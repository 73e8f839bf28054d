package exec

import (
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec/expr"
	"github.com/streamsql/streamsql/types"
)

func rowKindTestRecord(t *testing.T, alloc memory.Allocator, vals ...int64) arrow.Record {
	t.Helper()
	b := array.NewInt64Builder(alloc)
	defer b.Release()
	b.AppendValues(vals, nil)
	a := b.NewArray()
	defer a.Release()
	sc := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	return array.NewRecord(sc, []arrow.Array{a}, int64(len(vals)))
}

func TestRowKindsRoundTrip(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)

	rec := rowKindTestRecord(t, alloc, 1, 2, 3, 4)
	defer rec.Release()
	if RowKinds(rec) != nil || DataColumns(rec) != 1 {
		t.Fatalf("plain record: RowKinds %v, DataColumns %d", RowKinds(rec), DataColumns(rec))
	}
	kinds := NewRowKinds(alloc, []types.RowKind{types.Insert, types.UpdateBefore, types.UpdateAfter, types.Delete})
	defer kinds.Release()

	with := WithRowKinds(rec, kinds)
	defer with.Release()
	if with.NumCols() != 2 || DataColumns(with) != 1 || with.ColumnName(1) != RowKindColumn {
		t.Fatalf("with kinds: %d columns, %d data, last %q", with.NumCols(), DataColumns(with), with.ColumnName(int(with.NumCols())-1))
	}
	var got []string
	k := RowKinds(with)
	for i := 0; i < int(with.NumRows()); i++ {
		got = append(got, RowKindAt(k, i).String())
	}
	if s := strings.Join(got, " "); s != "+I -U +U -D" {
		t.Fatalf("kinds = %s", s)
	}
	if RowKindAt(nil, 3) != types.Insert {
		t.Fatal("RowKindAt(nil) is not an insert")
	}

	// Replacing the kinds keeps one kind column.
	again := WithRowKinds(with, kinds)
	defer again.Release()
	if again.NumCols() != 2 {
		t.Fatalf("re-adding kinds gives %d columns", again.NumCols())
	}

	// A filter selects the kinds with their rows.
	mb := array.NewBooleanBuilder(alloc)
	mb.AppendValues([]bool{false, true, false, true}, nil)
	mask := mb.NewBooleanArray()
	mb.Release()
	defer mask.Release()
	filtered, err := expr.Filter(with, mask, alloc)
	if err != nil {
		t.Fatal(err)
	}
	defer filtered.Release()
	fk := RowKinds(filtered)
	if fk == nil || fk.Len() != 2 || RowKindAt(fk, 0) != types.UpdateBefore || RowKindAt(fk, 1) != types.Delete {
		t.Fatalf("filtered kinds = %v", fk)
	}
	if x := filtered.Column(0).(*array.Int64); x.Value(0) != 2 || x.Value(1) != 4 {
		t.Fatalf("filtered data = %v", x)
	}

	without := WithoutRowKinds(with)
	defer without.Release()
	if without.NumCols() != 1 || RowKinds(without) != nil {
		t.Fatalf("without kinds: %d columns", without.NumCols())
	}
	viaNil := WithRowKinds(with, nil)
	defer viaNil.Release()
	if viaNil.NumCols() != 1 {
		t.Fatalf("WithRowKinds(nil) kept %d columns", viaNil.NumCols())
	}

	if err := CheckInsertOnly("sink \"s\"", rec); err != nil {
		t.Fatal(err)
	}
	err = CheckInsertOnly(`sink "s"`, with)
	if err == nil || !strings.Contains(err.Error(), `sink "s" accepts only inserts, got a -U row`) {
		t.Fatalf("CheckInsertOnly = %v", err)
	}
}

// TestRowKindsFreeWhenAbsent pins that append-only batches pay nothing: no
// allocation and the same record back.
func TestRowKindsFreeWhenAbsent(t *testing.T) {
	rec := rowKindTestRecord(t, memory.NewGoAllocator(), 1, 2, 3)
	defer rec.Release()
	allocs := testing.AllocsPerRun(100, func() {
		if RowKinds(rec) != nil || DataColumns(rec) != 1 {
			t.Fatal("kinds on a plain record")
		}
		r := WithRowKinds(rec, nil)
		if r != rec {
			t.Fatal("WithRowKinds(nil) copied")
		}
		r.Release()
		r = WithoutRowKinds(rec)
		if r != rec {
			t.Fatal("WithoutRowKinds copied")
		}
		r.Release()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run on an append-only batch", allocs)
	}
}
