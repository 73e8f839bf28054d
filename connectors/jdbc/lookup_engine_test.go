package jdbc_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/internal/difftest"
	"github.com/streamsql/streamsql/internal/pgtest"
)

// TestEngineLookupJoin: a lookup join (FOR SYSTEM_TIME AS OF a PROCTIME()
// column) of an event file with a PostgreSQL table gives SQLite's join of
// the same rows, with and without the cache; the queries PostgreSQL
// received, counted by the server (pg_stat_user_tables.seq_scan of the
// looked-up table, which has no index, so each lookup query scans it
// once), are one per batch without a cache and one per batch with a key
// not seen before with one; EXPLAIN shows the cache.
func TestEngineLookupJoin(t *testing.T) {
	difftest.NeedSQLite(t)
	srv := pgtest.Start(t)
	const batch, events, keys = 100, 3000, 40
	rng := rand.New(rand.NewSource(3))
	// The table: keys 0..29 (30..39 never match), some twice, some NULL
	// names and scores.
	var dim, dimCSV []string
	for k := 0; k < 30; k++ {
		for n := 1 + rng.Intn(2); n > 0; n-- {
			name, score := fmt.Sprintf("n%d", rng.Intn(100)), strconv.Itoa(rng.Intn(1000))
			if rng.Intn(8) == 0 {
				name = ""
			}
			if rng.Intn(8) == 0 {
				score = ""
			}
			dimCSV = append(dimCSV, fmt.Sprintf("%d,%s,%s", k, name, score))
			dim = append(dim, fmt.Sprintf("(%d, NULLIF('%s', ''), NULLIF('%s', '')::bigint)", k, name, score))
		}
	}
	for _, tbl := range []string{"dim_plain", "dim_cached"} {
		srv.Exec(t, fmt.Sprintf("CREATE TABLE %s (k integer, name text, score bigint) WITH (autovacuum_enabled = off); INSERT INTO %[1]s VALUES %s", tbl, strings.Join(dim, ", ")))
	}
	var ev strings.Builder
	evKeys := make([]int, events)
	for i := range evKeys {
		evKeys[i] = rng.Intn(keys)
		fmt.Fprintf(&ev, "%d,%d\n", evKeys[i], rng.Intn(1000))
	}
	dir := t.TempDir()
	evPath := filepath.Join(dir, "ev.csv")
	if err := os.WriteFile(evPath, []byte(ev.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	dimPath := filepath.Join(dir, "dim.csv")
	if err := os.WriteFile(dimPath, []byte(strings.Join(dimCSV, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := difftest.SQLite(t, fmt.Sprintf(`CREATE TABLE ev(k INTEGER, v INTEGER);
CREATE TABLE raw(k INTEGER, name TEXT, score TEXT);
.mode csv
.import %s ev
.import %s raw
CREATE TABLE dim AS SELECT k, NULLIF(name, '') AS name, CAST(NULLIF(score, '') AS INTEGER) AS score FROM raw;
.mode list
.separator ,
.nullvalue NULL
SELECT ev.k, ev.v, d.name, d.score FROM ev LEFT JOIN dim AS d ON ev.k = d.k AND (d.score > ev.v OR d.name = 'n7');
`, evPath, dimPath))

	// The queries a cache in front of the table sends: one per batch that
	// has a key not seen before (the cache holds every key, found or not).
	seen := map[int]bool{}
	cachedQueries := 0
	for start := 0; start < events; start += batch {
		miss := false
		for _, k := range evKeys[start:min(start+batch, events)] {
			miss = miss || !seen[k]
			seen[k] = true
		}
		if miss {
			cachedQueries++
		}
	}
	query := "SELECT ev.k, ev.v, d.name, d.score FROM ev LEFT JOIN %s FOR SYSTEM_TIME AS OF ev.pt AS d ON ev.k = d.k AND (d.score > ev.v OR d.name = 'n7')"
	for _, c := range []struct {
		table, opts string
		queries     int
	}{
		{"dim_plain", "", events / batch},
		{"dim_cached", ", 'lookup.cache.max-rows' = '100', 'lookup.cache.ttl' = '1 h'", cachedQueries},
	} {
		t.Run(c.table, func(t *testing.T) {
			ddl := fmt.Sprintf(`CREATE TABLE ev (k INT, v BIGINT, pt AS PROCTIME()) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
CREATE TABLE %[2]s (k INT, name STRING, score BIGINT) WITH ('connector' = 'jdbc', 'url' = '%[3]s', 'table-name' = '%[2]s'%[4]s);
`, evPath, c.table, srv.JDBCURL("postgres"), c.opts)
			eng := engine.New(engine.Options{StateDir: t.TempDir(), BatchSize: batch})
			defer eng.Close(context.Background())
			res, err := execAll(eng, ddl+fmt.Sprintf(query, c.table)+";")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			err = res.Query.Run(context.Background(), func(rec arrow.Record) error {
				for r := 0; r < int(rec.NumRows()); r++ {
					var cells []string
					for col := 0; col < int(rec.NumCols()); col++ {
						v, ok := format.FormatValue(rec.Column(col), r)
						if !ok {
							v = "NULL"
						}
						cells = append(cells, v)
					}
					got = append(got, strings.Join(cells, ","))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("engine (%d rows) and SQLite (%d rows) disagree; first rows:\n%s\nwant:\n%s", len(got), len(want),
					strings.Join(got[:min(5, len(got))], "\n"), strings.Join(want[:min(5, len(want))], "\n"))
			}
			if n := seqScans(t, srv, c.table, c.queries); n != c.queries {
				t.Fatalf("PostgreSQL received %d lookup queries, want %d", n, c.queries)
			}
			ex, err := execAll(eng, "EXPLAIN "+fmt.Sprintf(query, c.table)+";")
			if err != nil {
				t.Fatal(err)
			}
			wantCache := "cache=[none (a query per batch of keys, 3 retries)]"
			if c.opts != "" {
				wantCache = "cache=[lru max-rows=100 ttl=1h0m0s retries=3]"
			}
			if !strings.Contains(ex.Message, "LookupJoin table="+c.table+" connector=jdbc type=LEFT") || !strings.Contains(ex.Message, wantCache) {
				t.Fatalf("EXPLAIN does not show the lookup join and %s:\n%s", wantCache, ex.Message)
			}
		})
	}
}

// seqScans returns the number of sequential scans of table the server
// counted, once its count has reached want or stopped changing (backends
// report their counts when they go idle or exit).
func seqScans(t *testing.T, srv *pgtest.Server, table string, want int) int {
	t.Helper()
	last, stable := -1, 0
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		rows := srv.Rows(t, "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = '"+table+"'")
		n, _ := strconv.Atoi(rows[0])
		if n == want {
			return n
		}
		if n == last {
			if stable++; stable >= 8 {
				return n
			}
		} else {
			last, stable = n, 0
		}
	}
	return last
}
