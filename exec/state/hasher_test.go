package state

import (
	"math"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/types"
)

// TestKeyHasherIsHashOfEncoding checks that the exchange's hash of a row
// is HashKey of the key bytes state stores, for several key sets.
func TestKeyHasherIsHashOfEncoding(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	rec := testBatch(t, alloc, [][]any{
		{1, -5, 1.5, "a\x00b", 1234, 1000, 2.5, true},
		{nil, nil, nil, nil, nil, nil, nil, nil},
		{1, -5, 1.5, "a\x00b", 1234, 1000, 2.5, true},
		{2, 3, math.Copysign(0, -1), "zz", 1, 2, 3.0, false},
	})
	defer rec.Release()
	for _, keys := range [][]int{{0}, {1}, {3}, {4}, {1, 3}, allCols, {}} {
		h, err := NewKeyHasher(testSchema, keys)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]uint64, rec.NumRows())
		if err := h.Hash(rec, out); err != nil {
			t.Fatal(err)
		}
		for r, k := range encodeRows(t, rec, keys) {
			if want := HashKey(k); out[r] != want {
				t.Errorf("keys %v row %d: hash %#x, HashKey of its encoding %#x", keys, r, out[r], want)
			}
		}
		if out[0] != out[2] {
			t.Errorf("keys %v: equal rows 0 and 2 hash differently", keys)
		}
	}
}

func TestNewKeyHasherErrors(t *testing.T) {
	s := types.Schema{Fields: []types.Field{{Name: "u", Type: types.Type{Kind: types.Unknown}}, {Name: "x", Type: types.IntType}}}
	if _, err := NewKeyHasher(s, []int{1, 0}); err == nil || !contains(err.Error(), `"u"`) {
		t.Errorf("NewKeyHasher with an UNKNOWN key = %v, want an error naming \"u\"", err)
	}
	if _, err := NewKeyHasher(s, []int{2}); err == nil {
		t.Error("NewKeyHasher accepted key column #2 of 2")
	}
	h, _ := NewKeyHasher(s, []int{1})
	rb := array.NewRecordBuilder(memory.NewGoAllocator(), arrow.NewSchema([]arrow.Field{{Name: "u", Type: arrow.PrimitiveTypes.Int64}, {Name: "x", Type: arrow.BinaryTypes.String}}, nil))
	defer rb.Release()
	rec := rb.NewRecord()
	defer rec.Release()
	if err := h.Hash(rec, nil); err == nil {
		t.Error("Hash accepted a STRING column for an INT key")
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestKeyHasherNoAllocs is the exchange's promise: hashing a batch
// allocates nothing once the hasher has seen a batch of that size.
func TestKeyHasherNoAllocs(t *testing.T) {
	rec := benchBatch(4096)
	defer rec.Release()
	for _, keys := range [][]int{{0}, {1}, {0, 1}} {
		h, err := NewKeyHasher(benchSchema, keys)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]uint64, rec.NumRows())
		if a := testing.AllocsPerRun(20, func() { _ = h.Hash(rec, out) }); a != 0 {
			t.Errorf("keys %v: %v allocations per batch, want 0", keys, a)
		}
	}
}

var benchSchema = types.Schema{Fields: []types.Field{{Name: "k", Type: types.BigIntType}, {Name: "s", Type: types.StringType}}}

func benchBatch(n int) arrow.Record {
	rb := array.NewRecordBuilder(memory.NewGoAllocator(), benchSchema.Arrow())
	defer rb.Release()
	for i := 0; i < n; i++ {
		rb.Field(0).(*array.Int64Builder).Append(int64(i % 1000))
		rb.Field(1).(*array.StringBuilder).Append("user-" + string(rune('a'+i%26)) + "-name")
	}
	return rb.NewRecord()
}

// BenchmarkKeyHasher hashes batches of 4096 rows; ns/op divided by 4096
// is the per-row cost, and allocs/op must be 0.
func BenchmarkKeyHasher(b *testing.B) {
	rec := benchBatch(4096)
	defer rec.Release()
	for _, c := range []struct {
		name string
		keys []int
	}{{"bigint", []int{0}}, {"string", []int{1}}, {"bigint+string", []int{0, 1}}} {
		b.Run(c.name, func(b *testing.B) {
			h, err := NewKeyHasher(benchSchema, c.keys)
			if err != nil {
				b.Fatal(err)
			}
			out := make([]uint64, rec.NumRows())
			b.ReportAllocs()
			b.SetBytes(rec.NumRows())
			for b.Loop() {
				if err := h.Hash(rec, out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
