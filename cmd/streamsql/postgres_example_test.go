package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamsql/streamsql/internal/pgtest"
)

// TestPostgresExampleAsDocumented follows queries/postgres_page_stats.sql's
// header as a user does, each command run by sh from the repository root,
// against a server of the test's own whose address comes from libpq's
// environment (PGHOST, PGPORT, PGUSER), as the header says: psql creates
// the table, `streamsql run -v` (the real binary) upserts into it, and
// psql's \watch shows its rows changing; the job then stops on SIGINT.
// One deviation: the job's state dir is a temporary one (--state-dir),
// not the default under the repository.
func TestPostgresExampleAsDocumented(t *testing.T) {
	t.Parallel() // waits on processes and checkpoints more than it computes
	if testing.Short() {
		t.Skip("runs the example for several seconds; run without -short")
	}
	bin := binary(t)
	srv := pgtest.Start(t)
	psql := srv.PSQL()
	if psql == "" {
		t.Fatal("no psql beside the server binaries")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "queries", "postgres_page_stats.sql"))
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for _, line := range strings.Split(string(src), "\n") {
		if !strings.HasPrefix(line, "--") {
			break
		}
		if c, ok := strings.CutPrefix(line, "--   "); ok && strings.TrimSpace(c) != "" {
			if i := strings.Index(c, "  #"); i >= 0 {
				c = c[:i]
			}
			cmds = append(cmds, strings.TrimSpace(c))
		}
	}
	if len(cmds) != 3 {
		t.Fatalf("header commands: %q", cmds)
	}
	env := append(os.Environ(), "PGHOST=127.0.0.1", "PGPORT="+strconv.Itoa(srv.Port), "PGUSER=postgres",
		"PATH="+filepath.Dir(bin)+":"+filepath.Dir(psql)+":"+os.Getenv("PATH"))
	sh := func(c string) *exec.Cmd {
		cmd := exec.Command("sh", "-c", "exec "+c)
		cmd.Dir, cmd.Env = root, env
		return cmd
	}
	if out, err := sh(cmds[0]).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmds[0], err, out)
	}
	job := sh(cmds[1])
	jobErr := &syncBuffer{}
	job.Stderr = jobErr
	job.Args[2] = "exec " + cmds[1] + " --state-dir " + t.TempDir() // keep the state out of the repository
	if err := job.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- job.Wait() }()
	defer func() {
		_ = job.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = job.Process.Kill()
		}
	}()
	// views returns how many pages page_stats holds and their views.
	views := func() (int, int) {
		r := strings.Split(srv.Rows(t, "SELECT count(*), coalesce(sum(views), 0) FROM page_stats")[0], ",")
		pages, _ := strconv.Atoi(r[0])
		n, _ := strconv.Atoi(r[1])
		return pages, n
	}
	first := 0
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		select {
		case err := <-exited:
			t.Fatalf("the job ended: %v\n%s", err, jobErr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("page_stats did not get its 10 pages in 60 s\n%s", jobErr)
		}
		var pages int
		if pages, first = views(); pages == 10 {
			break
		}
	}
	// A pipeline: no exec, its own process group, killed as a whole.
	watch := exec.Command("sh", "-c", cmds[2])
	watch.Dir, watch.Env = root, env
	watch.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &syncBuffer{}
	watch.Stdout, watch.Stderr = out, out
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); strings.Count(out.String(), "(10 rows)") < 3; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			break
		}
	}
	_ = syscall.Kill(-watch.Process.Pid, syscall.SIGKILL)
	_ = watch.Wait()
	if n := strings.Count(out.String(), "(10 rows)"); n < 3 || !strings.Contains(out.String(), "avg_dwell_ms") {
		t.Fatalf("psql \\watch printed %d tables of 10 rows:\n%s", n, out)
	}
	if _, last := views(); last <= first {
		t.Fatalf("the views did not grow: %d, then %d", first, last)
	}
	if err := job.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the job did not stop cleanly on SIGINT: %v\n%s", err, jobErr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the job did not stop on SIGINT\n%s", jobErr)
	}
}
