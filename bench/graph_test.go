package bench

import (
	"fmt"
	"testing"

	"github.com/streamsql/streamsql/engine"
)

// eventsTable declares a datagen table of the core benchmark's events
// (1,000 keys, 1 ms of event time a row), n rows from seed.
func eventsTable(name string, n, seed int) string {
	return fmt.Sprintf(`
CREATE TABLE %s (k BIGINT, x BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = 'unlimited', 'number-of-rows' = '%d', 'seed' = '%d',
  'fields.k.min' = '0', 'fields.k.max' = '999', 'fields.x.min' = '0', 'fields.x.max' = '1000000',
  'fields.ts.step' = '1 ms');`, name, n, seed)
}

// windowSink declares the blackhole table the core window writes to.
func windowSink(name string) string {
	return fmt.Sprintf(`
CREATE TABLE %s (k BIGINT, ws TIMESTAMP(3), n BIGINT, s BIGINT, m BIGINT) WITH ('connector' = 'blackhole');`, name)
}

// coreWindowInsert is the core benchmark's aggregation over table from,
// inserted into into.
func coreWindowInsert(into, from string) string {
	return fmt.Sprintf(`
INSERT INTO %s
SELECT k, window_start, COUNT(*), SUM(x), MAX(x)
FROM TABLE(TUMBLE(TABLE %s, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, k;`, into, from)
}

// BenchmarkUnionAll is the core window over the UNION ALL of two sources
// of b.N/2 events each (two source tasks feeding the window's task).
func BenchmarkUnionAll(b *testing.B) {
	eng := engine.New(engine.Options{StateDir: b.TempDir(), CheckpointInterval: -1})
	sql := eventsTable("a", (b.N+1)/2, 1) + eventsTable("b", max(b.N/2, 1), 2) +
		"\nCREATE VIEW u AS SELECT * FROM a UNION ALL SELECT * FROM b;" + windowSink("out") + coreWindowInsert("out", "u")
	b.ReportAllocs()
	b.ResetTimer()
	m := startMeter()
	runSQL(b, eng, sql)
	reportRate(b, m)
}

// BenchmarkStatementSet runs two INSERTs over one source of b.N events
// as one job: the core window, and a filter passing a tenth of the rows
// into a second sink.
func BenchmarkStatementSet(b *testing.B) {
	eng := engine.New(engine.Options{StateDir: b.TempDir(), CheckpointInterval: -1})
	sql := eventsTable("ev", b.N, 1) + windowSink("out") + `
CREATE TABLE few (k BIGINT, x BIGINT) WITH ('connector' = 'blackhole');
EXECUTE STATEMENT SET BEGIN` + coreWindowInsert("out", "ev") + `
INSERT INTO few SELECT k, x FROM ev WHERE x < 100000;
END;`
	b.ReportAllocs()
	b.ResetTimer()
	m := startMeter()
	runSQL(b, eng, sql)
	reportRate(b, m)
}
