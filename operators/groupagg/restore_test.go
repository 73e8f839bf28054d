package groupagg_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/streamsql/streamsql/internal/difftest"
)

// restoreQuery is a keyed non-windowed aggregation from a throttled
// datagen source into an exactly-once filesystem sink that takes updates
// (debezium-json).
const restoreQuery = `
SET 'pipeline.name' = 'groups';
SET 'execution.checkpointing.interval' = '50 ms';
%s
CREATE TABLE ev (k BIGINT, x BIGINT)
WITH ('connector' = 'datagen', 'rows-per-second' = '%s', 'number-of-rows' = '24000', 'seed' = '5',
      'fields.k.min' = '0', 'fields.k.max' = '40', 'fields.x.min' = '-1000', 'fields.x.max' = '1000');
CREATE TABLE out (k BIGINT, n BIGINT, s BIGINT, mn BIGINT, mx BIGINT)
WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'debezium-json');
INSERT INTO out SELECT k, COUNT(*), SUM(x), MIN(x), MAX(x) FROM ev GROUP BY k HAVING MAX(x) - MIN(x) > 100;
`

// changelogs reads the debezium-json files of dir and returns each key's
// sequence of changes, and the final table.
func changelogs(t *testing.T, dir string) (map[float64][]string, map[float64]string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no output in %s: %v", dir, err)
	}
	perKey := map[float64][]string{}
	final := map[float64]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			var ev struct {
				Before, After map[string]any
				Op            string
			}
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatalf("%s: %q: %v", f, sc.Text(), err)
			}
			row := ev.After
			if row == nil {
				row = ev.Before
			}
			k := row["k"].(float64)
			perKey[k] = append(perKey[k], fmt.Sprintf("%s %v -> %v", ev.Op, ev.Before, ev.After))
			if ev.Before != nil {
				if final[k] != fmt.Sprint(ev.Before) {
					t.Fatalf("key %v: retracts %v, but its row is %q", k, ev.Before, final[k])
				}
				delete(final, k)
			}
			if ev.After != nil {
				if _, ok := final[k]; ok {
					t.Fatalf("key %v: a second row %v beside %q", k, ev.After, final[k])
				}
				final[k] = fmt.Sprint(ev.After)
			}
		}
	}
	return perKey, final
}

// TestRestoreAndRescale: a GroupAgg job cancelled midway (a crash: its
// Pebble state directory keeps the checkpoints) and restored, at
// parallelism 2 -> 1 -> 3 and 1 -> 1, emits what an uninterrupted run
// does: each key's changelog, change for change, and so the final table.
func TestRestoreAndRescale(t *testing.T) {
	dir := t.TempDir()
	refOut := filepath.Join(dir, "ref")
	difftest.RunJob(t, filepath.Join(dir, "ref-state"), fmt.Sprintf(restoreQuery, "", "unlimited", refOut), 1, 0)
	wantSeq, wantFinal := changelogs(t, refOut)
	if len(wantFinal) < 10 {
		t.Fatalf("the reference run's result has %d keys", len(wantFinal))
	}
	for _, tc := range []struct {
		name string
		ps   []int
		sets string
	}{
		{"1-1", []int{1, 1}, ""},
		{"2-1-3", []int{2, 1, 3}, ""},
		{"mini-batch-1-3", []int{1, 3}, "SET 'table.exec.mini-batch.enabled' = 'true'; SET 'table.exec.mini-batch.size' = '100';"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := filepath.Join(dir, tc.name+"-state")
			out := filepath.Join(dir, tc.name)
			for i, p := range tc.ps {
				// Slow enough that 3 checkpoints complete long before the end
				// on a loaded machine under the race detector.
				rate, cps := "4000", 3
				if i == len(tc.ps)-1 {
					rate, cps = "unlimited", 0
				}
				from := difftest.RunJob(t, state, fmt.Sprintf(restoreQuery, tc.sets, rate, out), p, cps)
				if (i > 0) != (from > 0) {
					t.Fatalf("run %d (parallelism %d) restored from checkpoint %d", i+1, p, from)
				}
				if i == 0 {
					if seq, _ := changelogs(t, out); len(seq) == 0 {
						t.Fatal("the first run wrote no output before it was stopped")
					}
				}
			}
			gotSeq, gotFinal := changelogs(t, out)
			if !maps.Equal(gotFinal, wantFinal) {
				t.Fatalf("final table:\n%v\nwant\n%v", gotFinal, wantFinal)
			}
			if tc.sets != "" {
				return // mini-batches end elsewhere after a restore: only the result is the same
			}
			for k, want := range wantSeq {
				if !slices.Equal(gotSeq[k], want) {
					t.Fatalf("key %v: changelog\n%v\nwant\n%v", k, gotSeq[k], want)
				}
			}
		})
	}
}
