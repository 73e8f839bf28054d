package temporaljoin_test

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

// restoreQuery is a LEFT event-time temporal join with a residual of a
// throttled datagen stream with a versioned datagen table (every row a new
// version of its key), event time advancing 5 ms a row, out of order by up
// to 40 ms (less than the watermarks' delay, so no row is late and the
// result does not depend on how the inputs interleave), into an
// exactly-once filesystem sink.
const restoreQuery = `
SET 'pipeline.name' = 'temporal-joins';
SET 'execution.checkpointing.interval' = '50 ms';
CREATE TABLE a (k BIGINT, x BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '50' MILLISECOND)
WITH ('connector' = 'datagen', 'rows-per-second' = '%[1]s', 'number-of-rows' = '3000', 'seed' = '5',
      'fields.k.min' = '0', 'fields.k.max' = '40', 'fields.x.min' = '-1000', 'fields.x.max' = '1000',
      'fields.ts.step' = '5 ms', 'fields.ts.max-out-of-orderness' = '40 ms');
CREATE TABLE b (k BIGINT, y BIGINT, ts TIMESTAMP(3), PRIMARY KEY (k) NOT ENFORCED, WATERMARK FOR ts AS ts - INTERVAL '50' MILLISECOND)
WITH ('connector' = 'datagen', 'rows-per-second' = '%[1]s', 'number-of-rows' = '2000', 'seed' = '7',
      'fields.k.min' = '0', 'fields.k.max' = '30', 'fields.y.min' = '-1000', 'fields.y.max' = '1000',
      'fields.ts.step' = '7 ms', 'fields.ts.max-out-of-orderness' = '40 ms');
CREATE TABLE out (k BIGINT, x BIGINT, y BIGINT, ts TIMESTAMP(3), vts TIMESTAMP(3))
WITH ('connector' = 'filesystem', 'path' = '%[2]s', 'format' = 'csv');
INSERT INTO out SELECT a.k, a.x, b.y, a.ts, b.ts FROM a LEFT JOIN b FOR SYSTEM_TIME AS OF a.ts ON a.k = b.k AND a.x < b.y;
`

// lines returns the sorted lines of the files of dir.
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
		out = append(out, strings.Split(strings.TrimSpace(string(b)), "\n")...)
	}
	slices.Sort(out)
	return out
}

// TestRestoreAndRescale: a temporal join job cancelled midway (a crash: its
// state directory keeps the checkpoints, the held rows and versions in
// them) and restored at parallelism 2 -> 1 and 2 -> 3 writes the rows an
// uninterrupted run does, each once.
func TestRestoreAndRescale(t *testing.T) {
	dir := t.TempDir()
	refOut := filepath.Join(dir, "ref")
	difftest.RunJobWithin(t, filepath.Join(dir, "ref-state"), fmt.Sprintf(restoreQuery, "unlimited", refOut), 1, 0, 120*time.Second)
	want := lines(t, refOut)
	matched := 0
	for _, l := range want {
		if !strings.HasSuffix(l, ",") {
			matched++
		}
	}
	if len(want) != 3000 || matched < 500 || matched > 2500 {
		t.Fatalf("the reference run wrote %d rows, %d of them joined", len(want), matched)
	}
	for _, tc := range []struct {
		name string
		ps   []int
	}{
		{"2-1", []int{2, 1}},
		{"2-3", []int{2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := filepath.Join(dir, tc.name+"-state")
			out := filepath.Join(dir, tc.name)
			for i, p := range tc.ps {
				rate, cps := "1000", 3 // 3 s of input: it outlasts 3 checkpoints on a loaded machine
				if i == len(tc.ps)-1 {
					rate, cps = "unlimited", 0
				}
				from := difftest.RunJobWithin(t, state, fmt.Sprintf(restoreQuery, rate, out), p, cps, 120*time.Second)
				if (i > 0) != (from > 0) {
					t.Fatalf("run %d (parallelism %d) restored from checkpoint %d", i+1, p, from)
				}
			}
			if got := lines(t, out); !slices.Equal(got, want) {
				t.Fatalf("the restored runs wrote %d rows, the uninterrupted one %d (or other rows)", len(got), len(want))
			}
		})
	}
}
