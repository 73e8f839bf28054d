package over

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

type discard struct{ rows int64 }

func (d *discard) Emit(_ context.Context, rec arrow.Record) error {
	d.rows += rec.NumRows()
	return nil
}

// BenchmarkOver: SUM(v), COUNT(*), MAX(v) OVER (PARTITION BY k ORDER BY
// ts ROWS BETWEEN 100 PRECEDING AND CURRENT ROW) over 1,000 partitions,
// batches of 4096 rows in time order, a watermark after each batch, one
// goroutine; events/s reported. Every partition's frame is full before the
// timer starts.
func BenchmarkOver(b *testing.B) {
	const batch, parts = 4096, 1000
	in := types.Schema{Fields: []types.Field{
		{Name: "k", Type: types.BigIntType}, {Name: "v", Type: types.BigIntType}, {Name: "ts", Type: types.TimestampType}}}
	for _, frame := range []struct {
		name string
		rows bool
		prec int64
	}{{"rows=100", true, 100}, {"range=100ms", false, 100}, {"rows=unbounded", true, -1}} {
		b.Run(fmt.Sprintf("%s/partitions=%d", frame.name, parts), func(b *testing.B) {
			src := &plan.Source{}
			src.Output = in
			n := &plan.OverAgg{Input: src, Partition: []int{0}, TimeCol: 2, Rows: frame.rows, Preceding: frame.prec, Aggs: []plan.AggCall{
				{Func: plan.Sum, Arg: 1, Filter: -1, T: types.BigIntType},
				{Func: plan.CountStar, Arg: -1, Filter: -1, T: types.BigIntType.WithNotNull(true)},
				{Func: plan.Max, Arg: 1, Filter: -1, T: types.BigIntType}}}
			n.OpID = "over"
			n.Output = types.Schema{Fields: append(append([]types.Field(nil), in.Fields...),
				types.Field{Name: "s", Type: types.BigIntType}, types.Field{Name: "n", Type: types.BigIntType.WithNotNull(true)}, types.Field{Name: "m", Type: types.BigIntType})}
			alloc := memory.DefaultAllocator
			o, err := NewSubtask(n, &exec.OperatorMetrics{}, alloc, exec.SystemClock{}, state.Single(0))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			out := &discard{}
			ts := int64(0)
			feed := func() {
				bld := array.NewRecordBuilder(alloc, in.Arrow())
				for i := range batch {
					bld.Field(0).(*array.Int64Builder).Append(int64(i % parts))
					bld.Field(1).(*array.Int64Builder).Append(int64(i % 997))
					bld.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(ts))
					if i%8 == 7 {
						ts++
					}
				}
				rec := bld.NewRecord()
				bld.Release()
				if err := o.OnBatch(ctx, 0, rec, out); err != nil {
					b.Fatal(err)
				}
				rec.Release()
				if err := o.OnWatermark(ctx, exec.Watermark(ts-1), out); err != nil {
					b.Fatal(err)
				}
			}
			for range 30 { // fill every frame (101 rows per partition)
				feed()
			}
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				feed()
			}
			b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "events/s")
		})
	}
}
