package engine_test

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/types"
)

// versionEvents writes random versions of keys as debezium-json change
// events, out of order by less than maxDelay ms across keys (each key's
// in time order): creates, updates (before the old row, after the new
// one at a later time) and deletes (before the old row with the time of
// the deletion, as a table whose rows carry their change time has it). It
// returns the versions as CSV lines "k,v,ts" for SQLite, a deletion with
// an empty v.
func versionEvents(t *testing.T, rng *rand.Rand, path string, keys, perKey int, maxDelay int64) []string {
	t.Helper()
	type ev struct {
		at  int64 // when it is written (its time plus a delay)
		doc map[string]any
	}
	row := func(k, v, ts int64) map[string]any {
		return map[string]any{"k": k, "v": v, "ts": types.FormatTimestamp(ts)}
	}
	var evs []ev
	var csv []string
	for k := int64(0); k < int64(keys); k++ {
		ts := base + rng.Int63n(3000)
		var live map[string]any
		for i := 0; i < perKey; i++ {
			v := rng.Int63n(1000)
			var doc map[string]any
			switch {
			case live == nil:
				live = row(k, v, ts)
				doc = map[string]any{"before": nil, "after": live, "op": "c"}
				csv = append(csv, fmt.Sprintf("%d,%d,%s", k, v, types.FormatTimestamp(ts)))
			case rng.Intn(6) == 0:
				before := row(k, live["v"].(int64), ts)
				doc = map[string]any{"before": before, "after": nil, "op": "d"}
				csv = append(csv, fmt.Sprintf("%d,,%s", k, types.FormatTimestamp(ts)))
				live = nil
			default:
				next := row(k, v, ts)
				doc = map[string]any{"before": live, "after": next, "op": "u"}
				csv = append(csv, fmt.Sprintf("%d,%d,%s", k, v, types.FormatTimestamp(ts)))
				live = next
			}
			evs = append(evs, ev{at: ts + rng.Int63n(maxDelay), doc: doc})
			ts += 1 + rng.Int63n(4000)
		}
	}
	// Written in order of arrival; a key's versions keep their order.
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at < evs[j].at })
	byKey := map[int64][]map[string]any{}
	for _, e := range evs {
		k := e.doc["after"]
		if k == nil {
			k = e.doc["before"]
		}
		key := k.(map[string]any)["k"].(int64)
		byKey[key] = append(byKey[key], e.doc)
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	// Each key's events in their own order, at the arrival slots of that
	// key's events.
	next := map[int64]int{}
	for _, e := range evs {
		k := e.doc["after"]
		if k == nil {
			k = e.doc["before"]
		}
		key := k.(map[string]any)["k"].(int64)
		doc := byKey[key][next[key]]
		next[key]++
		if err := enc.Encode(doc); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return csv
}

// TestDifferentialTemporalJoin runs event-time temporal joins of random,
// out-of-order orders with a versioned table read from debezium-json
// change events (updates and deletes included, out of order across keys)
// and compares the rows with SQLite's join of each order with the version
// of its key valid at its time (the newest at or before it, none when
// that is a deletion).
func TestDifferentialTemporalJoin(t *testing.T) {
	needSQLite(t)
	ddl := func(pa, pr string) string {
		return fmt.Sprintf(`CREATE TABLE o (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '3' SECOND)
			WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
			CREATE TABLE r (k BIGINT, v BIGINT, ts TIMESTAMP(3), PRIMARY KEY (k) NOT ENFORCED, WATERMARK FOR ts AS ts - INTERVAL '3' SECOND)
			WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'debezium-json');`, pa, pr)
	}
	// ver(k, v, ts): v NULL for a deletion.
	at := "x.k = o.k AND x.ts = (SELECT MAX(ts) FROM ver WHERE k = o.k AND ts <= o.ts) AND x.v IS NOT NULL"
	cols := "o.k, o.v, x.v, o.ts, x.ts"
	sqliteCols := "o.k, o.v, x.v, " + tsText("o.ts") + ", " + tsText("x.ts")
	cases := []struct {
		name, engine, sqlite string
	}{
		{"inner", "SELECT " + cols + " FROM o JOIN r FOR SYSTEM_TIME AS OF o.ts AS x ON o.k = x.k",
			"SELECT " + sqliteCols + " FROM o JOIN ver AS x ON " + at},
		{"left", "SELECT " + cols + " FROM o LEFT JOIN r FOR SYSTEM_TIME AS OF o.ts AS x ON x.k = o.k",
			"SELECT " + sqliteCols + " FROM o LEFT JOIN ver AS x ON " + at},
		{"left-residual", "SELECT " + cols + " FROM o LEFT JOIN r FOR SYSTEM_TIME AS OF o.ts AS x ON o.k = x.k AND o.v < x.v",
			"SELECT " + sqliteCols + " FROM o LEFT JOIN ver AS x ON " + at + " AND o.v < x.v"},
		{"expression-key", "SELECT o.k, o.v, x.v FROM o JOIN r FOR SYSTEM_TIME AS OF o.ts AS x ON o.k + 1 = x.k WHERE o.v > 100",
			"SELECT o.k, o.v, x.v FROM o JOIN ver AS x ON x.k = o.k + 1 AND x.ts = (SELECT MAX(ts) FROM ver WHERE k = o.k + 1 AND ts <= o.ts) AND x.v IS NOT NULL WHERE o.v > 100"},
	}
	for seed := int64(1); seed <= 2; seed++ {
		rng := rand.New(rand.NewSource(seed))
		orders := randomEvents(rng, 1500, 25, 2000) // keys 0..24, 20..24 never versioned
		dir := t.TempDir()
		pa, pr, pv := filepath.Join(dir, "o.csv"), filepath.Join(dir, "r.json"), filepath.Join(dir, "ver.csv")
		writeCSV(t, pa, orders)
		ver := versionEvents(t, rng, pr, 20, 12, 2000)
		if err := os.WriteFile(pv, []byte(strings.Join(ver, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		parallelism := []int{1, 3}[seed-1]
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/seed=%d/parallelism=%d", c.name, seed, parallelism), func(t *testing.T) {
				got := runEngineBatch(t, fmt.Sprintf("SET 'parallelism.default' = '%d';\n", parallelism)+ddl(pa, pr)+c.engine+";", 64)
				want := runSQLiteTables(t, map[string]string{"o": pa, "ver": pv}, c.sqlite)
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
