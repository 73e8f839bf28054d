package expr

import (
	"math"
	"math/rand"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/types"
)

// TestDecimalMulConstMatchesRows: a DECIMAL product by a constant (q1's
// 0.908 * price) computed on the integers a cast reads, in 128-bit
// arithmetic, equals the general row-by-row product: signs, the int64
// extremes, results rescaled to the plan's type, and products beyond the
// result's precision (NULL).
func TestDecimalMulConstMatchesRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := types.Schema{Fields: []types.Field{
		{Name: "a", Type: types.BigIntType}, {Name: "i", Type: types.IntType},
		{Name: "x", Type: types.DecimalType(38, 2)},
	}}
	r := rand.New(rand.NewSource(1))
	const n = 2000
	rb := array.NewRecordBuilder(mem, schema.Arrow())
	edges := []int64{0, 1, -1, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1, 999, -1000}
	for i := 0; i < n; i++ {
		if i%17 == 0 {
			rb.Field(0).AppendNull()
			rb.Field(1).AppendNull()
			rb.Field(2).AppendNull()
			continue
		}
		v := r.Int63() >> r.Intn(63)
		if r.Intn(2) == 0 {
			v = -v
		}
		if i < len(edges) {
			v = edges[i]
		}
		rb.Field(0).(*array.Int64Builder).Append(v)
		rb.Field(1).(*array.Int32Builder).Append(int32(v))
		d := dec{}
		if r.Intn(3) == 0 {
			d = decFromParts(v, uint64(r.Int63())) // beyond 64 bits
		} else {
			d = decFromParts(v>>63, uint64(v))
		}
		rb.Field(2).(*array.Decimal128Builder).Append(d)
	}
	rec := rb.NewRecord()
	rb.Release()
	defer rec.Release()
	for _, src := range []string{
		"(:: DECIMAL(23,3) (* 0.908 (CAST a DECIMAL(19,0))))",
		"(:: DECIMAL(23,3) (* (CAST a DECIMAL(19,0)) 0.908))",
		"(:: DECIMAL(23,3) (* -0.908 (CAST a DECIMAL(19,0))))",
		"(:: DECIMAL(12,3) (* 0.908 (CAST a DECIMAL(19,0))))",
		"(:: DECIMAL(21,1) (* 0.908 (CAST a DECIMAL(19,0))))",
		"(:: DECIMAL(38,0) (* 9223372036854775807 (CAST a DECIMAL(19,0))))",
		"(:: DECIMAL(14,3) (* 0.908 (CAST i DECIMAL(10,0))))",
		"(:: DECIMAL(4,0) (* 10 (CAST a DECIMAL(19,0))))",     // -1000 × 10: exactly 10^4, NULL
		"(:: DECIMAL(23,3) (* (CAST a DECIMAL(22,3)) 0.908))", // the planner's q1
		"(:: DECIMAL(26,3) (* (CAST a DECIMAL(22,3)) -0.908))",
		"(:: DECIMAL(16,3) (* (CAST i DECIMAL(13,3)) 0.908))",
		"(:: DECIMAL(38,3) (* (CAST a DECIMAL(37,18)) 0.908))",
		"(:: DECIMAL(38,4) (* 0.25 x))",
		"(:: DECIMAL(30,2) (* -3 x))",
	} {
		e, err := parseExprText(src, schema)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		ev, err := Compile(e, schema, mem)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if rl, ok := ev.(*relabel); ok {
			ev = rl.Evaluator
		}
		ar, ok := ev.(*arith)
		if !ok {
			t.Fatalf("%s compiles to %T", src, ev)
		}
		fast, used, err := ar.mulConst(rec)
		if err != nil || !used {
			t.Fatalf("%s: the constant product was not taken (%v)", src, err)
		}
		slow, err := ar.evalDecimalRows(rec)
		if err != nil {
			t.Fatal(err)
		}
		if !array.Equal(fast, slow) {
			for i := 0; i < n; i++ {
				if fast.IsNull(i) != slow.IsNull(i) || !fast.IsNull(i) && fast.(*array.Decimal128).Value(i) != slow.(*array.Decimal128).Value(i) {
					t.Fatalf("%s: row %d: got %s, want %s", src, i, fast.ValueStr(i), slow.ValueStr(i))
				}
			}
		}
		if fast.NullN() == n {
			t.Fatalf("%s: every product is NULL", src)
		}
		fast.Release()
		slow.Release()
	}
}

func decFromParts(hi int64, lo uint64) dec { return decimal128.New(hi, lo) }
