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
