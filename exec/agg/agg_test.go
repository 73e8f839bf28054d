package agg

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// value is one argument value of the tests: NULL, or a number (an
// integer, a float, or a decimal's unscaled value), or a string.
type value struct {
	null bool
	i    int64
	f    float64
	s    string
}

// gen draws values of a type from a small domain, so that values repeat
// (DISTINCT, equal minimums) and NULLs occur.
func gen(r *rand.Rand, t types.Type) value {
	if r.IntN(8) == 0 {
		return value{null: true}
	}
	switch t.Kind {
	case types.Double:
		return value{f: float64(r.IntN(41)-20) / 4}
	case types.String:
		return value{s: strings.Repeat("ab"[r.IntN(2):][:1], r.IntN(3)) + strconv.Itoa(r.IntN(5))}
	}
	return value{i: int64(r.IntN(41) - 20)}
}

// column builds the Arrow column of vals.
func column(t types.Type, vals []value) arrow.Array {
	b := array.NewBuilder(memory.DefaultAllocator, t.Arrow())
	defer b.Release()
	for _, v := range vals {
		if v.null {
			b.AppendNull()
			continue
		}
		switch b := b.(type) {
		case *array.Int32Builder:
			b.Append(int32(v.i))
		case *array.Int64Builder:
			b.Append(v.i)
		case *array.TimestampBuilder:
			b.Append(arrow.Timestamp(v.i))
		case *array.Float64Builder:
			b.Append(v.f)
		case *array.Decimal128Builder:
			b.Append(decimal128.FromI64(v.i))
		case *array.StringBuilder:
			b.Append(v.s)
		}
	}
	return b.NewArray()
}

// resultType is the planner's result type of call over an argument of
// type t (planner/aggregate.go).
func resultType(f plan.AggFunc, t types.Type) types.Type {
	switch f {
	case plan.CountStar, plan.Count:
		return types.BigIntType.WithNotNull(true)
	case plan.Min, plan.Max:
		return t.Nullable()
	}
	switch t.Kind {
	case types.Int, types.BigInt:
		if f == plan.Sum {
			return types.BigIntType
		}
		return t.Nullable()
	case types.Double:
		return types.DoubleType
	case types.Decimal:
		if f == plan.Avg {
			return types.DecimalType(38, max(6, t.Scale))
		}
		return types.DecimalType(38, t.Scale)
	}
	return t
}

// reference computes the result of call from the rows that survive (each
// a value, NULL included), the way SQL defines it, and appends it to b.
func reference(b array.Builder, f plan.AggFunc, distinct bool, t types.Type, rows []value) {
	var vals []value
	for _, v := range rows {
		if !v.null {
			vals = append(vals, v)
		}
	}
	if distinct {
		var d []value
		for _, v := range vals {
			if !slices.Contains(d, v) {
				d = append(d, v)
			}
		}
		vals = d
	}
	switch f {
	case plan.CountStar:
		b.(*array.Int64Builder).Append(int64(len(rows)))
		return
	case plan.Count:
		b.(*array.Int64Builder).Append(int64(len(vals)))
		return
	}
	if len(vals) == 0 {
		b.AppendNull()
		return
	}
	switch f {
	case plan.Min, plan.Max:
		best := vals[0]
		for _, v := range vals[1:] {
			var c int
			switch t.Kind {
			case types.Double:
				c = cmpF(v.f, best.f)
			case types.String:
				c = strings.Compare(v.s, best.s)
			default:
				c = cmpF(float64(v.i), float64(best.i))
			}
			if f == plan.Max && c > 0 || f == plan.Min && c < 0 {
				best = v
			}
		}
		appendValue(b, best)
		return
	}
	// SUM, AVG.
	if t.Kind == types.Double {
		slices.SortFunc(vals, func(x, y value) int { return cmpF(x.f, y.f) })
		var sum float64
		for _, v := range vals {
			sum += v.f
		}
		if f == plan.Avg {
			sum /= float64(len(vals))
		}
		b.(*array.Float64Builder).Append(sum)
		return
	}
	sum := new(big.Int)
	for _, v := range vals {
		sum.Add(sum, big.NewInt(v.i))
	}
	if f == plan.Sum {
		switch b := b.(type) {
		case *array.Int64Builder:
			b.Append(sum.Int64())
		case *array.Decimal128Builder:
			b.Append(decimal128.FromBigInt(sum))
		}
		return
	}
	n := big.NewInt(int64(len(vals)))
	switch b := b.(type) {
	case *array.Int64Builder:
		b.Append(new(big.Int).Quo(sum, n).Int64())
	case *array.Int32Builder:
		b.Append(int32(new(big.Int).Quo(sum, n).Int64()))
	case *array.Decimal128Builder:
		// sum is at scale t.Scale; the result at scale max(6, s), half up.
		out := b.Type().(*arrow.Decimal128Type).Scale
		r := new(big.Rat).SetFrac(sum, n)
		r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(out)-int64(t.Scale)), nil)))
		neg := r.Sign() < 0
		r.Abs(r)
		r.Add(r, big.NewRat(1, 2))
		q := new(big.Int).Quo(r.Num(), r.Denom())
		if neg {
			q.Neg(q)
		}
		b.Append(decimal128.FromBigInt(q))
	}
}

