package engine_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/engine"
	sexec "github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// TestConstantSelectsAndValues runs SELECT without FROM, VALUES as a
// table (with column aliases, type unification and NULLs), a bare VALUES
// query and INSERT INTO … VALUES end to end: each job reads the bounded
// values source and ends.
func TestConstantSelectsAndValues(t *testing.T) {
	cases := []struct {
		sql    string
		schema string
		rows   []string
	}{
		{`SELECT 1 + 1, 'x' AS y, CAST(NULL AS INT) AS z`, "EXPR$0 INT NOT NULL, y STRING NOT NULL, z INT", []string{"2, x, NULL"}},
		{`SELECT 1 WHERE FALSE`, "EXPR$0 INT NOT NULL", nil},
		{`SELECT * FROM (VALUES (1, 'a'), (CAST(2 AS BIGINT), NULL), (3, 'c')) AS t (id, name)`,
			"id BIGINT NOT NULL, name STRING", []string{"1, a", "2, NULL", "3, c"}},
		{`VALUES (1.5), (2), (NULL)`, "EXPR$0 DECIMAL(11, 1)", []string{"1.5", "2.0", "NULL"}},
		{`SELECT id * 10, UPPER(name) FROM (VALUES (1, 'a'), (2, 'b')) AS t (id, name) WHERE id > 1`,
			"EXPR$0 INT NOT NULL, EXPR$1 STRING NOT NULL", []string{"20, B"}},
		{`VALUES (1) UNION ALL SELECT 2 UNION ALL VALUES (3), (4)`, "EXPR$0 INT NOT NULL", []string{"1", "2", "3", "4"}},
	}
	for _, c := range cases {
		schema, rows := queryRows(t, c.sql+";")
		if got := schemaText(schema); got != c.schema {
			t.Errorf("%s: schema %s, want %s", c.sql, got, c.schema)
		}
		slices.Sort(rows)
		if !slices.Equal(rows, c.rows) {
			t.Errorf("%s: rows %q, want %q", c.sql, rows, c.rows)
		}
	}
}

// TestLargeValues runs a VALUES of 1,234 rows (more rows than one CASE
// may have arms: the rows are picked by a CASE of ranges) and checks every
// row comes out once with its own values.
func TestLargeValues(t *testing.T) {
	var rows, want []string
	for i := range 1234 {
		rows = append(rows, fmt.Sprintf("(%d, 'r%d')", i, i*7))
		want = append(want, fmt.Sprintf("%d, r%d", i, i*7))
	}
	_, got := queryRows(t, "VALUES "+strings.Join(rows, ", ")+";")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("got %d rows, want %d; first %q, want %q", len(got), len(want), first(got, 5), first(want, 5))
	}
}

// TestInsertValues writes VALUES rows into a filesystem table and reads
// them back.
func TestInsertValues(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	ddl := fmt.Sprintf(`CREATE TABLE o (id BIGINT, name STRING) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
`, out)
	runScript(t, ddl+`INSERT INTO o VALUES (1, 'a'), (2, CAST(NULL AS STRING)), (3, 'c' || 'd');`)
	_, rows := queryRows(t, ddl+`SELECT id, name FROM o;`)
	slices.Sort(rows)
	if want := []string{"1, a", "2, NULL", "3, cd"}; !slices.Equal(rows, want) {
		t.Fatalf("read back %q, want %q", rows, want)
	}
}

// runScript executes every statement of sql, waiting for the jobs of
// INSERTs to finish.
func runScript(t *testing.T, sql string) {
	t.Helper()
	if _, _, err := queryErr(t, sql+"\nSELECT 1;"); err != nil {
		t.Fatal(err)
	}
}

