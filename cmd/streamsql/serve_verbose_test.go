package main

import (
	"bufio"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeVerbose: `serve -v` logs each job submission and its
// checkpoints on stderr.
func TestServeVerbose(t *testing.T) {
	cmd := exec.Command(binary(t), "serve", "-v", "--addr", "127.0.0.1:0", "--state-dir", t.TempDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var url, token string
	expect := func(want string) string {
		t.Helper()
		deadline := time.After(15 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("server exited before logging %q", want)
				}
				if _, v, found := strings.Cut(l, "serving on "); found && url == "" {
					url = strings.Fields(v)[0]
				}
				if _, v, found := strings.Cut(l, "API token: "); found {
					token = strings.Fields(v)[0]
				}
				if strings.Contains(l, want) {
					return l
				}
			case <-deadline:
				t.Fatalf("no %q logged", want)
			}
		}
	}
	expect("web page: ")
	req, err := http.NewRequest("POST", url+"/v1/statements", strings.NewReader(`SET 'execution.checkpointing.interval' = '100 ms';
SET 'pipeline.name' = 'loud';
CREATE TABLE ev (k BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '100');
CREATE TABLE out (k BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO out SELECT k FROM ev;`))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	if l := expect(`msg="server: job submitted" job=loud`); !strings.Contains(l, "INSERT INTO out") {
		t.Errorf("the submission log lacks the statement: %s", l)
	}
	expect(`msg="checkpoint complete" job=loud`)
}
