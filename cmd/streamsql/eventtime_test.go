package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/types"
)

const eventTimeQuery = `CREATE TABLE ev (k INT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = '%s'%s);

SELECT window_start, COUNT(*) AS n
FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end;
`

// writeEventTimeFile writes n rows 100 ms apart in format (csv or json);
// the row at index bad (0-based, line bad+1) gets the event time badTS
// ("" for NULL; "-" for none at all, in JSON).
func writeEventTimeFile(t *testing.T, format string, n, bad int, badTS string) string {
	t.Helper()
	var b bytes.Buffer
	base := int64(1_704_067_200_000)
	for i := 0; i < n; i++ {
		ts := types.FormatTimestamp(base + int64(i)*100)
		if i == bad {
			ts = badTS
		}
		switch {
		case format == "csv":
			fmt.Fprintf(&b, "%d,%s\n", i%3, ts)
		case ts == "-":
			fmt.Fprintf(&b, "{\"k\":%d}\n", i%3)
		case ts == "":
			fmt.Fprintf(&b, "{\"k\":%d,\"ts\":null}\n", i%3)
		default:
			fmt.Fprintf(&b, "{\"k\":%d,\"ts\":%q}\n", i%3, ts)
		}
	}
	path := filepath.Join(t.TempDir(), "ev."+format)
	must(t, os.WriteFile(path, b.Bytes(), 0o644))
	return path
}

func runEventTimeQuery(t *testing.T, data, opts string) (code int, stdout, stderr string) {
	t.Helper()
	dir := t.TempDir()
	sql := filepath.Join(dir, "q.sql")
	must(t, os.WriteFile(sql, []byte(fmt.Sprintf(eventTimeQuery, data, strings.TrimPrefix(filepath.Ext(data), "."), opts)), 0o644))
	var out, errs bytes.Buffer
	code = Main(context.Background(), []string{"run", "--format", "json", "--state-dir", dir, sql}, &out, &errs)
	return code, out.String(), errs.String()
}

// TestFarFutureRow: one row dated 9999-12-31 among 20,000 good rows. By
// default, the rows read after it are dropped as late (all but those of
// its own batch), and the run says so in a warning; with 'scan.watermark.max-future' the row is malformed: the
// query fails naming the file, line and column, or, with
// 'csv.ignore-parse-errors', the row is skipped and counted, and the
// output is that of the file without it.
func TestFarFutureRow(t *testing.T) {
	const n, bad = 20000, 1000
	data := writeEventTimeFile(t, "csv", n, bad, "9999-12-31 00:00:00.000")

	code, out, errs := runEventTimeQuery(t, data, "")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	m := regexp.MustCompile(`, (\d+) late rows dropped`).FindStringSubmatch(errs)
	if m == nil {
		t.Fatalf("no late rows in the summary:\n%s", errs)
	}
	late, _ := strconv.ParseInt(m[1], 10, 64)
	if want := "warning: " + thousands(late) + " rows were dropped as late"; late < n/2 || !strings.Contains(errs, want) {
		t.Fatalf("stderr lacks %q (or too few late rows):\n%s", want, errs)
	}
	// Every row is either counted in a window or dropped as late.
	var counted int64
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var row struct{ N int64 }
		must(t, json.Unmarshal([]byte(line), &row))
		counted += row.N
	}
	if counted+late != n {
		t.Fatalf("%d rows in windows + %d late != %d rows", counted, late, n)
	}

	code, _, errs = runEventTimeQuery(t, data, ", 'scan.watermark.max-future' = '1 h'")
	if code != 1 {
		t.Fatalf("with max-future: exit %d, want 1: %s", code, errs)
	}
	re := regexp.MustCompile(regexp.QuoteMeta(data) + `:1001: field "ts": event time 9999-12-31 00:00:00.000 lies more than 1h0m0s ahead of the wall clock \(.*\), beyond 'scan.watermark.max-future'`)
	if !re.MatchString(errs) {
		t.Fatalf("with max-future: stderr does not match %s:\n%s", re, errs)
	}

	code, out, errs = runEventTimeQuery(t, data, ", 'scan.watermark.max-future' = '1 h', 'csv.ignore-parse-errors' = 'true'")
	if code != 0 {
		t.Fatalf("skipping: exit %d: %s", code, errs)
	}
	if strings.Contains(errs, "late") || !strings.Contains(errs, "1 malformed records skipped") {
		t.Fatalf("skipping: want no late rows and 1 malformed record:\n%s", errs)
	}
	// The reference: the file without the row.
	lines := strings.SplitAfter(string(must2(os.ReadFile(data))), "\n")
	clean := filepath.Join(t.TempDir(), "clean.csv")
	must(t, os.WriteFile(clean, []byte(strings.Join(append(lines[:bad:bad], lines[bad+1:]...), "")), 0o644))
	code, want, errs := runEventTimeQuery(t, clean, "")
	if code != 0 || strings.Contains(errs, "late") {
		t.Fatalf("reference: exit %d: %s", code, errs)
	}
	if out != want || strings.Count(out, "\n") != n/100 {
		t.Fatalf("skipping: output differs from the file without the row:\n--- got\n%s--- want\n%s", out, want)
	}
}

// TestNullEventTime: a row whose event time is NULL or missing is
// malformed, as Flink rejects it, not a late row.
func TestNullEventTime(t *testing.T) {
	const n, bad = 200, 50
	for _, c := range []struct{ name, format, ts, ignore string }{
		{"csv-null", "csv", "", "csv"}, {"json-null", "json", "", "json"}, {"json-missing", "json", "-", "json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := writeEventTimeFile(t, c.format, n, bad, c.ts)
			code, _, errs := runEventTimeQuery(t, data, "")
			if code != 1 {
				t.Fatalf("exit %d, want 1: %s", code, errs)
			}
			if want := data + `:51: field "ts"`; !strings.Contains(errs, want) || !strings.Contains(errs, "a row needs an event time") {
				t.Fatalf("stderr lacks %q and the reason:\n%s", want, errs)
			}
			code, _, errs = runEventTimeQuery(t, data, ", '"+c.ignore+".ignore-parse-errors' = 'true'")
			if code != 0 || strings.Contains(errs, "late") || !strings.Contains(errs, "1 malformed records skipped") {
				t.Fatalf("skipping: exit %d, want 0 with 1 malformed record and no late rows:\n%s", code, errs)
			}
		})
	}
}

func must2[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
