package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// served is a running `streamsql serve`.
type served struct {
	cmd   *exec.Cmd
	url   string // base URL
	token string // the API token it printed, or ""
	page  string // the web page URL it printed
}

// startServer runs `streamsql serve` on a free loopback port with args
// and reads where it serves and its token from its stderr.
func startServer(t *testing.T, bin, stateDir string, args ...string) *served {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--state-dir", stateDir}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &served{cmd: cmd}
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		line := lines.Text()
		if _, url, ok := strings.Cut(line, "serving on "); ok {
			s.url = strings.Fields(url)[0]
		}
		if _, tok, ok := strings.Cut(line, "API token: "); ok {
			s.token = strings.Fields(tok)[0]
		}
		if _, page, ok := strings.Cut(line, "web page: "); ok {
			s.page = strings.Fields(page)[0]
			go io.Copy(io.Discard, stderr)
			return s
		}
	}
	cmd.Process.Kill()
	t.Fatal("the server did not say where it serves")
	return nil
}

// request sends a request with the server's token.
func (s *served) request(t *testing.T, method, path, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// getJSON GETs path with the token and decodes the body into v.
func (s *served) getJSON(t *testing.T, path string, v any) int {
	t.Helper()
	resp := s.request(t, "GET", path, "")
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return resp.StatusCode
}

func (s *served) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("server exit after SIGTERM: %v", err)
	}
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
	srv := startServer(t, bin, state)
	if code := srv.getJSON(t, "/healthz", nil); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	sql := `SET 'execution.checkpointing.interval' = '100 ms';
SET 'pipeline.name' = 'served';
CREATE TABLE ev (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
  WITH ('connector' = 'datagen', 'rows-per-second' = '5000', 'fields.k.min' = '0', 'fields.k.max' = '9');
CREATE TABLE out (k BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO out SELECT k, COUNT(*) FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k;`
	resp := srv.request(t, "POST", "/v1/statements", sql)
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
		return srv.getJSON(t, "/v1/jobs/served", &job) == 200 && job.Status == "RUNNING" && job.Stats.RecordsIn > 1000
	})
	var cps struct {
		Checkpoints []json.RawMessage `json:"checkpoints"`
	}
	waitFor("a checkpoint", func() bool {
		return srv.getJSON(t, "/v1/jobs/served/checkpoints", &cps) == 200 && len(cps.Checkpoints) > 0
	})
	stopped := time.Now()
	srv.stop(t)
	t.Logf("server stopped in %v", time.Since(stopped))

	srv = startServer(t, bin, state)
	defer srv.stop(t)
	waitFor("the job to resume from a checkpoint", func() bool {
		return srv.getJSON(t, "/v1/jobs/served", &job) == 200 && job.Status == "RUNNING" && job.Stats.RestoredFrom > 0
	})
}

// TestServeToken: without --auth-token the server makes up a token and
// prints it with a web page URL carrying it; the API refuses requests
// without it, and cross-origin ones even with it. --no-auth is explicit.
func TestServeToken(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bin := binary(t)
	srv := startServer(t, bin, t.TempDir())
	defer srv.stop(t)
	if len(srv.token) < 32 || srv.page != srv.url+"/?token="+srv.token {
		t.Fatalf("token %q, page %q: want a random token and the page URL with it", srv.token, srv.page)
	}
	status := func(req *http.Request) int {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, auth := range []string{"", "Bearer wrong", "Bearer " + srv.token[:len(srv.token)-1]} {
		req, _ := http.NewRequest("POST", srv.url+"/v1/statements", strings.NewReader("SHOW TABLES"))
		req.Header.Set("Authorization", auth)
		if code := status(req); code != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %d, want 401", auth, code)
		}
	}
	if code := srv.getJSON(t, "/v1/jobs", nil); code != 200 {
		t.Errorf("with the printed token: %d", code)
	}
	page, _ := http.NewRequest("GET", srv.page, nil)
	if code := status(page); code != 200 {
		t.Errorf("GET %s: %d", srv.page, code)
	}
	evil, _ := http.NewRequest("POST", srv.url+"/v1/statements", strings.NewReader("SHOW TABLES"))
	evil.Header.Set("Content-Type", "text/plain")
	evil.Header.Set("Origin", "http://evil.example")
	evil.Header.Set("Authorization", "Bearer "+srv.token)
	if code := status(evil); code != http.StatusForbidden {
		t.Errorf("cross-origin POST: %d, want 403", code)
	}
	rebound, _ := http.NewRequest("GET", srv.url+"/v1/jobs", nil)
	rebound.Host = "evil.example"
	rebound.Header.Set("Authorization", "Bearer "+srv.token)
	if code := status(rebound); code != http.StatusForbidden {
		t.Errorf("Host evil.example: %d, want 403", code)
	}

	open := startServer(t, bin, t.TempDir(), "--no-auth")
	defer open.stop(t)
	if open.token != "" || open.getJSON(t, "/v1/jobs", nil) != 200 {
		t.Errorf("--no-auth: token %q", open.token)
	}
	cmd := exec.Command(bin, "serve", "--no-auth", "--auth-token", "x", "--addr", "127.0.0.1:0")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "contradict") {
		t.Errorf("--no-auth with --auth-token: %v %s", err, out)
	}
}

// TestServeDataDir: the served engine reads and writes files only under
// --data-dir and --allow-path.
func TestServeDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bin := binary(t)
	data, more := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(more, "in.json"), []byte(`{"a": 7}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, bin, t.TempDir(), "--data-dir", data, "--allow-path", more)
	defer srv.stop(t)
	ddl := `CREATE TABLE passwd (line STRING) WITH ('connector' = 'filesystem', 'path' = '/etc/passwd', 'format' = 'csv');
CREATE TABLE more (a INT) WITH ('connector' = 'filesystem', 'path' = '` + more + `/in.json', 'format' = 'json');`
	resp := srv.request(t, "POST", "/v1/statements", ddl)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("DDL: %d", resp.StatusCode)
	}
	for sql, want := range map[string]string{
		"SELECT line FROM passwd": `table passwd: option \"path\": \"/etc/passwd\" is outside the server's data directories`,
		"SELECT a FROM more":      `{"a":7}`,
	} {
		resp := srv.request(t, "GET", "/v1/query?sql="+url.QueryEscape(sql), "")
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %s, want %s", sql, resp.StatusCode, b, want)
		}
	}
}
