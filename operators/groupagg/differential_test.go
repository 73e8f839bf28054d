package groupagg_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/engine"
	sexec "github.com/streamsql/streamsql/exec"
)

// The differential test runs non-windowed aggregations through the engine
// over a random changelog (a debezium-json file of inserts, updates and
// deletes), applies the changelog the query emits to a table, and compares
// that table with SQLite's result of the same query over the input's
// final table.

// tableRow is one row of the input table.
type tableRow struct {
	id, k int64
	v     *int64
}

func (r tableRow) json() map[string]any {
	m := map[string]any{"id": r.id, "k": r.k, "v": nil}
	if r.v != nil {
		m["v"] = *r.v
	}
	return m
}

// randomChangelog writes n change events to a debezium-json file and
// returns the final table and the number of changelog rows the events are
// (an update is two: -U and +U).
func randomChangelog(t *testing.T, rng *rand.Rand, path string, n, keys int) ([]tableRow, int) {
	t.Helper()
	live := map[int64]tableRow{}
	var ids []int64
	next := int64(1)
	nrows := 0
	randRow := func(id int64) tableRow {
		r := tableRow{id: id, k: rng.Int64N(int64(keys))}
		if rng.IntN(15) != 0 {
			v := rng.Int64N(40) - 10
			r.v = &v
		}
		return r
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for range n {
		var ev map[string]any
		switch x := rng.IntN(100); {
		case x < 55 || len(ids) == 0:
			r := randRow(next)
			next++
			live[r.id] = r
			ids = append(ids, r.id)
			ev = map[string]any{"before": nil, "after": r.json(), "op": "c"}
		case x < 80:
			id := ids[rng.IntN(len(ids))]
			old := live[id]
			r := randRow(id)
			if rng.IntN(2) == 0 {
				r.k = old.k // same group, another value
			}
			live[id] = r
			ev = map[string]any{"before": old.json(), "after": r.json(), "op": "u"}
		default:
			i := rng.IntN(len(ids))
			id := ids[i]
			ids = slices.Delete(ids, i, i+1)
			ev = map[string]any{"before": live[id].json(), "after": nil, "op": "d"}
			delete(live, id)
		}
		nrows++
		if ev["op"] == "u" {
			nrows++
		}
		if err := enc.Encode(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var rows []tableRow
	for _, r := range live {
		rows = append(rows, r)
	}
	return rows, nrows
}

// runChangelog runs sql (DDL, SETs, then one SELECT) through the engine,
// applies the emitted changelog to a multiset of rows and returns the
// final rows, sorted, and the number of changelog rows. It fails on a
// retraction of a row that is not there.
func runChangelog(t *testing.T, sql string, batchSize int) ([]string, int) {
	t.Helper()
	stmts, err := engine.Parse("test.sql", sql)
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.Options{StateDir: t.TempDir(), BatchSize: batchSize})
	defer eng.Close(context.Background())
	table := map[string]int{}
	emitted := 0
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
				emitted++
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
	return rows, emitted
}

// runSQLite loads rows as table fin(id, k, v) and runs query.
func runSQLite(t *testing.T, rows []tableRow, query string) []string {
	t.Helper()
	var b strings.Builder
	for _, r := range rows {
		v := ""
		if r.v != nil {
			v = fmt.Sprint(*r.v)
		}
		fmt.Fprintf(&b, "%d,%d,%s\n", r.id, r.k, v)
	}
	path := filepath.Join(t.TempDir(), "fin.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`CREATE TABLE raw(id INTEGER, k INTEGER, v TEXT);
.mode csv
.import %s raw
CREATE TABLE fin AS SELECT id, k, CASE WHEN v = '' THEN NULL ELSE CAST(v AS INTEGER) END AS v FROM raw;
.mode list
.separator ,
.nullvalue NULL
%s;
`, path, query)
	cmd := exec.Command("sqlite3", ":memory:")
	cmd.Stdin = strings.NewReader(script)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sqlite3: %v\n%s", err, stderr.String())
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var res []string
	for _, rec := range recs {
		res = append(res, strings.Join(rec, ","))
	}
	sort.Strings(res)
	return res
}

func needSQLite(t *testing.T) {
	if _, err := exec.LookPath("sqlite3"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("sqlite3 is required in CI (.ci/run installs it)")
		}
		t.Skip("sqlite3 not installed: apt-get install sqlite3")
	}
}

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
	needSQLite(t)
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
		final, _ := randomChangelog(t, rng, path, 1200, 12+int(seed)*5)
		ddl := fmt.Sprintf("CREATE TABLE ev (id BIGINT, k BIGINT, v BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'debezium-json');\n", path)
		for qi, q := range differentialQueries {
			want := runSQLite(t, final, q.sqlite)
			for _, c := range configs {
				t.Run(fmt.Sprintf("seed=%d/q%d/%s", seed, qi, c.name), func(t *testing.T) {
					got, n := runChangelog(t, ddl+c.sets+q.engine+";", c.batch)
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
	_, in := randomChangelog(t, rng, path, 4000, 5)
	ddl := fmt.Sprintf("CREATE TABLE ev (id BIGINT, k BIGINT, v BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'debezium-json');\n", path)
	q := "SELECT k, COUNT(*), SUM(v) FROM ev GROUP BY k;"
	rowRows, rowOut := runChangelog(t, ddl+q, 256)
	miniRows, miniOut := runChangelog(t, ddl+"SET 'table.exec.mini-batch.enabled' = 'true'; SET 'table.exec.mini-batch.size' = '1000';"+q, 256)
	if !slices.Equal(rowRows, miniRows) {
		t.Fatalf("the results differ:\n%s\n---\n%s", strings.Join(rowRows, "\n"), strings.Join(miniRows, "\n"))
	}
	t.Logf("4000 changes (%d changelog rows in), 5 keys: %d rows out row by row (amplification %.2f), %d with mini-batch of 1000 (%.4f)",
		in, rowOut, float64(rowOut)/float64(in), miniOut, float64(miniOut)/float64(in))
	if miniOut*10 > rowOut {
		t.Fatalf("mini-batch emitted %d rows, row by row %d: want at least 10 times fewer", miniOut, rowOut)
	}
}
