package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/engine"
)

// TestPartitionedTableReadBack: a PARTITIONED BY filesystem table written
// by one job (as Nexmark q10 writes its output: dt=yyyy-MM-dd/hm=HH:mm/
// directories, values escaped, NULL in the default partition) is read by
// another, its partition columns filled from the directory names, in json
// and csv, and with the partition columns declared anywhere in the table.
func TestPartitionedTableReadBack(t *testing.T) {
	ctx := context.Background()
	var in strings.Builder
	var want []string
	for i := range 40 {
		ts := fmt.Sprintf("2026-12-0%d 1%d:%02d:00", 1+i%3, i%2, i%4)
		dt := ts[:10]
		tag := []string{"a", "b/c", "", "d e"}[i%4]
		fmt.Fprintf(&in, "%d,%s,%s\n", i, ts, tag)
		tagOut := tag
		if tag == "" {
			tagOut = "NULL"
		}
		want = append(want, fmt.Sprintf("%s, %d, %s, %s", dt, i, ts[11:16], tagOut))
	}
	slices.Sort(want)
	src := writeFile(t, "in.csv", in.String())
	for _, f := range []string{"json", "csv"} {
		t.Run(f, func(t *testing.T) {
			out := t.TempDir()
			eng := engine.New(engine.Options{StateDir: t.TempDir()})
			res, err := eng.Exec(ctx, fmt.Sprintf(`
CREATE TABLE src (id BIGINT, ts TIMESTAMP(3), tag STRING) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
CREATE TABLE o (dt STRING, id BIGINT, hm STRING, tag STRING) PARTITIONED BY (dt, hm, tag)
  WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = '%s');
INSERT INTO o SELECT DATE_FORMAT(ts, 'yyyy-MM-dd'), id, DATE_FORMAT(ts, 'HH:mm'), NULLIF(tag, '') FROM src;`, src, out, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := res[len(res)-1].Job.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(out, "dt=2026-12-02", "hm=11%3A01", "tag=b%2Fc")); err != nil {
				t.Fatalf("the sink's layout: %v", err)
			}
			_, rows := queryRows(t, fmt.Sprintf(`
CREATE TABLE back (dt STRING, id BIGINT, hm STRING, tag STRING) PARTITIONED BY (dt, hm, tag)
  WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = '%s');
SELECT dt, id, hm, tag FROM back;`, out, f))
			slices.Sort(rows)
			checkRows(t, rows, want)
			// A projection and a filter on a partition column.
			_, rows = queryRows(t, fmt.Sprintf(`
CREATE TABLE back (dt STRING, id BIGINT, hm STRING, tag STRING) PARTITIONED BY (dt, hm, tag)
  WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = '%s');
SELECT id, hm FROM back WHERE dt = '2026-12-02' AND tag IS NULL;`, out, f))
			var sel []string
			for _, w := range want {
				if c := strings.Split(w, ", "); c[0] == "2026-12-02" && c[3] == "NULL" {
					sel = append(sel, c[1]+", "+c[2])
				}
			}
			slices.Sort(rows)
			slices.Sort(sel)
			if len(sel) == 0 {
				t.Fatal("no row selected")
			}
			checkRows(t, rows, sel)
		})
	}
}
