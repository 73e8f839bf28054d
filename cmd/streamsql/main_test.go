package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden outputs of queries/ examples")

// sinkFiles are the files the examples of queries/ write, by example: part
// of their output.
var sinkFiles = map[string][]string{
	"sessions":      {"out/sessions/part-0.json"},
	"statement_set": {"out/clicks_per_user/part-0.json", "out/cart_clicks/part-0.json"},
}

// TestQueries runs every example in queries/ through the CLI from another
// working directory (cd $(mktemp -d) && streamsql run /path/to/queries/x.sql),
// as the examples work from anywhere: their input paths are relative to
// the query file, their output paths to the working directory. Each
// output is compared with the golden file queries/testdata/NAME.out.
func TestQueries(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "queries", "*.sql"))
	if err != nil || len(files) < 3 {
		t.Fatalf("expected at least 3 example queries, got %v (%v)", files, err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".sql")
		if strings.HasPrefix(name, "kafka") {
			continue // needs a broker: run by the kafka tests
		}
		if strings.HasPrefix(name, "postgres") {
			continue // needs a database: run by TestPostgresExampleAsDocumented
		}
		t.Run(name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), []string{"run", "--state-dir", t.TempDir(), f}, &stdout, &stderr)
			if code != 0 {
				t.Fatalf("exit status %d\nstderr:\n%s", code, stderr.String())
			}
			out := stdout.String()
			// A query writing into file sinks: its output is the files,
			// then stdout.
			if files := sinkFiles[name]; len(files) > 0 {
				var b strings.Builder
				for _, f := range files {
					content, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					b.WriteString("-- " + f + "\n")
					b.Write(content)
				}
				out = b.String() + "-- stdout\n" + out
			}
			if strings.Count(out, "\n") < 5 {
				t.Fatalf("too little output:\n%s\nstderr:\n%s", out, stderr.String())
			}
			golden := filepath.Join(root, "queries", "testdata", name+".out")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if out != string(want) {
				t.Fatalf("output differs from %s (run with -update after checking):\n--- got\n%s--- want\n%s", golden, out, want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"run", "--help"}} {
		var stdout, stderr bytes.Buffer
		if code := Main(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d", args, code)
		}
		if !strings.Contains(stdout.String()+stderr.String(), "Usage") {
			t.Fatalf("%v: no usage text:\n%s%s", args, stdout.String(), stderr.String())
		}
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ sql, want string }{
		{"SELECT * FROMM t;", "bad.sql:1:"},
		{"CREATE TABLE bids (price BIGINT, ts TIMESTAMP(3)) WITH ('connector' = 'datagen');\nSELECT prcie FROM bids;", `bad.sql:2:8: unknown column "prcie" in table bids; did you mean "price"?`},
		{"CREATE TABLE t (a BIGINT) WITH ('connector' = 'datagen', 'number-of-rowz' = '5');\nSELECT a FROM t;", `did you mean "number-of-rows"?`},
		{"CREATE TABLE t (a BIGINT) WITH ('connector' = 'nope');\nSELECT a FROM t;", `unknown connector "nope"`},
	}
	for _, c := range cases {
		path := filepath.Join(dir, "bad.sql")
		if err := os.WriteFile(path, []byte(c.sql), 0o644); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		code := Main(context.Background(), []string{"run", "--state-dir", dir, path}, &stdout, &stderr)
		if code != 1 {
			t.Errorf("%q: exit %d, want 1", c.sql, code)
		}
		if !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%q: stderr %q does not contain %q", c.sql, stderr.String(), c.want)
		}
	}
}

// TestVersion runs the real binary's --version and version: the module
// version and the Go version; built from a checkout Go recognises (not a
// git worktree), the revision it was built from.
func TestVersion(t *testing.T) {
	bin := binary(t)
	for _, arg := range []string{"--version", "version"} {
		out, err := exec.Command(bin, arg).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", arg, err, out)
		}
		line := strings.TrimSpace(string(out))
		if !strings.HasPrefix(line, "streamsql ") || !strings.HasSuffix(line, " "+runtime.Version()) {
			t.Errorf("%s: got %q, want streamsql VERSION … %s", arg, line, runtime.Version())
		}
		if head, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil && regexp.MustCompile(` revision [0-9a-f]{40}`).MatchString(line) &&
			!strings.Contains(line, "revision "+strings.TrimSpace(string(head))) {
			t.Errorf("%s: got %q, want the revision %s", arg, line, head)
		}
	}
}

// TestDescribeBuild pins the version line for the build settings Go
// records.
func TestDescribeBuild(t *testing.T) {
	for _, c := range []struct{ info, want string }{
		{"go\tgo1.26.0\npath\tgithub.com/streamsql/streamsql/cmd/streamsql\nmod\tgithub.com/streamsql/streamsql\tv0.3.0\t\n" +
			"build\tvcs=git\nbuild\tvcs.revision=360fbdcf2d7ec1f3013b20c149ce8795ccf00168\nbuild\tvcs.time=2026-12-01T21:31:00Z\nbuild\tvcs.modified=true\n",
			"streamsql v0.3.0 revision 360fbdcf2d7ec1f3013b20c149ce8795ccf00168+dirty (2026-12-01T21:31:00Z) go1.26.0"},
		{"go\tgo1.26.0\npath\tgithub.com/streamsql/streamsql/cmd/streamsql\nmod\tgithub.com/streamsql/streamsql\t(devel)\t\nbuild\t-buildvcs=false\n",
			"streamsql (devel) (no VCS revision recorded) go1.26.0"},
	} {
		info, err := debug.ParseBuildInfo(c.info)
		if err != nil {
			t.Fatal(err)
		}
		info.GoVersion = "go1.26.0" // the go line is not parsed
		if got := describeBuild(info); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}

// TestFlagsAfterArguments: flags may follow the subcommand and its
// arguments, as users type them; "--" ends the flags.
func TestFlagsAfterArguments(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := Main(context.Background(), []string{"checkpoints", "list", "--state-dir", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("checkpoints list --state-dir: exit %d: %s", code, stderr.String())
	}
	if want := "no jobs in " + dir; !strings.Contains(stdout.String(), want) {
		t.Errorf("checkpoints list --state-dir %s printed %q, want %q", dir, stdout.String(), want)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	v := fs.Bool("v", false, "")
	if err := parseInterleaved(fs, []string{"a", "-v", "b", "--", "-x", "c"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(fs.Args(), " "); !*v || got != "a b -x c" {
		t.Errorf("parseInterleaved: v=%v args=%q, want v=true args=\"a b -x c\"", *v, got)
	}
}
