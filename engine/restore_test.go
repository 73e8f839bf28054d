package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/engine"
)

const restoreDDL = `
SET 'pipeline.name' = 'changing';
SET 'execution.checkpointing.interval' = '50 ms';
CREATE TABLE ev (k BIGINT, x BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'rows-per-second' = '20000', 'number-of-rows' = '1000000', 'fields.k.max' = '5', 'fields.k.min' = '0', 'fields.ts.step' = '1 ms');
CREATE TABLE out (k BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
`

// runFor plans the last statement of sql on a fresh engine over stateDir
// and runs it until it has completed n checkpoints of its own, then
// cancels it (as a crash or Ctrl-C would). It returns the run's error,
// nil when it was cancelled.
func runFor(t *testing.T, stateDir, sql string, n int, opts engine.Options) error {
	t.Helper()
	opts.StateDir = stateDir
	eng := engine.New(opts)
	stmts, err := engine.Parse("q.sql", sql)
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
	deadline := time.After(20 * time.Second)
	for {
		select {
		case err := <-done:
			return err
		case <-deadline:
			t.Fatalf("no %d checkpoints within 20 s: %+v", n, q.Stats())
		case <-time.After(10 * time.Millisecond):
		}
		st := q.Stats()
		if c := st.LastCheckpoint; c != nil && c.ID >= st.RestoredFrom+uint64(n) {
			cancel()
			if err := <-done; err != context.Canceled { // the job returns ctx's error itself, unwrapped
				return err
			}
			return nil
		}
	}
}

// TestChangedQueryRefused checks invariant 4's other half: a job restarted
// with a query whose state no longer fits is refused, naming the operator,
// unless the user starts fresh.
func TestChangedQueryRefused(t *testing.T) {
	dir := t.TempDir()
	q1 := restoreDDL + `INSERT INTO out SELECT k, COUNT(*) FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, k;`
	if err := runFor(t, dir, q1, 3, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	// Same query: restores.
	if err := runFor(t, dir, q1, 1, engine.Options{}); err != nil {
		t.Fatalf("restoring the same query: %v", err)
	}
	// A different window size: the window operator's state does not fit.
	q2 := strings.Replace(q1, "INTERVAL '1' MINUTE", "INTERVAL '2' MINUTE", 1)
	err := runFor(t, dir, q2, 1, engine.Options{})
	if err == nil || !strings.Contains(err.Error(), "2-window-agg") {
		t.Fatalf("changed window: got %v, want an error naming 2-window-agg", err)
	}
	if testing.Verbose() {
		t.Log(err)
	}
	// A different plan shape: operator ids no longer match.
	q3 := restoreDDL + `INSERT INTO out SELECT k, x FROM ev WHERE x > 0;`
	err = runFor(t, dir, q3, 1, engine.Options{})
	if err == nil || !strings.Contains(err.Error(), "window-agg") || !strings.Contains(err.Error(), "--fresh") {
		t.Fatalf("changed plan: got %v, want an error naming the operator and --fresh", err)
	}
	// So does Flink's key for it, set in the session.
	if err := runFor(t, dir, "SET 'execution.savepoint.ignore-unclaimed-state' = 'true';"+q3, 1, engine.Options{}); err != nil {
		t.Fatalf("SET 'execution.savepoint.ignore-unclaimed-state': %v", err)
	}
	// --allow-non-restored-state drops the window's state and runs.
	if err := runFor(t, dir, q3, 1, engine.Options{AllowNonRestoredState: true}); err != nil {
		t.Fatalf("allow-non-restored-state: %v", err)
	}
	// --fresh starts over with the new query.
	if err := runFor(t, dir, q2, 1, engine.Options{Fresh: true}); err != nil {
		t.Fatalf("fresh: %v", err)
	}
}

// TestParallelismChange: keyed window state is partitioned into key
// groups, so a job restarted with another parallelism restores its state
// (it was refused before issue 12); cmd/streamsql's TestRescale checks
// the output of such restores.
func TestParallelismChange(t *testing.T) {
	dir := t.TempDir()
	q := restoreDDL + `INSERT INTO out SELECT k, COUNT(*) FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, k;`
	if err := runFor(t, dir, q, 3, engine.Options{Parallelism: 2}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{1, 3, 2} {
		if err := runFor(t, dir, q, 1, engine.Options{Parallelism: p}); err != nil {
			t.Fatalf("restoring with parallelism %d: %v", p, err)
		}
	}
	// And state of one task restores into subtasks.
	one := t.TempDir()
	if err := runFor(t, one, q, 3, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := runFor(t, one, q, 1, engine.Options{Parallelism: 2}); err != nil {
		t.Fatalf("restoring one task's state with parallelism 2: %v", err)
	}
}
