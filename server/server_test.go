package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/server"
)

// testServer is a server listening on a real loopback port.
type testServer struct {
	t     *testing.T
	srv   *server.Server
	http  *httptest.Server
	eng   *engine.Engine
	token string
}

func start(t *testing.T, stateDir string, opts server.Options) *testServer {
	t.Helper()
	return startEngine(t, engine.Options{StateDir: stateDir}, opts)
}

// startEngine is start with more engine options.
func startEngine(t *testing.T, eo engine.Options, opts server.Options) *testServer {
	t.Helper()
	eo.CheckpointInterval, eo.Stdout = 100*time.Millisecond, io.Discard
	eng := engine.New(eo)
	srv, err := server.New(eng, opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, srv: srv, http: httptest.NewServer(srv), eng: eng, token: opts.AuthToken}
	t.Cleanup(ts.close)
	return ts
}

// close stops the server as the serve command does: jobs cancelled (not
// ended), streams ended, then the listener. Idempotent.
func (ts *testServer) close() {
	if ts.srv == nil {
		return
	}
	if err := ts.srv.Close(); err != nil {
		ts.t.Error(err)
	}
	ts.http.Close()
	ts.srv = nil
}

// do sends a request and returns the status and the body.
func (ts *testServer) do(method, path, contentType, body string, hdr ...string) (int, []byte) {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.http.URL+path, strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if ts.token != "" {
		req.Header.Set("Authorization", "Bearer "+ts.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// json sends a request, checks the status and decodes the body into v.
func (ts *testServer) json(method, path, body string, want int, v any) {
	ts.t.Helper()
	code, b := ts.do(method, path, "", body)
	if code != want {
		ts.t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			ts.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

type result struct {
	Statement string     `json:"statement"`
	Kind      string     `json:"kind"`
	Message   string     `json:"message"`
	Header    []string   `json:"header"`
	Rows      [][]string `json:"rows"`
	Job       string     `json:"job"`
}

type apiError struct {
	Error     string   `json:"error"`
	Line      int      `json:"line"`
	Column    int      `json:"column"`
	Statement int      `json:"statement"`
	Results   []result `json:"results"`
}

type job struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Error  string `json:"error"`
	SQL    string `json:"sql"`
	Stats  struct {
		RecordsIn    int64     `json:"records_in"`
		RecordsOut   int64     `json:"records_out"`
		StateEntries int64     `json:"state_entries"`
		StateBytes   int64     `json:"state_bytes"`
		Watermark    string    `json:"watermark"`
		RestoredFrom uint64    `json:"restored_from"`
		Operators    []opStats `json:"operators"`
	} `json:"stats"`
	LastCheckpoint *struct {
		ID          uint64  `json:"id"`
		Bytes       int64   `json:"bytes"`
		AlignmentMs float64 `json:"alignment_ms"`
		Tasks       []struct {
			Task        string  `json:"task"`
			AlignmentMs float64 `json:"alignment_ms"`
		} `json:"tasks"`
	} `json:"last_checkpoint"`
	Savepoint string `json:"savepoint"`
}

// opStats is an operator's entry of a job's stats.operators.
type opStats struct {
	ID           string `json:"id"`
	StateEntries int64  `json:"state_entries"`
	StateBytes   int64  `json:"state_bytes"`
}

func (ts *testServer) statements(sql string) []result {
	ts.t.Helper()
	var out struct{ Results []result }
	ts.json("POST", "/v1/statements", sql, http.StatusOK, &out)
	return out.Results
}

func (ts *testServer) job(id string) job {
	ts.t.Helper()
	var j job
	ts.json("GET", "/v1/jobs/"+id, "", http.StatusOK, &j)
	return j
}

// waitJob polls job id until ok holds, or fails after d.
func (ts *testServer) waitJob(id string, d time.Duration, what string, ok func(job) bool) job {
	ts.t.Helper()
	deadline := time.Now().Add(d)
	for {
		j := ts.job(id)
		if ok(j) {
			return j
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("job %s: no %s after %v: %+v", id, what, d, j)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const evDDL = `CREATE TABLE ev (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
WITH ('connector' = 'datagen', 'rows-per-second' = '%s', 'number-of-rows' = '%d',
      'fields.k.min' = '0', 'fields.k.max' = '4', 'fields.ts.step' = '10 ms');
`

const windowQuery = `SELECT window_start, k, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k`

func TestStatements(t *testing.T) {
	ts := start(t, t.TempDir(), server.Options{})
	res := ts.statements(fmt.Sprintf(evDDL, "unlimited", 100) + `
		CREATE TABLE sink (k BIGINT) WITH ('connector' = 'blackhole');
		SET 'pipeline.name' = 'p';
		SHOW TABLES;
		DESCRIBE ev;`)
	if len(res) != 5 {
		t.Fatalf("got %d results: %+v", len(res), res)
	}
	if res[0].Kind != "message" || res[0].Message != "table ev created" || !strings.HasPrefix(res[0].Statement, "CREATE TABLE ev") {
		t.Errorf("CREATE TABLE: %+v", res[0])
	}
	if res[2].Message != "set pipeline.name = p" {
		t.Errorf("SET: %+v", res[2])
	}
	if res[3].Kind != "table" || !slices.Equal(res[3].Header, []string{"tables"}) || len(res[3].Rows) != 2 {
		t.Errorf("SHOW TABLES: %+v", res[3])
	}
	if res[4].Kind != "table" || len(res[4].Rows) != 2 || res[4].Rows[0][0] != "k" {
		t.Errorf("DESCRIBE: %+v", res[4])
	}
	// A JSON body.
	var out struct{ Results []result }
	ts.json("POST", "/v1/statements", `{"sql": "SHOW VIEWS; EXPLAIN `+windowQuery+`"}`, http.StatusOK, &out)
	if len(out.Results) != 2 || !strings.Contains(out.Results[1].Message, "window") {
		t.Errorf("JSON body: %+v", out.Results)
	}
	// The default session's SETs last one request.
	for _, row := range ts.statements("SET;")[0].Rows {
		if row[0] == "pipeline.name" && row[1] == "p" {
			t.Errorf("a SET of an earlier request is still set: %q", row)
		}
	}
}

func TestBadInput(t *testing.T) {
	ts := start(t, t.TempDir(), server.Options{MaxBody: 4096})
	var e apiError
	// A syntax error: its line and column in the request body.
	ts.json("POST", "/v1/statements", "SHOW TABLES;\nCREATE TABLE t (a BIGINT) WITH ('connector' = 'blackhole');\nSELEC 1;", http.StatusBadRequest, &e)
	if e.Line != 3 || e.Column != 1 || e.Error == "" {
		t.Errorf("syntax error: %+v", e)
	}
	// Nothing ran: t does not exist.
	if res := ts.statements("SHOW TABLES;"); len(res[0].Rows) != 0 {
		t.Errorf("a request with a syntax error ran statements: %+v", res)
	}
	// A planning error in the second statement: the first took effect.
	e = apiError{}
	ts.json("POST", "/v1/statements", "CREATE TABLE src (a BIGINT) WITH ('connector' = 'datagen'); CREATE TABLE dst (a BIGINT) WITH ('connector' = 'blackhole');\n  INSERT INTO dst SELECT b FROM src;", http.StatusBadRequest, &e)
	if e.Statement != 3 || e.Line != 2 || e.Column == 0 || len(e.Results) != 2 || !strings.Contains(e.Error, `"b"`) {
		t.Errorf("planning error: %+v", e)
	}
	// A SELECT is refused with a pointer to /v1/query.
	e = apiError{}
	ts.json("POST", "/v1/statements", "SHOW TABLES; SELECT a FROM src;", http.StatusBadRequest, &e)
	if !strings.Contains(e.Error, "/v1/query") || e.Statement != 2 || e.Line != 1 || e.Column != 14 {
		t.Errorf("SELECT: %+v", e)
	}
	ts.json("POST", "/v1/statements", "", http.StatusBadRequest, &e)
	ts.json("POST", "/v1/statements", `{"sql": 1}`, http.StatusBadRequest, &e)
	// Oversized body.
	e = apiError{}
	ts.json("POST", "/v1/statements", "SHOW TABLES; -- "+strings.Repeat("x", 5000), http.StatusRequestEntityTooLarge, &e)
	if !strings.Contains(e.Error, "4096") {
		t.Errorf("413: %+v", e)
	}
	// Unknown jobs.
	for _, r := range [][2]string{{"GET", "/v1/jobs/nope"}, {"POST", "/v1/jobs/nope/stop"}, {"POST", "/v1/jobs/nope/savepoints"}, {"GET", "/v1/jobs/nope/checkpoints"}} {
		e = apiError{}
		ts.json(r[0], r[1], "", http.StatusNotFound, &e)
		if !strings.Contains(e.Error, `unknown job "nope"`) {
			t.Errorf("%s %s: %+v", r[0], r[1], e)
		}
	}
	ts.json("POST", "/v1/statements", "STOP JOB 'nope';", http.StatusBadRequest, &e)
	ts.json("GET", "/v1/nothing", "", http.StatusNotFound, &e)
	ts.json("DELETE", "/v1/jobs", "", http.StatusMethodNotAllowed, nil)
	// /v1/query wants one SELECT.
	ts.json("GET", "/v1/query", "", http.StatusBadRequest, &e)
	ts.json("GET", "/v1/query?sql=SHOW+TABLES", "", http.StatusBadRequest, &e)
	ts.json("POST", "/v1/query", "SELECT a FROM nope", http.StatusBadRequest, &e)
	ts.json("GET", "/v1/query?sql="+urlEscape("INSERT INTO dst SELECT a FROM src"), "", http.StatusBadRequest, &e)
	if e.Line != 1 || e.Column == 0 {
		t.Errorf("query planning error: %+v", e)
	}
}

func TestAuth(t *testing.T) {
	ts := start(t, t.TempDir(), server.Options{AuthToken: "s3cret"})
	ts.json("GET", "/v1/jobs", "", http.StatusOK, nil)
	ts.json("GET", "/metrics", "", http.StatusOK, nil)
	for _, hdr := range []string{"", "Bearer wrong", "Bearer s3cret2", "s3cret", "Basic s3cret"} {
		req, _ := http.NewRequest("GET", ts.http.URL+"/v1/jobs", nil)
		if hdr != "" {
			req.Header.Set("Authorization", hdr)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e apiError
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || e.Error == "" || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: status %d, %+v", hdr, resp.StatusCode, e)
		}
	}
	// Health checks and the page need no token.
	for _, p := range []string{"/healthz", "/"} {
		resp, err := http.Get(ts.http.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s without a token: %d", p, resp.StatusCode)
		}
	}
}

// countRows sums the n column of window rows and checks their shape.
func countRows(t *testing.T, rows []map[string]any) int64 {
	t.Helper()
	total := int64(0)
	for _, r := range rows {
		n, ok := r["n"].(float64)
		if _, isNum := r["k"].(float64); !ok || !isNum {
			t.Fatalf("row %v: k and n should be JSON numbers", r)
		}
		if _, ok := r["window_start"].(string); !ok {
			t.Fatalf("row %v: window_start should be a string", r)
		}
		total += int64(n)
	}
	return total
}

func TestQueryStream(t *testing.T) {
	ts := start(t, t.TempDir(), server.Options{})
	ts.statements(fmt.Sprintf(evDDL, "unlimited", 20000))

	// NDJSON over GET.
	code, body := ts.do("GET", "/v1/query?sql="+urlEscape(windowQuery), "", "")
	if code != http.StatusOK {
		t.Fatalf("GET /v1/query: %d %s", code, body)
	}
	var rows []map[string]any
	for line := range strings.Lines(string(body)) {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		rows = append(rows, r)
	}
	// 20000 rows 10 ms apart: 200 one-second windows of 5 keys.
	if len(rows) != 1000 || countRows(t, rows) != 20000 {
		t.Fatalf("NDJSON: %d rows, counts %d", len(rows), countRows(t, rows))
	}

	// Server-sent events over POST.
	code, body = ts.do("POST", "/v1/query", "", windowQuery, "Accept", "text/event-stream")
	if code != http.StatusOK {
		t.Fatalf("POST /v1/query: %d %s", code, body)
	}
	events := strings.Split(strings.TrimSuffix(string(body), "\n\n"), "\n\n")
	if last := events[len(events)-1]; last != "event: end\ndata: {}" {
		t.Fatalf("last event %q", last)
	}
	rows = rows[:0]
	for _, ev := range events[:len(events)-1] {
		data, ok := strings.CutPrefix(ev, "data: ")
		if !ok {
			t.Fatalf("event %q", ev)
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(data), &r); err != nil {
			t.Fatalf("event %q: %v", ev, err)
		}
		rows = append(rows, r)
	}
	if len(rows) != 1000 || countRows(t, rows) != 20000 {
		t.Fatalf("SSE: %d rows, counts %d", len(rows), countRows(t, rows))
	}
	// Ad-hoc queries are not jobs.
	var jobs struct{ Jobs []job }
	ts.json("GET", "/v1/jobs", "", http.StatusOK, &jobs)
	if len(jobs.Jobs) != 0 {
		t.Errorf("ad-hoc queries listed as jobs: %+v", jobs.Jobs)
	}
}

// TestQueryDisconnect reads the first rows of an unbounded query, hangs
// up, and checks that the server's query ends: Close would otherwise
// wait for it, and the test's cleanup would hang.
func TestQueryDisconnect(t *testing.T) {
	ts := start(t, t.TempDir(), server.Options{})
	ts.statements(`CREATE TABLE inf (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
		WITH ('connector' = 'datagen', 'rows-per-second' = '100000', 'fields.ts.step' = '10 ms');`)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.http.URL+"/v1/query?sql="+urlEscape("SELECT k FROM inf"), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	for i := 0; i < 10 && sc.Scan(); i++ {
		if !strings.HasPrefix(sc.Text(), `{"k":`) {
			t.Fatalf("line %q", sc.Text())
		}
	}
	cancel()
	resp.Body.Close()
	done := make(chan struct{})
	go func() { ts.http.Close(); close(done) }() // waits for the handler
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the query did not stop after the client hung up")
	}
}

func urlEscape(s string) string {
	r := strings.NewReplacer(" ", "+", "'", "%27", "(", "%28", ")", "%29", ",", "%2C", "*", "%2A", "=", "%3D")
	return r.Replace(s)
}

func TestJobLifecycle(t *testing.T) {
	dir := t.TempDir()
	ts := start(t, dir, server.Options{})
	res := ts.statements(fmt.Sprintf(evDDL, "2000", 1000000) + `
		CREATE TABLE sink (window_start TIMESTAMP(3), k BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
		SET 'pipeline.name' = 'life';
		INSERT INTO sink ` + windowQuery + `;`)
	if r := res[len(res)-1]; r.Kind != "job" || r.Job != "life" {
		t.Fatalf("INSERT: %+v", r)
	}
	// The same name again: a new id.
	res = ts.statements("SET 'pipeline.name' = 'life'; INSERT INTO sink " + windowQuery + ";")
	if res[1].Job != "life-2" {
		t.Fatalf("second INSERT: %+v", res[1])
	}
	var list struct{ Jobs []job }
	ts.json("GET", "/v1/jobs", "", http.StatusOK, &list)
	if len(list.Jobs) != 2 || list.Jobs[0].ID != "life" || list.Jobs[1].ID != "life-2" || list.Jobs[0].Status != "RUNNING" {
		t.Fatalf("GET /v1/jobs: %+v", list.Jobs)
	}
	// A checkpoint can complete before the first watermark is out (CI saw
	// it once): wait for both.
	j := ts.waitJob("life", 10*time.Second, "checkpoint and watermark", func(j job) bool {
		return j.LastCheckpoint != nil && j.Stats.RecordsIn > 0 && j.Stats.Watermark != ""
	})
	if !strings.HasPrefix(j.SQL, "INSERT INTO sink SELECT") {
		t.Errorf("GET /v1/jobs/life: %+v", j)
	}
	// After a checkpoint the window aggregation's state has at least its
	// catalog and watermark: its bytes are in operators[] and in the job's.
	agg := slices.IndexFunc(j.Stats.Operators, func(o opStats) bool { return strings.HasSuffix(o.ID, "-window-agg") })
	if agg < 0 || j.Stats.Operators[agg].StateBytes <= 0 || j.Stats.StateBytes < j.Stats.Operators[agg].StateBytes {
		t.Errorf("GET /v1/jobs/life: no state bytes of the window aggregation after a checkpoint: %+v", j.Stats)
	}
	var cps struct {
		Job         string
		Running     bool
		Checkpoints []struct {
			ID    uint64
			Bytes int64
		}
		Failures struct{ Count int64 }
	}
	ts.json("GET", "/v1/jobs/life/checkpoints", "", http.StatusOK, &cps)
	if !cps.Running || len(cps.Checkpoints) == 0 || cps.Checkpoints[0].Bytes == 0 {
		t.Errorf("checkpoints: %+v", cps)
	}
	var sp struct {
		Path         string `json:"path"`
		CheckpointID uint64 `json:"checkpoint_id"`
	}
	ts.json("POST", "/v1/jobs/life/savepoints", "", http.StatusOK, &sp)
	if sp.CheckpointID == 0 || !strings.HasPrefix(sp.Path, filepath.Join(dir, "savepoints", "life-")) {
		t.Errorf("savepoint: %+v", sp)
	}
	if _, err := os.Stat(sp.Path); err != nil {
		t.Errorf("savepoint: %v", err)
	}

	checkMetrics(t, ts, []string{"life", "life-2"})

	// Stop with a savepoint.
	var stop struct {
		Job       job
		Savepoint struct {
			Path         string `json:"path"`
			CheckpointID uint64 `json:"checkpoint_id"`
		}
	}
	ts.json("POST", "/v1/jobs/life/stop", `{"savepoint": true}`, http.StatusOK, &stop)
	if stop.Job.Status != "STOPPED" || stop.Savepoint.Path == "" || stop.Job.Savepoint != stop.Savepoint.Path || stop.Savepoint.CheckpointID <= sp.CheckpointID {
		t.Errorf("stop: %+v", stop)
	}
	var e apiError
	ts.json("POST", "/v1/jobs/life/stop", "", http.StatusConflict, &e)
	ts.json("POST", "/v1/jobs/life/savepoints", "", http.StatusConflict, &e)
	ts.json("POST", "/v1/jobs/life/stop", `{"savepint": true}`, http.StatusBadRequest, &e)
	// The checkpoints of a stopped job come from its store.
	ts.json("GET", "/v1/jobs/life/checkpoints", "", http.StatusOK, &cps)
	if cps.Running || len(cps.Checkpoints) == 0 {
		t.Errorf("checkpoints of a stopped job: %+v", cps)
	}
	// Stop without a savepoint, through SQL.
	res = ts.statements("STOP JOB 'life-2';")
	if res[0].Message != "job life-2 stopped" {
		t.Errorf("STOP JOB: %+v", res[0])
	}
	ts.json("POST", "/v1/statements", "STOP JOB 'life-2';", http.StatusConflict, &e)

	// A restarted server resubmits neither; its next job gets a new name.
	ts.close()
	ts = start(t, dir, server.Options{})
	ts.json("GET", "/v1/jobs", "", http.StatusOK, &list)
	if len(list.Jobs) != 2 || list.Jobs[0].ID != "life" || list.Jobs[0].Status != "STOPPED" || list.Jobs[1].Status != "STOPPED" {
		t.Fatalf("stopped jobs resubmitted, or not listed as stopped: %+v", list.Jobs)
	}
	ts.json("POST", "/v1/jobs/life/stop", "", http.StatusConflict, &e)
	if j := ts.job("life"); j.Status != "STOPPED" || j.SQL == "" {
		t.Errorf("a job of the previous run: %+v", j)
	}
	res = ts.statements("SET 'pipeline.name' = 'life'; INSERT INTO sink " + windowQuery + ";")
	if res[1].Job != "life-3" {
		t.Fatalf("INSERT after restart: %+v (the shared tables should be back, and the name taken)", res[1])
	}
	ts.json("POST", "/v1/jobs/life-3/stop", "", http.StatusOK, nil)
}

// checkMetrics parses the exposition text and checks its families, labels
// and values.
func checkMetrics(t *testing.T, ts *testServer, jobs []string) {
	t.Helper()
	code, body := ts.do("GET", "/metrics", "", "")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	types := map[string]string{}
	helps := map[string]bool{}
	values := map[string]float64{} // name{labels} → value
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(line, "# HELP "):
			f := strings.SplitN(line, " ", 4)
			if len(f) != 4 || f[3] == "" {
				t.Fatalf("bad HELP line %q", line)
			}
			helps[f[2]] = true
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line)
			if len(f) != 4 || !slices.Contains([]string{"counter", "gauge"}, f[3]) || !helps[f[2]] {
				t.Fatalf("bad TYPE line %q (HELP first)", line)
			}
			types[f[2]] = f[3]
		default:
			i := strings.LastIndexByte(line, ' ')
			series, val := line[:i], line[i+1:]
			name := series
			if b := strings.IndexByte(series, '{'); b >= 0 {
				name = series[:b]
				if !strings.HasSuffix(series, "}") {
					t.Fatalf("bad labels in %q", line)
				}
				for _, l := range strings.Split(series[b+1:len(series)-1], ",") {
					k, v, ok := strings.Cut(l, "=")
					if !ok || k == "" || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
						t.Fatalf("bad label %q in %q", l, line)
					}
				}
			}
			if _, ok := types[name]; !ok {
				t.Fatalf("sample %q before its TYPE", line)
			}
			if types[name] == "counter" && !strings.HasSuffix(name, "_total") {
				t.Errorf("counter %s without _total", name)
			}
			v, err := strconv.ParseFloat(val, 64)
			if err != nil {
				t.Fatalf("bad value in %q", line)
			}
			values[series] = v
		}
	}
	for _, name := range []string{"streamsql_job_records_in_total", "streamsql_job_records_out_total", "streamsql_job_late_records_total",
		"streamsql_job_malformed_records_total", "streamsql_job_watermark_seconds", "streamsql_job_state_entries",
		"streamsql_job_state_bytes", "streamsql_operator_state_entries", "streamsql_operator_state_bytes",
		"streamsql_job_last_checkpoint_id", "streamsql_job_checkpoints_retained", "streamsql_job_last_checkpoint_duration_seconds",
		"streamsql_job_last_checkpoint_size_bytes", "streamsql_job_checkpoint_failures_total", "streamsql_source_lag_records"} {
		if types[name] == "" {
			t.Errorf("metric %s missing", name)
		}
	}
	j := jobs[0]
	if v := values[`streamsql_job_records_in_total{job="`+j+`"}`]; v <= 0 {
		t.Errorf("records in of %s: %v", j, v)
	}
	if v := values[`streamsql_job_status{job="`+j+`",status="RUNNING"}`]; v != 1 {
		t.Errorf("status of %s: %v", j, v)
	}
	if v := values[`streamsql_job_last_checkpoint_size_bytes{job="`+j+`"}`]; v <= 0 {
		t.Errorf("checkpoint size of %s: %v", j, v)
	}
	// Event time starts at 2024-01-01.
	if v := values[`streamsql_job_watermark_seconds{job="`+j+`"}`]; v < 1704067200 || v > 1704067200+1e6 {
		t.Errorf("watermark of %s: %v", j, v)
	}
	for _, j := range jobs {
		if _, ok := values[`streamsql_job_state_entries{job="`+j+`"}`]; !ok {
			t.Errorf("no state entries of %s", j)
		}
		if _, ok := values[`streamsql_job_state_bytes{job="`+j+`"}`]; !ok {
			t.Errorf("no state bytes of %s", j)
		}
	}
	// The first job completed a checkpoint: its window aggregation's state
	// bytes are positive.
	found := false
	for series, v := range values {
		if strings.HasPrefix(series, `streamsql_operator_state_bytes{job="`+j+`",operator="`) && strings.HasSuffix(series, `-window-agg"}`) {
			found = true
			if v <= 0 {
				t.Errorf("%s = %v after a checkpoint", series, v)
			}
		}
	}
	if !found {
		t.Errorf("no streamsql_operator_state_bytes of %s's window aggregation", j)
	}
}

// TestRestartRecovery runs a job into a file on server A, shuts A down
// after a checkpoint, and checks that server B on the same state dir
// resumes it from the checkpoint and writes what one uninterrupted run
// writes.
func TestRestartRecovery(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	const rows = 4000
	sql := func(rate, name, path string) string {
		return fmt.Sprintf(evDDL, rate, rows) + fmt.Sprintf(`
			CREATE TABLE out (window_start TIMESTAMP(3), k BIGINT, n BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'json');
			SET 'pipeline.name' = '%s';
			SET 'execution.checkpointing.interval' = '100 ms';
			INSERT INTO out %s;`, path, name, windowQuery)
	}
	a := start(t, dir, server.Options{})
	res := a.statements(sql("2000", "agg", out))
	id := res[len(res)-1].Job
	j := a.waitJob(id, 10*time.Second, "checkpoint with output", func(j job) bool { return j.LastCheckpoint != nil && j.Stats.RecordsOut > 0 })
	if j.Stats.RecordsIn >= rows {
		t.Fatalf("the job finished before the restart: %+v", j)
	}
	a.close()

	b := start(t, dir, server.Options{})
	j = b.job(id)
	if j.Status != "RUNNING" && j.Status != "FINISHED" {
		t.Fatalf("after the restart: %+v", j)
	}
	if j.Stats.RestoredFrom == 0 {
		// Stats come from the running exec job; wait for it to open.
		j = b.waitJob(id, 5*time.Second, "restore", func(j job) bool { return j.Stats.RestoredFrom > 0 })
	}
	j = b.waitJob(id, 20*time.Second, "end", func(j job) bool { return j.Status != "RUNNING" })
	if j.Status != "FINISHED" {
		t.Fatalf("resumed job: %+v", j)
	}

	// The uninterrupted run, straight through the engine.
	ref := filepath.Join(t.TempDir(), "ref")
	eng := engine.New(engine.Options{StateDir: t.TempDir()})
	stmts, err := engine.Parse("ref.sql", sql("unlimited", "ref", ref))
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		r, err := eng.Execute(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		if r.Kind == engine.Query {
			if err := r.Query.Run(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, want := readLines(t, filepath.Join(out, "part-0.json")), readLines(t, filepath.Join(ref, "part-0.json"))
	if len(want) != rows/100*5 {
		t.Fatalf("the reference run wrote %d rows", len(want))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("the resumed job wrote %d rows, the uninterrupted run %d; first difference at %d", len(got), len(want), firstDiff(got, want))
	}
	// The job log says it finished: a third server does not run it again.
	b.close()
	c := start(t, dir, server.Options{})
	var list struct{ Jobs []job }
	c.json("GET", "/v1/jobs", "", http.StatusOK, &list)
	if len(list.Jobs) != 1 || list.Jobs[0].Status != "FINISHED" {
		t.Fatalf("a finished job was resubmitted, or not listed as finished: %+v", list.Jobs)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	slices.Sort(lines)
	return lines
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestHealthAndIndex(t *testing.T) {
	ts := start(t, t.TempDir(), server.Options{})
	var h map[string]string
	ts.json("GET", "/healthz", "", http.StatusOK, &h)
	if h["status"] != "ok" {
		t.Errorf("healthz: %v", h)
	}
	code, body := ts.do("GET", "/", "", "")
	if code != http.StatusOK || !strings.Contains(string(body), "<title>StreamSQL") {
		t.Errorf("index: %d %.100s", code, body)
	}
}
