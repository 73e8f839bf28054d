package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// legacyDir holds a state directory written by the binary of the commit
// before source offsets were kept per split (abfd277), in which each
// source's offset is one blob under split "all": two jobs (filters, so
// that no operator state is involved: window state of that version is
// TestRestoreLegacyWindowState's), each killed with SIGKILL midway,
// and the output their sinks had written by then. It was made with the
// SQL files next to it, the input of writeLegacyInput in /tmp/gen/in, and:
//
//	streamsql run --state-dir /tmp/gen/state fs.sql & sleep 0.07; kill -9 $!   # until inspect shows file b.csv
//	streamsql run --state-dir /tmp/gen/state gen.sql & sleep 1; kill -9 $!
const legacyDir = "testdata/checkpoints-before-per-split-offsets"

// writeLegacyInput writes the filesystem job's input: three CSV files of
// 150,000 rows "i mod 7, i, 2024-01-01 00:00:00 + 10 ms × i".
func writeLegacyInput(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	i := 0
	// The sizes of the files the checkpoints were taken on.
	sizes := map[string]int64{"a": 4838890, "b": 4950000, "c": 4950000}
	for _, name := range []string{"a", "b", "c"} {
		f, err := os.Create(filepath.Join(dir, name+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriter(f)
		for range 150_000 {
			fmt.Fprintf(w, "%d,%d,%s\n", i%7, i, start.Add(time.Duration(i)*10*time.Millisecond).Format("2006-01-02 15:04:05.000"))
			i++
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(f.Name()); err != nil || st.Size() != sizes[name] {
			t.Fatalf("%s.csv: %v, want %d bytes", name, err, sizes[name])
		}
	}
}

// TestRestoreCheckpointBeforePerSplitOffsets resumes the jobs of
// legacyDir with this binary: `checkpoints inspect` describes their one
// offset blob; each run restores it (the filesystem source midway through
// its second file, datagen after 45,056 rows) and finishes with the output
// of an uninterrupted run; the checkpoints it writes keep an offset per
// split, named by the split.
func TestRestoreCheckpointBeforePerSplitOffsets(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bin := binary(t)
	dir := t.TempDir()
	copyTree(t, legacyDir, filepath.Join(dir, "old"))
	writeLegacyInput(t, filepath.Join(dir, "in"))
	// The SQL files name /tmp/gen/in for the input and /tmp/gen/out-* for
	// the output: the input is shared, the output is the run's.
	sqlFile := func(root, name string) string {
		b, err := os.ReadFile(filepath.Join(legacyDir, name))
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), "/tmp/gen/in", filepath.Join(dir, "in"))
		s = strings.ReplaceAll(s, "/tmp/gen/", root+"/")
		p := filepath.Join(root, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cli := func(t *testing.T, args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("streamsql %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	old, ref := filepath.Join(dir, "old"), filepath.Join(dir, "ref")
	if err := os.MkdirAll(ref, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		job, sql, out, before, after string
	}{
		{"legacy-fs", "fs.sql", "out-fs/part-0.json",
			"| all   | file b.csv (#2): 50704 lines read, next at line 50705 (byte 1673232) |",
			"| " + filepath.Join(dir, "in", "c.csv") + " | read to the end, and every file before it (#3) |"},
		{"legacy-gen", "gen.sql", "out-gen/part-0.csv",
			"| all   | 45056 rows generated |",
			"| 0     | 100000 rows generated |"},
	} {
		t.Run(tc.job, func(t *testing.T) {
			state := filepath.Join(old, "state")
			if got := cli(t, "checkpoints", "--state-dir", state, "inspect", tc.job); !strings.Contains(got, tc.before) {
				t.Fatalf("inspect of the old checkpoint: want %q in\n%s", tc.before, got)
			}
			if got := cli(t, "run", "-v", "--state-dir", state, sqlFile(old, tc.sql)); !strings.Contains(got, "restoring checkpoint") {
				t.Fatalf("the run did not restore the old checkpoint:\n%s", got)
			}
			cli(t, "run", "--state-dir", filepath.Join(ref, "state"), sqlFile(ref, tc.sql))
			got, err := os.ReadFile(filepath.Join(old, tc.out))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(ref, tc.out))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Count(want, []byte("\n")) < 100 {
				t.Fatalf("reference output too small: %d bytes", len(want))
			}
			compareOutput(t, got, want)
			if got := cli(t, "checkpoints", "--state-dir", state, "inspect", tc.job); !strings.Contains(got, tc.after) {
				t.Fatalf("inspect of the new checkpoint: want %q in\n%s", tc.after, got)
			}
		})
	}
}
