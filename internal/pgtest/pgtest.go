// Package pgtest starts a real PostgreSQL server for tests: the Debian
// `postgresql` package's initdb into a fresh temporary directory, then
// `pg_ctl start` listening on a free loopback port (and a Unix socket in
// the data directory), with max_prepared_transactions set so that
// two-phase commit works. It is not a mock: tests talk to the server over
// PostgreSQL's wire protocol.
//
// The binaries are found through $STREAMSQL_PG_BIN (a directory), then
// the newest /usr/lib/postgresql/*/bin (Debian keeps them off PATH), then
// initdb on PATH. Without them Start skips the test, saying how to install
// them, unless $STREAMSQL_REQUIRE_PG=1 (.ci/run sets it), where it fails.
//
// initdb and postgres refuse to run as root: as root, the data directory
// is made owned by the postgres user and the binaries run through
// `runuser -u postgres`. The server runs with fsync off (a test's data
// need not survive a power cut; a clean Stop and Start keep it).
package pgtest

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a running PostgreSQL. Its methods are safe for concurrent use.
type Server struct {
	// Port is the loopback TCP port; it stays the same across Restart.
	Port int
	// Dir is the data directory (and the Unix socket's directory).
	Dir string

	bin      string
	asUser   string // "postgres" when running as root, else ""
	prepared int
	mu       sync.Mutex
	running  bool
}

// Options configure Start.
type Options struct {
	// MaxPreparedTransactions is the server's max_prepared_transactions;
	// 0 means 10. Set it negative for 0 (two-phase commit disabled).
	MaxPreparedTransactions int
}

// BinDir returns the directory of the PostgreSQL server binaries, or ""
// and a hint.
func BinDir() (string, string) {
	if d := os.Getenv("STREAMSQL_PG_BIN"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, ""
		}
		return "", fmt.Sprintf("$STREAMSQL_PG_BIN=%s holds no initdb", d)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, ""
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), ""
	}
	return "", "no PostgreSQL server binaries (initdb, pg_ctl): install them with `apt-get install -y postgresql`, or set $STREAMSQL_PG_BIN to their directory"
}

// pgVersion is the major version in a /usr/lib/postgresql/N/bin path.
func pgVersion(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// Available reports whether Start can start a server (for tests that
// decide before calling it), and why not.
func Available() (bool, string) {
	d, hint := BinDir()
	return d != "", hint
}

// Start starts a server for t with default options, stopped by t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith starts a server for t with opts, stopped by t.Cleanup. See
// the package doc for how the binaries are found and when missing ones
// skip.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	bin, hint := BinDir()
	if bin == "" {
		if os.Getenv("STREAMSQL_REQUIRE_PG") == "1" {
			t.Fatalf("pgtest: %s", hint)
		}
		t.Skipf("pgtest: %s", hint)
	}
	s := &Server{bin: bin, prepared: opts.MaxPreparedTransactions}
	if s.prepared == 0 {
		s.prepared = 10
	} else if s.prepared < 0 {
		s.prepared = 0
	}
	// Not t.TempDir: its parents are private to root, and the server runs
	// as postgres.
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	s.Dir = dir
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pgtest: server log tail:\n%s", s.LogTail(40))
		}
		s.Stop()
		_ = os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		s.asUser = "postgres"
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("pgtest: running as root needs the postgres user (from the postgresql package): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}
	if out, err := s.command("initdb", "-D", s.data(), "-A", "trust", "-U", "postgres", "-E", "UTF8",
		"--locale=C", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	for attempt := 1; ; attempt++ {
		s.Port = freePort()
		err := s.start()
		if err == nil {
			break
		}
		if attempt < 3 && strings.Contains(s.LogTail(50), "could not bind") {
			continue
		}
		t.Fatalf("pgtest: %v\n%s", err, s.LogTail(40))
	}
	return s
}

func (s *Server) data() string { return filepath.Join(s.Dir, "data") }
func (s *Server) logf() string { return filepath.Join(s.Dir, "server.log") }

// command runs a server binary as the server's user.
func (s *Server) command(name string, args ...string) *exec.Cmd {
	p := filepath.Join(s.bin, name)
	if s.asUser != "" {
		return exec.Command("runuser", append([]string{"-u", s.asUser, "--", p}, args...)...)
	}
	return exec.Command(p, args...)
}

// start runs pg_ctl start and waits until the server accepts connections.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_prepared_transactions=%d -c fsync=off -c max_connections=50",
		s.Port, s.Dir, s.prepared)
	out, err := s.command("pg_ctl", "-D", s.data(), "-l", s.logf(), "-o", o, "-w", "-t", "120", "start").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	s.running = true
	return nil
}

// Stop stops the server ('fast': open sessions are ended, prepared
// transactions kept). Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return
	}
	_, _ = s.command("pg_ctl", "-D", s.data(), "-m", "fast", "-w", "-t", "60", "stop").CombinedOutput()
	s.running = false
}

// Restart stops the server and starts it again on the same port with the
// same data.
func (s *Server) Restart() error {
	s.Stop()
	return s.start()
}

// URL returns a postgres:// URL of database db as the postgres superuser.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// JDBCURL returns the JDBC form of URL ('url' of a jdbc table).
func (s *Server) JDBCURL(db string) string {
	return fmt.Sprintf("jdbc:postgresql://127.0.0.1:%d/%s?user=postgres&sslmode=disable", s.Port, db)
}

// Connect opens a connection to database db for t, closed by t.Cleanup.
func (s *Server) Connect(t testing.TB, db string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.URL(db))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// Exec runs sql (one or more statements, no parameters) in database
// "postgres" on a connection of its own.
func (s *Server) Exec(t testing.TB, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// Rows runs query in database "postgres" and returns its rows as text,
// each row's columns joined by ",", NULL as "NULL", in the order the query
// returns them.
func (s *Server) Rows(t testing.TB, query string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer c.Close(context.Background())
	rows, err := c.Query(ctx, query, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatalf("pgtest: %s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals := rows.RawValues()
		cols := make([]string, len(vals))
		for i, v := range vals {
			if v == nil {
				cols[i] = "NULL"
			} else {
				cols[i] = string(v)
			}
		}
		out = append(out, strings.Join(cols, ","))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("pgtest: %s: %v", query, err)
	}
	return out
}

// PSQL returns the path of the psql client beside the server binaries
// ("" when there is none).
func (s *Server) PSQL() string {
	if p := filepath.Join(s.bin, "psql"); fileExists(p) {
		return p
	}
	if p, err := exec.LookPath("psql"); err == nil {
		return p
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// LogTail returns the last n lines of the server's log.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(s.logf())
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePort picks a loopback port that is free now, below Linux's
// ephemeral range; a collision makes the server fail to bind and Start
// tries another.
func freePort() int {
	for {
		port := 20000 + mrand.IntN(12000)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		_ = l.Close()
		return port
	}
}
