package nexmark_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/engine"
)

// TestNexmarkQueries runs every file of queries/nexmark through the
// engine. A file's header says what to expect:
//
//	-- error: <text>    planning the file's statements fails with an error
//	                    containing <text> (a query the engine does not
//	                    support yet);
//	-- rows: <n>        the query emits exactly n changelog rows (what its
//	                    INSERT writes to the sink);
//	-- rows: <lo>..<hi> it emits between lo and hi rows.
//
// A file that runs is run once, its INSERT INTO line removed so that the
// SELECT's changelog is collected, and its result compared with SQLite's
// computation of the query (checkSQLite). q10, whose point is its
// partitioned file sink, also runs as written, into files.
func TestNexmarkQueries(t *testing.T) {
	files, err := filepath.Glob("../../queries/nexmark/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no queries: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".sql")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			wantErr, lo, hi := header(t, string(src))
			if wantErr != "" {
				rows, err := run(t, file, string(src))
				if err == nil {
					t.Fatalf("ran (%d rows), want an error containing %q", rows, wantErr)
				}
				if !strings.Contains(err.Error(), wantErr) {
					t.Fatalf("error %q, want one containing %q", err, wantErr)
				}
				return
			}
			if name == "q10" {
				if rows, err := run(t, file, string(src)); err != nil {
					t.Fatal(err)
				} else if rows < lo || rows > hi {
					t.Fatalf("wrote %d rows, want %d..%d", rows, lo, hi)
				}
			}
			rows := checkSQLite(t, name, string(src))
			if rows < lo || rows > hi {
				t.Fatalf("%d rows, want %d..%d", rows, lo, hi)
			}
			t.Logf("%d rows", rows)
		})
	}
}

// header reads the -- error: and -- rows: lines.
func header(t *testing.T, src string) (wantErr string, lo, hi int64) {
	lo, hi = -1, -1
	for _, line := range strings.Split(src, "\n") {
		if v, ok := strings.CutPrefix(line, "-- error: "); ok {
			wantErr = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "-- rows: "); ok {
			a, b, rng := strings.Cut(strings.TrimSpace(v), "..")
			var err1, err2 error
			lo, err1 = strconv.ParseInt(a, 10, 64)
			hi = lo
			if rng {
				hi, err2 = strconv.ParseInt(b, 10, 64)
			}
			if err1 != nil || err2 != nil {
				t.Fatalf("bad header line %q", line)
			}
		}
	}
	if wantErr == "" && lo < 0 {
		t.Fatal("the file has neither '-- error:' nor '-- rows:'")
	}
	return wantErr, lo, hi
}

// run executes the statements of a file and returns the number of rows its
// INSERT wrote.
func run(t *testing.T, file, src string) (int64, error) {
	// Output paths (q10's) go under the test's directory.
	out := t.TempDir()
	src = strings.ReplaceAll(src, "file:///tmp/nexmark/", "file://"+filepath.ToSlash(out)+"/")
	stmts, err := engine.Parse(filepath.Base(file), src)
	if err != nil {
		return 0, err
	}
	// Relative paths (q13's side input) resolve against the file's
	// directory, as `streamsql run FILE` resolves them.
	eng := engine.New(engine.Options{StateDir: t.TempDir(), CheckpointInterval: -1, BaseDir: filepath.Dir(file)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // generous: -race on a loaded machine
	defer cancel()
	var rows int64
	for _, st := range stmts {
		res, err := eng.Execute(ctx, st)
		if err != nil {
			return rows, err
		}
		if res.Kind == engine.Query {
			if err := res.Query.Run(ctx, nil); err != nil {
				return rows, err
			}
			rows += res.Query.Stats().RecordsOut
		}
	}
	if filepath.Base(file) == "q10.sql" {
		checkQ10(t, out, rows)
	}
	return rows, nil
}

// checkQ10 checks q10's partitioned output: every row in a part file of a
// dt=…/hm=… directory that has its success file.
func checkQ10(t *testing.T, out string, rows int64) {
	parts, err := filepath.Glob(filepath.Join(out, "data/output/bid/dt=*/hm=*/part-0-*.csv"))
	if err != nil || len(parts) == 0 {
		t.Fatalf("q10 wrote no part files under %s: %v", out, err)
	}
	var lines int64
	for _, p := range parts {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lines += int64(strings.Count(string(b), "\n"))
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "_SUCCESS")); err != nil {
			t.Errorf("partition %s was not committed: %v", filepath.Dir(p), err)
		}
	}
	if lines != rows {
		t.Fatalf("q10's part files hold %d rows, the job wrote %d", lines, rows)
	}
}
