package server_test

import (
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/server"
)

type savepoint struct {
	Path         string `json:"path"`
	CheckpointID uint64 `json:"checkpoint_id"`
}

// TestSavepointsNamedAndListed: a savepoint takes the requested name, a
// name that is not one plain path element is refused, the job's
// savepoints are listed; a stopped job keeps its final stats, last
// checkpoint and savepoint across a restart.
func TestSavepointsNamedAndListed(t *testing.T) {
	dir := t.TempDir()
	ts := start(t, dir, server.Options{})
	ts.statements(fmt.Sprintf(evDDL, "2000", 1000000) + `
		CREATE TABLE sink (window_start TIMESTAMP(3), k BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
		SET 'pipeline.name' = 'sp';
		INSERT INTO sink ` + windowQuery)
	ts.waitJob("sp", 10*time.Second, "checkpoint", func(j job) bool { return j.LastCheckpoint != nil })

	var sp savepoint
	ts.json("POST", "/v1/jobs/sp/savepoints", `{"name": "mysp"}`, http.StatusOK, &sp)
	if filepath.Base(sp.Path) != "sp-mysp" || !strings.HasPrefix(sp.Path, dir) || sp.CheckpointID == 0 {
		t.Fatalf("named savepoint: %+v", sp)
	}
	var e apiError
	ts.json("POST", "/v1/jobs/sp/savepoints", `{"name": "mysp"}`, http.StatusConflict, &e)
	for _, bad := range []string{"../up", "a/b", ".hidden", `..`, "sp\\x", strings.Repeat("n", 200), "white space"} {
		ts.json("POST", "/v1/jobs/sp/savepoints", fmt.Sprintf(`{"name": %q}`, bad), http.StatusBadRequest, &e)
		if !strings.Contains(e.Error, "savepoint name") {
			t.Errorf("name %q: %+v", bad, e)
		}
	}
	ts.json("POST", "/v1/jobs/sp/savepoints", `{"nmae": "x"}`, http.StatusBadRequest, &e)
	ts.json("POST", "/v1/jobs/sp/savepoints", "", http.StatusOK, nil) // default name: the time

	var stop struct {
		Savepoint savepoint `json:"savepoint"`
	}
	ts.json("POST", "/v1/jobs/sp/stop", `{"name": "final"}`, http.StatusOK, &stop)
	if filepath.Base(stop.Savepoint.Path) != "sp-final" {
		t.Fatalf("stop with a named savepoint: %+v", stop)
	}
	before := ts.job("sp")

	var list struct {
		Job        string      `json:"job"`
		Savepoints []savepoint `json:"savepoints"`
	}
	ts.json("GET", "/v1/jobs/sp/savepoints", "", http.StatusOK, &list)
	if len(list.Savepoints) != 3 || filepath.Base(list.Savepoints[0].Path) != "sp-mysp" || filepath.Base(list.Savepoints[2].Path) != "sp-final" {
		t.Fatalf("GET savepoints: %+v", list)
	}
	ts.json("GET", "/v1/jobs/nope/savepoints", "", http.StatusNotFound, &e)

	ts.close()
	ts = start(t, dir, server.Options{})
	after := ts.job("sp")
	if after.Status != "STOPPED" || after.Stats.RecordsIn == 0 || after.Stats.RecordsIn != before.Stats.RecordsIn ||
		after.Stats.RecordsOut != before.Stats.RecordsOut || after.LastCheckpoint == nil || after.LastCheckpoint.ID != before.LastCheckpoint.ID ||
		after.Savepoint != stop.Savepoint.Path || after.Stats.Watermark != before.Stats.Watermark {
		t.Errorf("after a restart the stopped job shows\n%+v\nbefore it\n%+v", after, before)
	}
	ts.json("GET", "/v1/jobs/sp/savepoints", "", http.StatusOK, &list)
	if len(list.Savepoints) != 3 {
		t.Errorf("savepoints after a restart: %+v", list)
	}
}

// TestSavepointTraversal: a job named with "../" (SET 'pipeline.name')
// gets no savepoint outside the state directory through the API.
func TestSavepointTraversal(t *testing.T) {
	base := t.TempDir()
	state := filepath.Join(base, "a", "b", "c", "state")
	ts := start(t, state, server.Options{})
	var e apiError
	ts.json("POST", "/v1/statements", fmt.Sprintf(evDDL, "2000", 1000000)+`
		CREATE TABLE sink (window_start TIMESTAMP(3), k BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
		SET 'pipeline.name' = '../../../X';
		INSERT INTO sink `+windowQuery, http.StatusBadRequest, &e)
	if e.Statement != 3 || !strings.Contains(e.Error, "pipeline.name") {
		t.Fatalf("SET 'pipeline.name' = '../../../X': %+v", e)
	}
	id := "..%2F..%2F..%2FX"
	for _, path := range []string{"/v1/jobs/" + id + "/savepoints", "/v1/jobs/" + id + "/stop"} {
		if code, b := ts.do("POST", path, "", `{"name": "n"}`); code != http.StatusNotFound {
			t.Errorf("POST %s: %d %s", path, code, b)
		}
	}
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == "savepoint.json" && !strings.HasPrefix(p, state+string(filepath.Separator)) {
			t.Errorf("a savepoint outside the state directory: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
