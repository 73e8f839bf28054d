package engine_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/internal/difftest"
	"github.com/streamsql/streamsql/types"
)

// The differential tests run windowed aggregations over random,
// out-of-order event files through the engine and compare every output row
// with an independent batch computation of the same windows in SQLite.

const base = int64(1_704_067_200_000) // 2024-01-01 00:00:00 UTC

type event struct {
	key, val int64
	null     bool // val is NULL
	ts       int64
}

// randomEvents returns n events over keys, out of order by up to
// maxDelay-1 ms (so none is late for a watermark delay of maxDelay).
func randomEvents(rng *rand.Rand, n, keys int, maxDelay int64) []event {
	evs := make([]event, n)
	t := base
	for i := range evs {
		t += rng.Int63n(40)
		evs[i] = event{
			key:  rng.Int63n(int64(keys)),
			val:  rng.Int63n(2000) - 500,
			null: rng.Intn(20) == 0,
			ts:   t - rng.Int63n(maxDelay),
		}
	}
	// Occasionally a burst of a single key, with pauses: session material.
	return evs
}

func writeCSV(t *testing.T, path string, evs []event) {
	t.Helper()
	var b strings.Builder
	for _, e := range evs {
		v := fmt.Sprint(e.val)
		if e.null {
			v = ""
		}
		fmt.Fprintf(&b, "%d,%s,%s\n", e.key, v, types.FormatTimestamp(e.ts))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runEngine runs sql (which must end with one SELECT) and returns its rows
// as sorted CSV-ish lines.
func runEngine(t *testing.T, sql string) []string {
	t.Helper()
	return runEngineBatch(t, sql, 0)
}

// runEngineBatch is runEngine reading batches of batch rows (0: the
// default), so that watermarks advance between batches.
func runEngineBatch(t *testing.T, sql string, batch int) []string {
	t.Helper()
	stmts, err := engine.Parse("test.sql", sql)
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.Options{StateDir: t.TempDir(), BatchSize: batch})
	var rows []string
	for _, st := range stmts {
		res, err := eng.Execute(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		if res.Kind != engine.Query {
			continue
		}
		err = res.Query.Run(context.Background(), func(rec arrow.Record) error {
			for r := 0; r < int(rec.NumRows()); r++ {
				var cells []string
				for c := 0; c < int(rec.NumCols()); c++ {
					v, ok := format.FormatValue(rec.Column(c), r)
					if !ok {
						v = "NULL"
					}
					cells = append(cells, v)
				}
				rows = append(rows, strings.Join(cells, ","))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(rows)
	return rows
}

// runSQLite loads the events into SQLite and runs query, whose result
// columns must print like the engine's (timestamps as text via strftime).
func runSQLite(t *testing.T, csvPath, query string) []string {
	t.Helper()
	return runSQLiteTables(t, map[string]string{"ev": csvPath}, query)
}

// runSQLiteTables loads each CSV event file of tables (name → path) as
// table name(k, v, ts), its text as raw_name (raw for ev, which some tests
// read), and runs query.
func runSQLiteTables(t *testing.T, tables map[string]string, query string) []string {
	t.Helper()
	var script strings.Builder
	names := make([]string, 0, len(tables))
	for name := range tables {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		raw := "raw_" + name
		if name == "ev" {
			raw = "raw"
		}
		fmt.Fprintf(&script, `CREATE TABLE %[3]s(k INTEGER, v TEXT, ts TEXT);
.mode csv
.import %[2]s %[3]s
CREATE TABLE %[1]s AS SELECT k, CASE WHEN v = '' THEN NULL ELSE CAST(v AS INTEGER) END AS v,
  CAST(ROUND((julianday(ts) - 2440587.5) * 86400000) AS INTEGER) AS ts FROM %[3]s;
`, name, tables[name], raw)
	}
	fmt.Fprintf(&script, `.mode list
.separator ,
.nullvalue NULL
%s;
`, query)
	cmd := exec.Command("sqlite3", ":memory:")
	cmd.Stdin = strings.NewReader(script.String())
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sqlite3: %v\n%s", err, stderr.String())
	}
	r := csv.NewReader(&out)
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, rec := range recs {
		rows = append(rows, strings.Join(rec, ","))
	}
	sort.Strings(rows)
	return rows
}

func needSQLite(t *testing.T) {
	if _, err := exec.LookPath("sqlite3"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("sqlite3 is required in CI (.ci/run installs it)")
		}
		t.Skip("sqlite3 not installed: apt-get install sqlite3")
	}
}

// tsText converts epoch ms (an SQLite expression) to the engine's text
// form of a TIMESTAMP(3).
func tsText(e string) string {
	return fmt.Sprintf("strftime('%%Y-%%m-%%d %%H:%%M:%%S', (%s)/1000, 'unixepoch') || '.' || substr('000' || ((%s) %% 1000), -3)", e, e)
}

const aggCols = "COUNT(*), COUNT(v), SUM(v), MIN(v), MAX(v), COUNT(DISTINCT v)"

func TestDifferentialWindows(t *testing.T) {
	needSQLite(t)
	const delay = 3000 // the watermark delay, ms
	ddl := func(path string) string {
		return fmt.Sprintf(`CREATE TABLE ev (k BIGINT, v BIGINT, ts TIMESTAMP(3),
			WATERMARK FOR ts AS ts - INTERVAL '%d' MILLISECOND)
			WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');`, delay, path)
	}
	cases := []struct {
		name   string
		engine string
		sqlite string
	}{
		{
			name: "tumble",
			engine: `SELECT window_start, window_end, k, ` + aggCols + `
				FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '5' SECOND))
				GROUP BY window_start, window_end, k`,
			sqlite: `SELECT ` + tsText("ws") + `, ` + tsText("ws+5000") + `, k, ` + aggCols + `
				FROM (SELECT (ts/5000)*5000 AS ws, k, v FROM ev) GROUP BY ws, k`,
		},
		{
			name: "hop",
			engine: `SELECT k, window_start, window_end, ` + aggCols + `
				FROM TABLE(HOP(TABLE ev, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '6' SECOND))
				GROUP BY k, window_start, window_end`,
			sqlite: `WITH j(n) AS (VALUES (0), (1), (2))
				SELECT k, ` + tsText("ws") + `, ` + tsText("ws+6000") + `, ` + aggCols + `
				FROM (SELECT (ts/2000)*2000 - n*2000 AS ws, k, v FROM ev, j) GROUP BY ws, k`,
		},
		{
			name: "cumulate",
			engine: `SELECT window_start, window_end, k, ` + aggCols + `
				FROM TABLE(CUMULATE(TABLE ev, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '8' SECOND))
				GROUP BY window_start, window_end, k`,
			sqlite: `WITH j(n) AS (VALUES (1), (2), (3), (4))
				SELECT ` + tsText("ws") + `, ` + tsText("we") + `, k, ` + aggCols + `
				FROM (SELECT (ts/8000)*8000 AS ws, (ts/8000)*8000 + n*2000 AS we, k, v FROM ev, j
				      WHERE ts < (ts/8000)*8000 + n*2000) GROUP BY ws, we, k`,
		},
		{
			name: "session",
			engine: `SELECT window_start, window_end, k, ` + aggCols + `
				FROM TABLE(SESSION(TABLE ev PARTITION BY k, DESCRIPTOR(ts), INTERVAL '4' SECOND))
				GROUP BY window_start, window_end, k`,
			sqlite: `SELECT ` + tsText("MIN(ts)") + `, ` + tsText("MAX(ts)+4000") + `, k, ` + aggCols + `
				FROM (SELECT k, v, ts, SUM(brk) OVER (PARTITION BY k ORDER BY ts ROWS UNBOUNDED PRECEDING) AS sid
				      FROM (SELECT k, v, ts, CASE WHEN ts - LAG(ts) OVER (PARTITION BY k ORDER BY ts) < 4000 THEN 0 ELSE 1 END AS brk FROM ev))
				GROUP BY k, sid`,
		},
		{
			// SUM/AVG(DISTINCT …) and FILTER (WHERE …); AVG of BIGINT
			// truncates toward zero, as SQLite's integer division does.
			name: "tumble-distinct-filter",
			engine: `SELECT window_start, window_end, k, SUM(DISTINCT v), AVG(DISTINCT v), COUNT(*) FILTER (WHERE v > 0),
					SUM(v) FILTER (WHERE k % 2 = 0), MAX(v) FILTER (WHERE v < 1000)
				FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '5' SECOND))
				GROUP BY window_start, window_end, k`,
			sqlite: `SELECT ` + tsText("ws") + `, ` + tsText("ws+5000") + `, k, SUM(DISTINCT v), SUM(DISTINCT v) / COUNT(DISTINCT v),
					COUNT(*) FILTER (WHERE v > 0), SUM(v) FILTER (WHERE k % 2 = 0), MAX(v) FILTER (WHERE v < 1000)
				FROM (SELECT (ts/5000)*5000 AS ws, k, v FROM ev) GROUP BY ws, k`,
		},
		{
			name: "legacy-tumble-having",
			engine: `SELECT k, TUMBLE_START(ts, INTERVAL '10' SECOND), TUMBLE_END(ts, INTERVAL '10' SECOND), SUM(v) * 2, COUNT(*)
				FROM ev WHERE v IS NOT NULL AND v > 0
				GROUP BY TUMBLE(ts, INTERVAL '10' SECOND), k HAVING COUNT(*) > 2`,
			sqlite: `SELECT k, ` + tsText("ws") + `, ` + tsText("ws+10000") + `, SUM(v) * 2, COUNT(*)
				FROM (SELECT (ts/10000)*10000 AS ws, k, v FROM ev WHERE v IS NOT NULL AND v > 0)
				GROUP BY ws, k HAVING COUNT(*) > 2`,
		},
	}
	for seed := int64(1); seed <= 3; seed++ {
		rng := rand.New(rand.NewSource(seed))
		keys := []int{300, 50, 5}[seed-1]
		evs := randomEvents(rng, 6000, keys, delay)
		path := filepath.Join(t.TempDir(), "events.csv")
		writeCSV(t, path, evs)
		// Parallelism 1, and 3 keyed subtasks (seed 3 has 5 keys: some
		// subtasks get none).
		parallelism := []int{1, 3, 3}[seed-1]
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/seed=%d/parallelism=%d", c.name, seed, parallelism), func(t *testing.T) {
				got := runEngine(t, fmt.Sprintf("SET 'parallelism.default' = '%d';\n", parallelism)+ddl(path)+c.engine+";")
				want := runSQLite(t, path, c.sqlite)
				if len(want) == 0 {
					t.Fatal("the reference query returned no rows")
				}
				if d := diffRows(got, want); d != "" {
					t.Fatalf("engine and SQLite disagree (%d vs %d rows):\n%s", len(got), len(want), d)
				}
			})
		}
	}
}

// diffRows returns the rows only in a or only in b, at most 20 of each.
func diffRows(a, b []string) string { return difftest.DiffRows(a, b) }

// TestDifferentialWindowTopN: window Top-N and window deduplication (the
// rank partitioned by window_start, window_end) over random out-of-order
// events, emitted when their windows close, against SQLite's window
// functions over the same windows. ROW_NUMBER's ties are broken by the
// ranked row's columns in order, as SQLite is told with the last ORDER BY
// items.
func TestDifferentialWindowTopN(t *testing.T) {
	needSQLite(t)
	const delay = 3000
	ddl := func(path string) string {
		return fmt.Sprintf(`CREATE TABLE ev (k BIGINT, v BIGINT, ts TIMESTAMP(3),
			WATERMARK FOR ts AS ts - INTERVAL '%d' MILLISECOND)
			WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');`, delay, path)
	}
	cases := []struct{ name, engine, sqlite string }{
		{
			name: "top3-of-window-agg",
			engine: `SELECT * FROM (SELECT window_start, window_end, k, n, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY n DESC) AS rn
				FROM (SELECT window_start, window_end, k, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '5' SECOND))
				      GROUP BY window_start, window_end, k)) WHERE rn <= 3`,
			sqlite: `SELECT ` + tsText("ws") + `, ` + tsText("ws+5000") + `, k, n, rn FROM
				(SELECT ws, k, n, ROW_NUMBER() OVER (PARTITION BY ws ORDER BY n DESC, k) AS rn
				 FROM (SELECT (ts/5000)*5000 AS ws, k, COUNT(*) AS n FROM ev GROUP BY ws, k)) WHERE rn <= 3`,
		},
		{
			name: "dedup-first-per-key",
			engine: `SELECT k, v, ts, window_start FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, k ORDER BY ts) AS rn
				FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '5' SECOND))) WHERE rn = 1`,
			sqlite: `SELECT k, v, ` + tsText("ts") + `, ` + tsText("ws") + ` FROM
				(SELECT k, v, ts, (ts/5000)*5000 AS ws, ROW_NUMBER() OVER (PARTITION BY (ts/5000)*5000, k ORDER BY ts, v) AS rn FROM ev) WHERE rn = 1`,
		},
		{
			// Keep-first deduplication on event time (not windowed):
			// append-only, each key's first row emitted once the
			// watermark passes it.
			name:   "dedup-keep-first",
			engine: `SELECT k, v, ts FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts ASC) AS rn FROM ev) WHERE rn = 1`,
			sqlite: `SELECT k, v, ` + tsText("ts") + ` FROM
				(SELECT k, v, ts, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts, v) AS rn FROM ev) WHERE rn = 1`,
		},
		{
			name: "rank-hop",
			engine: `SELECT window_start, k, v, r FROM (SELECT *, RANK() OVER (PARTITION BY window_start, window_end ORDER BY v DESC) AS r
				FROM TABLE(HOP(TABLE ev, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))) WHERE r <= 2`,
			sqlite: `WITH j(n) AS (VALUES (0), (1))
				SELECT ` + tsText("ws") + `, k, v, r FROM
				(SELECT ws, k, v, RANK() OVER (PARTITION BY ws ORDER BY v DESC) AS r
				 FROM (SELECT (ts/5000)*5000 - n*5000 AS ws, k, v FROM ev, j)) WHERE r <= 2`,
		},
	}
	for seed := int64(1); seed <= 2; seed++ {
		rng := rand.New(rand.NewSource(seed))
		evs := randomEvents(rng, 4000, []int{40, 7}[seed-1], delay)
		path := filepath.Join(t.TempDir(), "events.csv")
		writeCSV(t, path, evs)
		parallelism := []int{1, 3}[seed-1]
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/seed=%d/parallelism=%d", c.name, seed, parallelism), func(t *testing.T) {
				got := runEngine(t, fmt.Sprintf("SET 'parallelism.default' = '%d';\n", parallelism)+ddl(path)+c.engine+";")
				want := runSQLite(t, path, c.sqlite)
				if len(want) == 0 {
					t.Fatal("the reference query returned no rows")
				}
				if d := diffRows(got, want); d != "" {
					t.Fatalf("engine and SQLite disagree (%d vs %d rows):\n%s", len(got), len(want), d)
				}
			})
		}
	}
}

