package exec

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/types"
)

// TestHashExchangeRoutesByKeyGroup checks that the hash exchange sends
// every row to the subtask that owns its key's key group as the state
// computes it (state.SubtaskOf of state.KeyGroupOf of the key's hash), for
// numbers of key groups that are powers of two and that are not, so that
// a subtask's rows and the state it restores are the same keys.
func TestHashExchangeRoutesByKeyGroup(t *testing.T) {
	schema := types.Schema{Fields: []types.Field{{Name: "k", Type: types.Type{Kind: types.BigInt}}}}
	const rows = 5000
	b := array.NewInt64Builder(memory.DefaultAllocator)
	for i := range rows {
		b.Append(int64(i*7919) % 2003)
	}
	col := b.NewInt64Array()
	b.Release()
	defer col.Release()
	rec := array.NewRecord(schema.Arrow(), []arrow.Array{col}, rows)
	defer rec.Release()
	for _, maxP := range []int{128, 100, 7, 1 << 15} {
		for _, parts := range []int{2, 3, 5} {
			if parts > maxP {
				continue
			}
			t.Run(fmt.Sprintf("max=%d/parts=%d", maxP, parts), func(t *testing.T) {
				h, err := state.NewKeyHasher(schema, []int{0})
				if err != nil {
					t.Fatal(err)
				}
				hashes := make([]uint64, rows)
				if err := h.Hash(rec, hashes); err != nil {
					t.Fatal(err)
				}
				e := &outEdge{dist: distHash, hasher: h, maxP: maxP, alloc: memory.DefaultAllocator, idx: make([][]int32, parts)}
				for range parts {
					e.chans = append(e.chans, &channel{ch: make(chan message, 2)})
				}
				if err := e.batch(context.Background(), rec); err != nil {
					t.Fatal(err)
				}
				want := map[int64]int{}
				for r, x := range hashes {
					want[col.Value(r)] = state.SubtaskOf(state.KeyGroupOf(x, maxP), parts, maxP)
				}
				got := 0
				for sub, c := range e.chans {
					close(c.ch)
					for m := range c.ch {
						keys := m.rec.Column(0).(*array.Int64)
						for i := range keys.Len() {
							if w := want[keys.Value(i)]; w != sub {
								t.Fatalf("key %d went to subtask %d, its key group belongs to %d", keys.Value(i), sub, w)
							}
						}
						got += keys.Len()
						m.rec.Release()
					}
				}
				if got != rows {
					t.Fatalf("%d rows routed, want %d", got, rows)
				}
			})
		}
	}
}
