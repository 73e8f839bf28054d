// Package s3test starts a real S3-compatible server for tests: SeaweedFS's
// `weed mini` (master, volume, filer and S3 gateway in one process) on free
// loopback ports, with its data in the test's temporary directory, one
// bucket and one set of credentials. It is not a fake: requests go through
// the S3 wire protocol to a real object store.
//
// The binary is found through $STREAMSQL_WEED, then `weed` on PATH, then
// $HOME/.cache/streamsql/weed/<WeedVersion>/weed, where .ci/build-weed.sh
// builds it. Without it Start skips the test, saying how to build it,
// unless $STREAMSQL_REQUIRE_S3=1 (CI sets it), where it fails the test.
//
// Faults: Stop and Restart (same ports, same data) make an outage and a
// recovery; Pause and Resume (SIGSTOP/SIGCONT) make the server unreachable
// while connections still open (requests hang until their timeout).
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/streamsql/streamsql/checkpoint/objstore"
)

// WeedVersion is the module version of github.com/seaweedfs/seaweedfs that
// .ci/build-weed.sh builds, and the directory of the cached binary.
const WeedVersion = "v0.0.0-20261109003541-7506e5f91cd6"

// startTimeout bounds the wait for the server to answer S3 requests.
const startTimeout = 60 * time.Second

// Server is a running `weed mini`. Its methods are safe for concurrent use.
type Server struct {
	// Endpoint is "http://127.0.0.1:PORT", the S3 gateway.
	Endpoint string
	// Bucket exists when Start returns; it is empty.
	Bucket string
	// AccessKey and SecretKey are random per server, so a test can grep
	// output for them.
	AccessKey, SecretKey string

	bin  string
	dir  string
	args []string
	logf string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Binary returns the path of the weed binary, or "" and a hint.
func Binary() (string, string) {
	if p := os.Getenv("STREAMSQL_WEED"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p, ""
		}
		return "", fmt.Sprintf("$STREAMSQL_WEED=%s does not exist", p)
	}
	if p, err := exec.LookPath("weed"); err == nil {
		return p, ""
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "streamsql", "weed", WeedVersion, "weed")
		if _, err := os.Stat(p); err == nil {
			return p, ""
		}
	}
	return "", "no SeaweedFS weed binary (S3 test server): run .ci/build-weed.sh to build it into " +
		"$HOME/.cache/streamsql/weed/" + WeedVersion + "/weed (~6 min), or set $STREAMSQL_WEED"
}

// Start starts a server for t, stopped by t.Cleanup. See the package doc
// for how the binary is found and when a missing one skips.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, hint := Binary()
	if bin == "" {
		if os.Getenv("STREAMSQL_REQUIRE_S3") == "1" {
			t.Fatalf("s3test: %s", hint)
		}
		t.Skipf("s3test: %s", hint)
	}
	dir := t.TempDir()
	s := &Server{
		Bucket:    "ckpt",
		AccessKey: "AK" + randHex(8),
		SecretKey: "SK" + randHex(16),
		bin:       bin,
		dir:       dir,
		logf:      filepath.Join(dir, "weed.log"),
	}
	cfg, err := json.Marshal(map[string]any{"identities": []any{map[string]any{
		"name":        "test",
		"credentials": []any{map[string]string{"accessKey": s.AccessKey, "secretKey": s.SecretKey}},
		"actions":     []string{"Admin", "Read", "Write", "List", "Tagging"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	s3json := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(s3json, cfg, 0o600); err != nil {
		t.Fatalf("s3test: %v", err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatalf("s3test: %v", err)
	}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("s3test: weed log tail:\n%s", s.logTail(40))
		}
	})
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(10)
		if err != nil {
			t.Fatalf("s3test: %v", err)
		}
		s.setArgs(ports, data, s3json)
		err = s.start()
		if err == nil {
			return s
		}
		if attempt < 3 && strings.Contains(s.logTail(200), "address already in use") {
			t.Logf("s3test: a port was taken, trying others: %v", err)
			if err := os.RemoveAll(data); err != nil {
				t.Fatalf("s3test: %v", err)
			}
			if err := os.Mkdir(data, 0o755); err != nil {
				t.Fatalf("s3test: %v", err)
			}
			continue
		}
		t.Fatalf("s3test: %v", err)
	}
}

func (s *Server) setArgs(ports []int, data, s3json string) {
	p := func(i int) string { return strconv.Itoa(ports[i]) }
	s.Endpoint = "http://127.0.0.1:" + p(6)
	// Every listener gets a port of ours (or is off), so servers of tests
	// running in parallel never collide.
	s.args = []string{"mini",
		"-dir=" + data, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port=" + p(0), "-master.port.grpc=" + p(1),
		"-volume.port=" + p(2), "-volume.port.grpc=" + p(3),
		"-filer.port=" + p(4), "-filer.port.grpc=" + p(5),
		"-s3.port=" + p(6), "-s3.port.grpc=" + p(7),
		"-admin.port=" + p(8), "-admin.port.grpc=" + p(9), "-admin.port.legacy=0", "-admin.ui=false",
		"-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false",
		"-s3.config=" + s3json, "-bucket=" + s.Bucket, "-s3.autoCreateBucket=false", "-master.telemetry=false",
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// freePorts picks n distinct loopback ports that are free now, below
// Linux's ephemeral range (32768+), where an outbound connection could take
// one before weed binds it. Servers of parallel tests pick at random; a
// collision makes weed fail to bind, and Start tries other ports.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			return nil, errors.New("no free loopback ports in 20000-32000")
		}
		port := 20000 + mrand.IntN(12000)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		ls = append(ls, l)
		ports = append(ports, port)
	}
	return ports, nil
}

