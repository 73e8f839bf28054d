package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/exec"
)

// The state bytes of an operator (exec.OperatorStats.StateBytes) are the
// encoded size of its state as of its last checkpoint: these tests run
// real jobs with checkpoints and compare the number with a scan of the
// operator's state in the newest checkpoint.

// stateBytesDDL is a datagen source of rows rows at rate rows/s (0:
// unlimited) with keys k in [0, keys) and a blackhole sink.
func stateBytesDDL(rows, rate, keys int, kind string) string {
	r := "unlimited"
	if rate > 0 {
		r = fmt.Sprint(rate)
	}
	kopts := fmt.Sprintf("'fields.k.min' = '0', 'fields.k.max' = '%d'", keys-1)
	if kind == "sequence" {
		kopts = fmt.Sprintf("'fields.k.kind' = 'sequence', 'fields.k.start' = '0', 'fields.k.end' = '%d'", rows)
	}
	return fmt.Sprintf(`
CREATE TABLE ev (k BIGINT, x BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
WITH ('connector' = 'datagen', 'rows-per-second' = '%s', 'number-of-rows' = '%d', 'seed' = '3',
      %s, 'fields.x.min' = '0', 'fields.x.max' = '1000', 'fields.ts.step' = '1 ms');
CREATE TABLE out (k BIGINT, n BIGINT, s BIGINT) WITH ('connector' = 'blackhole');
`, r, rows, kopts)
}

// stateRun is one run of a job: its stats at the end, the largest state
// bytes of operator kind seen while it ran, and that operator's stats as
// sampled while it ran.
type stateRun struct {
	end     exec.Stats
	max     int64
	samples []exec.OperatorStats
}

// runStateJob runs sql's INSERT named job on a fresh engine over dir at
// parallelism p, to the end (stopAfter == 0) or until it completed
// stopAfter checkpoints of its own, when it is cancelled.
func runStateJob(t *testing.T, dir, job, sql string, p, stopAfter int, kind string) stateRun {
	t.Helper()
	return runStateJobWith(t, engine.Options{StateDir: dir, Parallelism: p}, job, sql, stopAfter, kind)
}

// runStateJobWith is runStateJob on an engine built with opts.
func runStateJobWith(t *testing.T, opts engine.Options, job, sql string, stopAfter int, kind string) stateRun {
	t.Helper()
	eng := engine.New(opts)
	defer eng.Close(context.Background())
	stmts, err := engine.Parse("q.sql", fmt.Sprintf("SET 'pipeline.name' = '%s';\nSET 'execution.checkpointing.interval' = '40 ms';\n", job)+sql)
	if err != nil {
		t.Fatal(err)
	}
	var q *engine.ContinuousQuery
	for _, st := range stmts {
		res, err := eng.Execute(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		if res.Kind == engine.Query {
			q = res.Query
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx, nil) }()
	var run stateRun
	// A guard against a hung job, not a speed test: under -race on a
	// loaded 2-core machine the interval join's 60,000 rows took 90 s.
	deadline := time.After(240 * time.Second)
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v", job, err)
			}
			if stopAfter > 0 {
				t.Fatalf("%s: finished before %d checkpoints; slow it down", job, stopAfter)
			}
			run.end = q.Stats()
			return run
		case <-deadline:
			t.Fatalf("%s: not done within 240 s: %+v", job, q.Stats())
		case <-time.After(2 * time.Millisecond):
		}
		st := q.Stats()
		if o, ok := findOp(st, kind); ok {
			run.max = max(run.max, o.StateBytes)
			run.samples = append(run.samples, o)
		}
		if c := st.LastCheckpoint; stopAfter > 0 && c != nil && c.ID >= st.RestoredFrom+uint64(stopAfter) {
			cancel()
			if err := <-done; err != context.Canceled {
				t.Fatalf("%s: %v", job, err)
			}
			run.end = q.Stats()
			return run
		}
	}
}

// findOp returns the stats of the operator whose id ends in kind.
func findOp(st exec.Stats, kind string) (exec.OperatorStats, bool) {
	for _, o := range st.Operators {
		if strings.HasSuffix(o.ID, "-"+kind) {
			return o, true
		}
	}
	return exec.OperatorStats{}, false
}

// opBytes returns the operator's state bytes at the end of run, failing
// if the job has no such operator.
func opBytes(t *testing.T, run stateRun, kind string) (string, int64) {
	t.Helper()
	o, ok := findOp(run.end, kind)
	if !ok {
		t.Fatalf("no %s operator in %+v", kind, run.end.Operators)
	}
	return o.ID, o.StateBytes
}

