package groupagg_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/internal/difftest"
)

// The differential test runs non-windowed aggregations through the engine
// over a random changelog (a debezium-json file of inserts, updates and
// deletes), applies the changelog the query emits to a table, and compares
// that table with SQLite's result of the same query over the input's
// final table.

// differentialQueries are run by the engine over the changelog table ev
// and by SQLite over its final table fin.
var differentialQueries = []struct{ engine, sqlite string }{
	{"SELECT k, COUNT(*), COUNT(v), SUM(v), MIN(v), MAX(v), COUNT(DISTINCT v) FROM ev GROUP BY k",
		"SELECT k, COUNT(*), COUNT(v), SUM(v), MIN(v), MAX(v), COUNT(DISTINCT v) FROM fin GROUP BY k"},
	{"SELECT k, SUM(v) FROM ev GROUP BY k HAVING COUNT(*) > 2 AND MAX(v) < 25",
		"SELECT k, SUM(v) FROM fin GROUP BY k HAVING COUNT(*) > 2 AND MAX(v) < 25"},
	{"SELECT DISTINCT k, v FROM ev", "SELECT DISTINCT k, v FROM fin"},
	{"SELECT COUNT(*), SUM(v), MIN(v), MAX(v) FROM ev WHERE v > 0", "SELECT COUNT(*), SUM(v), MIN(v), MAX(v) FROM fin WHERE v > 0"},
	{"SELECT n, COUNT(*) FROM (SELECT k, COUNT(*) AS n FROM ev GROUP BY k) GROUP BY n",
		"SELECT n, COUNT(*) FROM (SELECT k, COUNT(*) AS n FROM fin GROUP BY k) GROUP BY n"},
	{"SELECT k % 3, MAX(v) - MIN(v) FROM ev GROUP BY k % 3",
		"SELECT k % 3, MAX(v) - MIN(v) FROM fin GROUP BY k % 3"},
	// SUM/AVG(DISTINCT …) and FILTER (WHERE …); AVG of BIGINT truncates
	// toward zero, as SQLite's integer division does.
	{"SELECT k, SUM(DISTINCT v), AVG(DISTINCT v), AVG(v), COUNT(DISTINCT v) FILTER (WHERE v > 0) FROM ev GROUP BY k",
		"SELECT k, SUM(DISTINCT v), SUM(DISTINCT v) / COUNT(DISTINCT v), SUM(v) / COUNT(v), COUNT(DISTINCT v) FILTER (WHERE v > 0) FROM fin GROUP BY k"},
	{"SELECT k, COUNT(*) FILTER (WHERE v > 5), SUM(v) FILTER (WHERE v % 2 = 0), MIN(v) FILTER (WHERE id % 3 = 0), MAX(v) FILTER (WHERE v < 20), SUM(v) FROM ev GROUP BY k HAVING COUNT(*) FILTER (WHERE v IS NULL) < 3",
		"SELECT k, COUNT(*) FILTER (WHERE v > 5), SUM(v) FILTER (WHERE v % 2 = 0), MIN(v) FILTER (WHERE id % 3 = 0), MAX(v) FILTER (WHERE v < 20), SUM(v) FROM fin GROUP BY k HAVING COUNT(*) FILTER (WHERE v IS NULL) < 3"},
	{"SELECT COUNT(*) FILTER (WHERE k < 5), SUM(DISTINCT k) FROM ev", "SELECT COUNT(*) FILTER (WHERE k < 5), SUM(DISTINCT k) FROM fin"},
	{"SELECT DISTINCT COUNT(*) % 4, MAX(v) > 20 FROM ev GROUP BY k", "SELECT DISTINCT COUNT(*) % 4, CASE WHEN MAX(v) IS NULL THEN 'NULL' WHEN MAX(v) > 20 THEN 'true' ELSE 'false' END FROM fin GROUP BY k"},
}

// TestDifferential: for random changelogs, each query's emitted changelog,
// applied to a table, equals SQLite's result over the final input table:
// row by row, with mini-batch, and at parallelism 3.
func TestDifferential(t *testing.T) {
	difftest.NeedSQLite(t)
	configs := []struct {
		name, sets string
		batch      int
	}{
		{"row-by-row", "", 7},
		{"mini-batch", "SET 'table.exec.mini-batch.enabled' = 'true'; SET 'table.exec.mini-batch.size' = '40';", 16},
		{"parallel", "SET 'parallelism.default' = '3';", 5},
	}
	for seed := uint64(1); seed <= 2; seed++ {
		rng := rand.New(rand.NewPCG(seed, 14))
		path := filepath.Join(t.TempDir(), "ev.json")
		final, _ := difftest.RandomChangelog(t, rng, path, 1200, 12+int(seed)*5, true)
		ddl := fmt.Sprintf("CREATE TABLE ev (id BIGINT, k BIGINT, v BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'debezium-json');\n", path)
		for qi, q := range differentialQueries {
			want := difftest.RunSQLite(t, final, q.sqlite)
			for _, c := range configs {
				t.Run(fmt.Sprintf("seed=%d/q%d/%s", seed, qi, c.name), func(t *testing.T) {
					got, n := difftest.RunChangelog(t, ddl+c.sets+q.engine+";", c.batch)
					if !slices.Equal(got, want) {
						t.Fatalf("%s\nengine (%d changelog rows):\n%s\nsqlite:\n%s", q.engine, n, strings.Join(got, "\n"), strings.Join(want, "\n"))
					}
				})
			}
		}
	}
}

// TestUpdateAmplification: mini-batch folds the updates of a hot key into
// one per batch, so far fewer changelog rows leave the aggregation.
func TestUpdateAmplification(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	path := filepath.Join(t.TempDir(), "ev.json")
	_, in := difftest.RandomChangelog(t, rng, path, 4000, 5, true)
	ddl := fmt.Sprintf("CREATE TABLE ev (id BIGINT, k BIGINT, v BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'debezium-json');\n", path)
	q := "SELECT k, COUNT(*), SUM(v) FROM ev GROUP BY k;"
	rowRows, rowOut := difftest.RunChangelog(t, ddl+q, 256)
	miniRows, miniOut := difftest.RunChangelog(t, ddl+"SET 'table.exec.mini-batch.enabled' = 'true'; SET 'table.exec.mini-batch.size' = '1000';"+q, 256)
	if !slices.Equal(rowRows, miniRows) {
		t.Fatalf("the results differ:\n%s\n---\n%s", strings.Join(rowRows, "\n"), strings.Join(miniRows, "\n"))
	}
	t.Logf("4000 changes (%d changelog rows in), 5 keys: %d rows out row by row (amplification %.2f), %d with mini-batch of 1000 (%.4f)",
		in, rowOut, float64(rowOut)/float64(in), miniOut, float64(miniOut)/float64(in))
	if miniOut*10 > rowOut {
		t.Fatalf("mini-batch emitted %d rows, row by row %d: want at least 10 times fewer", miniOut, rowOut)
	}
}
