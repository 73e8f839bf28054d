package jdbc

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/internal/pgtest"
	"github.com/streamsql/streamsql/plan"
)

// BenchmarkSinkWrite measures the sink's write modes against a real
// server, in rows/s: flushes of 100 rows (the default
// sink.buffer-flush.max-rows, as Flink's) and of 8,192 rows (in batches of
// 1,024), append-only (COPY, unnest, multi-row VALUES) and upserts
// (unnest, VALUES) over a key space of 100,000 rows, at-least-once and
// exactly-once (PREPARE TRANSACTION and COMMIT PREPARED every 65,536
// rows). Results in docs/benchmarks.md, "jdbc sink".
//
//	go test -run XXX -bench SinkWrite -benchtime 200000x ./connectors/jdbc/
func BenchmarkSinkWrite(b *testing.B) {
	srv := pgtest.Start(b)
	const keys, checkpointRows = 100_000, 65_536
	records := func(b *testing.B, batch int) []arrow.Record {
		recs := make([]arrow.Record, keys/batch)
		for i := range recs {
			rows := make([][]any, batch)
			for r := range rows {
				k := i*batch + r
				rows[r] = []any{k, fmt.Sprintf("name-%d", k%977), fmt.Sprintf("%d.%02d", k%10000, k%100), k * 1000}
			}
			recs[i] = record(b, rows, nil)
		}
		b.Cleanup(func() {
			for _, r := range recs {
				r.Release()
			}
		})
		return recs
	}
	for _, bc := range []struct {
		name      string
		mode      writeMode
		upsert    bool
		guarantee string
	}{
		{"append/copy", writeCopy, false, "at-least-once"},
		{"append/unnest", writeUnnest, false, "at-least-once"},
		{"append/values", writeValues, false, "at-least-once"},
		{"upsert/unnest", writeUnnest, true, "at-least-once"},
		{"upsert/values", writeValues, true, "at-least-once"},
		{"upsert/unnest/exactly-once", writeUnnest, true, "exactly-once"},
		{"append/copy/exactly-once", writeCopy, false, "exactly-once"},
	} {
		for _, flush := range []int{100, 8192} {
			b.Run(fmt.Sprintf("%s/flush=%d", bc.name, flush), func(b *testing.B) {
				table := "bench_" + fmt.Sprint(len(bc.name)) + "_" + map[bool]string{true: "u", false: "a"}[bc.upsert] + fmt.Sprint(bc.mode) + bc.guarantee[:1]
				ddl := "DROP TABLE IF EXISTS " + table + "; CREATE TABLE " + table + " (k integer, name text, amount numeric(10,2), ts timestamp"
				if bc.upsert {
					ddl += ", PRIMARY KEY (k)"
				}
				srv.Exec(b, ddl+")")
				opts := tableOptions(srv, "table-name", table, "sink.buffer-flush.max-rows", fmt.Sprint(flush), "sink.delivery-guarantee", bc.guarantee)
				if bc.upsert {
					opts[plan.PrimaryKeyOption] = "k"
				}
				s, err := newSink(exec.SinkConfig{Table: table, Schema: testSchema, Options: opts, JobName: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				ctx := context.Background()
				if err := s.Open(ctx, nil); err != nil {
					b.Fatal(err)
				}
				s.mode = bc.mode
				batch := min(flush, 1024)
				recs := records(b, batch)
				b.ResetTimer()
				var checkpoint int64
				for n, i := 0, 0; n < b.N; n, i = n+batch, i+1 {
					if err := s.Write(ctx, recs[i%len(recs)]); err != nil {
						b.Fatal(err)
					}
					if (i+1)%(checkpointRows/batch) == 0 {
						checkpoint++
						if _, err := s.PreCommit(ctx, checkpoint); err != nil {
							b.Fatal(err)
						}
						if err := s.Commit(ctx, checkpoint); err != nil {
							b.Fatal(err)
						}
					}
				}
				checkpoint++
				if _, err := s.PreCommit(ctx, checkpoint); err != nil {
					b.Fatal(err)
				}
				if err := s.Commit(ctx, checkpoint); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
				b.ReportMetric(float64(s.statements)*1000/float64(b.N), "statements/1k-rows")
			})
		}
	}
}
