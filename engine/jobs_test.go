package engine_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/engine"
)

func execAll(t *testing.T, eng *engine.Engine, sql string) *engine.Result {
	t.Helper()
	stmts, err := engine.Parse("t.sql", sql)
	if err != nil {
		t.Fatal(err)
	}
	var last *engine.Result
	for _, st := range stmts {
		if last, err = eng.Execute(context.Background(), st); err != nil {
			t.Fatal(err)
		}
	}
	return last
}

func TestJobs(t *testing.T) {
	dir := t.TempDir()
	eng := engine.New(engine.Options{StateDir: dir, CheckpointInterval: 100 * time.Millisecond})
	res := execAll(t, eng, restoreDDL+`INSERT INTO out SELECT k, COUNT(*) FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k;`)
	job, err := eng.Submit(res.Query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Submit(res.Query, nil); err == nil {
		t.Fatal("submitting a running job again must fail")
	}
	// Wait for the job to read rows and complete a checkpoint.
	for deadline := time.Now().Add(10 * time.Second); job.Stats().LastCheckpoint == nil || job.Stats().RecordsIn == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint after 10 s with a 100 ms interval: %+v", job.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	show := execAll(t, eng, "SHOW JOBS;")
	if len(show.Rows) != 1 || show.Rows[0][0] != "changing" || show.Rows[0][1] != "RUNNING" {
		t.Fatalf("SHOW JOBS: %v", show.Rows)
	}
	if job.Stats().RecordsIn == 0 {
		t.Fatal("the job read nothing")
	}
	cps := execAll(t, eng, "SHOW CHECKPOINTS FOR 'changing';")
	if len(cps.Rows) == 0 {
		t.Fatal("SHOW CHECKPOINTS lists no checkpoint, but the job completed one")
	}
	stop := execAll(t, eng, "STOP JOB 'changing' WITH SAVEPOINT;")
	if !strings.Contains(stop.Message, "with savepoint") {
		t.Fatalf("STOP JOB: %q", stop.Message)
	}
	if job.Status() != engine.Stopped {
		t.Fatalf("status after stop: %s", job.Status())
	}
	path := stop.Message[strings.Index(stop.Message, "savepoint ")+len("savepoint ") : strings.Index(stop.Message, " (checkpoint")]
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("savepoint %q: %v", path, err)
	}
	stmts, _ := engine.Parse("t.sql", "STOP JOB 'nope';")
	if _, err := eng.Execute(context.Background(), stmts[0]); err == nil || !strings.Contains(err.Error(), `unknown job "nope"`) {
		t.Fatalf("STOP JOB of an unknown job: %v", err)
	}
}

func TestResultsIterator(t *testing.T) {
	eng := engine.New(engine.Options{StateDir: t.TempDir()})
	res := execAll(t, eng, `CREATE TABLE ev (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
		WITH ('connector' = 'datagen', 'rows-per-second' = 'unlimited', 'number-of-rows' = '10000', 'fields.k.min' = '1', 'fields.k.max' = '3', 'fields.ts.step' = '1 ms');
		SELECT k, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k;`)
	it := res.Query.Results(context.Background())
	defer it.Close()
	total := int64(0)
	for it.Next() {
		for _, row := range engine.Rows(it.Record()) {
			if row[0] == nil || row[1] == nil {
				t.Fatalf("NULL in %v", row)
			}
		}
		for r := 0; r < int(it.Record().NumRows()); r++ {
			var n int64
			for _, c := range *engine.Rows(it.Record())[r][1] {
				n = n*10 + int64(c-'0')
			}
			total += n
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if total != 10000 {
		t.Fatalf("counts add up to %d, want 10000", total)
	}
}
