package engine_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The session time zone ('table.local-time-zone'): Flink's examples from
// its "Time Zone" page, as tables of expected rows per zone.

// TestTimeZoneLTZStrings is the page's MyView2 and MyView3: a
// TIMESTAMP_LTZ and a TIMESTAMP, cast to each other and to STRING.
func TestTimeZoneLTZStrings(t *testing.T) {
	const view = `CREATE VIEW MyView2 AS SELECT TO_TIMESTAMP_LTZ(4001, 3) AS ltz, TIMESTAMP '1970-01-01 00:00:01.001' AS ntz;
CREATE VIEW MyView3 AS SELECT CAST(ltz AS STRING) AS ltz, CAST(ltz AS TIMESTAMP(3)) AS ltz_ts, CAST(CAST(ltz AS TIMESTAMP(3)) AS STRING) AS ltz_ts_s, ntz, CAST(CAST(ntz AS TIMESTAMP_LTZ(3)) AS STRING) AS ntz_ltz FROM MyView2;
`
	for _, c := range []struct{ zone, schema, row string }{
		{"UTC", "ltz STRING NOT NULL, ltz_ts TIMESTAMP(3) NOT NULL, ltz_ts_s STRING NOT NULL, ntz TIMESTAMP(3) NOT NULL, ntz_ltz STRING NOT NULL",
			"1970-01-01 00:00:04.001, 1970-01-01 00:00:04.001, 1970-01-01 00:00:04.001, 1970-01-01 00:00:01.001, 1970-01-01 00:00:01.001"},
		{"Asia/Shanghai", "",
			"1970-01-01 08:00:04.001, 1970-01-01 08:00:04.001, 1970-01-01 08:00:04.001, 1970-01-01 00:00:01.001, 1970-01-01 00:00:01.001"},
	} {
		schema, rows := queryRows(t, "SET 'table.local-time-zone' = '"+c.zone+"';\n"+view+"SELECT * FROM MyView3;")
		if c.schema != "" && schemaText(schema) != c.schema {
			t.Errorf("%s: schema %s, want %s", c.zone, schemaText(schema), c.schema)
		}
		checkRows(t, rows, []string{c.row})
	}
	// The instant behind a local time: CAST(ntz AS TIMESTAMP_LTZ) is
	// 1.001 s in Shanghai's local time, 8 h earlier in epoch time.
	_, rows := queryRows(t, `SET 'table.local-time-zone' = 'Asia/Shanghai';
SELECT CAST(CAST(TIMESTAMP '1970-01-01 08:00:01.001' AS TIMESTAMP_LTZ(3)) AS BIGINT), CAST(CAST('1970-01-01 08:00:01.001' AS TIMESTAMP_LTZ(3)) AS BIGINT), CAST(TO_TIMESTAMP_LTZ(4, 0) AS BIGINT);`)
	checkRows(t, rows, []string{"1001, 1001, 4000"})
	// Across the start of daylight saving time in Los Angeles (2021-03-14
	// 02:00 PST is 03:00 PDT): noon PDT floors to midnight PST, 23 hours
	// earlier; 02:30, which does not exist there, is 03:30 PDT.
	_, rows = queryRows(t, `SET 'table.local-time-zone' = 'America/Los_Angeles';
SELECT CAST(FLOOR(TO_TIMESTAMP_LTZ(1615748400000, 3) TO DAY) AS BIGINT), CAST(CAST(TIMESTAMP '2021-03-14 02:30:00' AS TIMESTAMP_LTZ(3)) AS BIGINT), CAST(TO_TIMESTAMP_LTZ(1615748400000, 3) AS STRING);`)
	checkRows(t, rows, []string{"1615708800000, 1615717800000, 2021-03-14 12:00:00.000"})
}

