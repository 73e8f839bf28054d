package pgtest

import (
	"strings"
	"testing"
)

// TestServer starts a server, writes through it, restarts it and reads
// the rows back, and checks that two-phase commit is enabled.
func TestServer(t *testing.T) {
	s := Start(t)
	s.Exec(t, "CREATE TABLE t (k INT PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a'), (2, NULL)")
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Rows(t, "SELECT k, v FROM t ORDER BY k"), ";"); got != "1,a;2,NULL" {
		t.Fatalf("rows after restart: %q", got)
	}
	if got := s.Rows(t, "SHOW max_prepared_transactions"); len(got) != 1 || got[0] != "10" {
		t.Fatalf("max_prepared_transactions = %v, want 10", got)
	}
	s.Exec(t, "BEGIN; INSERT INTO t VALUES (3, 'c'); PREPARE TRANSACTION 'pgtest-1'")
	s.Exec(t, "COMMIT PREPARED 'pgtest-1'")
	if got := s.Rows(t, "SELECT count(*) FROM t"); got[0] != "3" {
		t.Fatalf("count after COMMIT PREPARED: %v", got)
	}
}
