package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startServer runs `streamsql serve` on a free loopback port and returns
// its base URL.
func startServer(t *testing.T, bin, stateDir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--state-dir", stateDir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		if _, url, ok := strings.Cut(lines.Text(), "serving on "); ok {
			go io.Copy(io.Discard, stderr)
			return cmd, strings.Fields(url)[0]
		}
	}
	cmd.Process.Kill()
	t.Fatal("the server did not say where it serves")
	return nil, ""
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return resp.StatusCode
}

// TestServe runs the real binary's REST server: a submitted job runs,
// survives a SIGTERM of the server, and resumes from its checkpoint when
// the server starts again on the same state directory.
func TestServe(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bin := binary(t)
	state := t.TempDir()
	cmd, url := startServer(t, bin, state)
	if code := getJSON(t, url+"/healthz", nil); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	sql := `SET 'execution.checkpointing.interval' = '100 ms';
SET 'pipeline.name' = 'served';
CREATE TABLE ev (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
  WITH ('connector' = 'datagen', 'rows-per-second' = '5000', 'fields.k.min' = '0', 'fields.k.max' = '9');
CREATE TABLE out (k BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO out SELECT k, COUNT(*) FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k;`
	resp, err := http.Post(url+"/v1/statements", "text/plain", strings.NewReader(sql))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"served"`) {
		t.Fatalf("POST /v1/statements: %d %s", resp.StatusCode, body)
	}
	var job struct {
		Status string `json:"status"`
		Stats  struct {
			RecordsIn    int64  `json:"records_in"`
			RestoredFrom uint64 `json:"restored_from"`
		} `json:"stats"`
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("the job to run and read rows", func() bool {
		return getJSON(t, url+"/v1/jobs/served", &job) == 200 && job.Status == "RUNNING" && job.Stats.RecordsIn > 1000
	})
	var cps struct {
		Checkpoints []json.RawMessage `json:"checkpoints"`
	}
	waitFor("a checkpoint", func() bool {
		return getJSON(t, url+"/v1/jobs/served/checkpoints", &cps) == 200 && len(cps.Checkpoints) > 0
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("server exit after SIGTERM: %v", err)
	}
	t.Logf("server stopped in %v", time.Since(stopped))

	cmd, url = startServer(t, bin, state)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	waitFor("the job to resume from a checkpoint", func() bool {
		return getJSON(t, url+"/v1/jobs/served", &job) == 200 && job.Status == "RUNNING" && job.Stats.RestoredFrom > 0
	})
}