func cmpF(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func appendValue(b array.Builder, v value) {
	switch b := b.(type) {
	case *array.Int32Builder:
		b.Append(int32(v.i))
	case *array.Int64Builder:
		b.Append(v.i)
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v.i))
	case *array.Float64Builder:
		b.Append(v.f)
	case *array.Decimal128Builder:
		b.Append(decimal128.FromI64(v.i))
	case *array.StringBuilder:
		b.Append(v.s)
	}
}

// results renders slot results of an accumulator (or the reference) as
// text, one per slot.
func render(t types.Type, appendAll func(b array.Builder)) []string {
	b := array.NewBuilder(memory.DefaultAllocator, t.Arrow())
	defer b.Release()
	appendAll(b)
	a := b.NewArray()
	defer a.Release()
	out := make([]string, a.Len())
	for i := range out {
		out[i] = a.ValueStr(i)
	}
	return out
}

// sameResults compares results, floats up to rounding (a retracting float
// sum is not exact).
func sameResults(t types.Type, got, want []string) bool {
	if t.Kind != types.Double {
		return slices.Equal(got, want)
	}
	for i := range got {
		g, err1 := strconv.ParseFloat(got[i], 64)
		w, err2 := strconv.ParseFloat(want[i], 64)
		if (err1 == nil) != (err2 == nil) || got[i] == "(null)" != (want[i] == "(null)") {
			return false
		}
		if err1 == nil && math.Abs(g-w) > 1e-9*max(1, math.Abs(w)) {
			return false
		}
	}
	return true
}

type aggCase struct {
	f        plan.AggFunc
	distinct bool
}

func (c aggCase) String() string {
	d := ""
	if c.distinct {
		d = " DISTINCT"
	}
	return c.f.String() + d
}

// TestRandomRetraction is the differential test: random sequences of
// insertions and retractions (-D, -U and +U rows) over several slots, for
// every aggregate and argument type, compared after every batch with the
// result recomputed from the rows that survive; every few batches the
// state is encoded, decoded into a fresh accumulator that carries on in
// place of the first, and encodes to the same bytes.
func TestRandomRetraction(t *testing.T) {
	argTypes := []types.Type{types.IntType, types.BigIntType, types.DoubleType, types.DecimalType(10, 2), types.StringType, types.TimestampType}
	for _, at := range argTypes {
		var cases []aggCase
		numeric := at.IsNumeric()
		for _, c := range []aggCase{{plan.CountStar, false}, {plan.Count, false}, {plan.Count, true}, {plan.Min, false}, {plan.Max, false},
			{plan.Sum, false}, {plan.Avg, false}, {plan.Sum, true}} {
			if (c.f == plan.Sum || c.f == plan.Avg) && !numeric {
				continue
			}
			cases = append(cases, c)
		}
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s(%s)", c, at), func(t *testing.T) {
				for seed := range uint64(20) {
					runRandom(t, c, at, seed)
				}
			})
		}
	}
}

