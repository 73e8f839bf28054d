package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/parser"
)

// setDDL is a bounded source and two filesystem sinks.
func setDDL(dir string) string {
	return `CREATE TABLE ev (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
	WITH ('connector' = 'datagen', 'number-of-rows' = '10', 'fields.k.kind' = 'sequence', 'fields.k.start' = '1', 'fields.k.end' = '10');
CREATE TABLE a (k BIGINT) WITH ('connector' = 'filesystem', 'path' = '` + dir + `/a', 'format' = 'csv');
CREATE TABLE b (k BIGINT) WITH ('connector' = 'filesystem', 'path' = '` + dir + `/b', 'format' = 'csv');
`
}

// TestStatementSetMode: between BEGIN STATEMENT SET and END a session
// collects INSERTs (planning each to catch mistakes at once) and refuses
// anything else; any error there discards the set and leaves the mode.
func TestStatementSetMode(t *testing.T) {
	ctx := context.Background()
	eng := engine.New(engine.Options{StateDir: t.TempDir(), CheckpointInterval: -1})
	s := eng.NewSession()
	sessionExec(t, s, setDDL(t.TempDir()))
	exec := func(sql string) (*engine.Result, error) {
		t.Helper()
		st, err := parser.ParseOne("t.sql", sql)
		if err != nil {
			t.Fatal(err)
		}
		return s.Execute(ctx, st)
	}
	mustMessage := func(sql, want string) {
		t.Helper()
		res, err := exec(sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if res.Kind != engine.Message || res.Message != want {
			t.Fatalf("%s: got %+v, want the message %q", sql, res, want)
		}
	}
	mustFail := func(sql, want string) {
		t.Helper()
		_, err := exec(sql)
		var pe *parser.Error
		if err == nil || !strings.Contains(err.Error(), want) || !errors.As(err, &pe) {
			t.Fatalf("%s: got %v, want a *parser.Error containing %q", sql, err, want)
		}
		if s.InStatementSet() {
			t.Fatalf("%s: the session is still in the statement set after an error", sql)
		}
	}

	mustFail("END", "1:1: END without BEGIN STATEMENT SET")

	mustMessage("BEGIN STATEMENT SET", engine.BeganSetMessage)
	if !s.InStatementSet() {
		t.Fatal("not in a statement set after BEGIN STATEMENT SET")
	}
	mustMessage("INSERT INTO a SELECT k FROM ev", engine.AddedToSetMessage)
	mustFail("SHOW TABLES", "1:1: only INSERT statements may appear in a statement set, not SHOW TABLES; the statement set is discarded")

	mustMessage("BEGIN STATEMENT SET", engine.BeganSetMessage)
	mustFail("SELECT k FROM ev", "not a query (SELECT)")
	mustMessage("BEGIN STATEMENT SET", engine.BeganSetMessage)
	mustFail("BEGIN STATEMENT SET", "BEGIN STATEMENT SET inside a statement set")
	mustMessage("BEGIN STATEMENT SET", engine.BeganSetMessage)
	mustFail("STOP JOB 'x'", "not STOP JOB")
	// An INSERT that does not plan is reported at once, with its position.
	mustMessage("BEGIN STATEMENT SET", engine.BeganSetMessage)
	mustMessage("INSERT INTO a SELECT k FROM ev", engine.AddedToSetMessage)
	mustFail("INSERT INTO b SELECT nope FROM ev", `1:22: unknown column "nope"`)
	// An empty set is an error.
	mustMessage("BEGIN STATEMENT SET", engine.BeganSetMessage)
	mustFail("END", "empty statement set")

	// Two INSERTs into one table: refused at END, naming both.
	mustMessage("BEGIN STATEMENT SET", engine.BeganSetMessage)
	mustMessage("INSERT INTO a SELECT k FROM ev WHERE k < 3", engine.AddedToSetMessage)
	mustMessage("INSERT INTO A SELECT k FROM ev WHERE k > 8", engine.AddedToSetMessage)
	mustFail("END", "1:1: the statement set writes into table a twice (also its INSERT 1, at line 1, column 1): combine them into one INSERT INTO A SELECT … UNION ALL SELECT …")
	if _, err := s.Exec(ctx, "EXECUTE STATEMENT SET BEGIN\n  INSERT INTO a SELECT k FROM ev;\n  INSERT INTO b SELECT k FROM ev;\n  INSERT INTO a SELECT k FROM ev;\nEND;"); err == nil ||
		err.Error() != "4:3: the statement set writes into table a twice (also its INSERT 1, at line 2, column 3): combine them into one INSERT INTO a SELECT … UNION ALL SELECT …" {
		t.Fatalf("EXECUTE STATEMENT SET with two INSERTs into a: %v", err)
	}

	// Discarding says how many INSERTs were dropped.
	mustMessage("BEGIN STATEMENT SET", engine.BeganSetMessage)
	mustMessage("INSERT INTO a SELECT k FROM ev", engine.AddedToSetMessage)
	mustMessage("INSERT INTO b SELECT k FROM ev", engine.AddedToSetMessage)
	if n, ok := s.DiscardStatementSet(); !ok || n != 2 {
		t.Fatalf("DiscardStatementSet = %d, %v; want 2, true", n, ok)
	}
	if _, ok := s.DiscardStatementSet(); ok {
		t.Fatal("a second DiscardStatementSet found a set")
	}

	// A script that leaves a set open fails at its BEGIN.
	_, err := s.Exec(ctx, "SHOW TABLES;\nBEGIN STATEMENT SET;\nINSERT INTO a SELECT k FROM ev;")
	if err == nil || !strings.HasPrefix(err.Error(), "2:1: BEGIN STATEMENT SET has no END: its 1 INSERT statement(s) were not run") {
		t.Fatalf("unclosed set in a script: %v", err)
	}
	if s.InStatementSet() {
		t.Fatal("still in the statement set after the script")
	}
}
