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
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// TestSharedDistinct checks the COUNT(DISTINCT x) calls that share a
// multiset (NewCalls) against the same calls unshared (New): over random
// batches of additions and retractions (some of values never added) under
// different FILTERs, every slot's results and encoded states are equal, and
// a state decoded from the unshared encoding encodes and counts alike.
func TestSharedDistinct(t *testing.T) {
	for _, at := range []types.Type{types.BigIntType, types.StringType, types.DoubleType} {
		t.Run(at.String(), func(t *testing.T) {
			for seed := range uint64(20) {
				runShared(t, at, seed)
			}
		})
	}
}

func runShared(t *testing.T, at types.Type, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 7))
	in := types.Schema{Fields: []types.Field{{Name: "x", Type: at}, {Name: "f1", Type: types.BooleanType}, {Name: "f2", Type: types.BooleanType}}}
	calls := []plan.AggCall{
		{Func: plan.Count, Arg: 0, Distinct: true, Filter: -1, T: types.BigIntType},
		{Func: plan.CountStar, Arg: -1, Filter: -1, T: types.BigIntType},
		{Func: plan.Count, Arg: 0, Distinct: true, Filter: 1, T: types.BigIntType},
		{Func: plan.Count, Arg: 0, Distinct: true, Filter: 2, T: types.BigIntType},
	}
	shared, err := NewCalls(calls, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := shared.Accumulators()[0].(interface{ Grow(int) }); !ok || len(shared.steps) != 2 {
		t.Fatalf("%d steps, want 2 (the DISTINCT calls shared)", len(shared.steps))
	}
	var plain []Accumulator
	for _, c := range calls {
		a, err := New(c, in)
		if err != nil {
			t.Fatal(err)
		}
		plain = append(plain, a)
	}
	const nslots = 4
	for _, a := range append(shared.Accumulators(), plain...) {
		a.Grow(nslots)
	}
	var added []value // values added so far, to retract some of them
	var scratch []int32
	var joint [][]int32
	for batch := range 30 {
		n := 1 + r.IntN(40)
		vals := make([]value, n)
		kinds := make([]types.RowKind, n)
		slots := make([]int32, n)
		f1, f2 := array.NewBooleanBuilder(memory.DefaultAllocator), array.NewBooleanBuilder(memory.DefaultAllocator)
		for i := range vals {
			slots[i] = int32(r.IntN(nslots+1)) - 1
			kinds[i] = types.Insert
			vals[i] = gen(r, at)
			if len(added) > 0 && r.IntN(3) == 0 {
				kinds[i] = []types.RowKind{types.UpdateBefore, types.Delete}[r.IntN(2)]
				if r.IntN(6) > 0 {
					vals[i] = added[r.IntN(len(added))]
				}
			} else {
				added = append(added, vals[i])
			}
			for _, b := range []*array.BooleanBuilder{f1, f2} {
				if r.IntN(5) == 0 {
					b.AppendNull()
				} else {
					b.Append(r.IntN(2) == 0)
				}
			}
		}
		x := column(at, vals)
		c1, c2 := f1.NewArray(), f2.NewArray()
		f1.Release()
		f2.Release()
		sch := arrow.NewSchema([]arrow.Field{{Name: "x", Type: at.Arrow(), Nullable: true}, {Name: "f1", Type: arrow.FixedWidthTypes.Boolean, Nullable: true}, {Name: "f2", Type: arrow.FixedWidthTypes.Boolean, Nullable: true}}, nil)
		data := array.NewRecord(sch, []arrow.Array{x, c1, c2}, int64(n))
		ka := exec.NewRowKinds(memory.DefaultAllocator, kinds)
		rec := exec.WithRowKinds(data, ka)
		per := make([][]int32, len(calls))
		for ci, c := range calls {
			per[ci] = slots
			if c.Filter >= 0 {
				per[ci] = filteredSlots(rec.Column(c.Filter), slots)
			}
		}
		k := exec.RowKinds(rec)
		if _, err := shared.Update(rec, per, k, &scratch, &joint); err != nil {
			t.Fatal(err)
		}
		for ci, a := range plain {
			if err := Update(a, rec, per[ci], k, &scratch); err != nil {
				t.Fatal(err)
			}
		}
		rec.Release()
		ka.Release()
		data.Release()
		x.Release()
		c1.Release()
		c2.Release()
		if batch%7 == 6 {
			s := int32(r.IntN(nslots))
			for ci := range calls {
				shared.Accumulators()[ci].Reset(s)
				plain[ci].Reset(s)
			}
		}
		for s := range int32(nslots) {
			for ci := range calls {
				where := fmt.Sprintf("seed %d, batch %d, slot %d, call %d", seed, batch, s, ci)
				got, want := result(shared.Accumulators()[ci], s), result(plain[ci], s)
				if got != want {
					t.Fatalf("%s: result %s, want %s", where, got, want)
				}
				enc := plain[ci].Encode(nil, s)
				if got := shared.Accumulators()[ci].Encode(nil, s); !bytes.Equal(got, enc) {
					t.Fatalf("%s: encoding %x, want %x", where, got, enc)
				}
			}
		}
	}
	// Restore the unshared states into fresh shared calls.
	restored, err := NewCalls(calls, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range restored.Accumulators() {
		a.Grow(nslots)
	}
	for s := range int32(nslots) {
		for ci, a := range restored.Accumulators() {
			enc := plain[ci].Encode(nil, s)
			rest, err := a.Decode(enc, s)
			if err != nil || len(rest) != 0 {
				t.Fatalf("seed %d: slot %d, call %d: decode: %v, %d bytes left", seed, s, ci, err, len(rest))
			}
		}
		for ci, a := range restored.Accumulators() {
			if got, want := a.Encode(nil, s), plain[ci].Encode(nil, s); !bytes.Equal(got, want) {
				t.Fatalf("seed %d: slot %d, call %d: restored encoding %x, want %x", seed, s, ci, got, want)
			}
			if got, want := result(a, s), result(plain[ci], s); got != want {
				t.Fatalf("seed %d: slot %d, call %d: restored result %s, want %s", seed, s, ci, got, want)
			}
		}
	}
	if _, err := restored.Accumulators()[0].Decode([]byte{0x01}, 0); err == nil {
		t.Fatal("a truncated state decoded")
	}
}

func filteredSlots(col arrow.Array, slots []int32) []int32 {
	b := col.(*array.Boolean)
	out := append([]int32(nil), slots...)
	for i := range out {
		if !b.IsValid(i) || !b.Value(i) {
			out[i] = -1
		}
	}
	return out
}

func result(a Accumulator, s int32) string {
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	a.AppendResult(b, s)
	arr := b.NewArray()
	defer arr.Release()
	return arr.ValueStr(0)
}

// TestIntSet: random puts, deletes and lookups of an intSet (values from a
// narrow range, so that runs collide and deletions shift them back) agree
// with a Go map's.
func TestIntSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	s := newIntSet()
	want := map[int64]int32{}
	for i := range 200_000 {
		x := rng.Int64N(3000) - 1000
		if i%7 == 0 {
			x <<= 20 // far apart, same low bits
		}
		e, ok := s.get(x)
		we, wok := want[x]
		if ok != wok || e != we {
			t.Fatalf("op %d: get(%d) = %d, %v, want %d, %v", i, x, e, ok, we, wok)
		}
		switch {
		case ok && rng.IntN(2) == 0:
			s.del(x)
			delete(want, x)
		case !ok:
			s.put(x, int32(i))
			want[x] = int32(i)
		}
		if s.size() != len(want) {
			t.Fatalf("op %d: size %d, want %d", i, s.size(), len(want))
		}
	}
	n := 0
	s.each(func(x int64, e int32) {
		if want[x] != e {
			t.Fatalf("each: %d → %d, want %d", x, e, want[x])
		}
		n++
	})
	if n != len(want) {
		t.Fatalf("each visited %d, want %d", n, len(want))
	}
}

