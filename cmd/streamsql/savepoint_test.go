package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

const savepointQuery = `
SET 'execution.checkpointing.interval' = '200 ms';
SET 'pipeline.name' = 'sp-test';
CREATE TABLE ev (k BIGINT, x BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'rows-per-second' = '%s', 'number-of-rows' = '60000', 'seed' = '7',
      'fields.k.min' = '0', 'fields.k.max' = '20', 'fields.x.min' = '-1000000000', 'fields.x.max' = '1000000000', 'fields.ts.step' = '1 ms', 'fields.ts.max-out-of-orderness' = '500');
CREATE TABLE out (k BIGINT, ws TIMESTAMP(3), n BIGINT, s BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
INSERT INTO out SELECT k, window_start, COUNT(*), SUM(x)
FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '2' SECOND)) GROUP BY window_start, window_end, k;
`

// TestSavepoints takes a savepoint of a running job from another process,
// stops the job with SIGTERM and --savepoint-on-stop, restores it from
// that savepoint, and checks the final output equals an uninterrupted
// run's; `checkpoints list` and `inspect` work on the job meanwhile.
func TestSavepoints(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary for several seconds")
	}
	bin := binary(t)
	dir := t.TempDir()
	write := func(name, rate string) (string, string) {
		out := filepath.Join(dir, name+"-out")
		sql := filepath.Join(dir, name+".sql")
		if err := os.WriteFile(sql, []byte(fmt.Sprintf(savepointQuery, rate, out)), 0o644); err != nil {
			t.Fatal(err)
		}
		return sql, filepath.Join(out, "part-0.csv")
	}
	refSQL, refOut := write("ref", "unlimited")
	if out, err := exec.Command(bin, "run", "--state-dir", filepath.Join(dir, "ref-state"), refSQL).CombinedOutput(); err != nil {
		t.Fatalf("reference: %v\n%s", err, out)
	}
	want, err := os.ReadFile(refOut)
	if err != nil || len(want) == 0 {
		t.Fatalf("reference output: %v (%d bytes)", err, len(want))
	}

	sql, out := write("sp", "10000") // 6 s of wall time
	state := filepath.Join(dir, "state")
	cmd := exec.Command(bin, "run", "--savepoint-on-stop", "--state-dir", state, sql)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait for the job's first checkpoint (its status file).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(state, "sp-test", "CHECKPOINTS.json")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job took no checkpoint in 10 s:\n%s", stderr.String())
		}
	}

	// A savepoint of the running job, from another process.
	sp1 := filepath.Join(dir, "sp1")
	b, err := exec.Command(bin, "savepoint", "--state-dir", state, "--path", sp1, "sp-test").CombinedOutput()
	if err != nil || !strings.Contains(string(b), "savepoint of job sp-test at checkpoint") {
		t.Fatalf("savepoint: %v\n%s", err, b)
	}
	if _, err := os.Stat(filepath.Join(sp1, "savepoint.json")); err != nil {
		t.Fatalf("savepoint directory: %v", err)
	}
	b, err = exec.Command(bin, "checkpoints", "--state-dir", state, "list").CombinedOutput()
	if err != nil || !strings.Contains(string(b), "job sp-test (running)") {
		t.Fatalf("checkpoints list: %v\n%s", err, b)
	}

	// Stop with a savepoint.
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("stop with savepoint: %v\n%s", err, stderr.String())
	}
	m := regexp.MustCompile(`stopped job sp-test with savepoint (\S+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no savepoint reported on stop:\n%s", stderr.String())
	}
	partial, _ := os.ReadFile(out)
	if len(partial) >= len(want) {
		t.Fatalf("the job finished before it was stopped (%d of %d bytes); slow it down", len(partial), len(want))
	}
	b, err = exec.Command(bin, "checkpoints", "--state-dir", state, "inspect", "sp-test").CombinedOutput()
	if err != nil || !strings.Contains(string(b), "2-window-agg") || !strings.Contains(string(b), "1-source-ev") {
		t.Fatalf("checkpoints inspect: %v\n%s", err, b)
	}

	// Restore from the stop savepoint, unthrottled, into the same sink:
	// the output is the uninterrupted run's.
	sql2, out2 := write("sp", "unlimited")
	if out2 != out {
		t.Fatal("the restored job must write the same file")
	}
	b, err = exec.Command(bin, "run", "-v", "--from-savepoint", m[1], "--state-dir", state, sql2).CombinedOutput()
	if err != nil || !strings.Contains(string(b), "restoring checkpoint") {
		t.Fatalf("restore from savepoint: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	compareOutput(t, got, want)

	// The savepoint itself was not modified by the restored job, and can
	// be restored again.
	b, err = exec.Command(bin, "run", "--from-savepoint", m[1], "--state-dir", state, sql2).CombinedOutput()
	if err != nil {
		t.Fatalf("second restore: %v\n%s", err, b)
	}
	if got, _ = os.ReadFile(out); !bytes.Equal(got, want) {
		t.Fatal("second restore from the same savepoint gave different output")
	}
}
