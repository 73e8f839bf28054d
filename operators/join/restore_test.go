package join_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamsql/streamsql/internal/difftest"
)

// restoreQuery is a left join with a residual condition of two throttled
// datagen sources into an exactly-once filesystem sink that takes updates
// (debezium-json).
const restoreQuery = `
SET 'pipeline.name' = 'joins';
SET 'execution.checkpointing.interval' = '50 ms';
CREATE TABLE a (k BIGINT, x BIGINT)
WITH ('connector' = 'datagen', 'rows-per-second' = '%[1]s', 'number-of-rows' = '3000', 'seed' = '5',
      'fields.k.min' = '0', 'fields.k.max' = '300', 'fields.x.min' = '-1000', 'fields.x.max' = '1000');
CREATE TABLE b (k BIGINT, y BIGINT)
WITH ('connector' = 'datagen', 'rows-per-second' = '%[1]s', 'number-of-rows' = '3000', 'seed' = '7',
      'fields.k.min' = '100', 'fields.k.max' = '400', 'fields.y.min' = '-1000', 'fields.y.max' = '1000');
CREATE TABLE out (k BIGINT, x BIGINT, k2 BIGINT, y BIGINT)
WITH ('connector' = 'filesystem', 'path' = '%[2]s', 'format' = 'debezium-json');
INSERT INTO out SELECT a.k, a.x, b.k, b.y FROM a FULL JOIN b ON a.k = b.k AND a.x < b.y;
`

// runJob is difftest.RunJob with a 120 s bound.
func runJob(t *testing.T, stateDir, sql string, p, checkpoints int) (restoredFrom uint64) {
	t.Helper()
	return difftest.RunJobWithin(t, stateDir, sql, p, checkpoints, 120*time.Second)
}

// table reads the debezium-json files of dir and applies their changes to
// a multiset of rows, failing on a change whose before row is not there.
func table(t *testing.T, dir string) map[string]int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no output in %s: %v", dir, err)
	}
	rows := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			var ev struct{ Before, After map[string]any }
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatalf("%s: %q: %v", f, sc.Text(), err)
			}
			if ev.Before != nil {
				r := fmt.Sprint(ev.Before)
				if rows[r] == 0 {
					t.Fatalf("a change retracts %s, which is not in the table", r)
				}
				if rows[r]--; rows[r] == 0 {
					delete(rows, r)
				}
			}
			if ev.After != nil {
				rows[fmt.Sprint(ev.After)]++
			}
		}
	}
	return rows
}

// TestRestoreAndRescale: a join job cancelled midway (a crash: its Pebble
// state directory keeps the checkpoints) and restored, at parallelism
// 2 -> 1 -> 3 and 1 -> 1, leaves the table an uninterrupted run does.
func TestRestoreAndRescale(t *testing.T) {
	dir := t.TempDir()
	refOut := filepath.Join(dir, "ref")
	runJob(t, filepath.Join(dir, "ref-state"), fmt.Sprintf(restoreQuery, "unlimited", refOut), 1, 0)
	want := table(t, refOut)
	if len(want) < 1000 {
		t.Fatalf("the reference run's result has %d rows", len(want))
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
				rate, cps := "1000", 3 // 3 s of input: it outlasts 3 checkpoints on a loaded machine
				if i == len(tc.ps)-1 {
					rate, cps = "unlimited", 0
				}
				from := runJob(t, state, fmt.Sprintf(restoreQuery, rate, out), p, cps)
				if (i > 0) != (from > 0) {
					t.Fatalf("run %d (parallelism %d) restored from checkpoint %d", i+1, p, from)
				}
			}
			if got := table(t, out); !maps.Equal(got, want) {
				t.Fatalf("final table has %d distinct rows, want %d", len(got), len(want))
			}
		})
	}
}

// windowRestoreQuery is a full window join of two throttled datagen
// sources (event time advancing 5 ms a row, out of order by up to 40 ms,
// whatever the rate) into an exactly-once filesystem sink.
const windowRestoreQuery = `
SET 'pipeline.name' = 'window-joins';
SET 'execution.checkpointing.interval' = '50 ms';
CREATE TABLE a (k BIGINT, x BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '50' MILLISECOND)
WITH ('connector' = 'datagen', 'rows-per-second' = '%[1]s', 'number-of-rows' = '3000', 'seed' = '5',
      'fields.k.min' = '0', 'fields.k.max' = '30', 'fields.x.min' = '-1000', 'fields.x.max' = '1000',
      'fields.ts.step' = '5 ms', 'fields.ts.max-out-of-orderness' = '40 ms');
CREATE TABLE b (k BIGINT, y BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '50' MILLISECOND)
WITH ('connector' = 'datagen', 'rows-per-second' = '%[1]s', 'number-of-rows' = '3000', 'seed' = '7',
      'fields.k.min' = '10', 'fields.k.max' = '40', 'fields.y.min' = '-1000', 'fields.y.max' = '1000',
      'fields.ts.step' = '5 ms', 'fields.ts.max-out-of-orderness' = '40 ms');
CREATE TABLE out (k BIGINT, x BIGINT, k2 BIGINT, y BIGINT, ws TIMESTAMP(3))
WITH ('connector' = 'filesystem', 'path' = '%[2]s', 'format' = 'debezium-json');
INSERT INTO out SELECT L.k, L.x, R.k, R.y, COALESCE(L.window_start, R.window_start)
FROM TABLE(HOP(TABLE a, DESCRIPTOR(ts), INTERVAL '100' MILLISECOND, INTERVAL '300' MILLISECOND)) L
FULL JOIN TABLE(HOP(TABLE b, DESCRIPTOR(ts), INTERVAL '100' MILLISECOND, INTERVAL '300' MILLISECOND)) R
ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.k = R.k AND L.x < R.y;
`

