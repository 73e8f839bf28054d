package expr

import (
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

func oneColumn(mem memory.Allocator, vals []int64, valid []bool) (types.Schema, arrow.Record) {
	schema := types.Schema{Fields: []types.Field{{Name: "a", Type: types.BigIntType}}}
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(vals, valid)
	col := b.NewArray()
	return schema, Project(schema.Arrow(), []arrow.Array{col}, int64(len(vals)))
}

func TestCompileErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := types.Schema{Fields: []types.Field{{Name: "a", Type: types.BigIntType}}}
	for _, tc := range []struct {
		e    plan.Expr
		want string
	}{
		{&plan.Call{Func: "NOPE", T: types.BigIntType}, `unknown function "NOPE"`},
		{&plan.ColumnRef{Index: 3, Name: "x", T: types.BigIntType}, "out of range"},
		{&plan.ColumnRef{Index: 0, Name: "a", T: types.StringType}, "has type STRING"},
		{&plan.Literal{Value: "x", T: types.BigIntType}, "not a valid BIGINT"},
		{&plan.Cast{Arg: &plan.ColumnRef{Index: 0, Name: "a", T: types.BigIntType}, T: types.IntervalType.WithNotNull(false)}, ""},
	} {
		_, err := Compile(tc.e, schema, mem)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.e, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want %q", tc.e, err, tc.want)
		}
	}
}

func TestColumnTypeChecked(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	_, rec := oneColumn(mem, []int64{1}, nil)
	defer rec.Release()
	strSchema := types.Schema{Fields: []types.Field{{Name: "a", Type: types.StringType}}}
	ev, err := Compile(&plan.ColumnRef{Index: 0, Name: "a", T: types.StringType}, strSchema, mem)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Eval(rec); err == nil {
		t.Fatal("evaluating a STRING column over an int64 array succeeded")
	}
}

func TestFilterMaskLength(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	_, rec := oneColumn(mem, []int64{1, 2}, nil)
	defer rec.Release()
	b := array.NewBooleanBuilder(mem)
	defer b.Release()
	b.Append(true)
	m := b.NewBooleanArray()
	defer m.Release()
	if _, err := Filter(rec, m, mem); err == nil {
		t.Fatal("Filter with a short mask succeeded")
	}
}

// TestConcurrentEval runs one evaluator (with a cached literal) from many
// goroutines over batches of different lengths.
func TestConcurrentEval(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := types.Schema{Fields: []types.Field{{Name: "a", Type: types.BigIntType}}}
	e, err := parseExprText("(CASE (> a 5) (+ a 100) (- a 1))", schema)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := Compile(e, schema, mem)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for it := 0; it < 200; it++ {
				n := 1 + (g*7+it)%20
				vals := make([]int64, n)
				for i := range vals {
					vals[i] = int64(i)
				}
				_, rec := oneColumn(mem, vals, nil)
				out, err := ev.Eval(rec)
				if err != nil {
					t.Error(err)
					rec.Release()
					return
				}
				got := out.(*array.Int64)
				for i := 0; i < n; i++ {
					want := int64(i) - 1
					if i > 5 {
						want = int64(i) + 100
					}
					if got.Value(i) != want {
						t.Errorf("row %d = %d, want %d", i, got.Value(i), want)
					}
				}
				out.Release()
				rec.Release()
			}
		}(g)
	}
	wg.Wait()
}
