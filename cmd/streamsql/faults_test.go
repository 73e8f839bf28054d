package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// faultQuery is a slow, bounded job (about 3 s of generated rows) that
// checkpoints every 50 ms.
const faultQuery = `
SET 'execution.checkpointing.interval' = '50 ms';
SET 'pipeline.name' = 'faults';
%s
CREATE TABLE src (k INT, v BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'number-of-rows' = '15000', 'rows-per-second' = '5000',
        'fields.k.min' = '1', 'fields.k.max' = '50', 'fields.ts.step' = '10 ms');
CREATE TABLE out (k INT, window_start TIMESTAMP(3), n BIGINT)
  WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'json');
INSERT INTO out
SELECT k, window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY window_start, window_end, k;
`

// faultJob is one job directory under test.
type faultJob struct {
	t     *testing.T
	bin   string
	dir   string // holds the query, the output and the state dir
	sql   string
	state string
}

func newFaultJob(t *testing.T, extra string) *faultJob {
	dir := t.TempDir()
	j := &faultJob{t: t, bin: binary(t), dir: dir, sql: filepath.Join(dir, "q.sql"), state: filepath.Join(dir, "state")}
	if err := os.WriteFile(j.sql, fmt.Appendf(nil, faultQuery, extra, filepath.Join(dir, "out")), 0o644); err != nil {
		t.Fatal(err)
	}
	return j
}

// jobDir is the job's Pebble directory.
func (j *faultJob) jobDir() string { return filepath.Join(j.state, "faults") }

// lastCheckpoint returns the newest checkpoint id the running job's
// status file names (0 if none yet).
func (j *faultJob) lastCheckpoint() uint64 {
	b, err := os.ReadFile(filepath.Join(j.jobDir(), "CHECKPOINTS.json"))
	if err != nil {
		return 0
	}
	var st struct {
		Checkpoints []struct{ ID uint64 }
	}
	if json.Unmarshal(b, &st) != nil || len(st.Checkpoints) == 0 {
		return 0
	}
	return st.Checkpoints[len(st.Checkpoints)-1].ID
}

