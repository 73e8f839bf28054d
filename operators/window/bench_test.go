package window

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

type winDiscard struct{ rows int64 }

func (d *winDiscard) Emit(_ context.Context, rec arrow.Record) error {
	d.rows += rec.NumRows()
	return nil
}

// BenchmarkWindowAgg measures the operator alone: COUNT(*), SUM(x), MAX(x)
// GROUP BY key over prebuilt 4096-row batches, 10 rows per millisecond of
// event time, keys uniformly random, a watermark 500ms behind after every
// batch. One iteration is 256 batches (about 1M rows).
func BenchmarkWindowAgg(b *testing.B) {
	const (
		batchRows = 4096
		batches   = 256
	)
	cases := []struct {
		name   string
		window plan.Window
		keys   int
		str    bool
	}{
		{"tumble/keys=1000", plan.Window{Kind: plan.Tumble, Size: 10_000}, 1000, false},
		{"tumble/keys=100000", plan.Window{Kind: plan.Tumble, Size: 10_000}, 100_000, false},
		{"hop/keys=1000", plan.Window{Kind: plan.Hop, Size: 10_000, Slide: 2_000}, 1000, false},
		{"cumulate/keys=1000", plan.Window{Kind: plan.Cumulate, Size: 10_000, Step: 2_000}, 1000, false},
		{"session/keys=1000", plan.Window{Kind: plan.Session, Gap: 500}, 1000, false},
		{"tumble/string-keys=1000", plan.Window{Kind: plan.Tumble, Size: 10_000}, 1000, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			keyType := types.BigIntType
			if c.str {
				keyType = types.StringType
			}
			spec := &winSpec{window: c.window, cols: []types.Field{
				{Name: "ts", Type: types.TimestampType}, {Name: "key", Type: keyType}, {Name: "x", Type: types.BigIntType},
			}, keys: []int{1}}
			for _, f := range []plan.AggFunc{plan.CountStar, plan.Sum, plan.Max} {
				a := plan.AggCall{Func: f, Arg: 2, Filter: -1, T: aggType(f, types.BigIntType)}
				if f == plan.CountStar {
					a.Arg = -1
				}
				spec.aggs = append(spec.aggs, a)
			}
			alloc := memory.NewGoAllocator()
			recs := make([]arrow.Record, batches)
			wms := make([]exec.Watermark, batches)
			rng := uint64(42)
			next := func() uint64 { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng }
			for i := range recs {
				rb := array.NewRecordBuilder(alloc, types.Schema{Fields: spec.cols}.Arrow())
				tb := rb.Field(0).(*array.TimestampBuilder)
				for r := 0; r < batchRows; r++ {
					n := int64(i*batchRows + r)
					tb.Append(arrow.Timestamp(n / 10))
					k := int64(next() % uint64(c.keys))
					if c.str {
						rb.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("key-%d", k))
					} else {
						rb.Field(1).(*array.Int64Builder).Append(k)
					}
					rb.Field(2).(*array.Int64Builder).Append(int64(next() % 1000))
				}
				recs[i] = rb.NewRecord()
				rb.Release()
				wms[i] = exec.Watermark(int64((i+1)*batchRows)/10 - 500)
			}
			defer func() {
				for _, r := range recs {
					r.Release()
				}
			}()
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			out := &winDiscard{}
			for it := 0; it < b.N; it++ {
				m := &exec.OperatorMetrics{}
				op, err := NewAggSubtask(spec.plan(), m, alloc, state.Single(0))
				if err != nil {
					b.Fatal(err)
				}
				for i, rec := range recs {
					if err := op.OnBatch(ctx, 0, rec, out); err != nil {
						b.Fatal(err)
					}
					if err := op.OnWatermark(ctx, wms[i], out); err != nil {
						b.Fatal(err)
					}
				}
				if err := op.OnWatermark(ctx, exec.MaxWatermark, out); err != nil {
					b.Fatal(err)
				}
				op.Close()
			}
			b.ReportMetric(float64(b.N*batches*batchRows)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(b.N*batches*batchRows), "rows")
		})
	}
}
