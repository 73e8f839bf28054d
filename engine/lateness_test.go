package engine_test

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/streamsql/streamsql/engine"
)

// TestDifferentialEmitStrategies runs window aggregations whose rows come
// later than the watermark (delay 200 ms, rows out of order by up to 3 s)
// with the emit strategies on, applies the changelog, and compares the
// final rows with SQLite's batch GROUP BY over every row:
//   - with 'table.exec.emit.allow-lateness' = '4 s' no row is dropped:
//     late rows update the windows that fired (-U/+U);
//   - with early firing every millisecond as well, partial results are
//     retracted and replaced until the final one;
//   - with late firing every 2 ms, late updates are batched until the
//     timer (or a checkpoint, or the window's release) and the result is
//     the same;
//   - without them the engine drops late rows, so the results differ (the
//     input is late enough for the test to mean something).
func TestDifferentialEmitStrategies(t *testing.T) {
	needSQLite(t)
	rng := rand.New(rand.NewSource(14))
	evs := randomEvents(rng, 4000, 40, 3000)
	path := filepath.Join(t.TempDir(), "events.csv")
	writeCSV(t, path, evs)
	ddl := fmt.Sprintf(`CREATE TABLE ev (k BIGINT, v BIGINT, ts TIMESTAMP(3),
		WATERMARK FOR ts AS ts - INTERVAL '200' MILLISECOND)
		WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');`, path)
	queries := []struct{ name, engine, sqlite string }{
		{"tumble",
			`SELECT window_start, window_end, k, ` + aggCols + `
			FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '5' SECOND))
			GROUP BY window_start, window_end, k`,
			`SELECT ` + tsText("ws") + `, ` + tsText("ws+5000") + `, k, ` + aggCols + `
			FROM (SELECT (ts/5000)*5000 AS ws, k, v FROM ev) GROUP BY ws, k`},
		{"hop",
			`SELECT k, window_start, window_end, ` + aggCols + `
			FROM TABLE(HOP(TABLE ev, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '6' SECOND))
			GROUP BY k, window_start, window_end`,
			`WITH j(n) AS (VALUES (0), (1), (2))
			SELECT k, ` + tsText("ws") + `, ` + tsText("ws+6000") + `, ` + aggCols + `
			FROM (SELECT (ts/2000)*2000 - n*2000 AS ws, k, v FROM ev, j) GROUP BY ws, k`},
		{"cumulate",
			`SELECT window_start, window_end, k, ` + aggCols + `
			FROM TABLE(CUMULATE(TABLE ev, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '8' SECOND))
			GROUP BY window_start, window_end, k`,
			`WITH j(n) AS (VALUES (1), (2), (3), (4))
			SELECT ` + tsText("ws") + `, ` + tsText("we") + `, k, ` + aggCols + `
			FROM (SELECT (ts/8000)*8000 AS ws, (ts/8000)*8000 + n*2000 AS we, k, v FROM ev, j
			      WHERE ts < (ts/8000)*8000 + n*2000) GROUP BY ws, we, k`},
		{"legacy-tumble-having",
			`SELECT k, TUMBLE_START(ts, INTERVAL '10' SECOND), SUM(v), COUNT(*)
			FROM ev GROUP BY TUMBLE(ts, INTERVAL '10' SECOND), k HAVING COUNT(*) > 8`,
			`SELECT k, ` + tsText("ws") + `, SUM(v), COUNT(*)
			FROM (SELECT (ts/10000)*10000 AS ws, k, v FROM ev) GROUP BY ws, k HAVING COUNT(*) > 8`},
	}
	strategies := []struct {
		name, set string
		same      bool
	}{
		{"allow-lateness", `SET 'table.exec.emit.allow-lateness' = '4 s';`, true},
		{"allow-lateness+early-fire", `SET 'table.exec.emit.allow-lateness' = '4 s';
			SET 'table.exec.emit.early-fire.enabled' = 'true'; SET 'table.exec.emit.early-fire.delay' = '1 ms';`, true},
		{"allow-lateness+late-fire", `SET 'table.exec.emit.allow-lateness' = '4 s';
			SET 'table.exec.emit.late-fire.enabled' = 'true'; SET 'table.exec.emit.late-fire.delay' = '2 ms';`, true},
		{"none", ``, false},
	}
	for _, p := range []int{1, 3} {
		for _, s := range strategies {
			for _, q := range queries {
				t.Run(fmt.Sprintf("%s/%s/parallelism=%d", s.name, q.name, p), func(t *testing.T) {
					// Small batches: the watermark advances between them.
					opts := engine.Options{StateDir: t.TempDir(), BatchSize: 64}
					got := runChangelogRowsWith(t, opts, fmt.Sprintf("SET 'parallelism.default' = '%d';\n", p)+s.set+ddl+q.engine+";")
					want := runSQLite(t, path, q.sqlite)
					d := diffRows(got, want)
					switch {
					case s.same && d != "":
						t.Fatalf("engine and SQLite disagree (%d vs %d rows):\n%s", len(got), len(want), d)
					case !s.same && d == "":
						t.Fatal("without allowed lateness the engine should have dropped late rows, but its result is SQLite's over every row")
					}
				})
			}
		}
	}
}