// TestDifferentialOver: OVER aggregates (ROWS and RANGE frames, bounded
// and not) over random out-of-order events with ties equal SQLite's window
// functions row for row. Rows of equal time leave in arrival order, so
// SQLite orders ROWS frames by (ts, rowid); in RANGE frames they are peers
// in both.
func TestDifferentialOver(t *testing.T) {
	needSQLite(t)
	const delay = 3000
	ddl := func(path string) string {
		return fmt.Sprintf(`CREATE TABLE ev (k BIGINT, v BIGINT, ts TIMESTAMP(3),
			WATERMARK FOR ts AS ts - INTERVAL '%d' MILLISECOND)
			WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');`, delay, path)
	}
	// aggs over window w; AVG of BIGINT truncates toward zero, as SQLite's
	// integer division does.
	const engineAggs = "SUM(v) OVER w, COUNT(*) OVER w, COUNT(v) OVER w, MIN(v) OVER w, MAX(v) OVER w, AVG(v) OVER w"
	const sqliteAggs = "SUM(v) OVER w, COUNT(*) OVER w, COUNT(v) OVER w, MIN(v) OVER w, MAX(v) OVER w, SUM(v) OVER w / COUNT(v) OVER w"
	cases := []struct {
		name           string
		engine, sqlite string
	}{
		{
			name:   "rows-3",
			engine: `SELECT k, v, ts, ` + engineAggs + ` FROM ev WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 3 PRECEDING AND CURRENT ROW)`,
			sqlite: `SELECT k, v, ` + tsText("ts") + `, ` + sqliteAggs + ` FROM ev WINDOW w AS (PARTITION BY k ORDER BY ts, rowid ROWS BETWEEN 3 PRECEDING AND CURRENT ROW)`,
		},
		{
			name:   "range-2s",
			engine: `SELECT k, v, ts, ` + engineAggs + ` FROM ev WINDOW w AS (PARTITION BY k ORDER BY ts RANGE BETWEEN INTERVAL '2' SECOND PRECEDING AND CURRENT ROW)`,
			sqlite: `SELECT k, v, ` + tsText("ts") + `, ` + sqliteAggs + ` FROM ev WINDOW w AS (PARTITION BY k ORDER BY ts RANGE BETWEEN 2000 PRECEDING AND CURRENT ROW)`,
		},
		{
			name: "rows-unbounded-distinct",
			engine: `SELECT k, v, ts, SUM(v) OVER (PARTITION BY k ORDER BY ts ROWS UNBOUNDED PRECEDING),
					COUNT(DISTINCT v % 7) OVER (PARTITION BY k ORDER BY ts ROWS UNBOUNDED PRECEDING) FROM ev`,
			sqlite: `SELECT k, v, ` + tsText("ts") + `, SUM(v) OVER (PARTITION BY k ORDER BY ts, rowid ROWS UNBOUNDED PRECEDING),
					(SELECT COUNT(DISTINCT e2.v % 7) FROM ev e2 WHERE e2.k = ev.k AND (e2.ts < ev.ts OR e2.ts = ev.ts AND e2.rowid <= ev.rowid)) FROM ev`,
		},
		{
			name: "range-unbounded-filter",
			engine: `SELECT k, ts, COUNT(*) FILTER (WHERE v > 0) OVER (PARTITION BY k ORDER BY ts), MAX(v) OVER (PARTITION BY k ORDER BY ts)
				FROM ev WHERE v IS NULL OR v < 1200`,
			sqlite: `SELECT k, ` + tsText("ts") + `, COUNT(*) FILTER (WHERE v > 0) OVER (PARTITION BY k ORDER BY ts), MAX(v) OVER (PARTITION BY k ORDER BY ts)
				FROM ev WHERE v IS NULL OR v < 1200`,
		},
		{
			name:   "global-range-1s",
			engine: `SELECT v, ts, SUM(v) OVER (ORDER BY ts RANGE BETWEEN INTERVAL '1' SECOND PRECEDING AND CURRENT ROW) FROM ev`,
			sqlite: `SELECT v, ` + tsText("ts") + `, SUM(v) OVER (ORDER BY ts RANGE BETWEEN 1000 PRECEDING AND CURRENT ROW) FROM ev`,
		},
	}
	for seed := int64(1); seed <= 3; seed++ {
		rng := rand.New(rand.NewSource(seed + 100))
		keys := []int{200, 30, 3}[seed-1]
		evs := randomEvents(rng, 3000, keys, delay)
		path := filepath.Join(t.TempDir(), "events.csv")
		writeCSV(t, path, evs)
		parallelism := []int{1, 3, 2}[seed-1]
		// Small batches: the watermark passes a few rows at a time, so
		// frames span many firings.
		batch := []int{37, 100, 0}[seed-1]
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/seed=%d/parallelism=%d", c.name, seed, parallelism), func(t *testing.T) {
				got := runEngineBatch(t, fmt.Sprintf("SET 'parallelism.default' = '%d';\n", parallelism)+ddl(path)+c.engine+";", batch)
				want := runSQLite(t, path, c.sqlite)
				if len(want) != len(evs) && !strings.Contains(c.engine, "WHERE") {
					t.Fatalf("the reference query returned %d rows for %d events", len(want), len(evs))
				}
				if d := diffRows(got, want); d != "" {
					t.Fatalf("engine and SQLite disagree (%d vs %d rows):\n%s", len(got), len(want), d)
				}
			})
		}
	}
}
