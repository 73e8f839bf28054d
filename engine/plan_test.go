package engine_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

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
	want := "t.sql:3:1: table out (connector kafka) accepts only inserts (append-only), but the query produces updates and deletes: node 1-source-orders (format debezium-json) emits them; use a sink that accepts updates (print, blackhole, upsert-kafka with a PRIMARY KEY, jdbc with a PRIMARY KEY, or 'format' = 'debezium-json')"
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

// TestUnionAllWindowOverTwoSources: a tumbling window over a view of a
// UNION ALL of two tables with watermarks of their own counts every row of
// both (the union's event time is the least of its inputs', so the slower
// source's rows are not late), at parallelism 1 and 2; the expected counts
// are computed here from the rows written.
func TestUnionAllWindowOverTwoSources(t *testing.T) {
	const n = 300
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var a, b strings.Builder
	type key struct {
		win string
		k   int
	}
	count := map[key]int{}
	sum := map[key]int{}
	add := func(w *strings.Builder, k, v int, ts time.Time) {
		fmt.Fprintf(w, "%d,%d,%s\n", k, v, ts.Format("2006-01-02 15:04:05.000"))
		kk := key{ts.Truncate(time.Second).Format("2006-01-02 15:04:05"), k}
		count[kk]++
		sum[kk] += v
	}
	for i := 0; i < n; i++ {
		// a runs ahead of b in event time: a covers 0..30 s, b 0..15 s.
		add(&a, i%3, i, base.Add(time.Duration(i)*100*time.Millisecond))
		add(&b, i%4, 1000+i, base.Add(time.Duration(i)*50*time.Millisecond))
	}
	pa, pb := writeFile(t, "a.csv", a.String()), writeFile(t, "b.csv", b.String())
	var want []string
	for kk, c := range count {
		want = append(want, fmt.Sprintf("%s|%d|%d|%d", kk.win, kk.k, c, sum[kk]))
	}
	sort.Strings(want)
	for _, par := range []int{1, 2} {
		sql := fmt.Sprintf(`SET 'parallelism.default' = '%d';
		CREATE TABLE a (k INT, v INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
		CREATE TABLE b (k BIGINT, v INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
		CREATE VIEW ab AS SELECT k, v, ts FROM a UNION ALL SELECT k, v, ts FROM b;
		SELECT CAST(window_start AS STRING), k, COUNT(*), SUM(v)
		FROM TABLE(TUMBLE(TABLE ab, DESCRIPTOR(ts), INTERVAL '1' SECOND))
		GROUP BY window_start, window_end, k;`, par, pa, pb)
		_, rows, err := queryErr(t, sql)
		if err != nil {
			t.Fatalf("parallelism %d: %v", par, err)
		}
		got := make([]string, len(rows))
		for i, r := range rows {
			got[i] = strings.ReplaceAll(strings.Replace(r, ".000, ", ", ", 1), ", ", "|")
		}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("parallelism %d: %d rows, want %d:\n%s\nwant:\n%s", par, len(got), len(want), strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}
