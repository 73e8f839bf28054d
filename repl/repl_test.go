package repl

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/engine"
)

// runScript runs src as a script in a fresh session and returns its
// outputs and error.
func runScript(t *testing.T, src string) (out, errs string, err error) {
	t.Helper()
	var o, e strings.Builder
	eng := engine.New(engine.Options{StateDir: t.TempDir(), Stdout: &o, CheckpointInterval: -1})
	err = Run(context.Background(), Config{Engine: eng, In: strings.NewReader(src), Out: &o, Err: &e, Filename: "script.sql"})
	return o.String(), e.String(), err
}

const lateTable = `CREATE TABLE ev (k BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts
) WITH ('connector' = 'datagen', 'number-of-rows' = '3000', 'seed' = '1',
  'fields.k.min' = '1', 'fields.k.max' = '1',
  'fields.ts.step' = '10 ms', 'fields.ts.max-out-of-orderness' = '3 s');
`

func TestLateRowsWarning(t *testing.T) {
	out, errs, err := runScript(t, lateTable+`
SELECT window_start, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY window_start, window_end;`)
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	if !strings.Contains(errs, "late rows were dropped") {
		t.Fatalf("no late-row warning:\nstdout:\n%s\nstderr:\n%s", out, errs)
	}
}

func TestScriptErrors(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "inc.sql")
	if err := os.WriteFile(inc, []byte("SHOW TABLES;\n\nSELECT x\n  FROM nowhere;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ src, want string }{
		// An error in a SOURCEd file points into that file.
		{"SOURCE '" + inc + "';\nSHOW VIEWS;", inc + ":4:8: unknown table"},
		{"SOURCE '" + inc + "';", "LINE 4:   FROM nowhere;\n               ^"},
		{"SET 'sql-client.execution.result-mode' = 'fancy';", `script.sql:1:1: SET sql-client.execution.result-mode: expected 'table', 'tableau' or 'changelog', got "fancy"`},
		{"SOURCE 'no-such-file.sql';", "no-such-file.sql: no such file"},
		{"SHOW TABLES;\n\n  SELEC 1;", "LINE 3:   SELEC 1"},
	}
	for _, c := range cases {
		_, errs, err := runScript(t, c.src)
		if err == nil {
			t.Errorf("%q: no error", c.src)
		}
		if !strings.Contains(errs, c.want) {
			t.Errorf("%q: stderr lacks %q:\n%s", c.src, c.want, errs)
		}
	}
}

func TestHelpAndQuit(t *testing.T) {
	out, errs, err := runScript(t, "HELP;\nQUIT;\nSELECT nope;")
	if err != nil {
		t.Fatalf("%v: %s", err, errs)
	}
	for _, want := range []string{"INSERT INTO t SELECT", "TUMBLE(TABLE purchases", "datagen, "} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}

