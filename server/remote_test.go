package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/server"
)

// TestRemoteCheckpointsAndSecrets: jobs of a session with a checkpoint dir
// (a local directory) report their uploads in GET /v1/jobs/{id} and
// /metrics; the S3 credentials SET in the session and in the default one
// appear in no response (statements, sessions, jobs, savepoints, metrics)
// nor in the log at debug level.
func TestRemoteCheckpointsAndSecrets(t *testing.T) {
	const secret, access = "wJalrXUtnFEMIK7MDENGbPxRfiCYsecret", "AKIAQQQQEXAMPLEACCESS"
	var logs syncBuffer
	dir := t.TempDir()
	ts := startEngine(t, engine.Options{StateDir: filepath.Join(dir, "state"),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, server.Options{})
	var shown bytes.Buffer
	record := func(method, path, body string) []byte {
		code, b := ts.do(method, path, "", body)
		fmt.Fprintf(&shown, "%s %s: %d %s\n", method, path, code, b)
		return b
	}
	sets := fmt.Sprintf(`SET 's3.access-key' = '%s'; SET 's3.secret-key' = '%s';
SET 'state.checkpoints.dir' = '%s';`, access, secret, filepath.Join(dir, "remote"))
	record("POST", "/v1/statements", sets+" SET;")
	var sess sessionInfo
	ts.json("POST", "/v1/sessions", "", http.StatusOK, &sess)
	record("POST", "/v1/sessions/"+sess.Session+"/statements", sets)
	record("POST", "/v1/sessions/"+sess.Session+"/statements", fmt.Sprintf(evDDL, "200", 100000)+
		"CREATE TABLE sink (k BIGINT, n BIGINT) WITH ('connector' = 'blackhole');")
	b := record("POST", "/v1/sessions/"+sess.Session+"/statements", "INSERT INTO sink SELECT k, COUNT(*) FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k")
	var out struct{ Results []result }
	if err := json.Unmarshal(b, &out); err != nil || len(out.Results) != 1 || out.Results[0].Job == "" {
		t.Fatalf("INSERT: %v %s", err, b)
	}
	id := out.Results[0].Job
	var last map[string]any
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var j struct {
			LastCheckpoint map[string]any `json:"last_checkpoint"`
		}
		ts.json("GET", "/v1/jobs/"+id, "", http.StatusOK, &j)
		if up, _ := j.LastCheckpoint["uploaded"].(float64); up > 0 {
			if d, _ := j.LastCheckpoint["upload_duration_ms"].(float64); d > 0 {
				last = j.LastCheckpoint
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s reported no upload in 20 s: %v", id, j.LastCheckpoint)
		}
	}
	record("GET", "/v1/jobs/"+id, "")
	record("GET", "/v1/jobs", "")
	record("GET", "/v1/sessions/"+sess.Session, "")
	record("POST", "/v1/jobs/"+id+"/savepoints", "")
	metrics := record("GET", "/metrics", "")
	for _, name := range []string{"streamsql_checkpoint_uploaded_bytes", "streamsql_checkpoint_upload_seconds"} {
		re := regexp.MustCompile(`(?m)^` + name + `\{job="` + regexp.QuoteMeta(id) + `"\} ([0-9.e+-]+)$`)
		if m := re.FindSubmatch(metrics); m == nil || string(m[1]) == "0" {
			t.Errorf("no non-zero %s for job %s in /metrics:\n%s", name, id, metrics)
		}
	}
	record("POST", "/v1/jobs/"+id+"/stop", `{"savepoint": true}`)
	text := shown.String() + logs.String()
	for _, s := range []string{secret, access} {
		if strings.Contains(text, s) {
			t.Fatalf("a credential is shown:\n%s", text)
		}
	}
	for _, want := range []string{`"s3.secret-key": "******"`, `set s3.secret-key = ******`, `SET 's3.secret-key' = '******'`} {
		if !strings.Contains(shown.String(), want) {
			t.Errorf("no %s in the responses:\n%s", want, shown.String())
		}
	}
	if last["uploaded"].(float64) < 100 {
		t.Errorf("last checkpoint uploaded %v bytes", last["uploaded"])
	}
}
