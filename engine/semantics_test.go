package engine_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/types"
)

// End-to-end tests of Flink's documented semantics, through the engine
// with real files: result types and exact rows.

// queryRows runs sql (DDL, then one SELECT) and returns the SELECT's
// schema and its rows in emission order, each "v1, v2, …".
func queryRows(t *testing.T, sql string) (types.Schema, []string) {
	t.Helper()
	schema, rows, err := queryErr(t, sql)
	if err != nil {
		t.Fatal(err)
	}
	return schema, rows
}

func recordLines(rec arrow.Record) []string {
	var rows []string
	for r := 0; r < int(rec.NumRows()); r++ {
		cells := make([]string, rec.NumCols())
		for c := range cells {
			v, ok := format.FormatValue(rec.Column(c), r)
			if !ok {
				v = "NULL"
			}
			cells[c] = v
		}
		rows = append(rows, strings.Join(cells, ", "))
	}
	return rows
}

func schemaText(s types.Schema) string {
	var parts []string
	for _, f := range s.Fields {
		parts = append(parts, f.Name+" "+f.Type.String())
	}
	return strings.Join(parts, ", ")
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func checkRows(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestAvgDecimal: AVG of DECIMAL(p, s) is DECIMAL(38, max(6, s)), exact,
// rounded HALF_UP; SUM of DECIMAL(p, s) is DECIMAL(38, s). The numbers of
// issue 11: AVG of 0.01 and 0.02 is 0.015000; AVG(d * 1.0) over 0.01, 0.02,
// 0.02 is 0.016667.
func TestAvgDecimal(t *testing.T) {
	path := writeFile(t, "d.csv", strings.Join([]string{
		"1,0.01,2024-01-01 00:00:01",
		"1,0.02,2024-01-01 00:00:02",
		"2,0.01,2024-01-01 00:00:01",
		"2,0.02,2024-01-01 00:00:02",
		"2,0.02,2024-01-01 00:00:03",
		"3,-0.01,2024-01-01 00:00:01",
		"3,-0.02,2024-01-01 00:00:02",
		"3,-0.02,2024-01-01 00:00:03",
		"3,,2024-01-01 00:00:04",
	}, "\n")+"\n")
	schema, rows := queryRows(t, fmt.Sprintf(`
		CREATE TABLE t (k BIGINT, d DECIMAL(10, 2), ts TIMESTAMP(3),
			WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
		WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
		SELECT k, AVG(d) AS a, AVG(d * 1.0) AS a1, SUM(d) AS s
		FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
		GROUP BY window_start, window_end, k;`, path))
	if got, want := schemaText(schema), "k BIGINT, a DECIMAL(38, 6), a1 DECIMAL(38, 6), s DECIMAL(38, 2)"; got != want {
		t.Errorf("schema %s, want %s", got, want)
	}
	checkRows(t, rows, []string{
		"1, 0.015000, 0.015000, 0.03",
		"2, 0.016667, 0.016667, 0.05",
		"3, -0.016667, -0.016667, -0.05",
	})
}

// TestDifferentialAvgDecimal compares AVG and SUM of a DECIMAL(10, 2)
// column over random out-of-order events with SQLite. SQLite's AVG is a
// float, so the reference computes the exact quotient in integers: the sum
// in cents times 10^4 over the count, rounded half away from zero.
func TestDifferentialAvgDecimal(t *testing.T) {
	needSQLite(t)
	rng := rand.New(rand.NewSource(11))
	evs := randomEvents(rng, 5000, 40, 3000)
	var b strings.Builder
	for _, e := range evs {
		v := ""
		if !e.null {
			c := e.val*37 + rng.Int63n(100) // cents, both signs
			sign := ""
			if c < 0 {
				sign, c = "-", -c
			}
			v = fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
		}
		fmt.Fprintf(&b, "%d,%s,%s\n", e.key, v, types.FormatTimestamp(e.ts))
	}
	path := writeFile(t, "events.csv", b.String())
	got := runEngine(t, fmt.Sprintf(`
		CREATE TABLE ev (k BIGINT, v DECIMAL(10, 2), ts TIMESTAMP(3),
			WATERMARK FOR ts AS ts - INTERVAL '3' SECOND)
		WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
		SELECT window_start, k, AVG(v), AVG(v * 1.0), SUM(v), COUNT(v)
		FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '5' SECOND))
		GROUP BY window_start, window_end, k;`, path))
	// dec(x, s) prints the integer x as a decimal with s digits after the
	// point; avg6 is the HALF_UP quotient at scale 6 of cents s over n.
	dec := func(x string, s int) string {
		return fmt.Sprintf(`CASE WHEN %[1]s IS NULL THEN 'NULL' ELSE (CASE WHEN %[1]s < 0 THEN '-' ELSE '' END) || (abs(%[1]s) / %[2]d) || '.' || substr('%[3]s' || (abs(%[1]s) %% %[2]d), -%[4]d) END`,
			x, pow10(s), strings.Repeat("0", s), s)
	}
	avg6 := "(CASE WHEN SUM(c) >= 0 THEN (SUM(c) * 20000 + COUNT(c)) / (2 * COUNT(c)) ELSE -((-SUM(c) * 20000 + COUNT(c)) / (2 * COUNT(c))) END)"
	want := runSQLite(t, path, `SELECT `+tsText("ws")+`, k, `+dec(avg6, 6)+`, `+dec(avg6, 6)+`, `+dec("SUM(c)", 2)+`, COUNT(c)
		FROM (SELECT k, (ts/5000)*5000 AS ws, c FROM (
			SELECT k, CASE WHEN v = '' THEN NULL ELSE CAST(ROUND(CAST(v AS REAL) * 100) AS INTEGER) END AS c,
				CAST(ROUND((julianday(ts) - 2440587.5) * 86400000) AS INTEGER) AS ts FROM raw))
		GROUP BY ws, k`)
	if len(want) == 0 {
		t.Fatal("the reference query returned no rows")
	}
	if d := diffRows(got, want); d != "" {
		t.Fatalf("engine and SQLite disagree (%d vs %d rows):\n%s", len(got), len(want), d)
	}
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// TestDuplicateColumnNames: Flink names a repeated output column v0, v1, …
// (Calcite's SqlValidatorUtil.uniquify), instead of refusing the query.
func TestDuplicateColumnNames(t *testing.T) {
	path := writeFile(t, "kv.csv", "a,1,2024-01-01 00:00:01\nb,2,2024-01-01 00:00:02\n")
	schema, rows := queryRows(t, fmt.Sprintf(`
		CREATE TABLE t (k STRING, v BIGINT, ts TIMESTAMP(3))
		WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
		SELECT k, v, v, v * 10 AS v FROM t;`, path))
	if got, want := schemaText(schema), "k STRING, v BIGINT, v0 BIGINT, v1 BIGINT"; got != want {
		t.Errorf("schema %s, want %s", got, want)
	}
	checkRows(t, rows, []string{"a, 1, 1, 10", "b, 2, 2, 20"})
}

// TestWindowOffsetsFlinkTable reproduces, row for row, the table of
// Flink's window TVF documentation (FLINK-23023): where a row at
// 2021-06-30 00:00:04 lands in a 10-minute TUMBLE for each offset, through
// the window TVF without aggregation, with aggregation, and with named
// arguments.
func TestWindowOffsetsFlinkTable(t *testing.T) {
	path := writeFile(t, "one.csv", "1,2021-06-30 00:00:04\n")
	ddl := fmt.Sprintf(`CREATE TABLE t (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
		WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');`, path)
	table := []struct{ offset, start, end string }{
		{"INTERVAL '-16' MINUTE", "2021-06-29 23:54:00", "2021-06-30 00:04:00"},
		{"-INTERVAL '6' MINUTES", "2021-06-29 23:54:00", "2021-06-30 00:04:00"},
		{"INTERVAL '-4' MINUTE", "2021-06-29 23:56:00", "2021-06-30 00:06:00"},
		{"INTERVAL '0' MINUTE", "2021-06-30 00:00:00", "2021-06-30 00:10:00"},
		{"INTERVAL '4' MINUTE", "2021-06-29 23:54:00", "2021-06-30 00:04:00"},
		{"INTERVAL '6' MINUTE", "2021-06-29 23:56:00", "2021-06-30 00:06:00"},
		{"INTERVAL '16' MINUTE", "2021-06-29 23:56:00", "2021-06-30 00:06:00"},
	}
	for _, row := range table {
		t.Run(row.offset, func(t *testing.T) {
			want := []string{fmt.Sprintf("1, %s.000, %s.000, %s", row.start, row.end, windowTime(row.end))}
			for _, q := range []string{
				`SELECT k, window_start, window_end, window_time FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' MINUTE, ` + row.offset + `))`,
				`SELECT k, window_start, window_end, window_time FROM TABLE(TUMBLE(DATA => TABLE t, TIMECOL => DESCRIPTOR(ts), SIZE => INTERVAL '10' MINUTES, OFFSET => ` + row.offset + `))`,
				`SELECT COUNT(*), window_start, window_end, window_time FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' MINUTE, ` + row.offset + `)) GROUP BY window_start, window_end, window_time`,
			} {
				_, rows := queryRows(t, ddl+q+";")
				checkRows(t, rows, want)
			}
		})
	}
	// Without an offset, the default is 0.
	_, rows := queryRows(t, ddl+`SELECT k, window_start, window_end, window_time FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' MINUTE));`)
	checkRows(t, rows, []string{"1, 2021-06-30 00:00:00.000, 2021-06-30 00:10:00.000, 2021-06-30 00:09:59.999"})
}

// windowTime is window_time (window_end - 1 ms) of a window ending at end
// ("YYYY-MM-DD hh:mm:00").
func windowTime(end string) string {
	ts, err := types.ParseTimestamp(end)
	if err != nil {
		panic(err)
	}
	return types.FormatTimestamp(ts - 1)
}

// TestWindowTVFWithoutAggregation: HOP, CUMULATE and SESSION without an
// aggregation return each row once per window it belongs to, with the
// window columns, as Flink does (HOP latest window first, CUMULATE
// smallest first, SESSION rows when their session closes).
func TestWindowTVFWithoutAggregation(t *testing.T) {
	path := writeFile(t, "kv.csv", "a,1,2024-01-01 00:00:01\nb,2,2024-01-01 00:00:04\na,3,2024-01-01 00:00:12\n")
	ddl := fmt.Sprintf(`CREATE TABLE t (k STRING, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
		WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');`, path)
	const d = "2024-01-01 00:00:"
	cases := []struct {
		name, query, schema string
		want                []string
	}{
		{"hop", `SELECT * FROM TABLE(HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))`,
			"k STRING, v BIGINT, ts TIMESTAMP(3), window_start TIMESTAMP(3) NOT NULL, window_end TIMESTAMP(3) NOT NULL, window_time TIMESTAMP(3) NOT NULL",
			[]string{
				"a, 1, " + d + "01.000, " + d + "00.000, " + d + "10.000, " + d + "09.999",
				"a, 1, " + d + "01.000, 2023-12-31 23:59:55.000, " + d + "05.000, " + d + "04.999",
				"b, 2, " + d + "04.000, " + d + "00.000, " + d + "10.000, " + d + "09.999",
				"b, 2, " + d + "04.000, 2023-12-31 23:59:55.000, " + d + "05.000, " + d + "04.999",
				"a, 3, " + d + "12.000, " + d + "10.000, " + d + "20.000, " + d + "19.999",
				"a, 3, " + d + "12.000, " + d + "05.000, " + d + "15.000, " + d + "14.999",
			}},
		{"cumulate", `SELECT v, window_start, window_end FROM TABLE(CUMULATE(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))`,
			"v BIGINT, window_start TIMESTAMP(3) NOT NULL, window_end TIMESTAMP(3) NOT NULL",
			[]string{
				"1, " + d + "00.000, " + d + "05.000", "1, " + d + "00.000, " + d + "10.000",
				"2, " + d + "00.000, " + d + "05.000", "2, " + d + "00.000, " + d + "10.000",
				"3, " + d + "10.000, " + d + "15.000", "3, " + d + "10.000, " + d + "20.000",
			}},
		{"session", `SELECT k, v, window_start, window_end, window_time FROM TABLE(SESSION(TABLE t PARTITION BY k, DESCRIPTOR(ts), INTERVAL '5' SECOND)) WHERE v > 0`,
			"k STRING, v BIGINT, window_start TIMESTAMP(3) NOT NULL, window_end TIMESTAMP(3) NOT NULL, window_time TIMESTAMP(3) NOT NULL",
			[]string{
				"a, 1, " + d + "01.000, " + d + "06.000, " + d + "05.999",
				"b, 2, " + d + "04.000, " + d + "09.000, " + d + "08.999",
				"a, 3, " + d + "12.000, " + d + "17.000, " + d + "16.999",
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			schema, rows := queryRows(t, ddl+c.query+";")
			if got := schemaText(schema); got != c.schema {
				t.Errorf("schema %s, want %s", got, c.schema)
			}
			checkRows(t, rows, c.want)
		})
	}
}

// TestSessionTVFRestore: a SESSION window TVF without aggregation holds its
// rows in checkpointed state; a job cancelled after some checkpoints and
// restarted (restoring from Pebble) writes through the exactly-once file
// sink exactly what an uninterrupted run writes.
func TestSessionTVFRestore(t *testing.T) {
	sql := func(out string) string {
		return fmt.Sprintf(`
			SET 'pipeline.name' = 'sessions';
			SET 'execution.checkpointing.interval' = '50 ms';
			CREATE TABLE ev (k BIGINT, x BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '20' MILLISECOND)
			WITH ('connector' = 'datagen', 'rows-per-second' = '4000', 'number-of-rows' = '6000',
				'fields.k.min' = '0', 'fields.k.max' = '5', 'fields.ts.step' = '1 ms', 'fields.ts.max-out-of-orderness' = '15 ms');
			CREATE TABLE out (k BIGINT, x BIGINT, ts TIMESTAMP(3), ws TIMESTAMP(3), we TIMESTAMP(3))
			WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'json');
			INSERT INTO out SELECT k, x, ts, window_start, window_end
			FROM TABLE(SESSION(TABLE ev PARTITION BY k, DESCRIPTOR(ts), INTERVAL '8' MILLISECOND));`, out)
	}
	runToEnd := func(stateDir, text string) {
		t.Helper()
		eng := engine.New(engine.Options{StateDir: stateDir})
		stmts, err := engine.Parse("q.sql", text)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range stmts {
			res, err := eng.Execute(context.Background(), st)
			if err != nil {
				t.Fatal(err)
			}
			if res.Kind == engine.Query {
				if err := res.Query.Run(context.Background(), nil); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	wantDir := t.TempDir()
	runToEnd(t.TempDir(), sql(wantDir))
	want, err := os.ReadFile(filepath.Join(wantDir, "part-0.json"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(want), "\n"); n < 1000 {
		t.Fatalf("uninterrupted run wrote %d rows, want most of 6000", n)
	}
	gotDir, state := t.TempDir(), t.TempDir()
	for range 2 {
		if err := runFor(t, state, sql(gotDir), 3, engine.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	runToEnd(state, sql(gotDir))
	got, err := os.ReadFile(filepath.Join(gotDir, "part-0.json"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		i := 0
		for i < min(len(gl), len(wl)) && gl[i] == wl[i] {
			i++
		}
		t.Fatalf("restored run wrote %d lines, uninterrupted %d; first difference at line %d:\n got %q\nwant %q",
			len(gl), len(wl), i+1, gl[min(i, len(gl)-1)], wl[min(i, len(wl)-1)])
	}
}