// TestTimeZoneFunctions: the date functions see a TIMESTAMP_LTZ in the
// session zone; LOCALTIMESTAMP is CURRENT_TIMESTAMP's local time there.
func TestTimeZoneFunctions(t *testing.T) {
	// 1618495260000 is 2021-04-15 14:01:00 UTC, 22:01 in Shanghai, and a
	// Thursday (DAYOFWEEK 5) in both.
	const q = `SELECT HOUR(ltz), DATE_FORMAT(ltz, 'yyyy-MM-dd HH:mm'), DAYOFWEEK(ltz), EXTRACT(HOUR FROM ltz), CAST(FLOOR(ltz TO DAY) AS STRING), CAST(CEIL(ltz TO HOUR) AS STRING)
FROM (SELECT TO_TIMESTAMP_LTZ(1618495260000, 3) AS ltz);`
	for _, c := range []struct{ zone, row string }{
		{"UTC", "14, 2021-04-15 14:01, 5, 14, 2021-04-15 00:00:00.000, 2021-04-15 15:00:00.000"},
		{"Asia/Shanghai", "22, 2021-04-15 22:01, 5, 22, 2021-04-15 00:00:00.000, 2021-04-15 23:00:00.000"},
		{"-10:00", "4, 2021-04-15 04:01, 5, 4, 2021-04-15 00:00:00.000, 2021-04-15 05:00:00.000"},
	} {
		_, rows := queryRows(t, "SET 'table.local-time-zone' = '"+c.zone+"';\n"+q)
		checkRows(t, rows, []string{c.row})
	}
	schema, rows := queryRows(t, `SET 'table.local-time-zone' = 'Asia/Shanghai';
SELECT CURRENT_TIMESTAMP AS ct, NOW() AS n, CURRENT_ROW_TIMESTAMP() AS crt, LOCALTIMESTAMP AS lt, PROCTIME() AS p, ABS(CAST(CAST(LOCALTIMESTAMP AS TIMESTAMP_LTZ(3)) AS BIGINT) - CAST(CURRENT_TIMESTAMP AS BIGINT)) < 60000 AS near, CAST(LOCALTIMESTAMP AS BIGINT) - CAST(CURRENT_TIMESTAMP AS BIGINT) BETWEEN 28790000 AND 28810000 AS shifted;`)
	if want := "ct TIMESTAMP_LTZ(3) NOT NULL, n TIMESTAMP_LTZ(3) NOT NULL, crt TIMESTAMP_LTZ(3) NOT NULL, lt TIMESTAMP(3) NOT NULL, p TIMESTAMP_LTZ(3) NOT NULL"; !strings.HasPrefix(schemaText(schema), want) {
		t.Errorf("schema %s, want %s…", schemaText(schema), want)
	}
	if len(rows) != 1 || !strings.HasSuffix(rows[0], ", true, true") {
		t.Errorf("rows %q: want LOCALTIMESTAMP 8 h ahead of CURRENT_TIMESTAMP", rows)
	}
}

// TestTimeZoneErrors: an unknown zone is refused by SET; the time
// functions Flink has but whose types are missing say so.
func TestTimeZoneErrors(t *testing.T) {
	for _, c := range []struct{ sql, want string }{
		{`SET 'table.local-time-zone' = 'Mars/Olympus';`, `SET table.local-time-zone: unknown time zone "Mars/Olympus": expected a zone name such as 'Asia/Shanghai' or 'UTC', or an offset such as '+08:00'`},
		{`SELECT CURRENT_DATE;`, "CURRENT_DATE is of type DATE, which is not supported yet"},
		{`SELECT TO_TIMESTAMP_LTZ(1, 6);`, "TO_TIMESTAMP_LTZ: argument 2 must be the precision 0 (epoch seconds) or 3 (epoch milliseconds)"},
	} {
		_, _, err := queryErr(t, c.sql)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.sql, err, c.want)
		}
	}
}

