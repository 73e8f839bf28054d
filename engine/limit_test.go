package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/engine"
)

// TestLimit: a query with LIMIT over an unbounded source ends after that
// many rows, for a plain projection, for a windowed aggregation (rows as
// windows close) and for an INSERT into an exactly-once file sink.
func TestLimit(t *testing.T) {
	const ddl = `CREATE TABLE ev (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
  WITH ('connector' = 'datagen', 'rows-per-second' = 'unlimited', 'fields.k.min' = '0', 'fields.k.max' = '9', 'fields.ts.step' = '1 ms');
`
	for _, c := range []struct {
		name, sql string
		rows      int
	}{
		{"projection", "SELECT k, ts FROM ev WHERE k > 2 LIMIT 7;", 7},
		{"window", "SELECT window_start, k, COUNT(*) FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k LIMIT 25;", 25},
		{"parallel window", "SET 'parallelism.default' = '2';\nSELECT window_start, k, COUNT(*) FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k LIMIT 25;", 25},
	} {
		t.Run(c.name, func(t *testing.T) {
			eng := engine.New(engine.Options{StateDir: t.TempDir()})
			res := execAll(t, eng, ddl+c.sql)
			n := 0
			err := res.Query.Run(context.Background(), func(rec arrow.Record) error {
				n += int(rec.NumRows())
				return nil
			})
			if err != nil || n != c.rows {
				t.Fatalf("run: %v, %d rows; want nil, %d", err, n, c.rows)
			}
		})
	}
	t.Run("insert", func(t *testing.T) {
		dir := t.TempDir()
		eng := engine.New(engine.Options{StateDir: t.TempDir()})
		res := execAll(t, eng, ddl+`CREATE TABLE out (k BIGINT) WITH ('connector' = 'filesystem', 'path' = '`+dir+`', 'format' = 'csv');
INSERT INTO out SELECT k FROM ev LIMIT 1000;`)
		if err := res.Query.Run(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "part-0.csv"))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), "\n"); n != 1000 {
			t.Fatalf("%d rows in the file, want 1000", n)
		}
	})
}
