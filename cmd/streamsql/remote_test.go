package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamsql/streamsql/checkpoint/objstore"
	"github.com/streamsql/streamsql/internal/s3test"
)

// remoteQuery is savepointQuery's windowed job with its settings in front
// (%s: extra SET lines, the rate, the output directory).
const remoteQuery = `%s
SET 'execution.checkpointing.interval' = '200 ms';
SET 'pipeline.name' = 'remote-test';
CREATE TABLE ev (k BIGINT, x BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'rows-per-second' = '%s', 'number-of-rows' = '60000', 'seed' = '7',
      'fields.k.min' = '0', 'fields.k.max' = '20', 'fields.x.min' = '-1000000000', 'fields.x.max' = '1000000000', 'fields.ts.step' = '1 ms', 'fields.ts.max-out-of-orderness' = '500');
CREATE TABLE out (k BIGINT, ws TIMESTAMP(3), n BIGINT, s BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
INSERT INTO out SELECT k, window_start, COUNT(*), SUM(x)
FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '2' SECOND)) GROUP BY window_start, window_end, k;
`

// remoteRun is one setup of TestRemoteCheckpointDir*: where the
// checkpoints go and how the binary reaches them.
type remoteRun struct {
	sets   string   // SET lines in the file
	flags  []string // flags of run and checkpoints
	env    []string // the child's environment, added
	bucket objstore.Bucket
	// secrets must appear in no output.
	secrets []string
	// savepoint, if set, is where a savepoint of the running job is taken
	// (by another process); the test restores it at the end.
	savepoint string
}

