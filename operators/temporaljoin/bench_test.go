package temporaljoin

import (
	"context"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

type discard struct{}

func (discard) Emit(context.Context, arrow.Record) error { return nil }

var benchSchema = types.Schema{Fields: []types.Field{
	{Name: "k", Type: types.BigIntType}, {Name: "v", Type: types.BigIntType}, {Name: "ts", Type: types.TimestampType}}}

// benchBatch is 1024 rows over keys, event time advancing 1 ms a row from
// t0.
func benchBatch(keys int, t0 int64) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, benchSchema.Arrow())
	defer b.Release()
	for i := 0; i < 1024; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64((int(t0) + i*7919) % keys))
		b.Field(1).(*array.Int64Builder).Append(int64(i))
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(t0 + int64(i)))
	}
	return b.NewRecord()
}

// BenchmarkTemporalJoin feeds a LEFT temporal join a batch of versions of
// 10,000 keys and a batch of left rows in turn, the watermark following
// 100 ms behind: ns/op is per left row (each batch of versions is
// counted in it too).
func BenchmarkTemporalJoin(b *testing.B) {
	l := &plan.Source{Table: "l"}
	l.Output = benchSchema
	r := &plan.Source{Table: "r"}
	r.Output = benchSchema
	n := &plan.TemporalJoin{Left: l, Right: r, Type: plan.LeftJoin, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTime: 2, RightTime: 2}
	n.OpID = "3-temporal-join"
	n.Output.Fields = append(append([]types.Field{}, benchSchema.Fields...), benchSchema.Fields...)
	o, err := NewSubtask(n, nil, nil, state.Single(0))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	t0 := int64(0)
	for rows := 0; rows < b.N; rows += 1024 {
		rv := benchBatch(10_000, t0)
		lv := benchBatch(10_000, t0+1)
		if err := o.OnBatch(ctx, 1, rv, discard{}); err != nil {
			b.Fatal(err)
		}
		if err := o.OnBatch(ctx, 0, lv, discard{}); err != nil {
			b.Fatal(err)
		}
		rv.Release()
		lv.Release()
		t0 += 1024
		if err := o.OnWatermark(ctx, exec.Watermark(t0-100), discard{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