// TestAppendOnlyDistinct checks NewCallsAppendOnly's COUNT(DISTINCT x) of
// integers (one set of values with a bitmask of the calls that saw each)
// against NewCalls' (counted multisets) over random append-only batches
// under different FILTERs, with slots reset now and then: every slot's
// results are equal after each batch; each decodes the other's encoding to
// the same results (so a checkpoint of either restores into the other);
// a retraction is an error.
func TestAppendOnlyDistinct(t *testing.T) {
	for _, at := range []types.Type{types.BigIntType, types.IntType, types.TimestampType} {
		t.Run(at.String(), func(t *testing.T) {
			for seed := range uint64(10) {
				runAppendOnlyDistinct(t, at, seed)
			}
		})
	}
}

func runAppendOnlyDistinct(t *testing.T, at types.Type, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 11))
	in := types.Schema{Fields: []types.Field{{Name: "x", Type: at}, {Name: "f1", Type: types.BooleanType}, {Name: "f2", Type: types.BooleanType}, {Name: "y", Type: at}}}
	calls := []plan.AggCall{
		{Func: plan.Count, Arg: 0, Distinct: true, Filter: -1, T: types.BigIntType},
		{Func: plan.CountStar, Arg: -1, Filter: -1, T: types.BigIntType},
		{Func: plan.Count, Arg: 0, Distinct: true, Filter: 1, T: types.BigIntType},
		{Func: plan.Count, Arg: 3, Distinct: true, Filter: -1, T: types.BigIntType}, // alone over y
		{Func: plan.Count, Arg: 0, Distinct: true, Filter: 2, T: types.BigIntType},
	}
	fast, err := NewCallsAppendOnly(calls, in)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := NewCalls(calls, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, ci := range []int{0, 2, 3, 4} {
		if _, ok := fast.Accumulators()[ci].(*bitMember); !ok {
			t.Fatalf("call %d: %T, want a bitMember", ci, fast.Accumulators()[ci])
		}
	}
	const nslots = 5
	// Slots [0, nslots) are folded; [nslots, 2·nslots) hold the other's
	// decoded states at the end.
	for _, a := range append(fast.Accumulators(), plain.Accumulators()...) {
		a.Grow(2 * nslots)
	}
	val := func() value {
		v := gen(r, at)
		if !v.null && r.IntN(4) == 0 {
			v.i = r.Int64N(1<<30) << (r.IntN(2) * 20) // far apart values, same low bits
			if at.Kind == types.Int {
				v.i = int64(int32(v.i))
			}
		}
		return v
	}
	var scratch []int32
	var joint [][]int32
	sch := arrow.NewSchema([]arrow.Field{{Name: "x", Type: at.Arrow(), Nullable: true}, {Name: "f1", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "f2", Type: arrow.FixedWidthTypes.Boolean, Nullable: true}, {Name: "y", Type: at.Arrow(), Nullable: true}}, nil)
	for batch := range 40 {
		n := 1 + r.IntN(200)
		xs, ys := make([]value, n), make([]value, n)
		slots := make([]int32, n)
		f1, f2 := array.NewBooleanBuilder(memory.DefaultAllocator), array.NewBooleanBuilder(memory.DefaultAllocator)
		for i := range n {
			slots[i] = int32(r.IntN(nslots+1)) - 1
			xs[i], ys[i] = val(), val()
			for _, b := range []*array.BooleanBuilder{f1, f2} {
				if r.IntN(5) == 0 {
					b.AppendNull()
				} else {
					b.Append(r.IntN(2) == 0)
				}
			}
		}
		cols := []arrow.Array{column(at, xs), f1.NewArray(), f2.NewArray(), column(at, ys)}
		f1.Release()
		f2.Release()
		rec := array.NewRecord(sch, cols, int64(n))
		for _, c := range cols {
			c.Release()
		}
		per := make([][]int32, len(calls))
		for ci, c := range calls {
			per[ci] = slots
			if c.Filter >= 0 {
				per[ci] = filteredSlots(rec.Column(c.Filter), slots)
			}
		}
		for _, c := range []*Calls{fast, plain} {
			if _, err := c.Update(rec, per, nil, &scratch, &joint); err != nil {
				t.Fatal(err)
			}
		}
		rec.Release()
		if batch%4 == 3 {
			// Some calls of a slot, or all of them (a group deleted).
			s, all := int32(r.IntN(nslots)), r.IntN(2) == 0
			for ci := range calls {
				if all || r.IntN(2) == 0 {
					fast.Accumulators()[ci].Reset(s)
					plain.Accumulators()[ci].Reset(s)
				}
			}
		}
		for s := range int32(nslots) {
			for ci := range calls {
				if got, want := result(fast.Accumulators()[ci], s), result(plain.Accumulators()[ci], s); got != want {
					t.Fatalf("seed %d, batch %d, slot %d, call %d: result %s, want %s", seed, batch, s, ci, got, want)
				}
			}
		}
	}
	for s := range int32(nslots) {
		for ci := range calls {
			fa, pa := fast.Accumulators()[ci], plain.Accumulators()[ci]
			where := fmt.Sprintf("seed %d, slot %d, call %d", seed, s, ci)
			if rest, err := fa.Decode(pa.Encode(nil, s), s+nslots); err != nil || len(rest) != 0 {
				t.Fatalf("%s: decoding the multiset's state: %v, %d bytes left", where, err, len(rest))
			}
			if rest, err := pa.Decode(fa.Encode(nil, s), s+nslots); err != nil || len(rest) != 0 {
				t.Fatalf("%s: the multiset decoding the bitmask's state: %v, %d bytes left", where, err, len(rest))
			}
			want := result(pa, s)
			for _, got := range []string{result(fa, s), result(fa, s+nslots), result(pa, s+nslots)} {
				if got != want {
					t.Fatalf("%s: results %s, %s (decoded), %s (multiset decoded), want %s", where, result(fa, s), result(fa, s+nslots), result(pa, s+nslots), want)
				}
			}
			if got, want := fa.Encode(nil, s+nslots), fa.Encode(nil, s); !bytes.Equal(got, want) {
				t.Fatalf("%s: decoded state encodes as %x, want %x", where, got, want)
			}
		}
	}
	// A retraction is refused.
	x := column(at, []value{{i: 1}, {i: 2}})
	rec := array.NewRecord(arrow.NewSchema(sch.Fields()[:1], nil), []arrow.Array{x}, 2)
	x.Release()
	ka := exec.NewRowKinds(memory.DefaultAllocator, []types.RowKind{types.Insert, types.Delete})
	withKinds := exec.WithRowKinds(rec, ka)
	defer withKinds.Release()
	ka.Release()
	rec.Release()
	all := [][]int32{{0, 0}, nil, nil, nil, nil}
	if _, err := fast.Update(withKinds, all, exec.RowKinds(withKinds), &scratch, &joint); !errors.Is(err, ErrRetractAppendOnly) {
		t.Fatalf("retraction: %v, want ErrRetractAppendOnly", err)
	}
	if _, err := fast.Accumulators()[0].Decode([]byte{0x01}, 0); err == nil {
		t.Fatal("a truncated state decoded")
	}
	if _, err := fast.Accumulators()[0].Decode([]byte{0x01, 0x02, 0x01}, 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a negative count decoded: %v", err)
	}
}
