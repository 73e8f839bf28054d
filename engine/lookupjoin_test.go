package engine_test

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"testing"
)

// TestDifferentialLookupJoin runs lookup joins (FOR SYSTEM_TIME AS OF a
// PROCTIME() column) of a random event file with a bounded filesystem
// table (keys missing, repeated and with NULL values) and compares the
// rows with SQLite's join of the same files: the table does not change
// while the job runs, so the lookup join is the batch join.
func TestDifferentialLookupJoin(t *testing.T) {
	needSQLite(t)
	ddl := func(pa, pd string) string {
		return fmt.Sprintf(`CREATE TABLE a (k BIGINT, v BIGINT, ts TIMESTAMP(3), pt AS PROCTIME(), WATERMARK FOR ts AS ts - INTERVAL '3' SECOND)
			WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
			CREATE TABLE d (k BIGINT, v BIGINT, ts TIMESTAMP(3))
			WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');`, pa, pd)
	}
	cols := "a.k, a.v, x.k, x.v, a.ts, x.ts"
	sqliteCols := "a.k, a.v, x.k, x.v, " + tsText("a.ts") + ", " + tsText("x.ts")
	cases := []struct {
		name, engine, sqlite string
	}{
		{"inner", "SELECT " + cols + " FROM a JOIN d FOR SYSTEM_TIME AS OF a.pt AS x ON a.k = x.k",
			"SELECT " + sqliteCols + " FROM a JOIN d AS x ON a.k = x.k"},
		{"left", "SELECT " + cols + " FROM a LEFT JOIN d FOR SYSTEM_TIME AS OF a.pt AS x ON a.k = x.k",
			"SELECT " + sqliteCols + " FROM a LEFT JOIN d AS x ON a.k = x.k"},
		{"inner-residual", "SELECT " + cols + " FROM a JOIN d FOR SYSTEM_TIME AS OF a.pt AS x ON x.k = a.k AND a.v < x.v",
			"SELECT " + sqliteCols + " FROM a JOIN d AS x ON x.k = a.k AND a.v < x.v"},
		{"left-residual", "SELECT " + cols + " FROM a LEFT JOIN d FOR SYSTEM_TIME AS OF a.pt AS x ON a.k = x.k AND a.v + x.v > 500",
			"SELECT " + sqliteCols + " FROM a LEFT JOIN d AS x ON a.k = x.k AND a.v + x.v > 500"},
		{"expression-key", "SELECT a.k, a.v, x.v FROM a LEFT JOIN d FOR SYSTEM_TIME AS OF a.pt AS x ON MOD(a.k + 3, 40) = x.k WHERE a.v > 0",
			"SELECT a.k, a.v, x.v FROM a LEFT JOIN d AS x ON (a.k + 3) % 40 = x.k WHERE a.v > 0"},
		{"two-keys", "SELECT a.k, a.v, x.ts FROM a JOIN d FOR SYSTEM_TIME AS OF a.pt AS x ON a.k = x.k AND a.v = x.v",
			"SELECT a.k, a.v, " + tsText("x.ts") + " FROM a JOIN d AS x ON a.k = x.k AND a.v = x.v"},
	}
	for seed := int64(1); seed <= 2; seed++ {
		rng := rand.New(rand.NewSource(seed))
		ea := randomEvents(rng, 800, 40, 2000)
		ed := randomEvents(rng, 60, 50, 10) // keys 0..49: some repeated, some missing
		for i := 0; i < 40; i++ {           // rows whose key and value both match some a rows
			e := ea[rng.Intn(len(ea))]
			if !e.null {
				ed = append(ed, event{key: e.key, val: e.val, ts: e.ts})
			}
		}
		dir := t.TempDir()
		pa, pd := filepath.Join(dir, "a.csv"), filepath.Join(dir, "d.csv")
		writeCSV(t, pa, ea)
		writeCSV(t, pd, ed)
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/seed=%d", c.name, seed), func(t *testing.T) {
				got := runEngineBatch(t, ddl(pa, pd)+c.engine+";", 100)
				want := runSQLiteTables(t, map[string]string{"a": pa, "d": pd}, c.sqlite)
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
