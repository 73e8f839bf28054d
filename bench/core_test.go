package bench

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/streamsql/streamsql/engine"
)

// coreQuery is the core benchmark: a tumbling-window COUNT(*), SUM(x),
// MAX(x) per key over 1,000 keys, from datagen (unlimited rate, event time
// 1 ms a row, 1-minute windows) into blackhole.
func coreQuery(n int) string {
	return fmt.Sprintf(`
CREATE TABLE ev (k BIGINT, x BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = 'unlimited', 'number-of-rows' = '%d',
  'fields.k.min' = '0', 'fields.k.max' = '999', 'fields.x.min' = '0', 'fields.x.max' = '1000000',
  'fields.ts.step' = '1 ms');
CREATE TABLE out (k BIGINT, ws TIMESTAMP(3), n BIGINT, s BIGINT, m BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO out
SELECT k, window_start, COUNT(*), SUM(x), MAX(x)
FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, k;`, n)
}

func runSQL(b *testing.B, eng *engine.Engine, sql string) {
	stmts, err := engine.Parse("bench.sql", sql)
	if err != nil {
		b.Fatal(err)
	}
	for _, st := range stmts {
		res, err := eng.Execute(context.Background(), st)
		if err != nil {
			b.Fatal(err)
		}
		if res.Kind == engine.Query {
			if err := res.Query.Run(context.Background(), nil); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// meter measures a benchmark run: wall time, the process's CPU time and
// its peak resident memory.
type meter struct {
	start time.Time
	cpu   time.Duration
}

func startMeter() meter { return meter{start: time.Now(), cpu: cpuTime()} }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRate reports events/s (b.N events), events per CPU-second (what one
// core does, whatever GOMAXPROCS is) and the process's peak RSS.
func reportRate(b *testing.B, m meter) {
	b.ReportMetric(float64(b.N)/time.Since(m.start).Seconds(), "events/s")
	if cpu := cpuTime() - m.cpu; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-rss-MB")
	}
}

// BenchmarkCoreWindow is the core figure: without checkpoints.
func BenchmarkCoreWindow(b *testing.B) {
	for _, cp := range []struct {
		name        string
		interval    time.Duration
		parallelism int
	}{{"checkpoints=off", -1, 1}, {"checkpoints=1s", time.Second, 1}, {"checkpoints=off/parallelism=2", -1, 2}} {
		b.Run(cp.name, func(b *testing.B) {
			eng := engine.New(engine.Options{StateDir: b.TempDir(), CheckpointInterval: cp.interval, Parallelism: cp.parallelism})
			b.ReportAllocs()
			b.ResetTimer()
			m := startMeter()
			runSQL(b, eng, coreQuery(b.N))
			reportRate(b, m)
		})
	}
}

// BenchmarkBaselineMap is the hand-written Go loop the engine is measured
// against: the same events (generated the same cheap way, typed, in
// batches) aggregated with a map per (window, key).
func BenchmarkBaselineMap(b *testing.B) {
	type acc struct{ n, sum, max int64 }
	type wk struct{ w, k int64 }
	b.ReportAllocs()
	m := startMeter()
	open := map[wk]*acc{}
	var ks, xs, ts [4096]int64
	var fired int64
	wm := int64(-1 << 62)
	for done := 0; done < b.N; {
		n := min(len(ks), b.N-done)
		for i := 0; i < n; i++ {
			row := uint64(done + i)
			ks[i] = int64(splitmix(row) % 1000)
			xs[i] = int64(splitmix(row^0x9e37) % 1_000_001)
			ts[i] = int64(row)
		}
		for i := 0; i < n; i++ {
			key := wk{ts[i] / 60000 * 60000, ks[i]}
			a := open[key]
			if a == nil {
				a = &acc{max: xs[i]}
				open[key] = a
			}
			a.n++
			a.sum += xs[i]
			a.max = max(a.max, xs[i])
		}
		done += n
		wm = ts[n-1] - 1000
		for key, a := range open {
			if key.w+60000-1 <= wm {
				fired += a.n
				delete(open, key)
			}
		}
	}
	for _, a := range open {
		fired += a.n
	}
	if fired != int64(b.N) {
		b.Fatalf("baseline lost events: %d of %d", fired, b.N)
	}
	reportRate(b, m)
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
