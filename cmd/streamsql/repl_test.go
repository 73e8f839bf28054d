package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/streamsql/streamsql/internal/termtest"
)

// screen collects what a program writes to its terminal, for waiting on
// expected text.
type screen struct {
	mu   sync.Mutex
	raw  []byte
	seen int // offset in the cleaned text up to which expect has matched
	more chan struct{}
	done chan struct{}
}

func newScreen(r io.Reader) *screen {
	s := &screen{more: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		b := make([]byte, 4096)
		for {
			n, err := r.Read(b)
			s.mu.Lock()
			s.raw = append(s.raw, b[:n]...)
			s.mu.Unlock()
			select {
			case s.more <- struct{}{}:
			default:
			}
			if err != nil { // EIO once the program has exited
				return
			}
		}
	}()
	return s
}

// ansi matches the terminal control sequences readline draws with.
var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r`)

// rawText returns everything written so far, escapes included.
func (s *screen) rawText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.raw)
}

func (s *screen) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ansi.ReplaceAllString(string(s.raw), "")
}

// expect waits until want appears after the previous match, and moves
// past it.
func (s *screen) expect(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		txt := s.text()
		if i := strings.Index(txt[s.seen:], want); i >= 0 {
			s.seen += i + len(want)
			return
		}
		select {
		case <-s.more:
		case <-s.done:
			if txt := s.text(); !strings.Contains(txt[s.seen:], want) {
				t.Fatalf("program exited before %q; screen after the last match:\n%s", want, txt[s.seen:])
			}
		case <-deadline:
			t.Fatalf("no %q within %v; screen after the last match:\n%s", want, timeout, s.text()[s.seen:])
		}
	}
}

// TestShellTerminal drives the real binary through a pseudo-terminal as a
// user would: a multi-line windowed SELECT whose rows appear as windows
// close, a column completed with Tab, Ctrl-C cancelling the query (not
// the shell), INSERT jobs in the background, SHOW JOBS, STOP JOB WITH
// SAVEPOINT, an error with a caret, Ctrl-D stopping the remaining job
// with a savepoint, and the history file.
func TestShellTerminal(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	cmd := exec.Command(bin, "--state-dir", state)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TERM=xterm")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 60, Cols: 250})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	scr := newScreen(f)
	const wait = 15 * time.Second
	typeLine := func(s string) {
		t.Helper()
		if _, err := f.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}

	scr.expect(t, "streamsql> ", wait)
	// Event time runs 5x the wall clock: a 1-second window closes every
	// 200 ms.
	typeLine("CREATE TABLE clicks (\r")
	scr.expect(t, "-> ", wait)
	typeLine("  user_id BIGINT, url STRING, ts TIMESTAMP(3),\r")
	typeLine("  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND\r")
	typeLine(") WITH ('connector' = 'datagen', 'rows-per-second' = '100', 'seed' = '7',\r")
	typeLine("  'fields.user_id.min' = '1', 'fields.user_id.max' = '3', 'fields.ts.step' = '50 ms');\r")
	scr.expect(t, "table clicks created", wait)
	scr.expect(t, "streamsql> ", wait)

	// Tab completes the column name from the catalog.
	typeLine("SELECT window_start, user_\t")
	scr.expect(t, "user_id", wait)
	typeLine(", COUNT(*) AS n\r")
	scr.expect(t, "-> ", wait)
	typeLine("FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND))\r")
	typeLine("GROUP BY window_start, window_end, user_id;\r")
	// The header shows names and types; rows appear as windows close.
	scr.expect(t, "window_start |", wait)
	scr.expect(t, "TIMESTAMP(3) NOT NULL |", wait)
	scr.expect(t, "| 2024-01-01 00:00:00.000 |", wait)
	scr.expect(t, "| 2024-01-01 00:00:01.000 |", wait)
	// Ctrl-C cancels the query only.
	typeLine("\x03")
	scr.expect(t, "cancelled", wait)
	scr.expect(t, "streamsql> ", wait)

	// INSERT runs in the background.
	typeLine("CREATE TABLE sink (user_id BIGINT, n BIGINT) WITH ('connector' = 'blackhole');\r")
	scr.expect(t, "table sink created", wait)
	typeLine("SET 'execution.checkpointing.interval' = '100 ms';\r")
	scr.expect(t, "set execution.checkpointing.interval", wait)
	typeLine("SET 'pipeline.name' = 'bh';\r")
	scr.expect(t, "set pipeline.name", wait)
	insert := "INSERT INTO sink SELECT user_id, COUNT(*) FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, user_id;\r"
	typeLine(insert)
	scr.expect(t, "job bh submitted", wait)
	scr.expect(t, "streamsql> ", wait)
	typeLine("SHOW JOBS;\r")
	scr.expect(t, "| bh ", wait)
	scr.expect(t, "RUNNING", wait)
	scr.expect(t, "streamsql> ", wait)
	typeLine("STOP JOB 'bh' WITH SAVEPOINT;\r")
	scr.expect(t, "job bh stopped with savepoint ", wait)
	scr.expect(t, filepath.Join("savepoints", "bh-"), wait)
	scr.expect(t, "streamsql> ", wait)

	// A job that ends on its own says so.
	typeLine("CREATE TABLE small (user_id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '10');\r")
	scr.expect(t, "table small created", wait)
	typeLine("INSERT INTO sink SELECT user_id, user_id AS n FROM small;\r")
	scr.expect(t, "job bh-2 submitted", wait)
	scr.expect(t, "job bh-2 finished: 10 rows read, 10 rows written", wait)

	// Ctrl-C at a continuation prompt drops the unfinished statement.
	typeLine("SELECT nothing,\r")
	scr.expect(t, "-> ", wait)
	typeLine("\x03")
	scr.expect(t, "streamsql> ", wait)
	typeLine("\\h\r")
	scr.expect(t, "STOP JOB 'id' [WITH SAVEPOINT];", wait)
	scr.expect(t, "streamsql> ", wait)

	// An error points at the fault; the shell goes on.
	typeLine("SELECT user_id,\r")
	typeLine("  nope FROM clicks;\r")
	scr.expect(t, `unknown column "nope"`, wait)
	scr.expect(t, "LINE 2:   nope FROM clicks", wait)
	scr.expect(t, "          ^", wait)
	scr.expect(t, "streamsql> ", wait)

	// A job still running at exit is stopped with a savepoint.
	typeLine("SET 'pipeline.name' = 'bh2';\r")
	scr.expect(t, "set pipeline.name", wait)
	typeLine(insert)
	scr.expect(t, "job bh2 submitted", wait)
	scr.expect(t, "streamsql> ", wait)
	typeLine("\x04")
	scr.expect(t, "job bh2 stopped with savepoint ", wait)
	scr.expect(t, "resume it with: RESUME JOB 'bh2';", wait)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("shell exited with %v; screen:\n%s", err, scr.text())
		}
	case <-time.After(wait):
		t.Fatalf("shell did not exit; screen:\n%s", scr.text())
	}
	exited <- nil // for the cleanup

	hist, err := os.ReadFile(filepath.Join(state, "history"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"SELECT window_start, user_id, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, user_id;",
		"STOP JOB 'bh' WITH SAVEPOINT;",
		"CREATE TABLE sink",
	} {
		if !strings.Contains(string(hist), want) {
			t.Errorf("history lacks %q:\n%s", want, hist)
		}
	}
}

// TestShellScript runs the shell without a terminal: -e and stdin, in
// order, INSERT in the foreground, exit status 1 on the first error.
func TestShellScript(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	const table = `CREATE TABLE t (k BIGINT, v BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'number-of-rows' = '2000', 'seed' = '3',
  'fields.k.min' = '1', 'fields.k.max' = '2', 'fields.ts.step' = '10 ms');