// scannedBytes is the size of operator op's state in the newest
// checkpoint of job, by a scan: the sum of len(key)+len(value).
func scannedBytes(t *testing.T, dir, job, op string) (bytes, entries int64) {
	t.Helper()
	st, err := checkpoint.Open(dir, checkpoint.Options{JobName: job})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := st.Restore()
	if err != nil || r == nil {
		t.Fatalf("restore %s: %v (checkpoint %v)", job, err, r)
	}
	sr := r.Operator(op)
	if sr == nil {
		return 0, 0
	}
	err = sr.Scan(func(k, v []byte) error {
		bytes += int64(len(k) + len(v))
		entries++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return bytes, entries
}

const groupSQL = `INSERT INTO out SELECT k, COUNT(*), SUM(x) FROM ev GROUP BY k;`

// TestStateBytesGrowWithKeys: a non-windowed GROUP BY's state bytes equal
// a scan of its final checkpoint, and grow with the number of keys.
func TestStateBytesGrowWithKeys(t *testing.T) {
	sizes := map[int]int64{}
	for _, keys := range []int{10, 1000} {
		dir := t.TempDir()
		job := fmt.Sprintf("keys%d", keys)
		run := runStateJob(t, dir, job, stateBytesDDL(20000, 0, keys, "")+groupSQL, 1, 0, "group-agg")
		id, got := opBytes(t, run, "group-agg")
		want, entries := scannedBytes(t, dir, job, id)
		if got != want || got == 0 {
			t.Fatalf("%d keys: state bytes %d, a scan of the checkpoint has %d (%d entries)", keys, got, want, entries)
		}
		if run.end.StateBytes < got {
			t.Fatalf("%d keys: the job's state bytes %d are less than its group-agg's %d", keys, run.end.StateBytes, got)
		}
		t.Logf("%d keys: %d state bytes in %d entries (%.1f bytes per key)", keys, got, entries, float64(got)/float64(keys))
		sizes[keys] = got
	}
	if sizes[1000] < 50*sizes[10] {
		t.Fatalf("state bytes do not grow with keys: 10 keys %d, 1000 keys %d", sizes[10], sizes[1000])
	}
}

// TestStateBytesFallWhenWindowsFire: a window aggregation's state bytes
// grow while its one-hour window is open and fall to the few bytes of its
// watermark when the end of input fires it; at the end they equal a scan
// of the final checkpoint.
func TestStateBytesFallWhenWindowsFire(t *testing.T) {
	dir := t.TempDir()
	sql := stateBytesDDL(6000, 3000, 500, "") + `INSERT INTO out SELECT k, COUNT(*), SUM(x)
FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' HOUR)) GROUP BY window_start, window_end, k;`
	run := runStateJob(t, dir, "windows", sql, 1, 0, "window-agg")
	id, got := opBytes(t, run, "window-agg")
	want, entries := scannedBytes(t, dir, "windows", id)
	if got != want {
		t.Fatalf("state bytes %d at the end, a scan of the checkpoint has %d (%d entries)", got, want, entries)
	}
	if run.max < 500*8 || got*20 > run.max {
		t.Fatalf("state bytes: at most %d while the window was open (500 keys), %d after it fired", run.max, got)
	}
	t.Logf("window state bytes: %d while open, %d after firing (%d entries)", run.max, got, entries)
}

// TestStateBytesFallWhenTTLExpires: with table.exec.state.ttl, the groups
// of keys that are never seen again expire, and the state bytes with them.
func TestStateBytesFallWhenTTLExpires(t *testing.T) {
	var sizes [2]int64
	for i, ttl := range []string{"", "SET 'table.exec.state.ttl' = '100 ms';\n"} {
		dir := t.TempDir()
		job := fmt.Sprintf("ttl%d", i)
		run := runStateJob(t, dir, job, ttl+stateBytesDDL(8000, 4000, 0, "sequence")+groupSQL, 1, 0, "group-agg")
		id, got := opBytes(t, run, "group-agg")
		want, entries := scannedBytes(t, dir, job, id)
		if got != want || got == 0 {
			t.Fatalf("ttl %q: state bytes %d, a scan of the checkpoint has %d (%d entries)", ttl, got, want, entries)
		}
		t.Logf("ttl %q: %d state bytes (%d entries); at most %d while running", ttl, got, entries, run.max)
		sizes[i] = got
	}
	if sizes[1]*2 > sizes[0] {
		t.Fatalf("state bytes with a 100 ms TTL over 8000 keys seen once in 2 s: %d, without: %d", sizes[1], sizes[0])
	}
}

// TestStateBytesAfterRestore: a job cancelled after checkpoints and
// restored at another parallelism reports the state bytes of the state it
// restored and keeps them exact: at the end they equal a scan.
func TestStateBytesAfterRestore(t *testing.T) {
	dir := t.TempDir()
	sql := stateBytesDDL(8000, 4000, 300, "") + groupSQL
	first := runStateJob(t, dir, "restored", sql, 2, 3, "group-agg")
	id, before := opBytes(t, first, "group-agg")
	if before == 0 {
		t.Fatal("no state bytes after three checkpoints")
	}
	run := runStateJob(t, dir, "restored", sql, 1, 0, "group-agg")
	if run.end.RestoredFrom == 0 {
		t.Fatal("the second run did not restore")
	}
	_, got := opBytes(t, run, "group-agg")
	want, entries := scannedBytes(t, dir, "restored", id)
	if got != want {
		t.Fatalf("after a restore from parallelism 2 into 1: state bytes %d, a scan of the checkpoint has %d (%d entries)", got, want, entries)
	}
}
