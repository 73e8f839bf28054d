package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/server"
)

// TestStatementSetJob: a statement set POSTed to /v1/statements, in
// either form, is one job that lists once, checkpoints and stops with a
// savepoint; BEGIN STATEMENT SET without END in a request of the default
// session is refused.
func TestStatementSetJob(t *testing.T) {
	dir := t.TempDir()
	ts := start(t, dir, server.Options{})
	ts.statements(fmt.Sprintf(evDDL, "2000", 1000000) + `
		CREATE TABLE s1 (k BIGINT) WITH ('connector' = 'blackhole');
		CREATE TABLE s2 (window_start TIMESTAMP(3), k BIGINT, n BIGINT) WITH ('connector' = 'blackhole');`)

	res := ts.statements("SET 'pipeline.name' = 'two'; EXECUTE STATEMENT SET BEGIN INSERT INTO s1 SELECT k FROM ev WHERE k > 1; INSERT INTO s2 " + windowQuery + "; END;")
	if r := res[1]; r.Kind != "job" || r.Job != "two" || !strings.HasPrefix(r.Statement, "EXECUTE STATEMENT SET BEGIN INSERT INTO s1") {
		t.Fatalf("EXECUTE STATEMENT SET: %+v", r)
	}
	res = ts.statements("SET 'pipeline.name' = 'mode';\nBEGIN STATEMENT SET;\nINSERT INTO s1 SELECT k FROM ev;\nINSERT INTO s2 " + windowQuery + ";\nEND;")
	if len(res) != 5 || res[1].Message != engine.BeganSetMessage || res[2].Message != engine.AddedToSetMessage || res[3].Message != engine.AddedToSetMessage {
		t.Fatalf("BEGIN STATEMENT SET …: %+v", res)
	}
	if r := res[4]; r.Kind != "job" || r.Job != "mode" {
		t.Fatalf("END: %+v", r)
	}
	var list struct{ Jobs []job }
	ts.json("GET", "/v1/jobs", "", http.StatusOK, &list)
	if len(list.Jobs) != 2 || list.Jobs[0].ID != "two" || list.Jobs[1].ID != "mode" {
		t.Fatalf("GET /v1/jobs: %+v", list.Jobs)
	}
	for _, id := range []string{"two", "mode"} {
		j := ts.waitJob(id, 20*time.Second, "checkpoint", func(j job) bool { return j.LastCheckpoint != nil && j.Stats.RecordsOut > 0 })
		if !strings.HasPrefix(j.SQL, "EXECUTE STATEMENT SET BEGIN INSERT INTO s1 SELECT k FROM ev") || j.Status != "RUNNING" {
			t.Errorf("job %s: %+v", id, j)
		}
		// The checkpoint names the tasks of the set's graph that have
		// inputs (each INSERT's branch) with their barrier alignment.
		if tasks := j.LastCheckpoint.Tasks; len(tasks) < 2 {
			t.Errorf("job %s: last checkpoint's tasks: %+v", id, tasks)
		} else {
			for _, tk := range tasks {
				if tk.Task == "" || tk.AlignmentMs < 0 || tk.AlignmentMs > j.LastCheckpoint.AlignmentMs {
					t.Errorf("job %s: task alignment %+v (checkpoint's %v ms)", id, tk, j.LastCheckpoint.AlignmentMs)
				}
			}
		}
		var stop struct {
			Job       job
			Savepoint struct {
				Path string `json:"path"`
			}
		}
		ts.json("POST", "/v1/jobs/"+id+"/stop", `{"savepoint": true}`, http.StatusOK, &stop)
		if stop.Job.Status != "STOPPED" || stop.Savepoint.Path == "" {
			t.Errorf("stop %s: %+v", id, stop)
		}
	}

	var e apiError
	ts.json("POST", "/v1/statements", "BEGIN STATEMENT SET;\nINSERT INTO s1 SELECT k FROM ev;", http.StatusBadRequest, &e)
	if !strings.Contains(e.Error, "BEGIN STATEMENT SET has no END") || e.Line != 1 || len(e.Results) != 2 {
		t.Errorf("an unclosed statement set: %+v", e)
	}
	ts.json("POST", "/v1/statements", "BEGIN STATEMENT SET;\nSHOW TABLES;", http.StatusBadRequest, &e)
	if !strings.Contains(e.Error, "only INSERT statements may appear in a statement set, not SHOW TABLES") || e.Statement != 2 {
		t.Errorf("SHOW in a statement set: %+v", e)
	}
	// Neither left the default session in the set mode.
	if res := ts.statements("SHOW TABLES;"); res[0].Kind != "table" {
		t.Errorf("after the refused requests: %+v", res)
	}
	ts.json("GET", "/v1/jobs", "", http.StatusOK, &list)
	if len(list.Jobs) != 2 {
		t.Errorf("the refused requests started jobs: %+v", list.Jobs)
	}
}