// TestDifferentialSessionEmitStrategies runs SESSION window aggregations
// over rows later than the watermark with the emit strategies on: with an
// allowed lateness beyond the rows' disorder no row is dropped, late rows
// extend and merge sessions that fired (retracting their rows), and the
// final table after the changelog is SQLite's sessions over every row
// (a new session where a key's next row comes more than the gap after the
// one before; bounds [first, last + gap)).
func TestDifferentialSessionEmitStrategies(t *testing.T) {
	needSQLite(t)
	rng := rand.New(rand.NewSource(15))
	evs := randomEvents(rng, 4000, 40, 3000)
	path := filepath.Join(t.TempDir(), "events.csv")
	writeCSV(t, path, evs)
	ddl := fmt.Sprintf(`CREATE TABLE ev (k BIGINT, v BIGINT, ts TIMESTAMP(3),
		WATERMARK FOR ts AS ts - INTERVAL '200' MILLISECOND)
		WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');`, path)
	query := `SELECT window_start, window_end, k, ` + aggCols + `
		FROM TABLE(SESSION(TABLE ev PARTITION BY k, DESCRIPTOR(ts), INTERVAL '500' MILLISECOND))
		GROUP BY window_start, window_end, k`
	sqlite := `WITH o AS (SELECT k, v, ts, CASE WHEN ts - LAG(ts) OVER (PARTITION BY k ORDER BY ts) <= 500 THEN 0 ELSE 1 END AS brk FROM ev),
		s AS (SELECT k, v, ts, SUM(brk) OVER (PARTITION BY k ORDER BY ts ROWS UNBOUNDED PRECEDING) AS sid FROM o)
		SELECT ` + tsText("MIN(ts)") + `, ` + tsText("MAX(ts)+500") + `, k, ` + aggCols + ` FROM s GROUP BY k, sid`
	strategies := []struct {
		name, set string
		same      bool
	}{
		{"allow-lateness", `SET 'table.exec.emit.allow-lateness' = '4 s';`, true},
		{"allow-lateness+early-fire", `SET 'table.exec.emit.allow-lateness' = '4 s';
			SET 'table.exec.emit.early-fire.enabled' = 'true'; SET 'table.exec.emit.early-fire.delay' = '1 ms';`, true},
		{"allow-lateness+late-fire", `SET 'table.exec.emit.allow-lateness' = '4 s';
			SET 'table.exec.emit.late-fire.enabled' = 'true'; SET 'table.exec.emit.late-fire.delay' = '2 ms';`, true},
		{"early-fire", `SET 'table.exec.emit.early-fire.enabled' = 'true'; SET 'table.exec.emit.early-fire.delay' = '1 ms';`, false},
		{"none", ``, false},
	}
	want := runSQLite(t, path, sqlite)
	for _, p := range []int{1, 3} {
		for _, s := range strategies {
			t.Run(fmt.Sprintf("%s/parallelism=%d", s.name, p), func(t *testing.T) {
				opts := engine.Options{StateDir: t.TempDir(), BatchSize: 64}
				got := runChangelogRowsWith(t, opts, fmt.Sprintf("SET 'parallelism.default' = '%d';\n", p)+s.set+ddl+query+";")
				d := diffRows(got, want)
				switch {
				case s.same && d != "":
					t.Fatalf("engine and SQLite disagree (%d vs %d rows):\n%s", len(got), len(want), d)
				case !s.same && d == "":
					t.Fatal("without allowed lateness the engine should have dropped late rows, but its result is SQLite's over every row")
				}
			})
		}
	}
}
