package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestShellStatementSet drives the real shell on a pseudo-terminal:
// BEGIN STATEMENT SET; collects INSERTs (Flink's [INFO] answer, a prompt
// that says so), a statement other than INSERT and Ctrl-C leave the set
// mode saying what was dropped, END; submits the INSERTs as one job that
// SHOW JOBS lists once and STOP JOB stops with a savepoint; Tab completes
// the keywords.
func TestShellStatementSet(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	const wait = 15 * time.Second

	typeText, scr, exit := shellSession(t, dir, "--state-dir", state)
	scr.expect(t, "streamsql> ", wait)
	typeText("CREATE TABLE src (k BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '200', 'fields.k.kind' = 'sequence');\r")
	scr.expect(t, "table src created", wait)
	typeText("CREATE TABLE s1 (k BIGINT) WITH ('connector' = 'blackhole');\r")
	scr.expect(t, "table s1 created", wait)
	typeText("CREATE TABLE s2 (k BIGINT) WITH ('connector' = 'blackhole');\r")
	scr.expect(t, "table s2 created", wait)
	typeText("SET 'execution.checkpointing.interval' = '100 ms';\r")
	scr.expect(t, "set execution.checkpointing.interval", wait)

	// Tab completes BEGIN STATEMENT SET.
	typeText("BEG\t")
	scr.expect(t, "BEGIN", wait)
	typeText(" STAT\t")
	scr.expect(t, "STATEMENT", wait)
	typeText(" SET;\r")
	scr.expect(t, "[INFO] Begin a statement set", wait)
	scr.expect(t, "streamsql (statement set)> ", wait)
	typeText("INSERT INTO s1 SELECT k FROM src;\r")
	scr.expect(t, "[INFO] Add SQL update statement to the statement set.", wait)
	typeText("SHOW TABLES;\r")
	scr.expect(t, "only INSERT statements may appear in a statement set, not SHOW TABLES; the statement set is discarded", wait)
	scr.expect(t, "streamsql> ", wait)

	// Ctrl-C leaves the set mode.
	typeText("BEGIN STATEMENT SET;\r")
	scr.expect(t, "streamsql (statement set)> ", wait)
	typeText("INSERT INTO s1 SELECT k FROM src;\r")
	scr.expect(t, "[INFO] Add SQL update statement to the statement set.", wait)
	typeText("\x03")
	scr.expect(t, "statement set discarded: 1 INSERT statement(s) not submitted", wait)
	scr.expect(t, "streamsql> ", wait)

	// END submits the set as one job.
	typeText("BEGIN STATEMENT SET;\r")
	scr.expect(t, "streamsql (statement set)> ", wait)
	typeText("INSERT INTO s1 SELECT k FROM src WHERE k % 2 = 0;\r")
	scr.expect(t, "[INFO] Add SQL update statement to the statement set.", wait)
	typeText("INSERT INTO s2 SELECT k FROM src;\r")
	scr.expect(t, "[INFO] Add SQL update statement to the statement set.", wait)
	typeText("END;\r")
	scr.expect(t, "job statement-set-s1-s2 submitted", wait)
	scr.expect(t, "streamsql> ", wait)
	typeText("SHOW JOBS;\r")
	scr.expect(t, "| statement-set-s1-s2 ", wait)
	scr.expect(t, "RUNNING", wait)
	scr.expect(t, "EXECUTE STATEMENT SET BEGIN INSERT INTO s1", wait)
	scr.expect(t, "streamsql> ", wait)
	if n := strings.Count(scr.text(), "| statement-set-s1-s2 "); n != 1 {
		t.Errorf("SHOW JOBS lists the statement set %d times:\n%s", n, scr.text())
	}
	typeText("STOP JOB 'statement-set-s1-s2' WITH SAVEPOINT;\r")
	scr.expect(t, "job statement-set-s1-s2 stopped with savepoint", wait)
	scr.expect(t, "RESUME JOB 'statement-set-s1-s2'", wait)
	scr.expect(t, "streamsql> ", wait)
	// It resumes from its savepoint, as one job again.
	typeText("RESUME JOB 'statement-set-s1-s2';\r")
	scr.expect(t, "resuming job statement-set-s1-s2 from savepoint", wait)
	scr.expect(t, "job statement-set-s1-s2 submitted", wait)
	typeText("\x04")
	scr.expect(t, "job statement-set-s1-s2 stopped with savepoint ", wait)
	exit()
}