// TestWindowJoinRestoreAndRescale: a window join job cancelled midway and
// restored at parallelism 2 -> 1 -> 3 and 2 -> 3 writes the rows an
// uninterrupted run does, each once.
func TestWindowJoinRestoreAndRescale(t *testing.T) {
	dir := t.TempDir()
	refOut := filepath.Join(dir, "ref")
	runJob(t, filepath.Join(dir, "ref-state"), fmt.Sprintf(windowRestoreQuery, "unlimited", refOut), 1, 0)
	want := table(t, refOut)
	if len(want) < 1000 {
		t.Fatalf("the reference run's result has %d rows", len(want))
	}
	for _, tc := range []struct {
		name string
		ps   []int
	}{
		{"2-1-3", []int{2, 1, 3}},
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
				from := runJob(t, state, fmt.Sprintf(windowRestoreQuery, rate, out), p, cps)
				if (i > 0) != (from > 0) {
					t.Fatalf("run %d (parallelism %d) restored from checkpoint %d", i+1, p, from)
				}
			}
			if got := table(t, out); !maps.Equal(got, want) {
				t.Fatalf("final table has %d distinct rows, want %d", len(got), len(want))
			}
		})
	}
}

// intervalRestoreQuery is a full interval join, with a residual, of two
// throttled datagen sources (event time advancing 5 ms a row, out of order
// by up to 40 ms, whatever the rate: no row is late) into an exactly-once
// filesystem sink.
const intervalRestoreQuery = `
SET 'pipeline.name' = 'interval-joins';
SET 'execution.checkpointing.interval' = '50 ms';
CREATE TABLE a (k BIGINT, x BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '50' MILLISECOND)
WITH ('connector' = 'datagen', 'rows-per-second' = '%[1]s', 'number-of-rows' = '3000', 'seed' = '5',
      'fields.k.min' = '0', 'fields.k.max' = '30', 'fields.x.min' = '-1000', 'fields.x.max' = '1000',
      'fields.ts.step' = '5 ms', 'fields.ts.max-out-of-orderness' = '40 ms');
CREATE TABLE b (k BIGINT, y BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '50' MILLISECOND)
WITH ('connector' = 'datagen', 'rows-per-second' = '%[1]s', 'number-of-rows' = '3000', 'seed' = '7',
      'fields.k.min' = '10', 'fields.k.max' = '40', 'fields.y.min' = '-1000', 'fields.y.max' = '1000',
      'fields.ts.step' = '5 ms', 'fields.ts.max-out-of-orderness' = '40 ms');
CREATE TABLE out (k BIGINT, x BIGINT, ats TIMESTAMP(3), k2 BIGINT, y BIGINT, bts TIMESTAMP(3))
WITH ('connector' = 'filesystem', 'path' = '%[2]s', 'format' = 'debezium-json');
INSERT INTO out SELECT a.k, a.x, a.ts, b.k, b.y, b.ts FROM a FULL JOIN b
ON a.k = b.k AND a.ts BETWEEN b.ts - INTERVAL '300' MILLISECOND AND b.ts + INTERVAL '100' MILLISECOND AND a.x < b.y;
`

// TestIntervalJoinRestoreAndRescale: an interval join job cancelled
// midway and restored at parallelism 2 -> 1 -> 3 and 2 -> 3 writes the
// rows an uninterrupted run does, each once (padded rows included: a row
// held across a restore keeps whether it joined).
func TestIntervalJoinRestoreAndRescale(t *testing.T) {
	dir := t.TempDir()
	refOut := filepath.Join(dir, "ref")
	runJob(t, filepath.Join(dir, "ref-state"), fmt.Sprintf(intervalRestoreQuery, "unlimited", refOut), 1, 0)
	want := table(t, refOut)
	if len(want) < 1000 {
		t.Fatalf("the reference run's result has %d rows", len(want))
	}
	for _, tc := range []struct {
		name string
		ps   []int
	}{
		{"2-1-3", []int{2, 1, 3}},
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
				from := runJob(t, state, fmt.Sprintf(intervalRestoreQuery, rate, out), p, cps)
				if (i > 0) != (from > 0) {
					t.Fatalf("run %d (parallelism %d) restored from checkpoint %d", i+1, p, from)
				}
			}
			if got := table(t, out); !maps.Equal(got, want) {
				t.Fatalf("final table has %d distinct rows, want %d", len(got), len(want))
			}
		})
	}
}