// runUntil runs the job until its status names a checkpoint of at least
// id, then kills it with SIGKILL. It returns the newest checkpoint id.
func (j *faultJob) runUntil(id uint64) uint64 {
	t := j.t
	t.Helper()
	cmd := exec.Command(j.bin, "run", "--state-dir", j.state, j.sql)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(60 * time.Second)
	for j.lastCheckpoint() < id {
		select {
		case err := <-done:
			t.Fatalf("job ended before checkpoint %d: %v\n%s", id, err, stderr.String())
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatalf("no checkpoint %d within a minute\n%s", id, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
	return j.lastCheckpoint()
}

// cli runs the binary to its end and returns its exit status and output.
func (j *faultJob) cli(args ...string) (int, string, string) {
	j.t.Helper()
	cmd := exec.Command(j.bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		j.t.Fatal(err)
	}
	if strings.Contains(stderr.String(), "panic") || strings.Contains(stderr.String(), "goroutine ") {
		j.t.Fatalf("%v: the process panicked:\n%s", args, stderr.String())
	}
	return code, stdout.String(), stderr.String()
}

// files returns the job directory's files whose names end in suffix.
func (j *faultJob) files(suffix string) []string {
	ents, err := os.ReadDir(j.jobDir())
	if err != nil {
		j.t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), suffix) {
			out = append(out, filepath.Join(j.jobDir(), e.Name()))
		}
	}
	return out
}

// copyTree copies directory src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCorruptTables damages the .sst files of a stopped job's store in
// three ways and runs `checkpoints list`, `checkpoints inspect`,
// `savepoint` and `run` on each copy: none may panic (Pebble's corruption
// handler used to), and what cannot be read is a clear error naming the
// store as unreadable and the ways out.
func TestCorruptTables(t *testing.T) {
	base := newFaultJob(t, "")
	base.runUntil(3)
	base.runUntil(base.lastCheckpoint() + 3) // its open flushed the first run's log into a table
	if len(base.files(".sst")) == 0 {
		t.Fatalf("no table in %s", base.jobDir())
	}
	damage := map[string]func([]byte){
		"bit-flip":      func(b []byte) { b[len(b)/3] ^= 0x10 },
		"zeroed-block":  func(b []byte) { clear(b[:min(len(b)-64, 4096)]) },
		"broken-footer": func(b []byte) { clear(b[len(b)-40:]) },
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			j := newFaultJob(t, "")
			copyTree(t, base.state, j.state)
			for _, sst := range j.files(".sst") {
				b, err := os.ReadFile(sst)
				if err != nil {
					t.Fatal(err)
				}
				f(b)
				if err := os.WriteFile(sst, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			unreadable := func(what string, code int, stderr string) {
				t.Helper()
				if code == 0 {
					t.Fatalf("%s of a corrupt store succeeded", what)
				}
				for _, want := range []string{"unreadable", "--fresh", "--from-savepoint"} {
					if !strings.Contains(stderr, want) {
						t.Fatalf("%s: stderr lacks %q:\n%s", what, want, stderr)
					}
				}
			}
			// Listing reads only checkpoint metadata, which may sit in an
			// intact block; if it fails, it says why.
			if code, _, stderr := j.cli("checkpoints", "--state-dir", j.state, "list", "faults"); code != 0 {
				unreadable("list", code, stderr)
			}
			if code, _, stderr := j.cli("checkpoints", "--state-dir", j.state, "inspect", "faults"); code != 0 {
				unreadable("inspect", code, stderr)
			}
			code, _, stderr := j.cli("savepoint", "--state-dir", j.state, "faults")
			unreadable("savepoint", code, stderr)
			code, _, stderr = j.cli("run", "--state-dir", j.state, j.sql)
			unreadable("run", code, stderr)
			// The way out works.
			if code, _, stderr := j.cli("run", "--fresh", "--state-dir", j.state, j.sql); code != 0 {
				t.Fatalf("run --fresh: exit %d\n%s", code, stderr)
			}
		})
	}
}

// checkOutput checks the job's output is exactly once: every generated row
// is counted in exactly one window row, no window row twice.
func (j *faultJob) checkOutput(rows int) {
	j.t.Helper()
	b, err := os.ReadFile(filepath.Join(j.dir, "out", "part-0.json"))
	if err != nil {
		j.t.Fatal(err)
	}
	seen := map[string]bool{}
	total := int64(0)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r struct {
			K           int    `json:"k"`
			WindowStart string `json:"window_start"`
			N           int64  `json:"n"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			j.t.Fatalf("output line %q: %v", line, err)
		}
		key := fmt.Sprint(r.K, r.WindowStart)
		if seen[key] {
			j.t.Fatalf("window %s written twice", key)
		}
		seen[key] = true
		total += r.N
	}
	if total != int64(rows) {
		j.t.Fatalf("output counts %d rows, want %d", total, rows)
	}
}

// mountTmpfs mounts a tmpfs of size at dir, or skips the test saying why.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a %s tmpfs (needs root): %v %s; TestFullDiskInjected in checkpoint/ proves the behaviour with an injected ENOSPC", size, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
}

// fill writes a file in dir until the filesystem is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !strings.Contains(err.Error(), "no space left") {
				t.Fatal(err)
			}
			break
		}
	}
	for n := len(buf) / 2; n > 0; n /= 2 { // the last bytes too
		_, _ = f.Write(buf[:n])
	}
	return path
}

// TestFullDisk runs a job with its state directory on a 2 MiB tmpfs and
// fills the disk while it runs. With tolerable failed checkpoints, each
// failed checkpoint is logged and retried; once space is freed the job
// finishes with exactly-once output. Without, the job fails cleanly at the
// first failed checkpoint, and the next run, with space, resumes exactly.
// Neither panics or hangs.
func TestFullDisk(t *testing.T) {
	for _, tolerable := range []int{1000, 0} {
		t.Run(fmt.Sprintf("tolerable=%d", tolerable), func(t *testing.T) {
			j := newFaultJob(t, fmt.Sprintf("SET 'execution.checkpointing.tolerable-failed-checkpoints' = '%d';", tolerable))
			mnt := filepath.Join(j.dir, "mnt")
			mountTmpfs(t, mnt, "2m")
			j.state = filepath.Join(mnt, "state")
			cmd := exec.Command(j.bin, "run", "--state-dir", j.state, j.sql)
			var stderr syncBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			waitFor := func(what string, cond func() bool) {
				t.Helper()
				deadline := time.After(60 * time.Second)
				for !cond() {
					select {
					case err := <-done:
						t.Fatalf("job ended (%v) before %s:\n%s", err, what, stderr.String())
					case <-deadline:
						_ = cmd.Process.Kill()
						t.Fatalf("no %s within a minute:\n%s", what, stderr.String())
					case <-time.After(10 * time.Millisecond):
					}
				}
			}
			waitFor("checkpoint 2", func() bool { return j.lastCheckpoint() >= 2 })
			filler := fill(t, mnt)
			var err error
			if tolerable > 0 {
				waitFor("three failed checkpoints", func() bool {
					return strings.Count(stderr.String(), "checkpoint failed; retrying at the next interval") >= 3
				})
				if err := os.Remove(filler); err != nil {
					t.Fatal(err)
				}
				select {
				case err = <-done:
				case <-time.After(60 * time.Second):
					_ = cmd.Process.Kill()
					t.Fatalf("the job did not finish after space was freed:\n%s", stderr.String())
				}
				if err != nil {
					t.Fatalf("job failed: %v\n%s", err, stderr.String())
				}
			} else {
				select {
				case err = <-done:
				case <-time.After(60 * time.Second):
					_ = cmd.Process.Kill()
					t.Fatalf("the job neither failed nor finished on a full disk:\n%s", stderr.String())
				}
				if err == nil {
					t.Fatalf("the job finished on a full disk:\n%s", stderr.String())
				}
				for _, want := range []string{"no space left on device", "tolerable-failed-checkpoints = 0"} {
					if !strings.Contains(stderr.String(), want) {
						t.Fatalf("stderr lacks %q:\n%s", want, stderr.String())
					}
				}
				// Listing a full store neither spins nor writes.
				if code, out, stderr := j.cli("checkpoints", "--state-dir", j.state, "list"); code != 0 || !strings.Contains(out, "checkpoint failures") {
					t.Fatalf("list on a full disk: exit %d\n%s\n%s", code, out, stderr)
				}
				if err := os.Remove(filler); err != nil {
					t.Fatal(err)
				}
				if code, _, stderr := j.cli("run", "--state-dir", j.state, j.sql); code != 0 {
					t.Fatalf("run after freeing space: exit %d\n%s", code, stderr)
				}
			}
			if s := stderr.String(); strings.Contains(s, "panic") || strings.Contains(s, "goroutine ") {
				t.Fatalf("panic:\n%s", s)
			}
			j.checkOutput(15000)
		})
	}
}

// TestDamagedLog truncates, zero-fills or deletes the Pebble log of a
// stopped job, which holds its newest checkpoints: Pebble then opens
// without them, and the job used to restore an older checkpoint silently
// (repeating the output committed since). Now `run` refuses, naming both
// checkpoints and --allow-rollback; `checkpoints list` warns; with
// --allow-rollback the job restores the newest checkpoint left, loudly.
func TestDamagedLog(t *testing.T) {
	base := newFaultJob(t, "")
	base.runUntil(3)
	completed := base.runUntil(base.lastCheckpoint() + 4)
	if len(base.files(".log")) == 0 {
		t.Fatalf("no log in %s", base.jobDir())
	}
	// Offsets and handles are decoded by their connectors, not hex.
	code, out, stderr := base.cli("checkpoints", "--state-dir", base.state, "inspect", "faults")
	for _, want := range []string{"rows generated", "part file part-0.json committed length"} {
		if code != 0 || !strings.Contains(out, want) || strings.Contains(out, "0x") {
			t.Fatalf("inspect: exit %d, want %q and no hex:\n%s\n%s", code, want, out, stderr)
		}
	}
	damage := map[string]func(path string, b []byte) error{
		"truncated": func(p string, b []byte) error { return os.WriteFile(p, b[:len(b)/2], 0o644) },
		"zeroed":    func(p string, b []byte) error { return os.WriteFile(p, make([]byte, len(b)), 0o644) },
		"deleted":   func(p string, _ []byte) error { return os.Remove(p) },
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			j := newFaultJob(t, "")
			copyTree(t, base.state, j.state)
			copyTree(t, filepath.Join(base.dir, "out"), filepath.Join(j.dir, "out"))
			for _, wal := range j.files(".log") {
				b, err := os.ReadFile(wal)
				if err != nil {
					t.Fatal(err)
				}
				if err := f(wal, b); err != nil {
					t.Fatal(err)
				}
			}
			code, out, stderr := j.cli("checkpoints", "--state-dir", j.state, "list", "faults")
			if code != 0 || !strings.Contains(out, fmt.Sprintf("WARNING: the job completed checkpoint %d", completed)) {
				t.Fatalf("list: exit %d, no warning about the lost checkpoints:\n%s\n%s", code, out, stderr)
			}
			code, _, stderr = j.cli("run", "--state-dir", j.state, j.sql)
			if code == 0 {
				t.Fatalf("run restored a store that lost checkpoints:\n%s", stderr)
			}
			for _, want := range []string{fmt.Sprintf("completed checkpoint %d", completed), "--allow-rollback", "--fresh"} {
				if !strings.Contains(stderr, want) {
					t.Fatalf("run: stderr lacks %q:\n%s", want, stderr)
				}
			}
			code, _, stderr = j.cli("run", "--allow-rollback", "--state-dir", j.state, j.sql)
			if code != 0 || !strings.Contains(stderr, "ROLLBACK ACCEPTED") {
				t.Fatalf("run --allow-rollback: exit %d\n%s", code, stderr)
			}
		})
	}
}
