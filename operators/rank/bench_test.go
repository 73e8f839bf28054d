package rank

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// benchSchema is the benchmark's input: k BIGINT, v BIGINT, s STRING.
var benchSchema = types.Schema{Fields: []types.Field{
	{Name: "k", Type: types.BigIntType},
	{Name: "v", Type: types.BigIntType},
	{Name: "s", Type: types.StringType},
}}

type discard struct{ rows int64 }

func (d *discard) Emit(_ context.Context, rec arrow.Record) error {
	d.rows += rec.NumRows()
	return nil
}

// sizeWriter sums the bytes of the state a barrier writes.
type sizeWriter struct{ keys, bytes int }

func (w *sizeWriter) Set(k, v []byte) error { w.keys++; w.bytes += len(k) + len(v); return nil }
func (w *sizeWriter) Delete([]byte) error   { return nil }

type fixedClock struct{}

func (fixedClock) Now() time.Time { return time.UnixMilli(0) }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTopN: the top 10 rows by v DESC per k over 1,000 partitions,
// random keys and values, an append-only input in batches of 4096 rows,
// one goroutine; events/s (wall and CPU), changelog rows out per row in,
// and the checkpointed state's bytes per partition. Mini-batching does not
// apply to rank, as in Flink (table.exec.mini-batch.* configures the
// aggregations).
func BenchmarkTopN(b *testing.B) {
	const batch, parts, topN = 4096, 1000, 10
	for _, output := range []bool{true, false} {
		b.Run(fmt.Sprintf("partitions=%d/top=%d/rank-output=%v", parts, topN, output), func(b *testing.B) {
			src := &plan.Source{Table: "in"}
			src.Output, src.OpID = benchSchema, "1-source-in"
			n := &plan.Rank{Input: src, Partition: []int{0}, Order: []plan.SortKey{{Col: 1, Desc: true}}, Start: 1, End: topN, OutputRank: output}
			n.OpID = "2-rank"
			n.Output = benchSchema
			if output {
				n.Output.Fields = append(append([]types.Field(nil), benchSchema.Fields...), types.Field{Name: "rn", Type: types.BigIntType.WithNotNull(true)})
			}
			op, err := New(n, exec.OperatorEnv{Alloc: memory.DefaultAllocator, Clock: fixedClock{}, Parallelism: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer op.Close()
			rng := rand.New(rand.NewPCG(1, 2))
			recs := make([]arrow.Record, 64)
			for i := range recs {
				bld := array.NewRecordBuilder(memory.DefaultAllocator, benchSchema.Arrow())
				for range batch {
					bld.Field(0).(*array.Int64Builder).Append(rng.Int64N(parts))
					bld.Field(1).(*array.Int64Builder).Append(rng.Int64N(1_000_000_000))
					bld.Field(2).(*array.StringBuilder).Append("payload")
				}
				recs[i] = bld.NewRecord()
				bld.Release()
				defer recs[i].Release()
			}
			ctx := context.Background()
			out := &discard{}
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := op.OnBatch(ctx, 0, recs[i%len(recs)], out); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			cpu := cpuTime() - cpu0
			w := &sizeWriter{}
			if err := op.OnBarrier(ctx, exec.Barrier{CheckpointID: 1}, w, out); err != nil {
				b.Fatal(err)
			}
			in := float64(b.N) * batch
			b.ReportMetric(in/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(in/cpu.Seconds(), "events/cpu-s")
			b.ReportMetric(float64(out.rows)/in, "out/in")
			b.ReportMetric(float64(w.bytes)/parts, "ckpt-B/partition")
			b.ReportMetric(0, "ns/op")
		})
	}
}
