// Package difftest is the harness of the differential tests of updating
// operators: a random changelog of inserts, updates and deletes written as
// a debezium-json file, the engine's emitted changelog applied to a
// multiset of rows, and SQLite's result of the same query over the
// input's final table (sqlite3 CLI). Tests only.
package difftest

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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/engine"
	sexec "github.com/streamsql/streamsql/exec"
)

// TableRow is one row of the input table.
type TableRow struct {
	ID, K int64
	V     *int64
}

func (r TableRow) json() map[string]any {
	m := map[string]any{"id": r.ID, "k": r.K, "v": nil}
	if r.V != nil {
		m["v"] = *r.V
	}
	return m
}

// RandomChangelog writes n change events to a debezium-json file (only
// inserts unless changes is set) and returns the final table and the number of changelog rows the events are
// (an update is two: -U and +U).
func RandomChangelog(t testing.TB, rng *rand.Rand, path string, n, keys int, changes bool) ([]TableRow, int) {
	t.Helper()
	live := map[int64]TableRow{}
	var ids []int64
	next := int64(1)
	nrows := 0
	randRow := func(id int64) TableRow {
		r := TableRow{ID: id, K: rng.Int64N(int64(keys))}
		if rng.IntN(15) != 0 {
			v := rng.Int64N(40) - 10
			r.V = &v
		}
		return r
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for range n {
		var ev map[string]any
		switch x := rng.IntN(100); {
		case x < 55 || len(ids) == 0 || !changes:
			r := randRow(next)
			next++
			live[r.ID] = r
			ids = append(ids, r.ID)
			ev = map[string]any{"before": nil, "after": r.json(), "op": "c"}
		case x < 80:
			id := ids[rng.IntN(len(ids))]
			old := live[id]
			r := randRow(id)
			if rng.IntN(2) == 0 {
				r.K = old.K // same group, another value
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
	var rows []TableRow
	for _, r := range live {
		rows = append(rows, r)
	}
	return rows, nrows
}

// RunChangelog runs sql (DDL, SETs, then one SELECT) through the engine,
// applies the emitted changelog to a multiset of rows and returns the
// final rows, sorted, and the number of changelog rows. It fails on a
// retraction of a row that is not there.
func RunChangelog(t testing.TB, sql string, batchSize int) ([]string, int) {
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

// RunSQLite loads rows as table fin(id, k, v) and runs query.
func RunSQLite(t testing.TB, rows []TableRow, query string) []string {
	t.Helper()
	var b strings.Builder
	for _, r := range rows {
		v := ""
		if r.V != nil {
			v = fmt.Sprint(*r.V)
		}
		fmt.Fprintf(&b, "%d,%d,%s\n", r.ID, r.K, v)
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
	return SQLite(t, script)
}

// SQLite runs script in an in-memory sqlite3 and returns its output lines
// (read as CSV, so the script's last query should print in list mode with
// a comma separator, as RunSQLite's does), sorted.
func SQLite(t testing.TB, script string) []string {
	t.Helper()
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

// NeedSQLite skips t when the sqlite3 CLI is missing (fails it in CI).
func NeedSQLite(t testing.TB) {
	if _, err := exec.LookPath("sqlite3"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("sqlite3 is required in CI (.ci/run installs it)")
		}
		t.Skip("sqlite3 not installed: apt-get install sqlite3")
	}
}

// RunJob runs sql's INSERT on a fresh engine over stateDir at parallelism
// p: to the end (checkpoints == 0), or until it completed checkpoints of
// its own, when it is cancelled as a crash would stop it. It fails the
// test if the run takes more than 60 s.
func RunJob(t testing.TB, stateDir, sql string, p, checkpoints int) (restoredFrom uint64) {
	t.Helper()
	return RunJobWithin(t, stateDir, sql, p, checkpoints, 60*time.Second)
}

// RunJobWithin is RunJob failing the test after within instead of 60 s.
func RunJobWithin(t testing.TB, stateDir, sql string, p, checkpoints int, within time.Duration) (restoredFrom uint64) {
	t.Helper()
	eng := engine.New(engine.Options{StateDir: stateDir, Parallelism: p})
	defer eng.Close(context.Background())
	stmts, err := engine.Parse("q.sql", sql)
	if err != nil {
		t.Fatal(err)
	}
	var q *engine.ContinuousQuery
	for _, st := range stmts {
		res, err := eng.Execute(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		if res.Kind == engine.Query {
			q = res.Query
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx, nil) }()
	deadline := time.After(within)
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("parallelism %d: %v", p, err)
			}
			if checkpoints > 0 {
				t.Fatalf("parallelism %d: the job finished before %d checkpoints; slow it down", p, checkpoints)
			}
			return q.Stats().RestoredFrom
		case <-deadline:
			t.Fatalf("parallelism %d: not done within %v: %+v", p, within, q.Stats())
		case <-time.After(5 * time.Millisecond):
		}
		st := q.Stats()
		if c := st.LastCheckpoint; checkpoints > 0 && c != nil && c.ID >= st.RestoredFrom+uint64(checkpoints) {
			cancel()
			if err := <-done; err != context.Canceled {
				t.Fatalf("parallelism %d: %v", p, err)
			}
			return st.RestoredFrom
		}
	}
}

// DiffRows returns the rows of the multisets a (the engine's) and b
// (SQLite's) that the other lacks, at most 20 of each, labelled by side;
// "" when they are equal.
func DiffRows(a, b []string) string {
	count := map[string]int{}
	for _, r := range a {
		count[r]++
	}
	for _, r := range b {
		count[r]--
	}
	var onlyA, onlyB []string
	for r, n := range count {
		for ; n > 0; n-- {
			onlyA = append(onlyA, "engine: "+r)
		}
		for ; n < 0; n++ {
			onlyB = append(onlyB, "sqlite: "+r)
		}
	}
	sort.Strings(onlyA)
	sort.Strings(onlyB)
	if len(onlyA) > 20 {
		onlyA = onlyA[:20]
	}
	if len(onlyB) > 20 {
		onlyB = onlyB[:20]
	}
	return strings.Join(append(onlyA, onlyB...), "\n")
}

// DumpCSV runs `SELECT * FROM table` over the tables sql declares (DDL
// only) and writes the rows as a CSV file, whose path it returns, with
// the SQLite definitions of its columns (`"name" INTEGER` for integer
// columns, `"name" TEXT` for the others), for CREATE TABLE before
// .import. With epochMs, each TIMESTAMP column is followed by an INTEGER
// column of its epoch milliseconds, named <column>_ms (for window
// arithmetic in SQLite, which has no exact timestamp type).
func DumpCSV(t testing.TB, sql, table string, epochMs bool) (path string, columns []string) {
	t.Helper()
	stmts, err := engine.Parse("dump.sql", sql+"\nSELECT * FROM "+table+";")
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.Options{StateDir: t.TempDir(), CheckpointInterval: -1})
	defer eng.Close(context.Background())
	path = filepath.Join(t.TempDir(), table+".csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := csv.NewWriter(f)
	for _, st := range stmts {
		res, err := eng.Execute(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		if res.Kind != engine.Query {
			continue
		}
		var cells []string
		err = res.Query.Run(context.Background(), func(rec arrow.Record) error {
			if columns == nil {
				for _, fl := range rec.Schema().Fields()[:sexec.DataColumns(rec)] {
					typ := "TEXT"
					switch fl.Type.ID() {
					case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64:
						typ = "INTEGER"
					}
					columns = append(columns, fmt.Sprintf("%q %s", fl.Name, typ))
					if _, ok := fl.Type.(*arrow.TimestampType); ok && epochMs {
						columns = append(columns, fmt.Sprintf("%q INTEGER", fl.Name+"_ms"))
					}
				}
			}
			for r := 0; r < int(rec.NumRows()); r++ {
				cells = cells[:0]
				for c := range int(sexec.DataColumns(rec)) {
					col := rec.Column(c)
					v, _ := format.FormatValue(col, r)
					cells = append(cells, v)
					if ts, ok := col.(*array.Timestamp); ok && epochMs {
						cells = append(cells, strconv.FormatInt(int64(ts.Value(r)), 10))
					}
				}
				if err := w.Write(cells); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return path, columns
}