`
	run := func(stdin string, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--state-dir", filepath.Join(dir, "state")}, args...)...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	if err := os.WriteFile(filepath.Join(dir, "init.sql"), []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "more.sql"), []byte("SHOW TABLES;\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// stdin: statements in order, a SELECT over a bounded source, SOURCE.
	out, errs, code := run(table + `
SELECT window_start, k, COUNT(*) AS n
FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, k;
SOURCE 'more.sql';
\i more.sql
`)
	if code != 0 {
		t.Fatalf("stdin: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, want := range []string{"| 2024-01-01 00:00:00.000 |", "| 2024-01-01 00:00:10.000 |", "BIGINT NOT NULL |", "| t      |"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdin: stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "streamsql> ") || strings.Contains(out, "\x1b[") {
		t.Errorf("stdin: prompts or escapes in plain output:\n%q", out)
	}
	if !strings.Contains(errs, "4 rows in") || strings.Count(out, "| t      |") != 2 {
		t.Errorf("stdin: want 4 rows and two SHOW TABLES:\nstdout:\n%s\nstderr:\n%s", out, errs)
	}

	// -e with --init; an INSERT runs in the foreground to its end; changelog mode.
	out, errs, code = run("", "--init", "init.sql", "-e", `
CREATE TABLE sink (k BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT k, COUNT(*) FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, k;
SET 'sql-client.execution.result-mode' = 'changelog';
SELECT k, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, k`)
	if code != 0 {
		t.Fatalf("-e: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "2000 rows read, 4 rows written") {
		t.Errorf("-e: the INSERT did not run to its end:\n%s", errs)
	}
	if !strings.Contains(out, "| op |") || strings.Count(out, "| +I |") != 4 {
		t.Errorf("-e: want 4 +I rows:\n%s", out)
	}

	// The first error ends the run with status 1, with a caret.
	out, errs, code = run("SHOW TABLES;\nSELECT 1 +;\nSHOW TABLES;\n")
	if code != 1 {
		t.Errorf("error: exit %d, want 1", code)
	}
	if !strings.Contains(errs, "stdin:2:11: unexpected end of input") || !strings.Contains(errs, "LINE 2: SELECT 1 +;\n                  ^") {
		t.Errorf("error: stderr lacks the position and caret:\n%s", errs)
	}
	if strings.Count(out, "tables") != 1 {
		t.Errorf("error: statements after the error ran:\n%s", out)
	}
	if _, _, code := run("", "-e", "SELECT nope FROM nowhere"); code != 1 {
		t.Errorf("-e error: exit %d, want 1", code)
	}
	if _, _, code := run("", "-e", "QUIT; SELECT nope FROM nowhere"); code != 0 {
		t.Errorf("-e QUIT: exit %d, want 0", code)
	}
}

// terminalLines replays what a program wrote to its terminal onto a
// screen (termtest.Lines).
func terminalLines(raw string) []string { return termtest.Lines(raw) }

// TestShellJobOutputAbovePrompt types half a statement while a background
// job prints rows and logs a warning: the rows and the log line appear
// above the prompt, and the prompt comes back with the typed text intact
// (on the screen, and in what the shell then reads).
func TestShellJobOutputAbovePrompt(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "--state-dir", filepath.Join(dir, "state"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TERM=xterm")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	scr := newScreen(f)
	const wait = 15 * time.Second
	typeText := func(s string) {
		t.Helper()
		if _, err := f.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	scr.expect(t, "streamsql> ", wait)
	typeText("CREATE TABLE src (k BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '20', 'fields.k.kind' = 'sequence');\r")
	scr.expect(t, "table src created", wait)
	typeText("CREATE TABLE out (k BIGINT) WITH ('connector' = 'print');\r")
	scr.expect(t, "table out created", wait)
	// A savepoint of another job makes the restore log a warning.
	typeText("SET 'pipeline.name' = 'other';\r")
	scr.expect(t, "set pipeline.name", wait)
	typeText("INSERT INTO out SELECT k FROM src;\r")
	scr.expect(t, "job other submitted", wait)
	typeText("STOP JOB 'other' WITH SAVEPOINT;\r")
	scr.expect(t, "job other stopped with savepoint ", wait)
	scr.expect(t, "streamsql> ", wait)
	sp := regexp.MustCompile(`savepoint (\S+savepoints/other-\S+)`).FindStringSubmatch(scr.text())
	if sp == nil {
		t.Fatalf("no savepoint path on the screen:\n%s", scr.text())
	}
	typeText("SET 'execution.savepoint.path' = '" + sp[1] + "';\r")
	scr.expect(t, "set execution.savepoint.path", wait)
	typeText("SET 'pipeline.name' = 'printer';\r")
	scr.expect(t, "set pipeline.name", wait)
	typeText("INSERT INTO out SELECT k FROM src;\r")
	scr.expect(t, "job printer submitted", wait)
	scr.expect(t, "streamsql> ", wait)

	scr.expect(t, "+I[", wait)

	// Half a statement, typed while the job prints.
	typeText("SHOW TAB")
	scr.expect(t, "SHOW TAB", wait)
	scr.expect(t, "+I[", wait)
	scr.expect(t, "+I[", wait)
	if !strings.Contains(scr.text(), "restoring a savepoint of another job") {
		t.Fatalf("no warning logged:\n%s", scr.text())
	}
	// Wait until the last thing on the terminal is the prompt, redrawn.
	deadline := time.Now().Add(wait)
	var screen []string
	for {
		screen = terminalLines(scr.rawText())
		for len(screen) > 0 && screen[len(screen)-1] == "" {
			screen = screen[:len(screen)-1]
		}
		if len(screen) > 0 && screen[len(screen)-1] == "streamsql> SHOW TAB" && strings.Count(strings.Join(screen, "\n"), "+I[") >= 5 {
			break
		}
		if time.Now().After(deadline) {
			raw := scr.rawText()
			t.Fatalf("the prompt and the typed text are not the last line:\n%s\nraw tail: %q", strings.Join(screen, "\n"), raw[max(0, len(raw)-600):])
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, l := range screen[:len(screen)-1] {
		if strings.Contains(l, "SHOW TAB") || strings.Contains(l, "+I[") && !strings.HasPrefix(l, "+I[") ||
			strings.Contains(l, "restoring a savepoint") && !strings.HasPrefix(l, "time=") {
			t.Fatalf("job output and the typed line share a line %q:\n%s", l, strings.Join(screen, "\n"))
		}
	}
	// What the shell reads is intact too.
	typeText("LES;\r")
	scr.expect(t, "| src ", wait)
	typeText("\x04")
	select {
	case <-exited:
	case <-time.After(wait):
		t.Fatalf("shell did not exit; screen:\n%s", scr.text())
	}
	exited <- nil
}

// shellSession starts the real shell on a pseudo-terminal in dir.
func shellSession(t *testing.T, dir string, args ...string) (typeText func(string), scr *screen, wait func()) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TERM=xterm")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 60, Cols: 250})
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var once sync.Once
	wait = func() {
		once.Do(func() {
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("shell exited with %v", err)
				}
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
				t.Errorf("shell did not exit; screen:\n%s", scr.text())
			}
			f.Close()
		})
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		wait()
	})
	scr = newScreen(f)
	typeText = func(s string) {
		t.Helper()
		if _, err := f.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	return typeText, scr, wait
}

// TestShellResume: a later shell has the tables of an earlier one, lists
// its stopped job with the savepoint and the statement, and RESUME JOB
// restarts it from that savepoint; job ids come from the statement; a
// SELECT leaves no state directory behind.
func TestShellResume(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	const wait = 15 * time.Second

	typeText, scr, exit := shellSession(t, dir, "--state-dir", state)
	scr.expect(t, "streamsql> ", wait)
	typeText("CREATE TABLE src (k BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '50',\r")
	typeText("  'fields.k.kind' = 'sequence');\r")
	scr.expect(t, "table src created", wait)
	typeText("CREATE TABLE sink (k BIGINT) WITH ('connector' = 'blackhole');\r")
	scr.expect(t, "table sink created", wait)
	typeText("CREATE TABLE gone (k BIGINT) WITH ('connector' = 'blackhole');\r")
	scr.expect(t, "table gone created", wait)
	typeText("DROP TABLE gone;\r")
	scr.expect(t, "table gone dropped", wait)
	typeText("CREATE TEMPORARY VIEW tv AS SELECT k FROM src;\r")
	scr.expect(t, "view tv created", wait)
	typeText("SET 'execution.checkpointing.interval' = '200 ms';\r")
	scr.expect(t, "set execution.checkpointing.interval", wait)
	typeText("INSERT INTO sink SELECT k FROM src;\r")
	scr.expect(t, "job insert-into-sink submitted", wait)
	typeText("SELECT k FROM src LIMIT 3;\r")
	scr.expect(t, "3 rows in", wait)
	scr.expect(t, "streamsql> ", wait)
	typeText("\x04")
	scr.expect(t, "job insert-into-sink stopped with savepoint ", wait)
	scr.expect(t, "RESUME JOB 'insert-into-sink'", wait)
	exit()
	if strings.Contains(scr.text(), "FILE.sql") {
		t.Errorf("the exit message names a file that does not exist:\n%s", scr.text())
	}
	entries, err := os.ReadDir(state)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "history insert-into-sink savepoints shell" {
		t.Errorf("state dir holds %q, want only the INSERT's state (no SELECT's)", got)
	}

	// The next shell: the catalog is back, the job is listed and resumes.
	typeText, scr, exit = shellSession(t, dir, "--state-dir", state, "-v")
	scr.expect(t, "restored 2 tables from "+filepath.Join(state, "shell", "catalog.sql"), wait)
	scr.expect(t, "streamsql> ", wait)
	typeText("SHOW JOBS;\r")
	scr.expect(t, "| insert-into-sink ", wait)
	scr.expect(t, "STOPPED", wait)
	scr.expect(t, filepath.Join(state, "savepoints", "insert-into-sink-"), wait)
	scr.expect(t, "INSERT INTO sink SELECT k FROM src", wait)
	scr.expect(t, "streamsql> ", wait)
	// A new INSERT into the same table is a new job.
	typeText("INSERT INTO sink SELECT k FROM src;\r")
	scr.expect(t, "job insert-into-sink-2 submitted", wait)
	typeText("STOP JOB 'insert-into-sink-2';\r")
	scr.expect(t, "job insert-into-sink-2 stopped", wait)
	typeText("RESUME JOB 'insert-into-sink';\r")
	scr.expect(t, "resuming job insert-into-sink from savepoint "+filepath.Join(state, "savepoints", "insert-into-sink-"), wait)
	scr.expect(t, "job insert-into-sink submitted", wait)
	scr.expect(t, `msg="restoring checkpoint" job=insert-into-sink`, wait)
	typeText("SHOW JOBS;\r")
	scr.expect(t, "| insert-into-sink ", wait)
	scr.expect(t, "RUNNING", wait)
	scr.expect(t, "streamsql> ", wait)
	typeText("SELECT COUNT(*) FROM tv;\r")
	scr.expect(t, `unknown table "tv"`, wait)
	typeText("\x04")
	scr.expect(t, "job insert-into-sink stopped with savepoint ", wait)
	exit()
}

// TestRunStatusLine runs `streamsql run -v` with an INSERT on a terminal:
// a status line is rewritten in place while the job runs, checkpoint
// completions are logged (above it), and at exit the line is gone, leaving
// the summary. Without a terminal there is no status line.
func TestRunStatusLine(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	job := filepath.Join(dir, "job.sql")
	if err := os.WriteFile(job, []byte(`
CREATE TABLE src (k BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '100', 'number-of-rows' = '300');
CREATE TABLE sink (k BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT k FROM src;
`), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "-v", "--state-dir", filepath.Join(dir, "state"), "--checkpoint-interval", "500ms", job}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	scr := newScreen(f)
	const wait = 15 * time.Second
	scr.expect(t, "job: ", wait)
	scr.expect(t, " rows in (", wait)
	scr.expect(t, "/s), ", wait)
	scr.expect(t, `msg="checkpoint complete" job=job`, wait)
	scr.expect(t, "job: 300 rows in, 300 rows out", wait)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run: %v\n%s", err, scr.text())
	}
	<-scr.done
	raw := scr.rawText()
	if !strings.Contains(raw, "\r"+"job: ") {
		t.Errorf("the status line is not rewritten in place:\n%q", raw)
	}
	var summary bool
	for _, l := range terminalLines(raw) {
		if strings.Contains(l, "/s)") {
			t.Errorf("a status line is left on the screen: %q\n%s", l, strings.Join(terminalLines(raw), "\n"))
		}
		if strings.Contains(l, "checkpoint complete") && !strings.HasPrefix(l, "time=") {
			t.Errorf("a log line shares a line with the status: %q", l)
		}
		summary = summary || strings.HasPrefix(l, "job: 300 rows in, 300 rows out")
	}
	if !summary {
		t.Errorf("no summary line of its own:\n%s", strings.Join(terminalLines(raw), "\n"))
	}

	// Not a terminal: no status line.
	out, err := exec.Command(bin, "run", "--state-dir", filepath.Join(dir, "state2"), job).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.Contains(string(out), "\r") || strings.Contains(string(out), "/s)") {
		t.Errorf("status line without a terminal:\n%q", out)
	}
}
