package rank_test

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

// restoreQuery is a keyed Top-3 from a throttled datagen source into an
// exactly-once filesystem sink that takes updates (debezium-json).
const restoreQuery = `
SET 'pipeline.name' = 'top3';
SET 'execution.checkpointing.interval' = '50 ms';
CREATE TABLE ev (k BIGINT, x BIGINT)
WITH ('connector' = 'datagen', 'rows-per-second' = '%s', 'number-of-rows' = '24000', 'seed' = '5',
      'fields.k.min' = '0', 'fields.k.max' = '40', 'fields.x.min' = '-100000', 'fields.x.max' = '100000');
CREATE TABLE out (k BIGINT, x BIGINT, rn BIGINT)
WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'debezium-json');
INSERT INTO out SELECT k, x, rn FROM (SELECT k, x, ROW_NUMBER() OVER (PARTITION BY k ORDER BY x DESC) AS rn FROM ev) WHERE rn <= 3;
`

// changelogs reads the debezium-json files of dir and returns each
// partition's sequence of changes and the final table (a row per
// partition and number), failing on a retraction of a row not there.
func changelogs(t *testing.T, dir string) (map[float64][]string, map[string]string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no output in %s: %v", dir, err)
	}
	perKey := map[float64][]string{}
	final := map[string]string{}
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
				pk := fmt.Sprint(ev.Before["k"], "/", ev.Before["rn"])
				if final[pk] != fmt.Sprint(ev.Before) {
					t.Fatalf("%s: retracts %v, but its row is %q", pk, ev.Before, final[pk])
				}
				delete(final, pk)
			}
			if ev.After != nil {
				pk := fmt.Sprint(ev.After["k"], "/", ev.After["rn"])
				if _, ok := final[pk]; ok {
					t.Fatalf("%s: a second row %v beside %q", pk, ev.After, final[pk])
				}
				final[pk] = fmt.Sprint(ev.After)
			}
		}
	}
	return perKey, final
}

// TestRestoreAndRescale: a Top-N job cancelled midway (a crash: its Pebble
// state directory keeps the checkpoints) and restored, at parallelism
// 1 -> 1 and 2 -> 1 -> 3, emits what an uninterrupted run does: each
// partition's changelog, change for change.
func TestRestoreAndRescale(t *testing.T) {
	dir := t.TempDir()
	refOut := filepath.Join(dir, "ref")
	difftest.RunJob(t, filepath.Join(dir, "ref-state"), fmt.Sprintf(restoreQuery, "unlimited", refOut), 1, 0)
	wantSeq, wantFinal := changelogs(t, refOut)
	if len(wantFinal) != 41*3 {
		t.Fatalf("the reference run's result has %d rows, want 3 for each of 41 keys", len(wantFinal))
	}
	for _, tc := range []struct {
		name string
		ps   []int
	}{
		{"1-1", []int{1, 1}},
		{"2-1-3", []int{2, 1, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := filepath.Join(dir, tc.name+"-state")
			out := filepath.Join(dir, tc.name)
			for i, p := range tc.ps {
				// Slow enough that 3 checkpoints complete long before the
				// end on a loaded machine under the race detector.
				rate, cps := "4000", 3
				if i == len(tc.ps)-1 {
					rate, cps = "unlimited", 0
				}
				from := difftest.RunJob(t, state, fmt.Sprintf(restoreQuery, rate, out), p, cps)
				if (i > 0) != (from > 0) {
					t.Fatalf("run %d (parallelism %d) restored from checkpoint %d", i+1, p, from)
				}
			}
			gotSeq, gotFinal := changelogs(t, out)
			if !maps.Equal(gotFinal, wantFinal) {
				t.Fatalf("final table:\n%v\nwant\n%v", gotFinal, wantFinal)
			}
			for k, want := range wantSeq {
				if !slices.Equal(gotSeq[k], want) {
					t.Fatalf("key %v: changelog\n%v\nwant\n%v", k, gotSeq[k], want)
				}
			}
		})
	}
}
