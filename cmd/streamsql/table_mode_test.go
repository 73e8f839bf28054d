package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tableHeader is the header line of a (k BIGINT, n BIGINT) result.
const tableHeader = "|                    k |                    n |"

var countRow = regexp.MustCompile(`^\|\s+(\d+) \|\s+(\d+) \|$`)

// TestShellTableMode drives the real shell through a pseudo-terminal (60
// lines) in Flink's 'table' result mode: a non-windowed GROUP BY is shown
// as one table redrawn in place as its counts change, bounded to the
// terminal with a "more rows" line; Ctrl-C stops an unbounded one and
// leaves its last table on the screen.
func TestShellTableMode(t *testing.T) {
	dir := t.TempDir()
	typeText, scr, wait := shellSession(t, dir, "--state-dir", dir+"/state")
	const timeout = 30 * time.Second
	scr.expect(t, "streamsql> ", timeout)
	typeText("CREATE TABLE ev (k BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '500', 'number-of-rows' = '2000', 'seed' = '3', 'fields.k.min' = '1', 'fields.k.max' = '60');\r")
	scr.expect(t, "table ev created", timeout)
	typeText("SET 'sql-client.execution.result-mode' = 'table';\r")
	scr.expect(t, "set sql-client.execution.result-mode = table", timeout)
	typeText("SELECT k, COUNT(*) AS n FROM ev GROUP BY k;\r")
	scr.expect(t, "60 rows in", timeout)
	scr.expect(t, "streamsql> ", timeout)

	raw := scr.rawText()
	redraws := strings.Count(raw, "\x1b[J") // each redraw clears the previous frame
	screen := terminalLines(raw)
	text := strings.Join(screen, "\n")
	if n := strings.Count(text, tableHeader); n != 1 {
		t.Fatalf("%d tables on the screen, want one redrawn in place (%d redraws):\n%s", n, redraws, text)
	}
	if redraws < 2 {
		t.Fatalf("the table was drawn %d times over a 4 s query: not live", redraws)
	}
	// 60 lines less the 8 a frame leaves free.
	rows := 0
	for _, l := range screen {
		if m := countRow.FindStringSubmatch(l); m != nil {
			rows++
			if n, _ := strconv.Atoi(m[2]); n <= 0 {
				t.Errorf("row %q", l)
			}
		}
	}
	if rows != 52 || !strings.Contains(text, "\n… 8 more rows\n") {
		t.Fatalf("want 52 rows and 8 more on a 60-line terminal, got %d rows:\n%s", rows, text)
	}

	// Unbounded: Ctrl-C stops the query; its last table stays.
	typeText("CREATE TABLE live (k BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '200', 'seed' = '4', 'fields.k.min' = '1', 'fields.k.max' = '5');\r")
	scr.expect(t, "table live created", timeout)
	typeText("SELECT k, COUNT(*) AS n FROM live GROUP BY k;\r")
	scr.expect(t, "BIGINT |", timeout)
	// Let it update for a while.
	time.Sleep(700 * time.Millisecond)
	typeText("\x03")
	scr.expect(t, "cancelled", timeout)
	scr.expect(t, "streamsql> ", timeout)
	screen = terminalLines(scr.rawText())
	text = strings.Join(screen, "\n")
	last := text[strings.LastIndex(text, "SELECT k, COUNT(*) AS n FROM live"):]
	if strings.Count(last, tableHeader) != 1 {
		t.Fatalf("after Ctrl-C: want the last table once on the screen:\n%s", last)
	}
	total := 0
	for _, l := range strings.Split(last, "\n") {
		if m := countRow.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[2])
			total += n
		}
	}
	if total == 0 || !strings.Contains(last, "5 rows in") {
		t.Fatalf("after Ctrl-C: no counts left on the screen:\n%s", last)
	}
	typeText("\x04")
	wait()
}
