package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/server"
)

type sessionInfo struct {
	Session  string            `json:"session"`
	Settings map[string]string `json:"settings"`
	Tables   []string          `json:"tables"`
}

func (ts *testServer) openSession() sessionInfo {
	ts.t.Helper()
	var s sessionInfo
	ts.json("POST", "/v1/sessions", "", http.StatusOK, &s)
	if len(s.Session) < 32 {
		ts.t.Fatalf("session handle %q", s.Session)
	}
	return s
}

func (ts *testServer) inSession(id, sql string) []result {
	ts.t.Helper()
	var out struct{ Results []result }
	ts.json("POST", "/v1/sessions/"+id+"/statements", sql, http.StatusOK, &out)
	return out.Results
}

// TestSessions: each session has its own settings and catalog (a copy of
// the shared one when it opens); SET in one never names another's jobs,
// nor does a bare request's SET outlive it; closing a session leaves its
// jobs running.
func TestSessions(t *testing.T) {
	ts := start(t, t.TempDir(), server.Options{})
	ts.statements(fmt.Sprintf(evDDL, "1000", 1000000) + `
		CREATE TABLE sink (window_start TIMESTAMP(3), k BIGINT, n BIGINT) WITH ('connector' = 'blackhole');`)
	a, b := ts.openSession(), ts.openSession()
	if a.Session == b.Session || !slices.Equal(a.Tables, []string{"ev", "sink"}) {
		t.Fatalf("sessions %+v, %+v: want two handles, each with the shared tables", a, b)
	}
	ts.inSession(a.Session, `SET 'pipeline.name' = 'alpha';
		CREATE TABLE mine (window_start TIMESTAMP(3), k BIGINT, n BIGINT) WITH ('connector' = 'blackhole');`)
	ts.inSession(b.Session, `SET 'pipeline.name' = 'beta';`)
	// A bare request's SET lasts that request only.
	ts.statements(`SET 'pipeline.name' = 'hijack';`)

	ra := ts.inSession(a.Session, "INSERT INTO mine "+windowQuery)
	rb := ts.inSession(b.Session, "INSERT INTO sink "+windowQuery)
	rd := ts.statements("INSERT INTO sink " + windowQuery)
	if ra[0].Job != "alpha" || rb[0].Job != "beta" || rd[0].Job != "query" {
		t.Fatalf("jobs %q, %q, %q: want alpha, beta and the default name query", ra[0].Job, rb[0].Job, rd[0].Job)
	}
	// The private table stays in its session.
	var e apiError
	ts.json("POST", "/v1/sessions/"+b.Session+"/statements", "INSERT INTO mine "+windowQuery, http.StatusBadRequest, &e)
	if !strings.Contains(e.Error, "mine") {
		t.Errorf("another session used a private table: %+v", e)
	}
	if tables := ts.statements("SHOW TABLES")[0].Rows; len(tables) != 2 {
		t.Errorf("the shared catalog has %v", tables)
	}
	var info sessionInfo
	ts.json("GET", "/v1/sessions/"+a.Session, "", http.StatusOK, &info)
	if info.Settings["pipeline.name"] != "alpha" || !slices.Contains(info.Tables, "mine") {
		t.Errorf("GET session: %+v", info)
	}
	// Queries in a session see its catalog.
	ts.inSession(a.Session, `CREATE TABLE few (k BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '5')`)
	code, body := ts.do("GET", "/v1/query?session="+a.Session+"&sql="+urlEscape("SELECT k FROM few"), "", "")
	if code != http.StatusOK || strings.Count(string(body), `"k":`) != 5 {
		t.Errorf("query in the session: %d %s", code, body)
	}
	code, body = ts.do("GET", "/v1/query?sql="+urlEscape("SELECT k FROM few"), "", "")
	if code != http.StatusBadRequest || !strings.Contains(string(body), "few") {
		t.Errorf("query of a session's table outside it: %d %s", code, body)
	}
	code, body = ts.do("GET", "/v1/query?session=nope&sql="+urlEscape("SELECT k FROM ev"), "", "")
	if code != http.StatusNotFound {
		t.Errorf("query in an unknown session: %d %s", code, body)
	}

	ts.json("DELETE", "/v1/sessions/"+a.Session, "", http.StatusOK, nil)
	ts.json("POST", "/v1/sessions/"+a.Session+"/statements", "SHOW TABLES", http.StatusNotFound, &e)
	ts.json("DELETE", "/v1/sessions/"+a.Session, "", http.StatusNotFound, nil)
	if j := ts.job("alpha"); j.Status != "RUNNING" {
		t.Errorf("the closed session's job: %+v", j)
	}
	for _, id := range []string{"alpha", "beta", "query"} {
		ts.json("POST", "/v1/jobs/"+id+"/stop", "", http.StatusOK, nil)
	}
}

// TestSessionJobResumes: a job submitted in a session, over a table only
// that session knows, resumes after a restart from its checkpoint; the
// session itself is gone.
func TestSessionJobResumes(t *testing.T) {
	dir := t.TempDir()
	ts := start(t, dir, server.Options{})
	s := ts.openSession()
	ts.inSession(s.Session, fmt.Sprintf(evDDL, "2000", 1000000)+`
		CREATE TABLE out (window_start TIMESTAMP(3), k BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
		SET 'pipeline.name' = 'private';
		SET 'execution.checkpointing.interval' = '100 ms';
		INSERT INTO out `+windowQuery)
	ts.waitJob("private", 10*time.Second, "checkpoint", func(j job) bool { return j.LastCheckpoint != nil })
	ts.close()

	ts = start(t, dir, server.Options{})
	ts.json("POST", "/v1/sessions/"+s.Session+"/statements", "SHOW TABLES", http.StatusNotFound, nil)
	if tables := ts.statements("SHOW TABLES")[0].Rows; len(tables) != 0 {
		t.Errorf("the session's tables leaked into the shared catalog: %v", tables)
	}
	j := ts.waitJob("private", 10*time.Second, "resume", func(j job) bool { return j.Status == "RUNNING" && j.Stats.RestoredFrom > 0 })
	if j.Error != "" {
		t.Errorf("resumed job: %+v", j)
	}
	ts.json("POST", "/v1/jobs/private/stop", "", http.StatusOK, nil)
}

// TestSessionLimits: sessions unused for the idle timeout close, and
// there are at most MaxSessions open.
func TestSessionLimits(t *testing.T) {
	ts := start(t, t.TempDir(), server.Options{SessionIdleTimeout: 300 * time.Millisecond, MaxSessions: 2})
	a := ts.openSession()
	ts.openSession()
	var e apiError
	ts.json("POST", "/v1/sessions", "", http.StatusServiceUnavailable, &e)
	if !strings.Contains(e.Error, "too many open sessions") {
		t.Errorf("third session: %+v", e)
	}
	// Opening needs room: it comes once the two sessions expire.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := ts.do("POST", "/v1/sessions", "", "")
		if code == http.StatusOK {
			break
		}
		if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("idle sessions were never closed: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.json("GET", "/v1/sessions/"+a.Session, "", http.StatusNotFound, &e)
	if !strings.Contains(e.Error, "unused") {
		t.Errorf("expired session: %+v", e)
	}
}
