package rank_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/internal/difftest"
)

// The differential test runs Top-N queries through the engine over random
// inputs (debezium-json files of inserts only, and of inserts, updates and
// deletes; v has many ties and some NULLs), applies the emitted changelog
// to a table and compares it with SQLite's window functions over the
// input's final table. Ties of ROW_NUMBER are broken by the row's columns
// in order (here id, the first column), which SQLite is told with a last
// ORDER BY item.
var differentialQueries = []struct{ engine, sqlite string }{
	{"SELECT id, k, v, rn FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM ev) WHERE rn <= 3",
		"SELECT id, k, v, rn FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC, id) AS rn FROM fin) WHERE rn <= 3"},
	{"SELECT id, k, v FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v) AS rn FROM ev) WHERE rn < 3",
		"SELECT id, k, v FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v, id) AS rn FROM fin) WHERE rn < 3"},
	{"SELECT id, k, v, r FROM (SELECT id, k, v, RANK() OVER (PARTITION BY k ORDER BY v DESC) AS r FROM ev) WHERE r <= 3",
		"SELECT id, k, v, r FROM (SELECT id, k, v, RANK() OVER (PARTITION BY k ORDER BY v DESC) AS r FROM fin) WHERE r <= 3"},
	{"SELECT * FROM (SELECT k, v, id, DENSE_RANK() OVER (PARTITION BY k ORDER BY v) AS r FROM ev WHERE v IS NOT NULL) WHERE r BETWEEN 2 AND 4",
		"SELECT * FROM (SELECT k, v, id, DENSE_RANK() OVER (PARTITION BY k ORDER BY v) AS r FROM fin WHERE v IS NOT NULL) WHERE r BETWEEN 2 AND 4"},
	{"SELECT id, v, rn FROM (SELECT id, v, ROW_NUMBER() OVER (ORDER BY v DESC) AS rn FROM ev) WHERE rn <= 5",
		"SELECT id, v, rn FROM (SELECT id, v, ROW_NUMBER() OVER (ORDER BY v DESC, id) AS rn FROM fin) WHERE rn <= 5"},
	// Top-1: over an append-only input a partition holds its best row only.
	{"SELECT id, k, v, rn FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM ev) WHERE rn <= 1",
		"SELECT id, k, v, rn FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC, id) AS rn FROM fin) WHERE rn <= 1"},
	{"SELECT id, k, v FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v) AS rn FROM ev) WHERE rn = 1",
		"SELECT id, k, v FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v, id) AS rn FROM fin) WHERE rn = 1"},
	// ORDER BY … LIMIT: a Top-N without partition.
	{"SELECT id, v FROM ev WHERE v IS NOT NULL ORDER BY v DESC LIMIT 4",
		"SELECT id, v FROM fin WHERE v IS NOT NULL ORDER BY v DESC, id LIMIT 4"},
	// Over an updating aggregate.
	{"SELECT b, k, n, rn FROM (SELECT b, k, n, ROW_NUMBER() OVER (PARTITION BY b ORDER BY n DESC) AS rn FROM (SELECT k % 3 AS b, k, COUNT(*) AS n FROM ev GROUP BY k % 3, k)) WHERE rn <= 2",
		"SELECT b, k, n, rn FROM (SELECT b, k, n, ROW_NUMBER() OVER (PARTITION BY b ORDER BY n DESC, k) AS rn FROM (SELECT k % 3 AS b, k, COUNT(*) AS n FROM fin GROUP BY k % 3, k)) WHERE rn <= 2"},
}

// TestDifferential: for random inputs, each Top-N query's emitted
// changelog, applied to a table, equals SQLite's result over the final
// input table, on one subtask and on three.
func TestDifferential(t *testing.T) {
	difftest.NeedSQLite(t)
	configs := []struct {
		name, sets string
		batch      int
	}{
		{"serial", "", 7},
		{"parallel", "SET 'parallelism.default' = '3';", 5},
	}
	for _, changes := range []bool{false, true} {
		for seed := uint64(1); seed <= 2; seed++ {
			rng := rand.New(rand.NewPCG(seed, 15))
			path := filepath.Join(t.TempDir(), "ev.json")
			final, _ := difftest.RandomChangelog(t, rng, path, 900, 6+int(seed)*4, changes)
			ddl := fmt.Sprintf("CREATE TABLE ev (id BIGINT, k BIGINT, v BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'debezium-json');\n", path)
			if !changes {
				// An append-only input (plain JSON), in random order.
				ddl = appendOnly(t, rng, final)
			}
			for qi, q := range differentialQueries {
				want := difftest.RunSQLite(t, final, q.sqlite)
				if len(want) == 0 {
					t.Fatalf("q%d: SQLite returned no rows: the test would prove nothing", qi)
				}
				for _, c := range configs {
					t.Run(fmt.Sprintf("changes=%v/seed=%d/q%d/%s", changes, seed, qi, c.name), func(t *testing.T) {
						got, n := difftest.RunChangelog(t, ddl+c.sets+q.engine+";", c.batch)
						if !slices.Equal(got, want) {
							t.Fatalf("%s\nengine (%d changelog rows):\n%s\nsqlite:\n%s", q.engine, n, strings.Join(got, "\n"), strings.Join(want, "\n"))
						}
					})
				}
			}
		}
	}
}

// appendOnly writes rows, shuffled, as a JSON-lines file and returns the
// DDL of table ev reading it: an append-only source.
func appendOnly(t *testing.T, rng *rand.Rand, rows []difftest.TableRow) string {
	t.Helper()
	rows = slices.Clone(rows)
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	var b strings.Builder
	enc := json.NewEncoder(&b)
	for _, r := range rows {
		if err := enc.Encode(map[string]any{"id": r.ID, "k": r.K, "v": r.V}); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "ev-append.json")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("CREATE TABLE ev (id BIGINT, k BIGINT, v BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'json');\n", path)
}