func runRandom(t *testing.T, c aggCase, at types.Type, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 12))
	in := types.Schema{Fields: []types.Field{{Name: "x", Type: at}}}
	f := c.f
	call := plan.AggCall{Func: f, Arg: 0, Distinct: c.distinct, Filter: -1, T: resultType(f, at)}
	if f == plan.CountStar {
		call.Arg = -1
	}
	acc, err := New(call, in)
	if err != nil {
		t.Fatal(err)
	}
	const slots = 3
	acc.Grow(slots)
	live := make([][]value, slots) // the surviving rows of each slot
	var scratch []int32
	for step := range 40 {
		// A batch of up to 12 rows: inserts, and retractions (-D, or an
		// update's -U and +U) of surviving rows.
		var vals []value
		var kinds []types.RowKind
		var ss []int32
		pending := make([][]value, slots) // retracted in this batch
		for range r.IntN(12) + 1 {
			s := int32(r.IntN(slots))
			if r.IntN(10) == 0 {
				vals, kinds, ss = append(vals, gen(r, at)), append(kinds, types.Insert), append(ss, -1) // not this operator's
				continue
			}
			avail := len(live[s]) - len(pending[s])
			if avail > 0 && r.IntN(5) < 2 {
				// Retract a surviving row not yet retracted in this batch.
				var v value
				for {
					v = live[s][r.IntN(len(live[s]))]
					if countOf(live[s], v) > countOf(pending[s], v) {
						break
					}
				}
				pending[s] = append(pending[s], v)
				k := types.Delete
				if r.IntN(2) == 0 {
					k = types.UpdateBefore
				}
				vals, kinds, ss = append(vals, v), append(kinds, k), append(ss, s)
				if k == types.UpdateBefore {
					nv := gen(r, at)
					vals, kinds, ss = append(vals, nv), append(kinds, types.UpdateAfter), append(ss, s)
					live[s] = append(live[s], nv)
				}
				continue
			}
			v := gen(r, at)
			vals, kinds, ss = append(vals, v), append(kinds, types.Insert), append(ss, s)
			live[s] = append(live[s], v)
		}
		for s := range live {
			for _, v := range pending[s] {
				i := slices.Index(live[s], v)
				live[s] = slices.Delete(live[s], i, i+1)
			}
		}
		col := column(at, vals)
		rec := array.NewRecord(in.Arrow(), []arrow.Array{col}, int64(len(vals)))
		col.Release()
		k := exec.NewRowKinds(memory.DefaultAllocator, kinds)
		withKinds := exec.WithRowKinds(rec, k)
		rec.Release()
		k.Release()
		if err := Update(acc, withKinds, ss, exec.RowKinds(withKinds), &scratch); err != nil {
			t.Fatalf("seed %d step %d: %v", seed, step, err)
		}
		withKinds.Release()

		got := render(call.T, func(b array.Builder) {
			for s := range int32(slots) {
				acc.AppendResult(b, s)
			}
		})
		want := render(call.T, func(b array.Builder) {
			for s := range slots {
				reference(b, f, c.distinct, at, live[s])
			}
		})
		if !sameResults(call.T, got, want) {
			t.Fatalf("seed %d step %d: got %v, want %v (rows %v)", seed, step, got, want, live)
		}

		if step%7 == 6 {
			fresh, _ := New(call, in)
			fresh.Grow(slots)
			for s := range int32(slots) {
				enc := acc.Encode(nil, s)
				rest, err := fresh.Decode(append(enc, 0xEE), s)
				if err != nil || len(rest) != 1 || rest[0] != 0xEE {
					t.Fatalf("seed %d step %d: decode: %v, rest %x", seed, step, err, rest)
				}
				if again := fresh.Encode(nil, s); string(again) != string(enc) {
					t.Fatalf("seed %d step %d: re-encoding differs:\n%x\n%x", seed, step, enc, again)
				}
				if _, err := fresh.Decode(enc[:len(enc)-1], s); err == nil {
					t.Fatalf("seed %d step %d: a truncated state %x decoded", seed, step, enc[:len(enc)-1])
				}
				if _, err := fresh.Decode(enc, s); err != nil {
					t.Fatal(err)
				}
			}
			acc = fresh
		}
	}
}

