package join

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
)

type discard struct{}

func (discard) Emit(context.Context, arrow.Record) error { return nil }

// benchBatch is 1024 inserts of (k, "row-k-i") over keys.
func benchBatch(sch *arrow.Schema, keys, seq int) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	for i := 0; i < 1024; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64((seq*1024 + i) % keys))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("row-%d", seq*1024+i))
	}
	return b.NewRecord()
}

// BenchmarkJoin feeds the two sides of an INNER and a LEFT join, 1024-row
// batches in turn, over 100,000 keys (about one match per row): ns/op is
// per input row; heap-B/held-row is the live heap per held row.
func BenchmarkJoin(b *testing.B) {
	for _, kind := range []plan.JoinKind{plan.InnerJoin, plan.LeftJoin} {
		b.Run(kind.String(), func(b *testing.B) {
			n := newJoin(kind, 0)
			o, err := NewSubtask(n, &exec.OperatorMetrics{}, memory.DefaultAllocator, &fakeClock{now: time.UnixMilli(0)}, state.Single(0))
			if err != nil {
				b.Fatal(err)
			}
			ls, rs := leftSchema.Arrow(), rightSchema.Arrow()
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			rows := 0
			for i := 0; rows < b.N; i++ {
				sch, in := ls, 0
				if i%2 == 1 {
					sch, in = rs, 1
				}
				rec := benchBatch(sch, 100_000, i/2)
				if err := o.OnBatch(context.Background(), in, rec, discard{}); err != nil {
					b.Fatal(err)
				}
				rec.Release()
				rows += 1024
			}
			b.StopTimer()
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			j := o.(*op)
			held := j.sides[0].live + j.sides[1].live
			if held > 10_000 {
				b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(held), "heap-B/held-row")
			}
		})
	}
}
