package engine_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/types"
)

// TestLateRowsTable runs window aggregations over out-of-order events
// (watermark delay 200 ms, rows out of order by up to 3 s) whose table
// keeps its late rows in a late-rows table ('scan.late-rows.table'), and
// checks that exactly the late rows land there:
//   - every row of the late-rows table is a row of the input, and there
//     are as many as the job counted late (and some);
//   - the aggregation's result is SQLite's GROUP BY over the input
//     without the rows of the late-rows table: a late row missing from it
//     or an on-time row in it would change some window's result (TUMBLE
//     windows, where a row is in one window: on time or late).
func TestLateRowsTable(t *testing.T) {
	needSQLite(t)
	rng := rand.New(rand.NewSource(15))
	evs := randomEvents(rng, 3000, 30, 3000)
	dir := t.TempDir()
	path := filepath.Join(dir, "events.csv")
	writeCSV(t, path, evs)
	queries := []struct{ name, engine, sqlite string }{
		{"tumble",
			`SELECT window_start, window_end, k, ` + aggCols + `
			FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '5' SECOND))
			GROUP BY window_start, window_end, k`,
			`SELECT ` + tsText("ws") + `, ` + tsText("ws+5000") + `, k, ` + aggCols + `
			FROM (SELECT (ts/5000)*5000 AS ws, k, v FROM ev) GROUP BY ws, k`},
		// A row some of whose HOP windows fired is not late: it counts in
		// the others, so only the late rows themselves are checked here.
		{"hop",
			`SELECT window_start, window_end, k, ` + aggCols + `
			FROM TABLE(HOP(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '2' SECOND))
			GROUP BY k, window_start, window_end`, ""},
		{"session",
			`SELECT window_start, window_end, k, ` + aggCols + `
			FROM TABLE(SESSION(TABLE ev PARTITION BY k, DESCRIPTOR(ts), INTERVAL '100' MILLISECOND))
			GROUP BY k, window_start, window_end`, ""},
		{"legacy-tumble-where",
			`SELECT TUMBLE_START(ts, INTERVAL '10' SECOND), TUMBLE_END(ts, INTERVAL '10' SECOND), k, SUM(v), COUNT(*)
			FROM ev WHERE v > 0 GROUP BY TUMBLE(ts, INTERVAL '10' SECOND), k`,
			`SELECT ` + tsText("ws") + `, ` + tsText("ws+10000") + `, k, SUM(v), COUNT(*)
			FROM (SELECT (ts/10000)*10000 AS ws, k, v FROM ev WHERE v > 0) GROUP BY ws, k`},
	}
	for _, p := range []int{1, 3} {
		for _, q := range queries {
			t.Run(fmt.Sprintf("%s/parallelism=%d", q.name, p), func(t *testing.T) {
				out := t.TempDir()
				ddl := fmt.Sprintf(`SET 'parallelism.default' = '%d';
CREATE TABLE ev (k BIGINT, v BIGINT, ts TIMESTAMP(3),
	WATERMARK FOR ts AS ts - INTERVAL '200' MILLISECOND)
	WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv', 'scan.late-rows.table' = 'late_ev');
CREATE TABLE late_ev (k BIGINT, v BIGINT, ts TIMESTAMP(3))
	WITH ('connector' = 'filesystem', 'path' = '%s/late', 'format' = 'csv');
CREATE TABLE res (ws TIMESTAMP(3), we TIMESTAMP(3), k BIGINT, %s)
	WITH ('connector' = 'filesystem', 'path' = '%s/res', 'format' = 'csv');
`, p, path, out, resCols(q.name), out)
				st := runInsert(t, engine.Options{StateDir: t.TempDir(), BatchSize: 64, CheckpointInterval: 20 * time.Millisecond},
					ddl+"INSERT INTO res "+q.engine+";")
				late := readLines(t, filepath.Join(out, "late"))
				if len(late) == 0 || int64(len(late)) != st.LateRecords {
					t.Fatalf("%d rows in the late-rows table, %d counted late (want equal, and some)", len(late), st.LateRecords)
				}
				kept := subtractRows(t, csvLines(evs), late)
				if q.sqlite == "" {
					return
				}
				keptPath := filepath.Join(out, "kept.csv")
				if err := os.WriteFile(keptPath, []byte(strings.Join(kept, "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				got := readLines(t, filepath.Join(out, "res"))
				want := runSQLite(t, keptPath, q.sqlite)
				if d := diffRows(got, want); d != "" {
					t.Fatalf("the result is not SQLite's over the rows not in the late-rows table (%d vs %d rows):\n%s", len(got), len(want), d)
				}
			})
		}
	}
}

// resCols declares the aggregate columns of TestLateRowsTable's sink.
func resCols(query string) string {
	if strings.HasPrefix(query, "legacy") {
		return "s BIGINT, n BIGINT"
	}
	return "n BIGINT, cv BIGINT, s BIGINT, mn BIGINT, mx BIGINT, dv BIGINT"
}

// runInsert runs the statements of sql, whose last one starts a job, waits
// for the job to finish and returns its statistics.
func runInsert(t *testing.T, opts engine.Options, sql string) engineStats {
	t.Helper()
	ctx := context.Background()
	eng := engine.New(opts)
	defer eng.Close(ctx)
	res, err := eng.Exec(ctx, sql)
	if err != nil {
		t.Fatal(err)
	}
	var job *engine.Job
	for _, r := range res {
		if r.Job != nil {
			job = r.Job
		}
	}
	if job == nil {
		t.Fatal("no job started")
	}
	if err := job.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	st := job.Stats()
	return engineStats{LateRecords: st.LateRecords}
}

type engineStats struct{ LateRecords int64 }

// readLines returns the lines of every file under dir (a filesystem sink's
// directory), sorted.
func readLines(t *testing.T, dir string) []string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l != "" {
				lines = append(lines, l)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return lines
}

// csvLines are the lines writeCSV writes for evs.
func csvLines(evs []event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		v := fmt.Sprint(e.val)
		if e.null {
			v = ""
		}
		out[i] = fmt.Sprintf("%d,%s,%s", e.key, v, types.FormatTimestamp(e.ts))
	}
	return out
}

// subtractRows returns all without one occurrence of each row of some,
// failing when a row of some is not in all.
func subtractRows(t *testing.T, all, some []string) []string {
	t.Helper()
	left := map[string]int{}
	for _, r := range all {
		left[r]++
	}
	for _, r := range some {
		if left[r] == 0 {
			t.Fatalf("row %q of the late-rows table is not an input row (or is there more often than in the input)", r)
		}
		left[r]--
	}
	var out []string
	for _, r := range all {
		if left[r] > 0 {
			left[r]--
			out = append(out, r)
		}
	}
	return out
}