func countOf(vs []value, v value) int {
	n := 0
	for _, x := range vs {
		if x == v {
			n++
		}
	}
	return n
}

// TestOverflow: a SUM that leaves BIGINT (or 38 decimal digits) is an
// error wrapping expr.ErrOverflow, not a wrapped-around result.
func TestOverflow(t *testing.T) {
	in := types.Schema{Fields: []types.Field{{Name: "x", Type: types.BigIntType}}}
	for _, call := range []plan.AggCall{
		{Func: plan.Sum, Arg: 0, T: types.BigIntType},
		{Func: plan.Avg, Arg: 0, T: types.BigIntType},
		{Func: plan.Sum, Arg: 0, Distinct: true, T: types.BigIntType},
	} {
		acc, err := New(call, in)
		if err != nil {
			t.Fatal(err)
		}
		acc.Grow(1)
		b := array.NewInt64Builder(memory.DefaultAllocator)
		b.AppendValues([]int64{math.MaxInt64, 1}, nil)
		col := b.NewArray()
		b.Release()
		rec := array.NewRecord(in.Arrow(), []arrow.Array{col}, 2)
		col.Release()
		err = acc.Add(rec, []int32{0, 0})
		rec.Release()
		if err == nil || !strings.Contains(err.Error(), "numeric overflow") || !strings.Contains(err.Error(), "does not fit BIGINT") {
			t.Errorf("%s: %v", call, err)
		}
	}
	dec := types.Schema{Fields: []types.Field{{Name: "x", Type: types.DecimalType(38, 0)}}}
	acc, _ := New(plan.AggCall{Func: plan.Sum, Arg: 0, T: types.DecimalType(38, 0)}, dec)
	acc.Grow(1)
	b := array.NewDecimal128Builder(memory.DefaultAllocator, &arrow.Decimal128Type{Precision: 38, Scale: 0})
	b.Append(maxDecimal38)
	b.Append(decimal128.FromI64(1))
	col := b.NewArray()
	b.Release()
	rec := array.NewRecord(dec.Arrow(), []arrow.Array{col}, 2)
	col.Release()
	defer rec.Release()
	if err := acc.Add(rec, []int32{0, 0}); err == nil || !strings.Contains(err.Error(), "does not fit DECIMAL(38, 0)") {
		t.Errorf("decimal SUM: %v", err)
	}
}

