package exec

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/types"
)

// BenchmarkExchange routes batches of 4,096 rows (the core benchmark's
// BIGINT key over 1,000 keys, a BIGINT value, a timestamp) through a hash
// exchange into 1, 2 or 4 consumer subtasks, which release what they get.
// b.N counts rows, so allocs/op is allocations per row: the exchange
// allocates per batch (the parts it takes), never per row.
func BenchmarkExchange(b *testing.B) {
	schema := types.Schema{Fields: []types.Field{
		{Name: "k", Type: types.Type{Kind: types.BigInt}},
		{Name: "x", Type: types.Type{Kind: types.BigInt}},
		{Name: "ts", Type: types.Type{Kind: types.Timestamp, Precision: 3}},
	}}
	const rows = 4096
	rb := array.NewRecordBuilder(memory.DefaultAllocator, schema.Arrow())
	for i := 0; i < rows; i++ {
		rb.Field(0).(*array.Int64Builder).Append(int64(i*7919) % 1000)
		rb.Field(1).(*array.Int64Builder).Append(int64(i))
		rb.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(i))
	}
	rec := rb.NewRecord()
	rb.Release()
	defer rec.Release()
	for _, parts := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("subtasks=%d", parts), func(b *testing.B) {
			h, err := state.NewKeyHasher(schema, []int{0})
			if err != nil {
				b.Fatal(err)
			}
			e := &outEdge{dist: distHash, hasher: h, maxP: state.DefaultMaxParallelism, alloc: memory.DefaultAllocator,
				idx: make([][]int32, parts)}
			var wg sync.WaitGroup
			for range parts {
				c := newChannel()
				e.chans = append(e.chans, c)
				wg.Go(func() {
					for m := range c.ch {
						m.rec.Release()
					}
				})
			}
			ctx := context.Background()
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			done := 0
			for ; done < b.N; done += rows {
				if err := e.batch(ctx, rec); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			for _, c := range e.chans {
				close(c.ch)
			}
			wg.Wait()
			runtime.ReadMemStats(&after)
			// allocs/op rounds to an integer; this is the exact figure.
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(done), "allocs/row")
		})
	}
}