// TestTimeZoneShown: results, print, JSON and CSV files show a
// TIMESTAMP_LTZ as the local time of the session zone (the page's
// MyView2), a TIMESTAMP as it is.
func TestTimeZoneShown(t *testing.T) {
	const view = `CREATE VIEW MyView2 AS SELECT TO_TIMESTAMP_LTZ(4001, 3) AS ltz, TIMESTAMP '1970-01-01 00:00:01.001' AS ntz;
`
	for _, c := range []struct{ zone, row string }{
		{"UTC", "1970-01-01 00:00:04.001, 1970-01-01 00:00:01.001"},
		{"Asia/Shanghai", "1970-01-01 08:00:04.001, 1970-01-01 00:00:01.001"},
	} {
		_, rows := queryRows(t, "SET 'table.local-time-zone' = '"+c.zone+"';\n"+view+"SELECT * FROM MyView2;")
		checkRows(t, rows, []string{c.row})
	}
	dir := t.TempDir()
	for _, f := range []string{"json", "csv"} {
		ddl := "CREATE TABLE o_" + f + " (ltz TIMESTAMP_LTZ(3), ntz TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '" + filepath.Join(dir, f) + "', 'format' = '" + f + "');\n"
		runScript(t, "SET 'table.local-time-zone' = 'Asia/Shanghai';\n"+view+ddl+"INSERT INTO o_"+f+" SELECT * FROM MyView2;")
		got := readDir(t, filepath.Join(dir, f))
		want := map[string]string{"json": `{"ltz":"1970-01-01 08:00:04.001","ntz":"1970-01-01 00:00:01.001"}`, "csv": "1970-01-01 08:00:04.001,1970-01-01 00:00:01.001"}[f]
		if strings.TrimSpace(got) != want {
			t.Errorf("%s file: %q, want %q", f, got, want)
		}
	}
}

