package groupagg

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
)

// discard counts the rows emitted.
type discard struct{ rows int64 }

func (d *discard) Emit(_ context.Context, rec arrow.Record) error {
	d.rows += rec.NumRows()
	return nil
}

// benchBatch builds a batch of inputSchema with keys from next.
func benchBatch(alloc memory.Allocator, n int, next func(i int) int64) arrow.Record {
	b := array.NewRecordBuilder(alloc, inputSchema.Arrow())
	defer b.Release()
	for i := range n {
		b.Field(0).(*array.Int64Builder).Append(next(i))
		b.Field(1).(*array.StringBuilder).Append("")
		b.Field(2).(*array.Int64Builder).Append(int64(i % 1000))
	}
	return b.NewRecord()
}

// cpuTime is the process's user and system CPU time: on a shared machine
// events per CPU second say more than events per wall second.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGroupAgg: SELECT k, COUNT(*), SUM(v) … GROUP BY k over
// 1,000,000, 1,000 and 1 keys (all live before the timer starts; one key: a
// chunk per row without mini-batch, as q15), random keys, batches
// of 4096 rows, one goroutine; events/s and changelog rows out per row in
// are reported, and the state's bytes per key (heap, and as checkpointed).
func BenchmarkGroupAgg(b *testing.B) {
	const batch = 4096
	for _, c := range []struct{ keys, mini int }{{1_000_000, 0}, {1_000_000, 10_000}, {1_000, 0}, {1_000, 10_000}, {1, 0}} {
		keys, mini := c.keys, c.mini
		b.Run(fmt.Sprintf("keys=%d/mini-batch=%d", keys, mini), func(b *testing.B) {
			alloc := memory.DefaultAllocator
			node := newNode(b, []string{"k"}, []string{"count", "sum"}, plan.MiniBatch{Size: mini}, 0)
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			m := &exec.OperatorMetrics{}
			op, err := NewSubtask(node, m, alloc, &fakeClock{now: time.UnixMilli(0)}, state.Single(0))
			if err != nil {
				b.Fatal(err)
			}
			defer op.Close()
			ctx := context.Background()
			out := &discard{}
			for lo := 0; lo < keys; lo += batch {
				rec := benchBatch(alloc, min(batch, keys-lo), func(i int) int64 { return int64(lo + i) })
				if err := op.OnBatch(ctx, 0, rec, out); err != nil {
					b.Fatal(err)
				}
				rec.Release()
			}
			if err := op.OnWatermark(ctx, exec.MaxWatermark, out); err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			st := newMemStore()
			if err := op.OnBarrier(ctx, exec.Barrier{CheckpointID: 1}, st, out); err != nil {
				b.Fatal(err)
			}
			stored := 0
			for k, v := range st.m {
				stored += len(k) + len(v)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			recs := make([]arrow.Record, 64)
			for i := range recs {
				recs[i] = benchBatch(alloc, batch, func(int) int64 { return rng.Int64N(int64(keys)) })
				defer recs[i].Release()
			}
			out.rows = 0
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := op.OnBatch(ctx, 0, recs[i%len(recs)], out); err != nil {
					b.Fatal(err)
				}
			}
			if err := op.OnWatermark(ctx, exec.MaxWatermark, out); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			cpu := cpuTime() - cpu0
			in := float64(b.N) * batch
			b.ReportMetric(in/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(in/cpu.Seconds(), "events/cpu-s")
			b.ReportMetric(float64(out.rows)/in, "out/in")
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(keys), "heap-B/key")
			b.ReportMetric(float64(stored)/float64(keys), "ckpt-B/key")
			b.ReportMetric(0, "ns/op")
		})
	}
}