// TestDifferentialWithValues compares WITH and VALUES queries with
// SQLite on random events: CTEs referring to earlier ones, a CTE used
// twice, a VALUES table in a CTE, a derived table with column aliases.
func TestDifferentialWithValues(t *testing.T) {
	needSQLite(t)
	rng := rand.New(rand.NewSource(7))
	evs := randomEvents(rng, 3000, 40, 2000)
	path := filepath.Join(t.TempDir(), "events.csv")
	writeCSV(t, path, evs)
	ddl := fmt.Sprintf(`CREATE TABLE ev (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
		WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');`, path)
	cases := []struct{ name, engine, sqlite string }{
		{"with-chain",
			`WITH pos AS (SELECT k, v FROM ev WHERE v > 0), big (kk, vv) AS (SELECT k, v * 2 FROM pos WHERE v > 100)
			 SELECT kk, vv FROM big WHERE kk < 20`,
			`WITH pos AS (SELECT k, v FROM ev WHERE v > 0), big (kk, vv) AS (SELECT k, v * 2 FROM pos WHERE v > 100)
			 SELECT kk, vv FROM big WHERE kk < 20`},
		{"with-twice",
			`WITH x AS (SELECT k, v FROM ev WHERE v IS NOT NULL AND k < 5) SELECT k, v FROM x UNION ALL SELECT k + 100, -v FROM x`,
			`WITH x AS (SELECT k, v FROM ev WHERE v IS NOT NULL AND k < 5) SELECT k, v FROM x UNION ALL SELECT k + 100, -v FROM x`},
		{"values",
			`WITH c (n, label) AS (VALUES (1, 'one'), (2, 'two'), (3, NULL)) SELECT n * 7, label, label IS NULL FROM c`,
			`WITH c (n, label) AS (VALUES (1, 'one'), (2, 'two'), (3, NULL)) SELECT n * 7, label, CASE WHEN label IS NULL THEN 'true' ELSE 'false' END FROM c`},
		{"window-over-cte",
			`WITH e AS (SELECT k, v, ts FROM ev WHERE k % 2 = 0)
			 SELECT window_start, k, COUNT(*), SUM(v) FROM TABLE(TUMBLE(TABLE e, DESCRIPTOR(ts), INTERVAL '5' SECOND))
			 GROUP BY window_start, window_end, k`,
			`SELECT ` + tsText("ws") + `, k, COUNT(*), SUM(v) FROM (SELECT (ts/5000)*5000 AS ws, k, v FROM ev WHERE k % 2 = 0) GROUP BY ws, k`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := runEngine(t, ddl+c.engine+";")
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

// TestDifferentialWindowGroupingSets compares window GROUPING SETS,
// ROLLUP and CUBE with SQLite, where each grouping set is a GROUP BY of
// its own and the sets' results are combined by UNION ALL (SQLite has no
// grouping sets), at parallelism 1 and 2.
func TestDifferentialWindowGroupingSets(t *testing.T) {
	needSQLite(t)
	rng := rand.New(rand.NewSource(11))
	evs := randomEvents(rng, 4000, 12, 2000)
	path := filepath.Join(t.TempDir(), "events.csv")
	writeCSV(t, path, evs)
	ddl := fmt.Sprintf(`CREATE TABLE ev (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
		WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');`, path)
	win := `FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '10' SECOND))`
	sw := `(SELECT (ts/10000)*10000 AS ws, k, k % 3 AS m, v FROM ev)`
	set := func(keys, cols, grouping string) string {
		group := "ws"
		if keys != "" {
			group += ", " + keys
		}
		return `SELECT ` + tsText("ws") + `, ` + cols + `, COUNT(*), SUM(v), ` + grouping + ` FROM ` + sw + ` GROUP BY ` + group
	}
	cases := []struct{ name, engine, sqlite string }{
		{"grouping-sets",
			`SELECT window_start, k, COUNT(*), SUM(v), GROUPING(k) ` + win + ` GROUP BY window_start, window_end, GROUPING SETS ((k), ())`,
			set("k", "k", "0") + " UNION ALL " + set("", "NULL", "1")},
		{"rollup",
			`SELECT window_start, k, k % 3 AS m, COUNT(*), SUM(v), GROUPING(k, k % 3) ` + win + ` GROUP BY window_start, window_end, ROLLUP (k % 3, k)`,
			set("m, k", "k, m", "0") + " UNION ALL " + set("m", "NULL, m", "2") + " UNION ALL " + set("", "NULL, NULL", "3")},
		{"cube-having",
			`SELECT window_start, k % 3, v > 0, COUNT(*), SUM(v), 0 ` + win + ` WHERE v IS NOT NULL GROUP BY window_start, window_end, CUBE (k % 3, v > 0) HAVING COUNT(*) > 3`,
			cubeSQLite(sw)},
	}
	for _, p := range []int{1, 2} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/parallelism=%d", c.name, p), func(t *testing.T) {
				got := runEngine(t, fmt.Sprintf("SET 'parallelism.default' = '%d';\n", p)+ddl+c.engine+";")
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

// cubeSQLite is CUBE (k % 3, v > 0) with HAVING COUNT(*) > 3 in SQLite:
// four GROUP BYs. The booleans print as the engine prints them.
func cubeSQLite(sw string) string {
	b := `CASE WHEN v > 0 THEN 'true' ELSE 'false' END`
	var parts []string
	for _, s := range []struct{ keys, cols string }{
		{"m, p", "m, p"}, {"m", "m, NULL"}, {"p", "NULL, p"}, {"", "NULL, NULL"},
	} {
		group := "ws"
		if s.keys != "" {
			group += ", " + s.keys
		}
		parts = append(parts, `SELECT `+tsText("ws")+`, `+s.cols+`, COUNT(*), SUM(v), 0 FROM (SELECT ws, m, `+b+` AS p, v FROM `+sw+` WHERE v IS NOT NULL) GROUP BY `+group+` HAVING COUNT(*) > 3`)
	}
	return strings.Join(parts, " UNION ALL ")
}

// TestDifferentialGroupingSets compares non-windowed GROUPING SETS,
// ROLLUP and CUBE (a union of updating aggregations) with SQLite: the
// emitted changelog, applied to a table, must end as SQLite's union of one
// GROUP BY per set. Updating aggregations over VALUES and SELECT without
// FROM are checked too.
func TestDifferentialGroupingSets(t *testing.T) {
	needSQLite(t)
	rng := rand.New(rand.NewSource(5))
	evs := randomEvents(rng, 3000, 20, 2000)
	path := filepath.Join(t.TempDir(), "events.csv")
	writeCSV(t, path, evs)
	ddl := fmt.Sprintf(`CREATE TABLE ev (k BIGINT, v BIGINT, ts TIMESTAMP(3))
		WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');`, path)
	cases := []struct{ name, engine, sqlite string }{
		{"grouping-sets",
			`SELECT k % 4, k % 3, COUNT(*), SUM(v), GROUPING(k % 4, k % 3) FROM ev GROUP BY GROUPING SETS ((k % 4, k % 3), (k % 3), ())`,
			`SELECT k % 4, k % 3, COUNT(*), SUM(v), 0 FROM ev GROUP BY k % 4, k % 3
			 UNION ALL SELECT NULL, k % 3, COUNT(*), SUM(v), 2 FROM ev GROUP BY k % 3
			 UNION ALL SELECT NULL, NULL, COUNT(*), SUM(v), 3 FROM ev`},
		{"rollup-having",
			`SELECT k % 2 AS a, k % 5 AS b, MAX(v) FROM ev GROUP BY ROLLUP (k % 2, k % 5) HAVING COUNT(*) > 100`,
			`SELECT k % 2, k % 5, MAX(v) FROM ev GROUP BY k % 2, k % 5 HAVING COUNT(*) > 100
			 UNION ALL SELECT k % 2, NULL, MAX(v) FROM ev GROUP BY k % 2 HAVING COUNT(*) > 100
			 UNION ALL SELECT NULL, NULL, MAX(v) FROM ev HAVING COUNT(*) > 100`},
		{"cube-values",
			`SELECT a, b, COUNT(*) FROM (VALUES (1, 'x'), (1, 'y'), (2, 'x'), (2, 'x')) AS t (a, b) GROUP BY CUBE (a, b)`,
			`WITH t (a, b) AS (VALUES (1, 'x'), (1, 'y'), (2, 'x'), (2, 'x'))
			 SELECT a, b, COUNT(*) FROM t GROUP BY a, b UNION ALL SELECT a, NULL, COUNT(*) FROM t GROUP BY a
			 UNION ALL SELECT NULL, b, COUNT(*) FROM t GROUP BY b UNION ALL SELECT NULL, NULL, COUNT(*) FROM t`},
		{"no-from",
			`SELECT COUNT(*), SUM(x) FROM (SELECT 41 + 1 AS x)`,
			`SELECT 1, 42`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := runChangelogRows(t, ddl+c.engine+";")
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

// runChangelogRows runs sql (ending with one SELECT), applies the emitted
// changelog to a multiset of rows and returns the final rows, sorted. A
// retraction of a row that is not there fails the test.
func runChangelogRows(t *testing.T, sql string) []string {
	t.Helper()
	return runChangelogRowsWith(t, engine.Options{StateDir: t.TempDir()}, sql)
}

// runChangelogRowsWith is runChangelogRows on an engine built with opts.
func runChangelogRowsWith(t *testing.T, opts engine.Options, sql string) []string {
	t.Helper()
	stmts, err := engine.Parse("test.sql", sql)
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(opts)
	defer eng.Close(context.Background())
	table := map[string]int{}
	for _, st := range stmts {
		res, err := eng.Execute(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		if res.Kind != engine.Query {
			continue
		}
		err = res.Query.Run(context.Background(), func(rec arrow.Record) error {
			kinds := sexec.RowKinds(rec)
			for r := 0; r < int(rec.NumRows()); r++ {
				cells := make([]string, sexec.DataColumns(rec))
				for c := range cells {
					v, ok := format.FormatValue(rec.Column(c), r)
					if !ok {
						v = "NULL"
					}
					cells[c] = v
				}
				row := strings.Join(cells, ",")
				if k := sexec.RowKindAt(kinds, r); k.IsRetraction() {
					if table[row] <= 0 {
						return fmt.Errorf("%s of row %s, which is not in the result", k, row)
					}
					table[row]--
				} else {
					table[row]++
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var rows []string
	for r, n := range table {
		for range n {
			rows = append(rows, r)
		}
	}
	sort.Strings(rows)
	return rows
}

// TestOrderByTime runs ORDER BY a time attribute over rows that arrive out
// of order (by less than the watermark delay): every row comes out once,
// in event-time order, rows of equal time in arrival order; with LIMIT the
// first rows of that order.
func TestOrderByTime(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	evs := randomEvents(rng, 2000, 10, 1500)
	path := filepath.Join(t.TempDir(), "events.csv")
	ddl := fmt.Sprintf(`CREATE TABLE ev (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
		WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');`, path)
	idx := make([]int, len(evs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return evs[idx[a]].ts < evs[idx[b]].ts })
	var want []string
	for _, i := range idx {
		want = append(want, fmt.Sprintf("%d, %s", i, types.FormatTimestamp(evs[i].ts)))
	}
	// The row number identifies each row: v is replaced by it.
	var b strings.Builder
	for i, e := range evs {
		fmt.Fprintf(&b, "%d,%d,%s\n", e.key, i, types.FormatTimestamp(e.ts))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	_, got := queryRows(t, ddl+`SELECT v, ts FROM ev ORDER BY ts;`)
	if !slices.Equal(got, want) {
		n := 0
		for n < len(got) && n < len(want) && got[n] == want[n] {
			n++
		}
		t.Fatalf("got %d rows, want %d; first difference at row %d: %q vs %q", len(got), len(want), n, first(got[min(n, len(got)):], 3), first(want[n:], 3))
	}
	_, got = queryRows(t, ddl+`SELECT v, ts FROM ev ORDER BY ts LIMIT 5;`)
	if !slices.Equal(got, want[:5]) {
		t.Fatalf("LIMIT 5: %q, want %q", got, want[:5])
	}
}
