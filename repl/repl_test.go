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
		{"SET 'sql-client.execution.result-mode' = 'fancy';", `script.sql:1:1: SET sql-client.execution.result-mode: expected 'tableau' or 'changelog', got "fancy"`},
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
