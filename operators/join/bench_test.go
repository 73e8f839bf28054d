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

// BenchmarkWindowJoin feeds the two sides of an INNER and a FULL window
// join 1024-row batches in turn, 8192 rows per side and window, each key
// once per side and window (one match per row), and fires each window
// with a watermark once both sides' rows are in: ns/op is per input row,
// output and firing included; heap-B/held-row is the live heap per held
// row when a window is full.
func BenchmarkWindowJoin(b *testing.B) {
	for _, kind := range []plan.JoinKind{plan.InnerJoin, plan.FullJoin} {
		b.Run(kind.String(), func(b *testing.B) {
			n := newWindowJoin(kind, false)
			o, err := NewWindowSubtask(n, &exec.OperatorMetrics{}, memory.DefaultAllocator, state.Single(0))
			if err != nil {
				b.Fatal(err)
			}
			ls, rs := wjLeft.Arrow(), wjRight.Arrow()
			batch := func(sch *arrow.Schema, seq int) arrow.Record {
				rb := array.NewRecordBuilder(memory.DefaultAllocator, sch)
				defer rb.Release()
				w := int64(seq / 8)
				for i := 0; i < 1024; i++ {
					rb.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(w * 10))
					rb.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(w*10 + 10))
					rb.Field(2).(*array.Int64Builder).Append(int64((seq%8)*1024 + i))
					rb.Field(3).(*array.StringBuilder).Append(fmt.Sprintf("row-%d", seq*1024+i))
				}
				return rb.NewRecord()
			}
			var heap float64
			b.ResetTimer()
			rows := 0
			for seq := 0; rows < b.N; seq++ {
				for in, sch := range []*arrow.Schema{ls, rs} {
					rec := batch(sch, seq)
					if err := o.OnBatch(context.Background(), in, rec, discard{}); err != nil {
						b.Fatal(err)
					}
					rec.Release()
					rows += 1024
				}
				if seq%8 == 7 {
					if heap == 0 && rows >= 3*16384 {
						b.StopTimer()
						runtime.GC()
						var ms runtime.MemStats
						runtime.ReadMemStats(&ms)
						heap = float64(ms.HeapAlloc) / float64(o.(*windowJoinOp).live)
						b.StartTimer()
					}
					if err := o.OnWatermark(context.Background(), exec.Watermark(int64(seq/8)*10+9), discard{}); err != nil {
						b.Fatal(err)
					}
				}
			}
			if heap > 0 {
				b.ReportMetric(heap, "heap-B/held-row")
			}
		})
	}
}

// BenchmarkIntervalJoin feeds the two sides of an INNER and a LEFT
// interval join (left.ts BETWEEN right.ts - 10 s AND right.ts + 10 s),
// 1024-row batches in turn, each side one row a millisecond over 20,000
// keys (about one match per row), the watermark 100 ms behind the newest
// row after each batch: ns/op is per input row, expiry (and padding)
// included; heap-B/held-row is the live heap per held row, some 20,000 a
// side in the steady state.
func BenchmarkIntervalJoin(b *testing.B) {
	for _, kind := range []plan.JoinKind{plan.InnerJoin, plan.LeftJoin} {
		b.Run(kind.String(), func(b *testing.B) {
			n := newIntervalJoin(kind, -10_000, 10_000)
			m := &exec.OperatorMetrics{}
			o, err := NewIntervalSubtask(n, m, memory.DefaultAllocator, state.Single(0))
			if err != nil {
				b.Fatal(err)
			}
			batch := func(seq int) []ivRow {
				rows := make([]ivRow, 1024)
				for i := range rows {
					t := int64(seq*1024 + i)
					rows[i] = ivRow{K: (t * 7919) % 20_000, S: fmt.Sprintf("row-%d", t), Ts: t}
				}
				return rows
			}
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			rows := 0
			for i := 0; rows < b.N; i++ {
				sch, in := ivLeft, 0
				if i%2 == 1 {
					sch, in = ivRight, 1
				}
				rec := ivBatch(sch, batch(i/2))
				if err := o.OnBatch(context.Background(), in, rec, discard{}); err != nil {
					b.Fatal(err)
				}
				rec.Release()
				if in == 1 {
					if err := o.OnWatermark(context.Background(), exec.Watermark((i/2+1)*1024-100), discard{}); err != nil {
						b.Fatal(err)
					}
				}
				rows += 1024
			}
			b.StopTimer()
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if held := m.StateEntries.Load(); held > 10_000 {
				b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(held), "heap-B/held-row")
			}
			runtime.KeepAlive(o) // its rows are what the heap holds
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