// TestWideResults: string columns are sized by their values up to
// 'sql-client.display.max-column-width', longer values are cut with an
// ellipsis, and \x prints rows as records, uncut.
func TestWideResults(t *testing.T) {
	const table = `CREATE TABLE w (k BIGINT, s STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '3',
  'fields.k.kind' = 'sequence', 'fields.s.length' = '40');
`
	out, errs, err := runScript(t, table+"SELECT k, s FROM w;\nSET 'sql-client.display.max-column-width' = '12';\nSELECT k, s FROM w;\n")
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	tables := strings.Split(strings.TrimSpace(out), "\n+-")
	lines := strings.Split(out, "\n")
	var cut30, cut12 int
	for _, l := range lines {
		if !strings.HasPrefix(l, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		if len(cells) != 2 {
			t.Fatalf("ragged row %q:\n%s", l, out)
		}
		switch w := len([]rune(cells[1])) - 2; {
		case w == 30 && strings.HasSuffix(cells[1], "… "):
			cut30++
		case w == 12 && strings.HasSuffix(cells[1], "… "):
			cut12++
		case w != 30 && w != 12:
			t.Errorf("column s is %d wide: %q", w, l)
		}
	}
	if cut30 != 3 || cut12 != 3 {
		t.Errorf("want 3 values cut at 30 and 3 at 12, got %d and %d (%d tables):\n%s", cut30, cut12, len(tables), out)
	}

	out, errs, err = runScript(t, table+"\\x\nSELECT k, s FROM w;\n\\x\n")
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	for _, want := range []string{"vertical display is on", "-[ RECORD 1 ]", "-[ RECORD 3 ]", "k | 2\n", "vertical display is off"} {
		if !strings.Contains(out+errs, want) {
			t.Errorf("\\x: output lacks %q:\n%s", want, out)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "s | "); ok && len(v) != 40 {
			t.Errorf("\\x: value cut: %q", l)
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine("INSERT INTO out\n  SELECT k FROM src"); got != "INSERT INTO out SELECT k FROM src" {
		t.Errorf("got %q", got)
	}
	long := "INSERT INTO out SELECT " + strings.Repeat("a + ", 40) + "a FROM src"
	if got := oneLine(long); len([]rune(got)) != maxStatementWidth || !strings.HasSuffix(got, "…") {
		t.Errorf("got %q (%d characters), want %d ending in …", got, len([]rune(got)), maxStatementWidth)
	}
}

// TestCompleteResume: RESUME JOB ' completes the ids of the jobs kept by
// earlier sessions, with their quotes.
func TestCompleteResume(t *testing.T) {
	dir := t.TempDir()
	eng := engine.New(engine.Options{StateDir: dir})
	sh := &shell{eng: eng, st: newStore(dir)}
	for _, id := range []string{"insert-into-clicks", "insert-into-clicks-2", "other"} {
		if err := sh.st.saveJob(jobRecord{ID: id, SQL: "INSERT INTO x SELECT 1", Status: "STOPPED"}); err != nil {
			t.Fatal(err)
		}
	}
	c := completer{eng: eng, stored: sh.storedJobIDs}
	line := []rune("RESUME JOB 'ins")
	got, n := c.do("", line, len(line))
	var words []string
	for _, g := range got {
		words = append(words, string(line[len(line)-n:])+string(g))
	}
	if strings.Join(words, " ") != "'insert-into-clicks' 'insert-into-clicks-2'" {
		t.Errorf("got %q", words)
	}
}

// TestStatementSetScriptErrors: in a script, a statement other than
// INSERT between BEGIN STATEMENT SET and END fails with its line, and a
// set left open at the end of the script is an error at its BEGIN.
func TestStatementSetScriptErrors(t *testing.T) {
	const ddl = "CREATE TABLE src (k BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '5');\n" +
		"CREATE TABLE snk (k BIGINT) WITH ('connector' = 'blackhole');\n"
	cases := []struct{ src, want string }{
		{ddl + "BEGIN STATEMENT SET;\nINSERT INTO snk SELECT k FROM src;\nSHOW TABLES;\nEND;",
			"script.sql:5:1: only INSERT statements may appear in a statement set, not SHOW TABLES; the statement set is discarded"},
		{ddl + "BEGIN STATEMENT SET;\nINSERT INTO snk SELECT k FROM src;\n",
			"script.sql:3:1: BEGIN STATEMENT SET has no END: its 1 INSERT statement(s) were not run"},
		{ddl + "END;", "script.sql:3:1: END without BEGIN STATEMENT SET"},
		// A syntax error in the set mode leaves it too, and says so.
		{ddl + "BEGIN STATEMENT SET;\nINSERT INTO snk SELEC k FROM src;\n",
			"statement set discarded: 0 INSERT statement(s) not submitted"},
	}
	for _, c := range cases {
		out, errs, err := runScript(t, c.src)
		if err == nil {
			t.Errorf("%q: no error", c.src)
		}
		if !strings.Contains(errs, c.want) {
			t.Errorf("%q: stderr lacks %q:\nstdout:\n%s\nstderr:\n%s", c.src, c.want, out, errs)
		}
	}
}
