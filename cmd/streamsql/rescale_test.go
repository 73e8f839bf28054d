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

const rescaleQuery = `
SET 'execution.checkpointing.interval' = '200 ms';
SET 'pipeline.name' = 'rescale';
SET 'parallelism.default' = '%d';
CREATE TABLE ev (k BIGINT, x BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'rows-per-second' = '%s', 'number-of-rows' = '60000', 'seed' = '11',
      'fields.k.min' = '0', 'fields.k.max' = '50', 'fields.x.min' = '-1000000000', 'fields.x.max' = '1000000000', 'fields.ts.step' = '1 ms', 'fields.ts.max-out-of-orderness' = '500');
CREATE TABLE out (k BIGINT, ws TIMESTAMP(3), n BIGINT, s BIGINT, m BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
INSERT INTO out SELECT k, window_start, COUNT(*), SUM(x), MAX(x)
FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '2' SECOND)) GROUP BY window_start, window_end, k;
`

// TestRescale is issue 12's proof that keyed state rescales: a keyed
// windowed query runs at parallelism 2 and is stopped with a savepoint
// midway (with open windows and late rows counted); restored from that
// savepoint at parallelism 1 and, again, at 3, its output equals an
// uninterrupted run's (as a set of rows: subtasks interleave their
// output).
func TestRescale(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary for several seconds")
	}
	bin := binary(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	write := func(name string, parallelism int, rate string) string {
		sql := filepath.Join(dir, name+".sql")
		if err := os.WriteFile(sql, []byte(fmt.Sprintf(rescaleQuery, parallelism, rate, out)), 0o644); err != nil {
			t.Fatal(err)
		}
		return sql
	}
	part := filepath.Join(out, "part-0.csv")
	ref := write("ref", 1, "unlimited")
	if b, err := exec.Command(bin, "run", "--state-dir", filepath.Join(dir, "ref-state"), ref).CombinedOutput(); err != nil {
		t.Fatalf("reference: %v\n%s", err, b)
	}
	want, err := os.ReadFile(part)
	if err != nil || len(want) == 0 {
		t.Fatalf("reference output: %v (%d bytes)", err, len(want))
	}
	want = sortLines(want)
	if err := os.RemoveAll(out); err != nil {
		t.Fatal(err)
	}

	state := filepath.Join(dir, "state")
	cmd := exec.Command(bin, "run", "--savepoint-on-stop", "--state-dir", state, write("p2", 2, "10000"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Stop midway: once some output was written, after a checkpoint.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, errCP := os.Stat(filepath.Join(state, "rescale", "CHECKPOINTS.json"))
		b, _ := os.ReadFile(part)
		if errCP == nil && bytes.Count(b, []byte("\n")) > 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job wrote no output and took no checkpoint in 20 s:\n%s", stderr.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("stop with savepoint: %v\n%s", err, stderr.String())
	}
	m := regexp.MustCompile(`stopped job rescale with savepoint (\S+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no savepoint reported on stop:\n%s", stderr.String())
	}
	if partial, _ := os.ReadFile(part); len(partial) >= len(want) {
		t.Fatalf("the job finished before it was stopped (%d of %d bytes); slow it down", len(partial), len(want))
	}
	for _, p := range []int{1, 3} {
		b, err := exec.Command(bin, "run", "-v", "--from-savepoint", m[1], "--state-dir", state, write(fmt.Sprintf("p%d", p), p, "unlimited")).CombinedOutput()
		if err != nil || !strings.Contains(string(b), "restoring checkpoint") {
			t.Fatalf("restore at parallelism %d: %v\n%s", p, err, b)
		}
		got, err := os.ReadFile(part)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("parallelism 2 -> %d: %d rows", p, bytes.Count(got, []byte("\n")))
		compareOutput(t, sortLines(got), want)
	}
}
