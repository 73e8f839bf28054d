package over_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/internal/difftest"
)

// restoreQuery is an OVER aggregation (its frame is the last %s) from a
// throttled datagen source with out-of-order event time (none late) into
// an exactly-once filesystem sink.
const restoreQuery = `
SET 'pipeline.name' = 'over';
SET 'execution.checkpointing.interval' = '50 ms';
CREATE TABLE ev (k BIGINT, x BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '50' MILLISECOND)
WITH ('connector' = 'datagen', 'rows-per-second' = '%s', 'number-of-rows' = '12000', 'seed' = '7',
      'fields.k.min' = '0', 'fields.k.max' = '30', 'fields.x.min' = '-1000', 'fields.x.max' = '1000',
      'fields.ts.step' = '1 ms', 'fields.ts.max-out-of-orderness' = '40 ms');
CREATE TABLE out (k BIGINT, x BIGINT, ts TIMESTAMP(3), s BIGINT, n BIGINT, mn BIGINT, mx BIGINT)
WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'json');
INSERT INTO out SELECT k, x, ts, SUM(x) OVER w, COUNT(*) OVER w, MIN(x) OVER w, MAX(x) OVER w FROM ev
WINDOW w AS (PARTITION BY k ORDER BY ts %s);
`

// runJob is difftest.RunJob with a 90 s bound.
func runJob(t *testing.T, stateDir, sql string, p, checkpoints int) (restoredFrom uint64) {
	t.Helper()
	return difftest.RunJobWithin(t, stateDir, sql, p, checkpoints, 90*time.Second)
}

// lines returns the JSON lines of the files of dir, sorted.
func lines(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no output in %s: %v", dir, err)
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l != "" {
				out = append(out, l)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestRestoreAndRescale: an OVER aggregation cancelled midway (a crash:
// its state directory keeps the checkpoints) and restored, at parallelism
// 2 -> 1 -> 3, writes exactly the rows of an uninterrupted run: the held
// rows, frames and accumulators of every partition survive, in key groups.
func TestRestoreAndRescale(t *testing.T) {
	for _, frame := range []string{"ROWS BETWEEN 5 PRECEDING AND CURRENT ROW", "RANGE BETWEEN INTERVAL '0.2' SECOND PRECEDING AND CURRENT ROW"} {
		t.Run(strings.Fields(frame)[0], func(t *testing.T) {
			dir := t.TempDir()
			refOut := filepath.Join(dir, "ref")
			runJob(t, filepath.Join(dir, "ref-state"), fmt.Sprintf(restoreQuery, "unlimited", refOut, frame), 1, 0)
			want := lines(t, refOut)
			if len(want) != 12000 {
				t.Fatalf("the reference run wrote %d rows, want 12000 (none late)", len(want))
			}
			state, out := filepath.Join(dir, "state"), filepath.Join(dir, "out")
			ps := []int{2, 1, 3}
			for i, p := range ps {
				rate, cps := "5000", 3 // slow enough that a run cannot finish before its checkpoints are counted
				if i == len(ps)-1 {
					rate, cps = "unlimited", 0
				}
				from := runJob(t, state, fmt.Sprintf(restoreQuery, rate, out, frame), p, cps)
				if (i > 0) != (from > 0) {
					t.Fatalf("run %d (parallelism %d) restored from checkpoint %d", i+1, p, from)
				}
			}
			got := lines(t, out)
			if !slices.Equal(got, want) {
				t.Fatalf("restored runs wrote %d rows, the uninterrupted run %d; first difference: %s", len(got), len(want), firstDiff(got, want))
			}
		})
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("%q vs %q", a[i], b[i])
		}
	}
	return "one is a prefix of the other"
}
