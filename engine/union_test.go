package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestUnionAllIntoWindow runs UNION ALL of two filesystem tables with
// their own watermarks (different delays, lengths and time ranges) into a
// tumbling-window count, at parallelism 1 and 2: every row of both inputs
// is counted once in its window (the union's event time is the minimum of
// its inputs', so no row of the slower input is late), and the job ends
// when both sources are exhausted.
func TestUnionAllIntoWindow(t *testing.T) {
	dir := t.TempDir()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	want := map[string]int{}
	write := func(name string, rows, stepMs, keys int) string {
		var b strings.Builder
		for i := 0; i < rows; i++ {
			ts := base.Add(time.Duration(i*stepMs) * time.Millisecond)
			k := i % keys
			fmt.Fprintf(&b, "%d,%d,%s\n", k, i, ts.Format("2006-01-02 15:04:05.000"))
			ws := ts.Truncate(10 * time.Second)
			want[fmt.Sprintf("%s, %d", ws.Format("2006-01-02 15:04:05"), k)]++
		}
		p := filepath.Join(dir, name+".csv")
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("a", 3000, 37, 5)
	b := write("b", 200, 311, 3)
	ddl := fmt.Sprintf(`
CREATE TABLE a (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
CREATE TABLE b (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
  WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
CREATE VIEW u AS SELECT k, ts FROM a UNION ALL SELECT k, ts FROM b;
`, a, b)
	var wantRows []string
	for k, n := range want {
		wantRows = append(wantRows, fmt.Sprintf("%s, %d", k, n))
	}
	slices.Sort(wantRows)
	for _, p := range []int{1, 2} {
		t.Run(fmt.Sprintf("parallelism=%d", p), func(t *testing.T) {
			_, rows := queryRows(t, fmt.Sprintf("SET 'parallelism.default' = '%d';\n", p)+ddl+`
SELECT window_start, k, COUNT(*) FROM TABLE(TUMBLE(TABLE u, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, k;`)
			got := make([]string, len(rows))
			for i, r := range rows {
				got[i] = strings.Replace(r, ".000", "", 1)
			}
			slices.Sort(got)
			if !slices.Equal(got, wantRows) {
				t.Fatalf("got %d rows, want %d\ngot:  %q\nwant: %q", len(got), len(wantRows), first(got, 8), first(wantRows, 8))
			}
		})
	}
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }
