package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/exec"
)

const closeDDL = `
SET 'pipeline.name' = 'closing';
SET 'execution.checkpointing.interval' = '1 h';
CREATE TABLE ev (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
WITH ('connector' = 'datagen', 'rows-per-second' = '5000', 'fields.k.min' = '0', 'fields.k.max' = '9', 'fields.ts.step' = '1 ms');
CREATE TABLE out (k BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO out SELECT k, COUNT(*) FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k;`

// TestCloseStopsJobsWithCheckpoint: Close stops a background job and a
// SELECT run in the foreground, each with a final checkpoint (the interval
// is an hour, so it is the only one), and a new engine on the same state
// directory resumes the job from it. After Close, statements fail.
func TestCloseStopsJobsWithCheckpoint(t *testing.T) {
	dir := t.TempDir()
	eng := engine.New(engine.Options{StateDir: dir})
	job, err := eng.Submit(execAll(t, eng, closeDDL).Query, nil)
	if err != nil {
		t.Fatal(err)
	}
	sel := execAll(t, eng, `SET 'pipeline.name' = 'select'; SELECT k FROM ev;`).Query
	selDone := make(chan error, 1)
	go func() { selDone <- sel.Run(context.Background(), nil) }()
	waitFor(t, "both queries read rows", func() bool { return job.Stats().RecordsIn > 0 && sel.Stats().RecordsIn > 0 })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := eng.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if st := job.Status(); st != engine.Stopped {
		t.Fatalf("job status after Close: %s (%v)", st, job.Err())
	}
	if err := <-selDone; !errors.Is(err, exec.ErrStopped) {
		t.Fatalf("Run of a SELECT after Close returned %v, want exec.ErrStopped", err)
	}
	read := job.Stats().RecordsIn
	cp := job.Stats().LastCheckpoint
	if cp == nil {
		t.Fatal("no final checkpoint")
	}
	if err := eng.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	stmts, _ := engine.Parse("t.sql", "SHOW TABLES;")
	if _, err := eng.Execute(context.Background(), stmts[0]); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("Execute after Close: %v, want ErrClosed", err)
	}
	if err := sel.Run(context.Background(), nil); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("Run after Close: %v, want ErrClosed", err)
	}
	if _, err := eng.NewSession().Execute(context.Background(), stmts[0]); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("a new session's Execute after Close: %v, want ErrClosed", err)
	}

	// A new engine resumes the job from the final checkpoint.
	eng2 := engine.New(engine.Options{StateDir: dir})
	job2, err := eng2.Submit(execAll(t, eng2, closeDDL).Query, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second run to start", func() bool { return job2.Stats().RecordsIn > 0 })
	if got := job2.Stats().RestoredFrom; got != cp.ID {
		t.Fatalf("the second run restored checkpoint %d, want the final one, %d", got, cp.ID)
	}
	if err := eng2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("first run read %d rows, stopped at checkpoint %d", read, cp.ID)
}

// TestCloseCancelsAtDeadline: a SELECT whose reader stopped reading cannot
// reach a batch boundary; Close cancels it when its context ends.
func TestCloseCancelsAtDeadline(t *testing.T) {
	eng := engine.New(engine.Options{StateDir: t.TempDir(), CheckpointInterval: -1})
	q := execAll(t, eng, `CREATE TABLE ev (k BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '1000'); SELECT k FROM ev;`).Query
	blocked := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	done := make(chan error, 1)
	go func() {
		done <- q.Run(context.Background(), func(rec arrow.Record) error {
			select {
			case blocked <- struct{}{}:
			default:
			}
			<-release
			return nil
		})
	}()
	<-blocked
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	go func() {
		// The row function ignores cancellation; let it go once Close
		// has cancelled the query.
		<-ctx.Done()
		release <- struct{}{}
	}()
	if err := eng.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v, want the deadline", err)
	}
	// Released as the deadline passed, the query may see the stop request
	// or the cancellation first.
	if err := <-done; !errors.Is(err, context.Canceled) && !errors.Is(err, exec.ErrStopped) {
		t.Fatalf("Run: %v, want it cancelled or stopped", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
