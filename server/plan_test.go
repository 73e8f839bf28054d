package server_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamsql/streamsql/server"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestJobPlan: a job's view carries its plan as a graph (sources first,
// each operator with its inputs), for the web page; and each submission
// is logged at Info (serve -v) with the statement, job and session.
func TestJobPlan(t *testing.T) {
	var logs syncBuffer
	ts := start(t, t.TempDir(), server.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ts.statements(fmt.Sprintf(evDDL, "1000", 1000000) + `
		CREATE TABLE sink (window_start TIMESTAMP(3), k BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
		SET 'pipeline.name' = 'graph';
		INSERT INTO sink ` + windowQuery)
	var j struct {
		Plan []struct {
			ID     string   `json:"id"`
			Kind   string   `json:"kind"`
			Detail string   `json:"detail"`
			Inputs []string `json:"inputs"`
		} `json:"plan"`
	}
	ts.json("GET", "/v1/jobs/graph", "", http.StatusOK, &j)
	var kinds []string
	for i, op := range j.Plan {
		kinds = append(kinds, op.Kind)
		if i > 0 && (len(op.Inputs) != 1 || op.Inputs[0] != j.Plan[i-1].ID) {
			t.Errorf("operator %+v: want the previous one, %s, as its input", op, j.Plan[i-1].ID)
		}
	}
	if got := strings.Join(kinds, " → "); len(j.Plan) < 3 || kinds[0] != "Source" || kinds[len(kinds)-1] != "Sink" || !strings.Contains(got, "WindowAgg") {
		t.Errorf("plan %s: %+v", got, j.Plan)
	}
	if len(j.Plan[0].Inputs) != 0 || !strings.Contains(j.Plan[0].Detail, "table=ev") {
		t.Errorf("source %+v", j.Plan[0])
	}
	if l := logs.String(); !strings.Contains(l, "job submitted") || !strings.Contains(l, "job=graph") || !strings.Contains(l, "session=default") || !strings.Contains(l, "INSERT INTO sink") {
		t.Errorf("submission not logged:\n%s", l)
	}
	ts.json("POST", "/v1/jobs/graph/stop", "", http.StatusOK, nil)
}

// TestOperatorCounters: a job's stats carry each operator's rows in and
// out and state entries, for the web page's plan boxes; the window
// operator's rows in are the source's rows (a Calc may stand between).
func TestOperatorCounters(t *testing.T) {
	ts := start(t, t.TempDir(), server.Options{})
	ts.statements(fmt.Sprintf(evDDL, "unlimited", 5000) + `
		CREATE TABLE sink (window_start TIMESTAMP(3), k BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
		SET 'pipeline.name' = 'counters';
		INSERT INTO sink ` + windowQuery)
	type opStats struct {
		ID           string `json:"id"`
		RecordsIn    int64  `json:"records_in"`
		RecordsOut   int64  `json:"records_out"`
		StateEntries int64  `json:"state_entries"`
	}
	var j struct {
		Status string `json:"status"`
		Stats  struct {
			RecordsIn  int64     `json:"records_in"`
			RecordsOut int64     `json:"records_out"`
			Operators  []opStats `json:"operators"`
		} `json:"stats"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ts.json("GET", "/v1/jobs/counters", "", http.StatusOK, &j)
		if j.Stats.RecordsIn == 5000 && j.Status != "RUNNING" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job did not finish reading: %+v", j)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var win *opStats
	for i, o := range j.Stats.Operators {
		if strings.Contains(o.ID, "window") {
			win = &j.Stats.Operators[i]
		}
	}
	if win == nil {
		t.Fatalf("no window operator in %+v", j.Stats.Operators)
	}
	if win.RecordsIn != 5000 || win.RecordsOut != j.Stats.RecordsOut || win.RecordsOut == 0 {
		t.Errorf("window operator %+v: want 5000 rows in and the sink's %d out", *win, j.Stats.RecordsOut)
	}
}
