package bench

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/operators/window"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// windowNode is a tumbling COUNT(*), SUM(x), MAX(x) GROUP BY k.
func windowNode() *plan.WindowAgg {
	in := &plan.Source{Table: "ev"}
	in.OpID = "1-source-ev"
	in.Output = types.Schema{Fields: []types.Field{
		{Name: "k", Type: types.BigIntType}, {Name: "x", Type: types.BigIntType}, {Name: "ts", Type: types.TimestampType},
	}}
	n := &plan.WindowAgg{Input: in, Window: plan.Window{Kind: plan.Tumble, TimeCol: 2, Size: 3_600_000}, Keys: []int{0},
		Aggs: []plan.AggCall{
			{Func: plan.CountStar, Arg: -1, Filter: -1, T: types.BigIntType.WithNotNull(true)},
			{Func: plan.Sum, Arg: 1, Filter: -1, T: types.BigIntType},
			{Func: plan.Max, Arg: 1, Filter: -1, T: types.BigIntType},
		}}
	n.OpID = "2-window-agg"
	ts := types.TimestampType.WithNotNull(true)
	n.Output = types.Schema{Fields: []types.Field{{Name: "k", Type: types.BigIntType},
		{Name: "window_start", Type: ts}, {Name: "window_end", Type: ts}, {Name: "window_time", Type: ts},
		{Name: "n", Type: types.BigIntType.WithNotNull(true)}, {Name: "s", Type: types.BigIntType}, {Name: "m", Type: types.BigIntType}}}
	return n
}

type discard struct{}

func (discard) Emit(context.Context, arrow.Record) error { return nil }

// fill feeds keys distinct keys into op, all in one open window.
func fill(b *testing.B, op exec.Operator, schema *arrow.Schema, keys int) {
	bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer bld.Release()
	for done := 0; done < keys; {
		n := min(4096, keys-done)
		for i := 0; i < n; i++ {
			bld.Field(0).(*array.Int64Builder).Append(int64(done + i))
			bld.Field(1).(*array.Int64Builder).Append(int64(i))
			bld.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(1000))
		}
		rec := bld.NewRecord()
		if err := op.OnBatch(context.Background(), 0, rec, discard{}); err != nil {
			b.Fatal(err)
		}
		rec.Release()
		done += n
	}
}

// BenchmarkWindowCheckpoint measures one checkpoint and one restore of a
// window operator holding 1,000,000 open (window, key) accumulators into
// and out of a real Pebble store: the operator's snapshot, the synced
// commit, and reopening the store, verifying, and rebuilding the
// operator. The bars: checkpoint < 1 s, restore < 2 s.
func BenchmarkWindowCheckpoint(b *testing.B) {
	const keys = 1_000_000
	node := windowNode()
	schema := node.Input.Schema().Arrow()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		store, err := checkpoint.Open(dir, checkpoint.Options{JobName: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := store.Restore(); err != nil {
			b.Fatal(err)
		}
		op, err := window.NewAgg(node, exec.OperatorEnv{Metrics: &exec.OperatorMetrics{}, Alloc: memory.DefaultAllocator})
		if err != nil {
			b.Fatal(err)
		}
		if err := op.Open(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
		fill(b, op, schema, keys)
		b.StartTimer()

		start := time.Now()
		cp := store.Begin(1)
		if err := op.OnBarrier(context.Background(), exec.Barrier{CheckpointID: 1}, cp.Operator(node.ID()), discard{}); err != nil {
			b.Fatal(err)
		}
		info, err := cp.Commit(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		ckpt := time.Since(start)
		b.StopTimer()
		op.Close()
		store.Close()
		b.StartTimer()

		start = time.Now()
		store, err = checkpoint.Open(dir, checkpoint.Options{JobName: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		r, err := store.Restore()
		if err != nil || r == nil {
			b.Fatal("restore:", err)
		}
		m := &exec.OperatorMetrics{}
		op2, err := window.NewAgg(node, exec.OperatorEnv{Metrics: m, Alloc: memory.DefaultAllocator})
		if err != nil {
			b.Fatal(err)
		}
		if err := op2.Open(context.Background(), r.Operator(node.ID())); err != nil {
			b.Fatal(err)
		}
		restore := time.Since(start)
		if got := m.StateEntries.Load(); got != keys {
			b.Fatalf("restored %d accumulators, want %d", got, keys)
		}
		b.StopTimer()
		b.ReportMetric(ckpt.Seconds(), "checkpoint-s")
		b.ReportMetric(restore.Seconds(), "restore-s")
		b.ReportMetric(float64(info.Bytes)/keys, "bytes/accumulator")
		op2.Close()
		store.Close()
		b.StartTimer()
	}
}

// BenchmarkWindowMemory reports the heap held per open (window, key)
// accumulator of a tumbling COUNT(*), SUM(x), MAX(x) window operator with
// 1,000,000 open accumulators (the bar: at most 100 bytes).
func BenchmarkWindowMemory(b *testing.B) {
	const keys = 1_000_000
	node := windowNode()
	schema := node.Input.Schema().Arrow()
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		op, err := window.NewAgg(node, exec.OperatorEnv{Metrics: &exec.OperatorMetrics{}, Alloc: memory.DefaultAllocator})
		if err != nil {
			b.Fatal(err)
		}
		if err := op.Open(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
		fill(b, op, schema, keys)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/keys, "heap-bytes/accumulator")
		runtime.KeepAlive(op)
		op.Close()
	}
}