// readyKey is written and deleted to check the server takes writes.
const readyKey = ".s3test-ready"

// start launches weed and waits until the bucket takes a write.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("already running")
	}
	logFile, err := os.OpenFile(s.logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	if err := s.waitReady(done); err != nil {
		s.killLocked()
		return fmt.Errorf("weed mini did not become ready: %w\n%s", err, s.logTail(30))
	}
	return nil
}

func (s *Server) waitReady(done chan struct{}) error {
	cfg := s.Config()
	cfg.Timeout = 2 * time.Second
	b, err := objstore.Open(context.Background(), s.URL(""), cfg)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(startTimeout)
	for {
		// A List answers before the volume server has registered; only a
		// write proves the whole path (gateway, filer, master, volume) works.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = b.Put(ctx, readyKey, strings.NewReader("ok"), 2)
		if err == nil {
			err = b.Delete(ctx, readyKey)
		}
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return errors.New("weed exited")
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", startTimeout, err)
		}
	}
}

func (s *Server) signal(sig syscall.Signal) {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, sig)
	}
}

func (s *Server) killLocked() {
	if s.cmd == nil {
		return
	}
	s.signal(syscall.SIGKILL)
	<-s.done
	s.cmd = nil
}

// stop ends the process group: SIGCONT (if paused), SIGTERM, and SIGKILL
// after 5 s.
func (s *Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.signal(syscall.SIGCONT)
	s.signal(syscall.SIGTERM)
	select {
	case <-s.done:
		s.cmd = nil
	case <-time.After(5 * time.Second):
		s.killLocked()
	}
}

// Stop stops the server (an outage); Restart brings it back.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.stop()
}

// Restart stops the server if it runs and starts it again on the same
// ports with the same data, returning once it takes writes. That takes
// ~15 s: a restarted SeaweedFS master refuses writes ("warming up") for
// three 5-second pulses while volume servers report, reads answer sooner.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	start := time.Now()
	s.stop()
	stopped := time.Since(start)
	if err := s.start(); err != nil {
		t.Fatalf("s3test: restart: %v", err)
	}
	t.Logf("s3test: restarted in %s (stop %s)", time.Since(start).Round(time.Millisecond), stopped.Round(time.Millisecond))
}

// Pause freezes the server (SIGSTOP): connections are still accepted by
// the kernel but nothing answers, as with a hung server or a partition.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		t.Fatal("s3test: pause: not running")
	}
	s.signal(syscall.SIGSTOP)
}

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		t.Fatal("s3test: resume: not running")
	}
	s.signal(syscall.SIGCONT)
}

// Config is how to reach the server: its endpoint, path-style, region
// us-east-1 and its credentials.
func (s *Server) Config() objstore.Config {
	return objstore.Config{Endpoint: s.Endpoint, Region: "us-east-1", PathStyle: true,
		AccessKey: s.AccessKey, SecretKey: s.SecretKey}
}

// URL is the location "s3://bucket/prefix" ("s3://bucket" for "").
func (s *Server) URL(prefix string) string {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return "s3://" + s.Bucket
	}
	return "s3://" + s.Bucket + "/" + prefix
}

// Open returns the Bucket at prefix, reached with Config.
func (s *Server) Open(t testing.TB, prefix string) objstore.Bucket {
	t.Helper()
	b, err := objstore.Open(context.Background(), s.URL(prefix), s.Config())
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	return b
}

// Env is the AWS environment for a child process: the credentials and the
// region (not the endpoint, which a test gives as it chooses, e.g. SET
// 's3.endpoint', or AWS_ENDPOINT_URL_S3=Endpoint).
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=us-east-1",
	}
}

// logTail is the end of weed's output, for failure messages.
func (s *Server) logTail(lines int) string {
	data, err := os.ReadFile(s.logf)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	ls := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return string(bytes.Join(ls, []byte("\n")))
}
