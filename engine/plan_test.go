package engine_test

import (
	"strings"
	"testing"

	"github.com/streamsql/streamsql/engine"
)

// TestExplainShowsParallelismAndExchanges: SET 'parallelism.default'
// reaches the planner: a keyed window aggregation runs at 2 behind a hash
// exchange on its key, the collect sink at 1 behind a single exchange, and
// EXPLAIN lists the tasks.
func TestExplainShowsParallelismAndExchanges(t *testing.T) {
	s := engine.New(engine.Options{StateDir: t.TempDir()}).NewSession()
	sessionExec(t, s, sessionDDL+"SET 'parallelism.default' = '2';")
	res := sessionExec(t, s, "EXPLAIN SELECT k, COUNT(*) FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k;")
	for _, want := range []string{
		"1-source-ev-exchange Exchange dist=hash keys=[k] (parallelism=2, append-only)",
		"2-window-agg WindowAgg window=TUMBLE(time=ts, size=1000ms) keys=[k] aggs=[COUNT(*)] (parallelism=2, append-only)",
		"3-calc-exchange Exchange dist=single (parallelism=1, append-only)",
		"task 1, parallelism 1: 1-source-ev\n",
		"task 2, parallelism 2: 1-source-ev-exchange -> 2-window-agg -> 3-calc\n",
		"task 3, parallelism 1: 3-calc-exchange -> 4-sink",
	} {
		if !strings.Contains(res.Message, want) {
			t.Errorf("EXPLAIN lacks %q:\n%s", want, res.Message)
		}
	}
}

// TestParallelismAboveMaxParallelismRefused: a parallelism the key groups
// cannot be split into is a planning error naming both settings.
func TestParallelismAboveMaxParallelismRefused(t *testing.T) {
	s := engine.New(engine.Options{StateDir: t.TempDir()}).NewSession()
	sessionExec(t, s, sessionDDL+"SET 'parallelism.default' = '8'; SET 'pipeline.max-parallelism' = '4';")
	err := sessionErr(t, s, "SELECT k FROM ev;")
	if err == nil || !strings.Contains(err.Error(), "t.sql:1:1: parallelism 8 exceeds the max parallelism 4") || !strings.Contains(err.Error(), "'pipeline.max-parallelism'") {
		t.Fatalf("err = %v, want the parallelism refused", err)
	}
	sessionExec(t, s, "SET 'pipeline.max-parallelism' = '8'; EXPLAIN SELECT k FROM ev;")
}

// TestSinkRefusesUpdatingPlan: an INSERT of a debezium-json source's
// changelog into a kafka table (inserts only) is refused at planning with
// the error that names the sink, its connector and the node producing the
// updates; into print (which takes updates) it plans.
func TestSinkRefusesUpdatingPlan(t *testing.T) {
	s := engine.New(engine.Options{StateDir: t.TempDir()}).NewSession()
	sessionExec(t, s, `CREATE TABLE orders (id BIGINT, amount BIGINT) WITH ('connector' = 'kafka', 'topic' = 'orders',
	  'properties.bootstrap.servers' = 'localhost:9092', 'scan.startup.mode' = 'earliest-offset', 'format' = 'debezium-json');
	CREATE TABLE out (id BIGINT, amount BIGINT) WITH ('connector' = 'kafka', 'topic' = 'out',
	  'properties.bootstrap.servers' = 'localhost:9092', 'format' = 'json');
	CREATE TABLE console (id BIGINT, amount BIGINT) WITH ('connector' = 'print');`)
	err := sessionErr(t, s, "\n\nINSERT INTO out SELECT id, amount FROM orders;")
	want := "t.sql:3:1: table out (connector kafka) accepts only inserts (append-only), but the query produces updates and deletes: node 1-source-orders (format debezium-json) emits them; use a sink that accepts updates (print, blackhole, or 'format' = 'debezium-json')"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	res := sessionExec(t, s, "EXPLAIN INSERT INTO console SELECT id, amount FROM orders;")
	if !strings.Contains(res.Message, "2-sink-console Sink table=console connector=print (parallelism=1, retract)") {
		t.Errorf("EXPLAIN of the INSERT into print:\n%s", res.Message)
	}
}

// TestExplainStatementSetSharesSource: EXPLAIN of a statement set shows
// every sink, the source both INSERTs read once (with one id), and the
// tasks of the one job.
func TestExplainStatementSetSharesSource(t *testing.T) {
	s := engine.New(engine.Options{StateDir: t.TempDir()}).NewSession()
	sessionExec(t, s, sessionDDL+`CREATE TABLE o1 (k BIGINT) WITH ('connector' = 'blackhole');
	CREATE TABLE o2 (k BIGINT, n BIGINT) WITH ('connector' = 'blackhole');`)
	res := sessionExec(t, s, `EXPLAIN STATEMENT SET BEGIN
	INSERT INTO o1 SELECT k FROM ev;
	INSERT INTO o2 SELECT k, COUNT(*) FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k;
	END;`)
	for _, want := range []string{
		"3-sink-o1 Sink table=o1 connector=blackhole",
		"6-sink-o2 Sink table=o2 connector=blackhole",
		"1-source-ev (see above)",
		"task 1, parallelism 1: 1-source-ev\n",
	} {
		if !strings.Contains(res.Message, want) {
			t.Errorf("EXPLAIN lacks %q:\n%s", want, res.Message)
		}
	}
	if n := strings.Count(res.Message, "1-source-ev Source"); n != 1 {
		t.Errorf("the shared source is described %d times:\n%s", n, res.Message)
	}
}