// testRemoteResume runs the job throttled with its checkpoints in r's
// checkpoint dir, SIGKILLs it once the dir holds two checkpoints, deletes
// the whole state directory, lists the remote checkpoints, and runs it
// again unthrottled on an empty state directory: it must restore the
// remote checkpoint (downloading it) and its output must equal an
// uninterrupted run's. A second, finished job's rerun starts fresh.
func testRemoteResume(t *testing.T, r remoteRun) {
	bin := binary(t)
	dir := t.TempDir()
	write := func(name, rate string) (string, string) {
		out := filepath.Join(dir, name+"-out")
		sql := filepath.Join(dir, name+".sql")
		sets := r.sets
		if name == "ref" {
			sets = "" // local checkpoints only
		}
		if err := os.WriteFile(sql, []byte(fmt.Sprintf(remoteQuery, sets, rate, out)), 0o644); err != nil {
			t.Fatal(err)
		}
		return sql, filepath.Join(out, "part-0.csv")
	}
	env := append(os.Environ(), r.env...)
	run := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		return cmd
	}
	var shown bytes.Buffer // every output, for the secrets check
	refSQL, refOut := write("ref", "unlimited")
	if out, err := exec.Command(bin, "run", "--state-dir", filepath.Join(dir, "ref-state"), refSQL).CombinedOutput(); err != nil {
		t.Fatalf("reference: %v\n%s", err, out)
	}
	want, err := os.ReadFile(refOut)
	if err != nil || len(want) == 0 {
		t.Fatalf("reference output: %v (%d bytes)", err, len(want))
	}

	sql, out := write("job", "10000") // 6 s of wall time
	state := filepath.Join(dir, "state")
	cmd := run(append(append([]string{"run", "-v"}, r.flags...), "--state-dir", state, sql)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	manifests := func() int {
		infos, err := r.bucket.List(ctx, "remote-test/chk-")
		if err != nil {
			return 0
		}
		n := 0
		for _, in := range infos {
			if strings.HasSuffix(in.Key, "/_metadata") {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(30 * time.Second); manifests() < 2; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("no two remote checkpoints in 30 s:\n%s", stderr.String())
		}
	}
	if r.savepoint != "" {
		b, err := run("savepoint", "--state-dir", state, "remote-test", r.savepoint).CombinedOutput()
		shown.Write(b)
		if err != nil || !strings.Contains(string(b), "savepoint of job remote-test at checkpoint") {
			_ = cmd.Process.Kill()
			t.Fatalf("savepoint to %s: %v\n%s", r.savepoint, err, b)
		}
	}
	time.Sleep(700 * time.Millisecond) // a few more checkpoints
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	shown.Write(stderr.Bytes())
	partial, _ := os.ReadFile(out)
	if len(partial) >= len(want) {
		t.Fatalf("the job finished before it was killed (%d of %d bytes); slow it down", len(partial), len(want))
	}
	// The machine is lost: nothing of the state directory is left.
	if err := os.RemoveAll(state); err != nil {
		t.Fatal(err)
	}

	b, err := run(append(append([]string{"checkpoints"}, r.flags...), "list", "remote-test")...).CombinedOutput()
	shown.Write(b)
	if err != nil || !strings.Contains(string(b), "job remote-test in ") || !strings.Contains(string(b), "1-source-ev/0:") {
		t.Fatalf("checkpoints list --checkpoint-dir: %v\n%s", err, b)
	}
	b, err = run(append(append([]string{"checkpoints"}, r.flags...), "inspect", "remote-test")...).CombinedOutput()
	shown.Write(b)
	if err != nil || !strings.Contains(string(b), "2-window-agg") || !strings.Contains(string(b), "manifest:") {
		t.Fatalf("checkpoints inspect --checkpoint-dir: %v\n%s", err, b)
	}

	sql2, out2 := write("job", "unlimited")
	if out2 != out {
		t.Fatal("the resumed job must write the same file")
	}
	b, err = run(append(append([]string{"run", "-v"}, r.flags...), "--state-dir", state, sql2)...).CombinedOutput()
	shown.Write(b)
	if err != nil || !strings.Contains(string(b), "downloaded checkpoint") || !strings.Contains(string(b), "restoring checkpoint") {
		t.Fatalf("resume on an empty state dir: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("resumed output differs from an uninterrupted run's (%d vs %d bytes)", len(got), len(want))
	}
	if _, err := r.bucket.Stat(ctx, "remote-test/FINISHED"); err != nil {
		t.Fatalf("the finished job left no mark in its checkpoint dir: %v", err)
	}

	// Finished: the next run, on yet another empty state directory, starts
	// fresh (it does not resume the exhausted source) and writes the whole
	// output again.
	if err := os.RemoveAll(state); err != nil {
		t.Fatal(err)
	}
	b, err = run(append(append([]string{"run", "-v"}, r.flags...), "--state-dir", state, sql2)...).CombinedOutput()
	shown.Write(b)
	if err != nil || strings.Contains(string(b), "restoring checkpoint") {
		t.Fatalf("rerun of the finished job: %v\n%s", err, b)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, want) {
		t.Fatalf("rerun of the finished job: output differs (%d vs %d bytes)", len(got), len(want))
	}
	if r.savepoint != "" {
		// The savepoint on S3 is self-contained: restored onto an empty
		// state directory, with the output of an uninterrupted run.
		if err := os.RemoveAll(state); err != nil {
			t.Fatal(err)
		}
		b, err = run(append(append([]string{"run", "-v"}, r.flags...), "--state-dir", state, "--from-savepoint", r.savepoint, sql2)...).CombinedOutput()
		shown.Write(b)
		if err != nil || !strings.Contains(string(b), "restoring checkpoint") {
			t.Fatalf("restore from the savepoint %s: %v\n%s", r.savepoint, err, b)
		}
		if got, _ := os.ReadFile(out); !bytes.Equal(got, want) {
			t.Fatalf("restored from the savepoint: output differs (%d vs %d bytes)", len(got), len(want))
		}
	}
	for _, s := range r.secrets {
		if strings.Contains(shown.String(), s) {
			t.Fatalf("a secret is printed:\n%s", shown.String())
		}
	}
}

// TestRemoteCheckpointDir: a checkpoint dir that is a local directory
// (works without S3): a job killed and resumed on an empty state directory
// resumes exactly from it.
func TestRemoteCheckpointDir(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary for several seconds")
	}
	loc := filepath.Join(t.TempDir(), "checkpoints")
	b, err := objstore.Open(context.Background(), loc, objstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	testRemoteResume(t, remoteRun{flags: []string{"--checkpoint-dir", loc}, bucket: b})
}

// TestRemoteCheckpointDirS3 is TestRemoteCheckpointDir on a real S3 server,
// configured by SET in the file (endpoint, path style, credentials): no
// output of run or checkpoints shows the keys.
func TestRemoteCheckpointDirS3(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary for several seconds")
	}
	srv := s3test.Start(t)
	sets := fmt.Sprintf(`SET 'execution.checkpointing.dir' = '%s';
SET 's3.endpoint' = '%s';
SET 's3.path.style.access' = 'true';
SET 's3.access-key' = '%s';
SET 's3.secret-key' = '%s';`, srv.URL("jobs"), srv.Endpoint, srv.AccessKey, srv.SecretKey)
	testRemoteResume(t, remoteRun{
		sets: sets,
		// checkpoints list reads the credentials from the environment.
		flags:     []string{"--checkpoint-dir", srv.URL("jobs"), "--s3-endpoint", srv.Endpoint, "--s3-path-style"},
		env:       srv.Env(),
		bucket:    srv.Open(t, "jobs"),
		secrets:   []string{srv.SecretKey, srv.AccessKey},
		savepoint: srv.URL("savepoints/sp1"),
	})
}
