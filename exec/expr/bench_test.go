package expr

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

const benchRows = 4096

// benchBatch is a batch of 4096 rows: a, b BIGINT (b never 0), p, q
// BOOLEAN, s STRING; every column has ~5% NULLs.
func benchBatch(mem memory.Allocator) (types.Schema, arrow.Record) {
	schema := types.Schema{Fields: []types.Field{
		{Name: "a", Type: types.BigIntType}, {Name: "b", Type: types.BigIntType},
		{Name: "p", Type: types.BooleanType}, {Name: "q", Type: types.BooleanType},
		{Name: "s", Type: types.StringType},
	}}
	rb := array.NewRecordBuilder(mem, schema.Arrow())
	defer rb.Release()
	r := rand.New(rand.NewSource(1))
	words := []string{"apple", "banana", "cherry pie", "grabcde", "xyzabcxyz", "kiwi"}
	for i := 0; i < benchRows; i++ {
		null := r.Intn(20) == 0
		if null {
			rb.Field(0).AppendNull()
		} else {
			rb.Field(0).(*array.Int64Builder).Append(r.Int63n(1000))
		}
		rb.Field(1).(*array.Int64Builder).Append(r.Int63n(1000) + 1)
		rb.Field(2).(*array.BooleanBuilder).Append(r.Intn(2) == 0)
		if null {
			rb.Field(3).AppendNull()
		} else {
			rb.Field(3).(*array.BooleanBuilder).Append(r.Intn(2) == 0)
		}
		rb.Field(4).(*array.StringBuilder).Append(words[r.Intn(len(words))])
	}
	return schema, rb.NewRecord()
}

// poolAllocator recycles freed buffers by size, as a production
// allocator would; with it the benchmarks measure the kernels rather than
// the Go heap's cost of fresh 32 KiB allocations (page faults, zeroing,
// GC), which dominates int64 results with memory.NewGoAllocator.
type poolAllocator struct {
	free map[int][][]byte
}

func newPoolAllocator() *poolAllocator { return &poolAllocator{free: map[int][][]byte{}} }

func (p *poolAllocator) Allocate(size int) []byte {
	if l := p.free[size]; len(l) > 0 {
		b := l[len(l)-1]
		p.free[size] = l[:len(l)-1]
		return b
	}
	return make([]byte, size)
}

func (p *poolAllocator) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		return b[:size]
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

func (p *poolAllocator) Free(b []byte) { p.free[len(b)] = append(p.free[len(b)], b) }

func BenchmarkEval(b *testing.B) {
	for _, alloc := range []struct {
		name string
		mem  memory.Allocator
	}{{"go", memory.NewGoAllocator()}, {"pool", newPoolAllocator()}} {
		b.Run("alloc="+alloc.name, func(b *testing.B) { benchEval(b, alloc.mem) })
	}
}

func benchEval(b *testing.B, mem memory.Allocator) {
	schema, rec := benchBatch(memory.NewGoAllocator())
	defer rec.Release()
	for _, bc := range []struct{ name, expr string }{
		{"add-int64", "(+ a b)"},
		{"add-int64-const", "(+ a 1)"},
		{"div-int64", "(/ a b)"},
		{"compare", "(< a b)"},
		{"compare-const", "(> a 500)"},
		{"and", "(AND p q)"},
		{"and-compare", "(AND (> a 100) (< b 900))"},
		{"like-contains", "(LIKE s '%abc%')"},
		{"like-general", "(LIKE s '%a_c%e')"},
		{"case", "(CASE (> a 500) a (> a 100) b 0)"},
		{"cast-double", "(CAST a DOUBLE)"},
		{"is-null", "(IS_NULL a)"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e, err := parseExprText(bc.expr, schema)
			if err != nil {
				b.Fatal(err)
			}
			ev, err := Compile(e, schema, mem)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				a, err := ev.Eval(rec)
				if err != nil {
					b.Fatal(err)
				}
				a.Release()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRows, "ns/row")
		})
	}
}

func BenchmarkFilter(b *testing.B) {
	mem := memory.NewGoAllocator()
	schema, rec := benchBatch(mem)
	defer rec.Release()
	for _, sel := range []int{10, 50, 90} {
		b.Run(fmt.Sprintf("selectivity=%d%%", sel), func(b *testing.B) {
			e, _ := parseExprText(fmt.Sprintf("(< b %d)", sel*10), schema)
			ev, err := Compile(e, schema, mem)
			if err != nil {
				b.Fatal(err)
			}
			m, err := ev.Eval(rec)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Release()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out, err := Filter(rec, m.(*array.Boolean), mem)
				if err != nil {
					b.Fatal(err)
				}
				out.Release()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRows, "ns/row")
		})
	}
}

// BenchmarkCompileChain compiles a+a+…+a: the time should grow in
// proportion to the number of terms (it once printed every subexpression,
// in quadratic time).
func BenchmarkCompileChain(b *testing.B) {
	schema, _ := benchBatch(memory.NewGoAllocator())
	col := &plan.ColumnRef{Index: 0, Name: "a", T: types.BigIntType}
	for _, n := range []int{1_000, 10_000, 100_000} {
		var e plan.Expr = col
		for i := 1; i < n; i++ {
			e = &plan.Call{Func: "+", Args: []plan.Expr{e, col}, T: types.BigIntType}
		}
		b.Run(fmt.Sprintf("terms=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := Compile(e, schema, memory.NewGoAllocator()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