// TestRetractBeforeAdd: a retraction of a value never added is held as a
// negative count (a changelog that starts mid-stream) and cancels the
// addition that follows, as in Flink; it is in no result meanwhile.
func TestRetractBeforeAdd(t *testing.T) {
	in := types.Schema{Fields: []types.Field{{Name: "x", Type: types.BigIntType}}}
	batch := func(v int64) arrow.Record {
		b := array.NewInt64Builder(memory.DefaultAllocator)
		b.Append(v)
		col := b.NewArray()
		b.Release()
		defer col.Release()
		return array.NewRecord(in.Arrow(), []arrow.Array{col}, 1)
	}
	five, seven := batch(5), batch(7)
	defer five.Release()
	defer seven.Release()
	for _, call := range []plan.AggCall{
		{Func: plan.Min, Arg: 0, T: types.BigIntType},
		{Func: plan.Count, Arg: 0, Distinct: true, T: types.BigIntType},
	} {
		acc, _ := New(call, in)
		acc.Grow(1)
		res := func() string {
			return render(call.T, func(b array.Builder) { acc.AppendResult(b, 0) })[0]
		}
		must := func(err error) {
			if err != nil {
				t.Fatal(err)
			}
		}
		must(acc.Retract(five, []int32{0}))
		must(acc.Add(seven, []int32{0}))
		first := res()
		must(acc.Add(five, []int32{0})) // cancels the early retraction
		second := res()
		want := map[plan.AggFunc][2]string{plan.Min: {"7", "7"}, plan.Count: {"1", "1"}}[call.Func]
		if first != want[0] || second != want[1] {
			t.Errorf("%s: %s then %s, want %v", call, first, second, want)
		}
		// The state keeps the negative count through a round trip.
		acc2, _ := New(call, in)
		acc2.Grow(1)
		acc3, _ := New(call, in)
		acc3.Grow(1)
		must(acc3.Retract(five, []int32{0}))
		if _, err := acc2.Decode(acc3.Encode(nil, 0), 0); err != nil {
			t.Fatal(err)
		}
		must(acc2.Add(five, []int32{0}))
		if got := render(call.T, func(b array.Builder) { acc2.AppendResult(b, 0) })[0]; got != map[plan.AggFunc]string{plan.Min: "(null)", plan.Count: "0"}[call.Func] {
			t.Errorf("%s after decode: %s", call, got)
		}
	}
}

func TestNewErrors(t *testing.T) {
	in := types.Schema{Fields: []types.Field{{Name: "s", Type: types.StringType}, {Name: "x", Type: types.BigIntType}}}
	for call, want := range map[plan.AggCall]string{
		{Func: plan.Sum, Arg: 0}:                 "cannot sum STRING",
		{Func: plan.Avg, Arg: 0, Distinct: true}: "cannot sum STRING",
		{Func: plan.Min, Arg: 5}:                 "argument column #5 out of range",
	} {
		if _, err := New(call, in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", call, err, want)
		}
	}
	acc, _ := New(plan.AggCall{Func: plan.Max, Arg: 0}, in)
	acc.Grow(1)
	for _, bad := range [][]byte{nil, {5}, {1, 3, 'a', 'b'}, {1, 1, 'a', 0}} {
		if _, err := acc.Decode(bad, 0); err != ErrCorrupt {
			t.Errorf("Decode(%x) = %v", bad, err)
		}
	}
}

// TestAddDoesNotAllocate: folding a batch into COUNT, SUM and AVG
// allocates nothing per row (the multisets of MIN, MAX and DISTINCT
// allocate only for values new to a slot).
func TestAddDoesNotAllocate(t *testing.T) {
	in := types.Schema{Fields: []types.Field{{Name: "x", Type: types.BigIntType}, {Name: "d", Type: types.DecimalType(10, 2)}, {Name: "f", Type: types.DoubleType}}}
	b := array.NewRecordBuilder(memory.DefaultAllocator, in.Arrow())
	slots := make([]int32, 1024)
	for i := range slots {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(i)))
		b.Field(2).(*array.Float64Builder).Append(float64(i))
		slots[i] = int32(i % 16)
	}
	rec := b.NewRecord()
	b.Release()
	defer rec.Release()
	for _, call := range []plan.AggCall{
		{Func: plan.CountStar, Arg: -1}, {Func: plan.Sum, Arg: 0}, {Func: plan.Avg, Arg: 1}, {Func: plan.Sum, Arg: 2},
		{Func: plan.Min, Arg: 0}, {Func: plan.Count, Arg: 0, Distinct: true},
	} {
		acc, _ := New(call, in)
		acc.Grow(16)
		if err := acc.Add(rec, slots); err != nil { // the multisets meet their values
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(20, func() {
			_ = acc.Add(rec, slots)
			_ = acc.Retract(rec, slots)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per batch", call, allocs)
		}
	}
}
