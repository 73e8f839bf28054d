package engine_test

import (
	"io/fs"
	"os"
	"path/filepath"
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