// readDir returns the contents of the files under dir, concatenated.
func readDir(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		data, err := os.ReadFile(p)
		b.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestTimeZoneWindows is the page's MyView5: a 10-minute TUMBLE over a
// TIMESTAMP_LTZ rowtime (legacy group window and window TVF) gives
// windows of the local time, window_start/window_end TIMESTAMP(3) and
// window_time (the rowtime) TIMESTAMP_LTZ(3), shown in the zone.
func TestTimeZoneWindows(t *testing.T) {
	data := writeFile(t, "t3.csv", "A,1.1,1618495260000\nB,1.2,1618495320000\nA,1.8,1618495380000\nB,2.5,1618495440000\nC,3.8,1618495500000\nC,3.8,1618495860000\n")
	ddl := `CREATE TABLE MyTable3 (
  item STRING, price DOUBLE, ts BIGINT,
  ts_ltz AS TO_TIMESTAMP_LTZ(ts, 3),
  WATERMARK FOR ts_ltz AS ts_ltz - INTERVAL '10' SECOND
) WITH ('connector' = 'filesystem', 'path' = '` + data + `', 'format' = 'csv');
`
	legacy := `SELECT TUMBLE_START(ts_ltz, INTERVAL '10' MINUTES) AS window_start, TUMBLE_END(ts_ltz, INTERVAL '10' MINUTES) AS window_end,
  TUMBLE_ROWTIME(ts_ltz, INTERVAL '10' MINUTES) AS window_rowtime, item, MAX(price) AS max_price
FROM MyTable3 GROUP BY TUMBLE(ts_ltz, INTERVAL '10' MINUTES), item;`
	tvf := `SELECT window_start, window_end, window_time AS window_rowtime, item, MAX(price) AS max_price
FROM TABLE(TUMBLE(TABLE MyTable3, DESCRIPTOR(ts_ltz), INTERVAL '10' MINUTES)) GROUP BY window_start, window_end, window_time, item;`
	const schema = "window_start TIMESTAMP(3) NOT NULL, window_end TIMESTAMP(3) NOT NULL, window_rowtime TIMESTAMP_LTZ(3) NOT NULL, item STRING, max_price DOUBLE"
	for _, c := range []struct {
		zone string
		rows []string
	}{
		{"UTC", []string{
			"2021-04-15 14:00:00.000, 2021-04-15 14:10:00.000, 2021-04-15 14:09:59.999, A, 1.8",
			"2021-04-15 14:00:00.000, 2021-04-15 14:10:00.000, 2021-04-15 14:09:59.999, B, 2.5",
			"2021-04-15 14:00:00.000, 2021-04-15 14:10:00.000, 2021-04-15 14:09:59.999, C, 3.8",
			"2021-04-15 14:10:00.000, 2021-04-15 14:20:00.000, 2021-04-15 14:19:59.999, C, 3.8",
		}},
		{"Asia/Shanghai", []string{
			"2021-04-15 22:00:00.000, 2021-04-15 22:10:00.000, 2021-04-15 22:09:59.999, A, 1.8",
			"2021-04-15 22:00:00.000, 2021-04-15 22:10:00.000, 2021-04-15 22:09:59.999, B, 2.5",
			"2021-04-15 22:00:00.000, 2021-04-15 22:10:00.000, 2021-04-15 22:09:59.999, C, 3.8",
			"2021-04-15 22:10:00.000, 2021-04-15 22:20:00.000, 2021-04-15 22:19:59.999, C, 3.8",
		}},
	} {
		for _, q := range []string{legacy, tvf} {
			s, rows := queryRows(t, "SET 'table.local-time-zone' = '"+c.zone+"';\n"+ddl+q)
			if schemaText(s) != schema {
				t.Errorf("%s: schema %s, want %s", c.zone, schemaText(s), schema)
			}
			slices.Sort(rows)
			checkRows(t, rows, c.rows)
		}
	}
}

// TestTimeZoneDayWindows: a 1-day TUMBLE over a TIMESTAMP_LTZ starts at
// local midnight; across the start of daylight saving time in Los Angeles
// the local day of 2021-03-14 is 23 hours long (the page's example of a
// window that collects 3 hours of rows in 4 hours of local time), and the
// window_time is the instant of its end, less 1 ms.
func TestTimeZoneDayWindows(t *testing.T) {
	// 2021-03-14 00:00, 01:00, 03:00 (02:00 is skipped) and 04:00 in LA,
	// then 2021-03-14 23:30 and 2021-03-15 00:30 in LA.
	data := writeFile(t, "dst.csv", "a,1615708800000\nb,1615712400000\nc,1615716000000\nd,1615719600000\ne,1615789800000\nf,1615793400000\n")
	ddl := `CREATE TABLE ev (item STRING, ts BIGINT, ltz AS TO_TIMESTAMP_LTZ(ts, 3), WATERMARK FOR ltz AS ltz)
WITH ('connector' = 'filesystem', 'path' = '` + data + `', 'format' = 'csv');
`
	agg := func(size string) string {
		return `SELECT window_start, window_end, CAST(window_time AS BIGINT), COUNT(*), MIN(item), MAX(item) FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ltz), INTERVAL ` + size + `)) GROUP BY window_start, window_end, window_time;`
	}
	for _, c := range []struct {
		zone, size string
		rows       []string
	}{
		{"America/Los_Angeles", "'4' HOUR", []string{
			"2021-03-14 00:00:00.000, 2021-03-14 04:00:00.000, 1615719599999, 3, a, c",
			"2021-03-14 04:00:00.000, 2021-03-14 08:00:00.000, 1615733999999, 1, d, d",
			"2021-03-14 20:00:00.000, 2021-03-15 00:00:00.000, 1615791599999, 1, e, e",
			"2021-03-15 00:00:00.000, 2021-03-15 04:00:00.000, 1615805999999, 1, f, f",
		}},
		{"UTC", "'4' HOUR", []string{
			"2021-03-14 08:00:00.000, 2021-03-14 12:00:00.000, 1615723199999, 4, a, d",
			"2021-03-15 04:00:00.000, 2021-03-15 08:00:00.000, 1615795199999, 2, e, f",
		}},
		{"America/Los_Angeles", "'1' DAY", []string{
			"2021-03-14 00:00:00.000, 2021-03-15 00:00:00.000, 1615791599999, 5, a, e",
			"2021-03-15 00:00:00.000, 2021-03-16 00:00:00.000, 1615877999999, 1, f, f",
		}},
		{"Asia/Shanghai", "'1' DAY", []string{
			"2021-03-14 00:00:00.000, 2021-03-15 00:00:00.000, 1615737599999, 4, a, d",
			"2021-03-15 00:00:00.000, 2021-03-16 00:00:00.000, 1615823999999, 2, e, f",
		}},
	} {
		_, rows := queryRows(t, "SET 'table.local-time-zone' = '"+c.zone+"';\n"+ddl+agg(c.size))
		slices.Sort(rows)
		checkRows(t, rows, c.rows)
	}
}
