package agg

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// TestAppendOnlyExtreme checks NewCallsAppendOnly's MIN and MAX (the
// running extreme alone) against NewCalls' (a multiset) over random
// append-only batches: every slot's result is equal after each batch, each
// decodes the other's encoding to the same result, and a retraction is an
// error.
func TestAppendOnlyExtreme(t *testing.T) {
	for _, at := range []types.Type{types.IntType, types.BigIntType, types.DoubleType, types.DecimalType(10, 2), types.StringType, types.TimestampType} {
		for _, f := range []plan.AggFunc{plan.Min, plan.Max} {
			t.Run(fmt.Sprintf("%s(%s)", f, at), func(t *testing.T) {
				for seed := range uint64(10) {
					runExtreme(t, f, at, seed)
				}
			})
		}
	}
}

func runExtreme(t *testing.T, f plan.AggFunc, at types.Type, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 21))
	in := types.Schema{Fields: []types.Field{{Name: "x", Type: at}}}
	calls := []plan.AggCall{{Func: f, Arg: 0, Filter: -1, T: resultType(f, at)}}
	plain, err := NewCalls(calls, in)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := NewCallsAppendOnly(calls, in)
	if err != nil {
		t.Fatal(err)
	}
	pa, fa := plain.Accumulators()[0], fast.Accumulators()[0]
	if fmt.Sprintf("%T", fa) == fmt.Sprintf("%T", pa) {
		t.Fatalf("append-only accumulator is %T, like NewCalls'", fa)
	}
	const slots = 3
	// Slots 0..2 are folded; slots 3..5 hold the other's decoded states.
	pa.Grow(2 * slots)
	fa.Grow(2 * slots)
	for step := range 30 {
		var vals []value
		var ss []int32
		for range r.IntN(10) + 1 {
			s := int32(r.IntN(slots + 1))
			if s == slots {
				s = -1 // not this operator's
			}
			vals, ss = append(vals, gen(r, at)), append(ss, s)
		}
		col := column(at, vals)
		rec := array.NewRecord(arrow.NewSchema([]arrow.Field{{Name: "x", Type: at.Arrow(), Nullable: true}}, nil), []arrow.Array{col}, int64(len(vals)))
		col.Release()
		if err := pa.Add(rec, ss); err != nil {
			t.Fatal(err)
		}
		if err := fa.Add(rec, ss); err != nil {
			t.Fatal(err)
		}
		for s := range int32(slots) {
			if _, err := pa.Decode(fa.Encode(nil, s), s+slots); err != nil {
				t.Fatalf("step %d: multiset decoding the extreme's state: %v", step, err)
			}
			if _, err := fa.Decode(pa.Encode(nil, s), s+slots); err != nil {
				t.Fatalf("step %d: extreme decoding the multiset's state: %v", step, err)
			}
		}
		want, got := results(pa, 2*slots, calls[0].T), results(fa, 2*slots, calls[0].T)
		if !bytes.Equal([]byte(want), []byte(got)) {
			t.Fatalf("seed %d step %d: slots 0..2 folded, 3..5 decoded from the other:\nmultiset %s\nextreme  %s", seed, step, want, got)
		}
		if step == 29 {
			if err := fa.Retract(rec, ss); !errors.Is(err, ErrRetractAppendOnly) && anyFolded(ss) {
				t.Fatalf("retraction: %v, want ErrRetractAppendOnly", err)
			}
		}
		rec.Release()
	}
}

// anyFolded reports whether some row of ss is folded (slot not -1).
func anyFolded(ss []int32) bool {
	for _, s := range ss {
		if s >= 0 {
			return true
		}
	}
	return false
}

// results formats the results (of type t) of slots [0, n) of a.
func results(a Accumulator, n int, t types.Type) string {
	b := array.NewBuilder(memory.DefaultAllocator, t.Arrow())
	defer b.Release()
	for s := range int32(n) {
		a.AppendResult(b, s)
	}
	arr := b.NewArray()
	defer arr.Release()
	return fmt.Sprint(arr)
}
