package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/engine"
)

// TestLTZFormatsRoundTrip: the json and csv formats write a TIMESTAMP_LTZ
// as its local time in the session zone ('table.local-time-zone'), and
// read zone-less LTZ text as a local time there, so what one job writes in
// a zone another reads back as the same instants: in Asia/Shanghai, and in
// America/Los_Angeles across the start of daylight saving time (2021-03-14
// 02:00 PST is 03:00 PDT). Text with Z or an offset names its instant in
// any zone. A local time repeated when clocks go back is ambiguous once
// written without its offset: it reads as the earlier instant, as Java's
// atZone and a CAST do.
func TestLTZFormatsRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		zone     string
		instants []int64
		local    []string // how the sink writes them
	}{
		{"Asia/Shanghai", []int64{0, 1615748400000, -1},
			[]string{"1970-01-01 08:00:00.000", "2021-03-15 03:00:00.000", "1970-01-01 07:59:59.999"}},
		// 01:00 PST, 03:00 PDT (an hour later), 03:30 PDT, 12:00 PDT.
		{"America/Los_Angeles", []int64{1615712400000, 1615716000000, 1615717800000, 1615748400000},
			[]string{"2021-03-14 01:00:00.000", "2021-03-14 03:00:00.000", "2021-03-14 03:30:00.000", "2021-03-14 12:00:00.000"}},
	} {
		for _, f := range []string{"json", "csv"} {
			t.Run(c.zone+"/"+f, func(t *testing.T) {
				var in strings.Builder
				for _, ms := range c.instants {
					fmt.Fprintf(&in, "%d\n", ms)
				}
				src := writeFile(t, "in.csv", in.String())
				out := t.TempDir()
				set := fmt.Sprintf("SET 'table.local-time-zone' = '%s';\n", c.zone)
				eng := engine.New(engine.Options{StateDir: t.TempDir()})
				res, err := eng.Exec(ctx, set+fmt.Sprintf(`
CREATE TABLE src (ms BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
CREATE TABLE o (ms BIGINT, ltz TIMESTAMP_LTZ(3)) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = '%s');
INSERT INTO o SELECT ms, TO_TIMESTAMP_LTZ(ms, 3) FROM src;`, src, out, f))
				if err != nil {
					t.Fatal(err)
				}
				if err := res[len(res)-1].Job.Wait(ctx); err != nil {
					t.Fatal(err)
				}
				text := readDirText(t, out)
				for _, l := range c.local {
					if !strings.Contains(text, l) {
						t.Errorf("the sink's %s does not show %s:\n%s", f, l, text)
					}
				}
				_, rows := queryRows(t, set+fmt.Sprintf(`
CREATE TABLE back (ms BIGINT, ltz TIMESTAMP_LTZ(3)) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = '%s');
SELECT ms, CAST(ltz AS BIGINT) FROM back;`, out, f))
				if len(rows) != len(c.instants) {
					t.Fatalf("read back %d rows, want %d: %v", len(rows), len(c.instants), rows)
				}
				for _, r := range rows {
					if a, b, _ := strings.Cut(r, ", "); a != b {
						t.Errorf("instant %s read back as %s", a, b)
					}
				}
			})
		}
	}

	// Explicit zones keep their instants whatever the session zone;
	// zone-less text is local time, in a gap moved later by the gap, in an
	// overlap (2021-11-07 01:30 happened at 08:30Z and at 09:30Z) the
	// earlier instant.
	path := writeFile(t, "z.json", strings.Join([]string{
		`{"id":1,"ltz":"2021-03-14T10:00:00Z"}`,
		`{"id":2,"ltz":"2021-03-14 18:00:00+08:00"}`,
		`{"id":3,"ltz":1615716000000}`,
		`{"id":4,"ltz":"2021-03-14 02:30:00"}`,
		`{"id":5,"ltz":"2021-11-07 01:30:00"}`,
	}, "\n")+"\n")
	_, rows := queryRows(t, fmt.Sprintf(`SET 'table.local-time-zone' = 'America/Los_Angeles';
CREATE TABLE z (id BIGINT, ltz TIMESTAMP_LTZ(3)) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'json');
SELECT id, CAST(ltz AS BIGINT) FROM z;`, path))
	checkRows(t, rows, []string{"1, 1615716000000", "2, 1615716000000", "3, 1615716000000", "4, 1615717800000", "5, 1636273800000"})
}

// readDirText returns the text of every file under dir.
func readDirText(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		b.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
