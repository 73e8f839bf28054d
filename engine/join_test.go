package engine_test

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/engine"
)

// TestDifferentialJoins runs regular joins of every kind over two random,
// out-of-order event files (keys overlapping in part, so outer joins pad
// rows of both sides), over append-only and updating inputs, applies the
// changelog the engine emits to a table and compares it with SQLite's
// join of the same files.
func TestDifferentialJoins(t *testing.T) {
	needSQLite(t)
	ddl := func(pa, pb string) string {
		return fmt.Sprintf(`CREATE TABLE a (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '3' SECOND)
			WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
			CREATE TABLE b (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '3' SECOND)
			WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');`, pa, pb)
	}
	cols := "a.k, a.v, b.k, b.v, a.ts, b.ts"
	sqliteCols := "a.k, a.v, b.k, b.v, " + tsText("a.ts") + ", " + tsText("b.ts")
	cases := []struct {
		name, engine, sqlite string
	}{
		{"inner", "SELECT " + cols + " FROM a JOIN b ON a.k = b.k AND a.v < b.v", "SELECT " + sqliteCols + " FROM a JOIN b ON a.k = b.k AND a.v < b.v"},
		{"left", "SELECT " + cols + " FROM a LEFT JOIN b ON a.k = b.k AND a.v < b.v", "SELECT " + sqliteCols + " FROM a LEFT JOIN b ON a.k = b.k AND a.v < b.v"},
		{"right", "SELECT " + cols + " FROM a RIGHT OUTER JOIN b ON b.k = a.k AND a.v < b.v", "SELECT " + sqliteCols + " FROM a RIGHT JOIN b ON b.k = a.k AND a.v < b.v"},
		{"full", "SELECT " + cols + " FROM a FULL JOIN b ON a.k = b.k AND a.v < b.v", "SELECT " + sqliteCols + " FROM a FULL JOIN b ON a.k = b.k AND a.v < b.v"},
		{"comma", "SELECT a.k, a.v, b.v FROM a, b WHERE a.k = b.k AND a.v + b.v > 300 AND a.k < 20", "SELECT a.k, a.v, b.v FROM a, b WHERE a.k = b.k AND a.v + b.v > 300 AND a.k < 20"},
		{"expression-key", "SELECT a.k, a.v, b.v FROM a LEFT JOIN b ON a.k + 1 = b.k AND b.v > 1000", "SELECT a.k, a.v, b.v FROM a LEFT JOIN b ON a.k + 1 = b.k AND b.v > 1000"},
		{
			"updating-left",
			"SELECT c.k, c.n, c.s, b.v FROM (SELECT k, COUNT(*) AS n, SUM(v) AS s FROM a GROUP BY k) AS c LEFT JOIN b ON c.k = b.k AND b.v > 1200",
			"SELECT c.k, c.n, c.s, b.v FROM (SELECT k, COUNT(*) AS n, SUM(v) AS s FROM a GROUP BY k) AS c LEFT JOIN b ON c.k = b.k AND b.v > 1200",
		},
		{
			// The WHERE conjuncts over one side filter it before the join,
			// an updating side too.
			"updating-inner-where",
			"SELECT c.k, c.n, b.v FROM (SELECT k, COUNT(*) AS n FROM a GROUP BY k) AS c JOIN b ON c.k = b.k WHERE c.n > 3 AND b.v > 1000 AND c.n * 50 < b.v",
			"SELECT c.k, c.n, b.v FROM (SELECT k, COUNT(*) AS n FROM a GROUP BY k) AS c JOIN b ON c.k = b.k WHERE c.n > 3 AND b.v > 1000 AND c.n * 50 < b.v",
		},
		{
			// The right side's rows are deleted once their count reaches
			// 15: the left rows they matched are padded again.
			"deleted-matches-left",
			"SELECT a.k, a.v, y.n FROM a LEFT JOIN (SELECT k, COUNT(*) AS n FROM b GROUP BY k HAVING COUNT(*) < 15) AS y ON a.k = y.k",
			"SELECT a.k, a.v, y.n FROM a LEFT JOIN (SELECT k, COUNT(*) AS n FROM b GROUP BY k HAVING COUNT(*) < 15) AS y ON a.k = y.k",
		},
		{
			"deleted-matches-right",
			"SELECT y.n, b.k, b.v FROM (SELECT k, COUNT(*) AS n FROM a GROUP BY k HAVING COUNT(*) < 15) AS y RIGHT JOIN b ON y.k = b.k",
			"SELECT y.n, b.k, b.v FROM (SELECT k, COUNT(*) AS n FROM a GROUP BY k HAVING COUNT(*) < 15) AS y RIGHT JOIN b ON y.k = b.k",
		},
		{
			"updating-both-full",
			"SELECT x.k, x.n, y.k, y.m FROM (SELECT k, COUNT(*) AS n FROM a WHERE v > 0 GROUP BY k) AS x FULL JOIN (SELECT k, MAX(v) AS m FROM b GROUP BY k) AS y ON x.k = y.k AND x.n * 20 > y.m",
			"SELECT x.k, x.n, y.k, y.m FROM (SELECT k, COUNT(*) AS n FROM a WHERE v > 0 GROUP BY k) AS x FULL JOIN (SELECT k, MAX(v) AS m FROM b GROUP BY k) AS y ON x.k = y.k AND x.n * 20 > y.m",
		},
		// Semi and anti joins: IN, EXISTS, NOT EXISTS, NOT IN (over NOT
		// NULL keys), NULL keys (v is NULL one time in 20) on either side,
		// rows selected more than once, updating inputs of both sides.
		same("in", "SELECT a.k, a.v FROM a WHERE a.k IN (SELECT k FROM b WHERE v > 1000) AND a.v > 0"),
		same("in-nullable-expression", "SELECT a.k, a.v FROM a WHERE a.v % 40 IN (SELECT v % 40 FROM b WHERE k < 25)"),
		same("exists", "SELECT k, v FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.k = a.k AND b.v > 1200)"),
		same("exists-two-keys", "SELECT a.k FROM a WHERE EXISTS (SELECT * FROM b WHERE a.k + 10 = b.k AND b.v % 7 = a.v % 7)"),
		same("not-exists", "SELECT k, v FROM a WHERE NOT EXISTS (SELECT 1 FROM b WHERE b.k = a.k AND b.v > 1200) AND v < 1000"),
		same("not-exists-nullable", "SELECT a.k, a.v FROM a WHERE NOT EXISTS (SELECT 1 FROM b WHERE b.v % 30 = a.v % 30)"),
		same("not-in-not-null", "SELECT a.k, a.v FROM a WHERE COALESCE(a.v, 0) % 50 NOT IN (SELECT COALESCE(v, 1) % 50 FROM b WHERE k < 30)"),
		same("in-deleted-matches", "SELECT a.k, a.v FROM a WHERE a.k IN (SELECT k FROM b GROUP BY k HAVING COUNT(*) < 15)"),
		same("not-exists-deleted-matches", "SELECT a.k, a.v FROM a WHERE NOT EXISTS (SELECT * FROM (SELECT k FROM b GROUP BY k HAVING COUNT(*) < 15) y WHERE y.k = a.k)"),
		same("updating-left-semi-anti", "SELECT c.k, c.n FROM (SELECT k, COUNT(*) AS n FROM a GROUP BY k) c WHERE NOT EXISTS (SELECT 1 FROM b WHERE b.k = c.k AND b.v > 1400) AND c.k IN (SELECT k - 5 FROM b)"),
	}
	for seed := int64(1); seed <= 2; seed++ {
		rng := rand.New(rand.NewSource(seed))
		ea := randomEvents(rng, 600, 30, 2000)
		eb := randomEvents(rng, 600, 30, 2000)
		for i := range eb {
			eb[i].key += 10 // keys 10..39: a's 0..9 and b's 30..39 never match
		}
		dir := t.TempDir()
		pa, pb := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
		writeCSV(t, pa, ea)
		writeCSV(t, pb, eb)
		parallelism := []int{1, 3}[seed-1]
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/seed=%d/parallelism=%d", c.name, seed, parallelism), func(t *testing.T) {
				got := runChangelogRows(t, fmt.Sprintf("SET 'parallelism.default' = '%d';\n", parallelism)+ddl(pa, pb)+c.engine+";")
				want := runSQLiteTables(t, map[string]string{"a": pa, "b": pb}, c.sqlite)
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

// same is a differential case whose query SQLite runs as written.
func same(name, sql string) struct{ name, engine, sqlite string } {
	return struct{ name, engine, sqlite string }{name, sql, sql}
}

// TestDifferentialWindowJoins runs window joins of every kind, over
// window TVFs and window aggregations, of two random, out-of-order event
// files (none late) through the engine and compares their rows with
// SQLite's join of the same windows computed from the files.
func TestDifferentialWindowJoins(t *testing.T) {
	needSQLite(t)
	ddl := func(pa, pb string) string {
		return fmt.Sprintf(`CREATE TABLE a (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '3' SECOND)
			WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
			CREATE TABLE b (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '3' SECOND)
			WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');`, pa, pb)
	}
	tumble := func(t string) string {
		return "TABLE(TUMBLE(TABLE " + t + ", DESCRIPTOR(ts), INTERVAL '5' SECOND))"
	}
	// SQLite's windows: each side's rows with ws (and we) in ms.
	const sqlTumble = `WITH la AS (SELECT k, v, (ts/5000)*5000 AS ws, (ts/5000)*5000 + 5000 AS we FROM a),
		rb AS (SELECT k, v, (ts/5000)*5000 AS ws, (ts/5000)*5000 + 5000 AS we FROM b) `
	on := " ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.k = R.k AND L.v < R.v"
	sqlOn := " ON L.ws = R.ws AND L.we = R.we AND L.k = R.k AND L.v < R.v"
	cols := "L.k, L.v, R.k, R.v, L.window_start, L.window_end, R.window_start, R.window_end"
	sqlCols := "L.k, L.v, R.k, R.v, " + tsText("L.ws") + ", " + tsText("L.we") + ", " + tsText("R.ws") + ", " + tsText("R.we")
	cases := []struct {
		name, engine, sqlite string
	}{
		{"inner", "SELECT " + cols + " FROM " + tumble("a") + " L JOIN " + tumble("b") + " R" + on,
			sqlTumble + "SELECT " + sqlCols + " FROM la L JOIN rb R" + sqlOn},
		{"left", "SELECT " + cols + " FROM " + tumble("a") + " L LEFT JOIN " + tumble("b") + " R" + on,
			sqlTumble + "SELECT " + sqlCols + " FROM la L LEFT JOIN rb R" + sqlOn},
		{"right", "SELECT " + cols + " FROM " + tumble("a") + " L RIGHT JOIN " + tumble("b") + " R" + on,
			sqlTumble + "SELECT " + sqlCols + " FROM la L RIGHT JOIN rb R" + sqlOn},
		{"full", "SELECT " + cols + " FROM " + tumble("a") + " L FULL JOIN " + tumble("b") + " R" + on,
			sqlTumble + "SELECT " + sqlCols + " FROM la L FULL JOIN rb R" + sqlOn},
		{
			// Subqueries over HOP windows, an expression key.
			"hop-full-subqueries",
			`SELECT L.k, L.v, R.v, COALESCE(L.window_start, R.window_start), COALESCE(L.window_end, R.window_end)
			 FROM (SELECT * FROM TABLE(HOP(TABLE a, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '6' SECOND)) WHERE v > 0) L
			 FULL JOIN (SELECT k, v, window_start, window_end FROM TABLE(HOP(TABLE b, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '6' SECOND))) R
			 ON L.k + 10 = R.k AND L.window_end = R.window_end AND L.window_start = R.window_start AND L.v > R.v`,
			`WITH j(n) AS (VALUES (0), (1), (2)),
			 la AS (SELECT k, v, (ts/2000)*2000 - n*2000 AS ws FROM a, j WHERE v > 0),
			 rb AS (SELECT k, v, (ts/2000)*2000 - n*2000 AS ws FROM b, j)
			 SELECT L.k, L.v, R.v, ` + tsText("COALESCE(L.ws, R.ws)") + `, ` + tsText("COALESCE(L.ws, R.ws) + 6000") + `
			 FROM la L FULL JOIN rb R ON L.k + 10 = R.k AND L.ws = R.ws AND L.v > R.v`,
		},
		{
			"cumulate-no-keys",
			`SELECT L.k, L.v, R.k, R.v, L.window_end FROM TABLE(CUMULATE(TABLE a, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '6' SECOND)) L
			 JOIN TABLE(CUMULATE(TABLE b, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '6' SECOND)) R
			 ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.v + R.v > 2700`,
			`WITH j(n) AS (VALUES (1), (2), (3)),
			 la AS (SELECT k, v, (ts/6000)*6000 AS ws, (ts/6000)*6000 + n*2000 AS we FROM a, j WHERE ts < (ts/6000)*6000 + n*2000),
			 rb AS (SELECT k, v, (ts/6000)*6000 AS ws, (ts/6000)*6000 + n*2000 AS we FROM b, j WHERE ts < (ts/6000)*6000 + n*2000)
			 SELECT L.k, L.v, R.k, R.v, ` + tsText("L.we") + ` FROM la L JOIN rb R ON L.ws = R.ws AND L.we = R.we AND L.v + R.v > 2700`,
		},
		{
			// A window join of a window join, then its rows aggregated on
			// their windows (cascaded).
			"chained",
			`SELECT J.window_start, J.window_end, COUNT(*), SUM(J.v + S.v) FROM
			 (SELECT L.k, L.v, L.window_start, L.window_end FROM ` + tumble("a") + ` L JOIN ` + tumble("b") + ` R
			  ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.k + 10 = R.k) J
			 LEFT JOIN ` + tumble("b") + ` S ON J.window_start = S.window_start AND J.window_end = S.window_end AND J.k + 11 = S.k
			 GROUP BY J.window_start, J.window_end`,
			sqlTumble + `SELECT ` + tsText("J.ws") + `, ` + tsText("J.we") + `, COUNT(*), SUM(J.v + S.v) FROM
			 (SELECT L.k, L.v, L.ws, L.we FROM la L JOIN rb R ON L.ws = R.ws AND L.k + 10 = R.k) J
			 LEFT JOIN rb S ON J.ws = S.ws AND J.k + 11 = S.k GROUP BY J.ws`,
		},
		// Window semi and anti joins: IN, EXISTS, NOT IN, NOT EXISTS
		// correlated on both window bounds. NOT EXISTS on v, which may be
		// NULL: a left row whose v is NULL has no match.
		{"semi-in", "SELECT L.k, L.v, L.window_start, L.window_end FROM " + tumble("a") + " L WHERE L.k IN (SELECT k FROM " + tumble("b") + " R WHERE L.window_start = R.window_start AND R.window_end = L.window_end AND R.v > 0)",
			sqlTumble + "SELECT L.k, L.v, " + tsText("L.ws") + ", " + tsText("L.we") + " FROM la L WHERE L.k IN (SELECT k FROM rb R WHERE L.ws = R.ws AND R.we = L.we AND R.v > 0)"},
		{"semi-exists-hop", `SELECT L.k, L.v, L.window_end FROM TABLE(HOP(TABLE a, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '6' SECOND)) L
			 WHERE EXISTS (SELECT * FROM TABLE(HOP(TABLE b, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '6' SECOND)) R
			 WHERE L.window_start = R.window_start AND L.window_end = R.window_end AND L.k + 10 = R.k)`,
			`WITH j(n) AS (VALUES (0), (1), (2)),
			 la AS (SELECT k, v, (ts/2000)*2000 - n*2000 AS ws FROM a, j),
			 rb AS (SELECT k, v, (ts/2000)*2000 - n*2000 AS ws FROM b, j)
			 SELECT L.k, L.v, ` + tsText("L.ws + 6000") + ` FROM la L WHERE EXISTS (SELECT * FROM rb R WHERE L.ws = R.ws AND L.k + 10 = R.k)`},
		{"anti-not-in", "SELECT L.k, L.v, L.window_start FROM " + tumble("a") + " L WHERE COALESCE(L.k, 0) NOT IN (SELECT COALESCE(k, 0) FROM " + tumble("b") + " R WHERE L.window_start = R.window_start AND L.window_end = R.window_end)",
			sqlTumble + "SELECT L.k, L.v, " + tsText("L.ws") + " FROM la L WHERE L.k NOT IN (SELECT k FROM rb R WHERE L.ws = R.ws AND L.we = R.we)"},
		{"semi-in-aggregated", "SELECT window_start, COUNT(*), SUM(v) FROM (SELECT * FROM " + tumble("a") + " L WHERE L.k + 10 IN (SELECT k FROM " + tumble("b") + " R WHERE L.window_start = R.window_start AND L.window_end = R.window_end)) GROUP BY window_start, window_end",
			sqlTumble + "SELECT " + tsText("L.ws") + ", COUNT(*), SUM(L.v) FROM la L WHERE L.k + 10 IN (SELECT k FROM rb R WHERE L.ws = R.ws AND L.we = R.we) GROUP BY L.ws"},
		{"anti-not-exists-nullable", "SELECT L.k, L.v, L.window_start FROM " + tumble("a") + " L WHERE NOT EXISTS (SELECT * FROM " + tumble("b") + " R WHERE L.window_start = R.window_start AND L.window_end = R.window_end AND L.v = R.v + 100)",
			sqlTumble + "SELECT L.k, L.v, " + tsText("L.ws") + " FROM la L WHERE NOT EXISTS (SELECT * FROM rb R WHERE L.ws = R.ws AND L.we = R.we AND L.v = R.v + 100)"},
		{
			// Two window aggregations (Nexmark q8's shape), renamed bounds.
			"aggregates-left",
			`SELECT x.k, x.n, y.m, x.ws FROM
			 (SELECT k, COUNT(*) AS n, window_start AS ws, window_end AS we FROM ` + tumble("a") + ` GROUP BY k, window_start, window_end) x
			 LEFT JOIN (SELECT k, MAX(v) AS m, window_start AS ws, window_end AS we FROM ` + tumble("b") + ` GROUP BY k, window_start, window_end) y
			 ON x.k + 10 = y.k AND x.ws = y.ws AND x.we = y.we`,
			sqlTumble + `SELECT x.k, x.n, y.m, ` + tsText("x.ws") + ` FROM
			 (SELECT k, COUNT(*) AS n, ws, we FROM la GROUP BY k, ws) x
			 LEFT JOIN (SELECT k, MAX(v) AS m, ws, we FROM rb GROUP BY k, ws) y ON x.k + 10 = y.k AND x.ws = y.ws`,
		},
	}
	for seed := int64(1); seed <= 2; seed++ {
		rng := rand.New(rand.NewSource(seed))
		ea := randomEvents(rng, 600, 30, 2000)
		eb := randomEvents(rng, 600, 30, 2000)
		for i := range eb {
			eb[i].key += 10 // keys 10..39: a's 0..9 and b's 30..39 never match
		}
		dir := t.TempDir()
		pa, pb := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
		writeCSV(t, pa, ea)
		writeCSV(t, pb, eb)
		parallelism := []int{1, 3}[seed-1]
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/seed=%d/parallelism=%d", c.name, seed, parallelism), func(t *testing.T) {
				sql := fmt.Sprintf("SET 'parallelism.default' = '%d';\n", parallelism) + ddl(pa, pb)
				if strings.Contains(c.name, "semi") || strings.Contains(c.name, "anti") {
					s := engine.New(engine.Options{StateDir: t.TempDir()}).NewSession()
					if res := sessionExec(t, s, sql+"EXPLAIN "+c.engine+";"); !strings.Contains(res.Message, "WindowJoin type=SEMI") && !strings.Contains(res.Message, "WindowJoin type=ANTI") {
						t.Fatalf("not planned as a window semi (anti) join:\n%s", res.Message)
					}
				}
				got := runEngine(t, sql+c.engine+";")
				want := runSQLiteTables(t, map[string]string{"a": pa, "b": pb}, c.sqlite)
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

// TestDifferentialCascadedWindows runs window aggregations cascaded on
// the windows of a window aggregation (GROUP BY its window_start and
// window_end), alone and window-joined with the aggregation they read
// (Nexmark q5's shape), over random out-of-order events, and compares
// their rows with SQLite's.
func TestDifferentialCascadedWindows(t *testing.T) {
	needSQLite(t)
	const ddl = `CREATE TABLE ev (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '3' SECOND)
		WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');`
	hop := "TABLE(HOP(TABLE ev, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '6' SECOND))"
	const sqlHop = `WITH j(n) AS (VALUES (0), (1), (2)),
		w AS (SELECT k, v, (ts/2000)*2000 - n*2000 AS ws, (ts/2000)*2000 - n*2000 + 6000 AS we FROM ev, j),
		c AS (SELECT k, COUNT(*) AS n, SUM(v) AS s, ws, we FROM w GROUP BY k, ws) `
	cases := []struct {
		name, engine, sqlite string
	}{
		{
			"q5",
			`SELECT A.k, A.n, A.ws FROM
			 (SELECT k, COUNT(*) AS n, window_start AS ws, window_end AS we FROM ` + hop + ` GROUP BY k, window_start, window_end) AS A
			 JOIN (SELECT MAX(C.n) AS maxn, C.ws, C.we FROM
			       (SELECT COUNT(*) AS n, window_start AS ws, window_end AS we FROM ` + hop + ` GROUP BY k, window_start, window_end) AS C
			       GROUP BY C.ws, C.we) AS M
			 ON A.ws = M.ws AND A.we = M.we AND A.n >= M.maxn`,
			sqlHop + `SELECT c.k, c.n, ` + tsText("c.ws") + ` FROM c JOIN (SELECT MAX(n) AS maxn, ws, we FROM c GROUP BY ws) m
			 ON c.ws = m.ws AND c.n >= m.maxn`,
		},
		{
			// Keys beside the window, the window's bounds and time
			// selected, HAVING.
			"hop-keys",
			`SELECT we, ws, k % 3, COUNT(*), MAX(s), MIN(n), window_time FROM
			 (SELECT k, COUNT(*) AS n, SUM(v) AS s, window_start AS ws, window_end AS we, window_time FROM ` + hop + ` GROUP BY k, window_start, window_end, window_time)
			 GROUP BY ws, k % 3, we HAVING COUNT(*) > 1`,
			sqlHop + `SELECT ` + tsText("we") + `, ` + tsText("ws") + `, k % 3, COUNT(*), MAX(s), MIN(n), ` + tsText("we - 1") + `
			 FROM c GROUP BY ws, k % 3 HAVING COUNT(*) > 1`,
		},
		{
			"cumulate",
			`SELECT window_start, window_end, COUNT(*), SUM(n) FROM
			 (SELECT k, COUNT(*) AS n, window_start, window_end FROM TABLE(CUMULATE(TABLE ev, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '6' SECOND)) GROUP BY k, window_start, window_end)
			 GROUP BY window_start, window_end`,
			`WITH j(n) AS (VALUES (1), (2), (3)),
			 w AS (SELECT k, (ts/6000)*6000 AS ws, (ts/6000)*6000 + n*2000 AS we FROM ev, j WHERE ts < (ts/6000)*6000 + n*2000),
			 c AS (SELECT k, COUNT(*) AS n, ws, we FROM w GROUP BY k, ws, we)
			 SELECT ` + tsText("ws") + `, ` + tsText("we") + `, COUNT(*), SUM(n) FROM c GROUP BY ws, we`,
		},
	}
	for seed := int64(1); seed <= 2; seed++ {
		rng := rand.New(rand.NewSource(seed))
		evs := randomEvents(rng, 3000, []int{40, 7}[seed-1], 2000)
		path := filepath.Join(t.TempDir(), "ev.csv")
		writeCSV(t, path, evs)
		parallelism := []int{1, 3}[seed-1]
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/seed=%d/parallelism=%d", c.name, seed, parallelism), func(t *testing.T) {
				got := runEngine(t, fmt.Sprintf("SET 'parallelism.default' = '%d';\n", parallelism)+fmt.Sprintf(ddl, path)+c.engine+";")
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

// TestDifferentialIntervalJoins runs interval joins of every kind over two
// random, out-of-order event files (keys overlapping in part, so outer
// joins pad rows of both sides; out of order by less than the watermark
// delay, so no row is late) and compares the rows with SQLite's join of
// the same files under the same condition. Batches are small, so that the
// watermark advances, rows expire and outer rows are padded while the
// inputs are still being read. The window aggregations over the join
// prove that its time attributes stay time attributes and that its output
// watermark is held back by the interval: a join row older than the
// window operator's watermark would be dropped as late and the counts
// would differ. (Late rows, which are dropped, are tested with the
// operator, whose watermarks a test controls: see operators/join.)
func TestDifferentialIntervalJoins(t *testing.T) {
	needSQLite(t)
	ddl := func(pa, pb string) string {
		return fmt.Sprintf(`CREATE TABLE a (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
			WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
			CREATE TABLE b (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
			WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');`, pa, pb)
	}
	cols := "a.k, a.v, b.k, b.v, a.ts, b.ts"
	sqliteCols := "a.k, a.v, b.k, b.v, " + tsText("a.ts") + ", " + tsText("b.ts")
	between := "a.ts BETWEEN b.ts - INTERVAL '3' SECOND AND b.ts + INTERVAL '1' SECOND"
	sqlBetween := "a.ts BETWEEN b.ts - 3000 AND b.ts + 1000"
	cases := []struct {
		name, engine, sqlite string
	}{
		{"inner", "SELECT " + cols + " FROM a JOIN b ON a.k = b.k AND " + between, "SELECT " + sqliteCols + " FROM a JOIN b ON a.k = b.k AND " + sqlBetween},
		{"left", "SELECT " + cols + " FROM a LEFT JOIN b ON a.k = b.k AND " + between + " AND a.v < b.v", "SELECT " + sqliteCols + " FROM a LEFT JOIN b ON a.k = b.k AND " + sqlBetween + " AND a.v < b.v"},
		{
			"right",
			"SELECT " + cols + " FROM a RIGHT JOIN b ON b.k = a.k AND b.ts > a.ts - INTERVAL '500' MILLISECOND AND a.ts + INTERVAL '4' SECOND >= b.ts",
			"SELECT " + sqliteCols + " FROM a RIGHT JOIN b ON b.k = a.k AND b.ts > a.ts - 500 AND a.ts + 4000 >= b.ts",
		},
		{
			// An interval wholly behind: a row of a joins the rows of b
			// 1 to 6 seconds after it.
			"full-behind",
			"SELECT " + cols + " FROM a FULL JOIN b ON a.k = b.k AND a.ts >= b.ts - INTERVAL '6' SECOND AND a.ts < b.ts - INTERVAL '1' SECOND",
			"SELECT " + sqliteCols + " FROM a FULL JOIN b ON a.k = b.k AND a.ts >= b.ts - 6000 AND a.ts < b.ts - 1000",
		},
		{
			"comma",
			"SELECT a.k, a.v, b.v FROM a, b WHERE a.k = b.k AND " + between + " AND a.v + b.v > 300 AND a.k < 20",
			"SELECT a.k, a.v, b.v FROM a, b WHERE a.k = b.k AND " + sqlBetween + " AND a.v + b.v > 300 AND a.k < 20",
		},
		{
			"window-over-inner",
			"SELECT window_start, window_end, COUNT(*), SUM(bv) FROM TABLE(TUMBLE((SELECT b.v AS bv, a.ts AS ats FROM a JOIN b ON a.k = b.k AND " + between + "), DESCRIPTOR(ats), INTERVAL '2' SECOND)) GROUP BY window_start, window_end",
			"SELECT " + tsText("w") + ", " + tsText("w + 2000") + ", COUNT(*), SUM(bv) FROM (SELECT b.v AS bv, a.ts - a.ts % 2000 AS w FROM a JOIN b ON a.k = b.k AND " + sqlBetween + ") GROUP BY w",
		},
		{
			// Padded rows are windowed by a's time, joined ones too.
			"window-over-left",
			"SELECT k, window_start, COUNT(*), COUNT(bv) FROM TABLE(TUMBLE((SELECT a.k AS k, b.v AS bv, a.ts AS ats FROM a LEFT JOIN b ON a.k = b.k AND a.ts BETWEEN b.ts - INTERVAL '1' SECOND AND b.ts + INTERVAL '4' SECOND), DESCRIPTOR(ats), INTERVAL '1' SECOND)) GROUP BY k, window_start, window_end",
			"SELECT k, " + tsText("w") + ", COUNT(*), COUNT(bv) FROM (SELECT a.k AS k, b.v AS bv, a.ts - a.ts % 1000 AS w FROM a LEFT JOIN b ON a.k = b.k AND a.ts BETWEEN b.ts - 1000 AND b.ts + 4000) GROUP BY k, w",
		},
	}
	for seed := int64(1); seed <= 2; seed++ {
		rng := rand.New(rand.NewSource(seed))
		ea := randomEvents(rng, 700, 30, 2000)
		eb := randomEvents(rng, 700, 30, 2000)
		for i := range eb {
			eb[i].key += 10 // keys 10..39: a's 0..9 and b's 30..39 never match
		}
		dir := t.TempDir()
		pa, pb := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
		writeCSV(t, pa, ea)
		writeCSV(t, pb, eb)
		parallelism := []int{1, 3}[seed-1]
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/seed=%d/parallelism=%d", c.name, seed, parallelism), func(t *testing.T) {
				sql := fmt.Sprintf("SET 'parallelism.default' = '%d';\n", parallelism) + ddl(pa, pb)
				s := engine.New(engine.Options{StateDir: t.TempDir()}).NewSession()
				if res := sessionExec(t, s, sql+"EXPLAIN "+c.engine+";"); !strings.Contains(res.Message, "IntervalJoin") {
					t.Fatalf("not planned as an interval join:\n%s", res.Message)
				}
				got := runEngineBatch(t, sql+c.engine+";", 16)
				want := runSQLiteTables(t, map[string]string{"a": pa, "b": pb}, c.sqlite)
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
