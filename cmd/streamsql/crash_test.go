package main

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/streamsql/streamsql/types"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the streamsql command once per test process.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "streamsql-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "streamsql")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// writeEvents writes n CSV events (key, value, event time) over keys,
// out of order by less than the query's watermark delay.
func writeEvents(t *testing.T, path string, n, keys int, seed int64) {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	var b bytes.Buffer
	ts := int64(1_704_067_200_000)
	for i := 0; i < n; i++ {
		ts += rng.Int63n(3)
		fmt.Fprintf(&b, "%d,%d,%s\n", rng.Intn(keys), rng.Intn(1000), types.FormatTimestamp(ts-rng.Int63n(1500)))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

const crashQuery = `
SET 'parallelism.default' = '%d';
SET 'execution.checkpointing.interval' = '50 ms';
SET 'pipeline.name' = 'crash-test';

CREATE TABLE ev (k INT, v BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');

CREATE TABLE agg (k INT, window_start TIMESTAMP(3), window_end TIMESTAMP(3), n BIGINT, total BIGINT, top BIGINT, distinct_v BIGINT)
WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'json');

INSERT INTO agg
SELECT k, window_start, window_end, COUNT(*), SUM(v), MAX(v), COUNT(DISTINCT v)
FROM TABLE(HOP(TABLE ev, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '15' SECOND))
GROUP BY window_start, window_end, k;
`

// TestCrashRecovery is the proof of the checkpoint invariants: the real
// binary runs a windowed aggregation from a file into an exactly-once file
// sink, is killed with SIGKILL at random moments at least 20 times and
// restarted each time with the same state directory, and its output must
// equal, row for row, the output of one uninterrupted run.
func TestCrashRecovery(t *testing.T) {
	t.Parallel() // waits on processes and checkpoints more than it computes
	if testing.Short() {
		t.Skip("crash test is long; run without -short")
	}
	// With one subtask the output must equal the reference byte for byte;
	// with two keyed subtasks the order of rows within a watermark is not
	// deterministic, so the rows are compared as sorted lists.
	for _, parallelism := range []int{1, 2} {
		t.Run(fmt.Sprintf("parallelism=%d", parallelism), func(t *testing.T) { testCrashRecovery(t, parallelism) })
	}
}

func testCrashRecovery(t *testing.T, parallelism int) {
	bin := binary(t)
	dir := t.TempDir()
	events := filepath.Join(dir, "events.csv")
	writeEvents(t, events, 1_000_000, 300, 1)

	run := func(name string, parallelism int) (*exec.Cmd, *bytes.Buffer, string) {
		out := filepath.Join(dir, name, "out")
		sql := filepath.Join(dir, name+".sql")
		if err := os.WriteFile(sql, []byte(fmt.Sprintf(crashQuery, parallelism, events, out)), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "run", "-v", "--state-dir", filepath.Join(dir, name, "state"), sql)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		return cmd, &stderr, filepath.Join(out, "part-0.json")
	}

	// The reference: one uninterrupted run.
	ref, refErr, refOut := run("reference", 1)
	start := time.Now()
	if err := ref.Run(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, refErr)
	}
	took := time.Since(start)
	want, err := os.ReadFile(refOut)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(want, []byte("\n")) < 1000 {
		t.Fatalf("reference output too small: %d bytes", len(want))
	}
	t.Logf("reference run: %v, %d rows", took, bytes.Count(want, []byte("\n")))

	// The crashing runs: kill at random moments and restart with the same
	// state dir until the job finishes; if it finished before 20 kills,
	// run another cycle with a fresh state dir. Every cycle's output must
	// equal the reference.
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	kills, restores := 0, 0
	for cycle := 0; kills < 20; cycle++ {
		if cycle > 10 {
			t.Fatalf("only %d kills after %d cycles", kills, cycle)
		}
		name := fmt.Sprintf("crashing-%d", cycle)
		var got []byte
		for attempt := 0; ; attempt++ {
			if attempt > 200 {
				t.Fatalf("no completion after %d attempts", attempt)
			}
			cmd, stderr, out := run(name, parallelism)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			// Mostly short runs (some die before their first checkpoint,
			// some after a few), now and then a longer one.
			frac := 0.01 + 0.09*rng.Float64()
			if rng.Intn(6) == 0 {
				frac = 0.1 + 0.15*rng.Float64()
			}
			var err error
			// Once 20 kills happened, the run is left to finish.
			// Each run lives at least a checkpoint interval past start-up,
			// so most runs restore and make some progress.
			kill := time.After(60*time.Millisecond + time.Duration(float64(took)*frac))
			if kills >= 20 {
				kill = nil
			}
			select {
			case err = <-done:
			case <-kill:
				_ = cmd.Process.Signal(syscall.SIGKILL)
				err = <-done
				kills++
				if finishedBeforeKill(t, filepath.Join(dir, name, "state")) {
					err = nil
				}
			}
			if strings.Contains(stderr.String(), "restoring checkpoint") {
				restores++
			}
			if err == nil {
				if got, err = os.ReadFile(out); err != nil {
					t.Fatal(err)
				}
				break
			}
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
				t.Fatalf("run failed by itself: %v\n%s", err, stderr)
			}
		}
		if parallelism > 1 {
			got, want = sortLines(got), sortLines(want)
		}
		compareOutput(t, got, want)
	}
	t.Logf("%d kills, %d runs restored from a checkpoint", kills, restores)
	if restores < 5 {
		t.Fatalf("only %d runs restored from a checkpoint: the kills came too early to test recovery", restores)
	}
}

// finishedBeforeKill reports whether a job of the state directory had
// finished (written its FINISHED mark, after its sinks' last commit)
// when it was killed. Its output is then complete, and a rerun would start
// the finished job afresh by design, so the run counts as completed.
func finishedBeforeKill(t *testing.T, stateDir string) bool {
	t.Helper()
	marks, err := filepath.Glob(filepath.Join(stateDir, "*", "FINISHED"))
	if err != nil {
		t.Fatal(err)
	}
	return len(marks) > 0
}

// sortLines returns the lines of b sorted.
func sortLines(b []byte) []byte {
	lines := strings.SplitAfter(string(b), "\n")
	sort.Strings(lines)
	return []byte(strings.Join(lines, ""))
}

// compareOutput fails unless got equals want, row for row.
func compareOutput(t *testing.T, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(g) && i < len(w); i++ {
			if g[i] != w[i] {
				t.Fatalf("output differs from the uninterrupted run at row %d (%d vs %d rows):\n got: %s\nwant: %s", i+1, len(g), len(w), g[i], w[i])
			}
		}
		t.Fatalf("output differs from the uninterrupted run: %d vs %d rows", len(g), len(w))
	}
}
