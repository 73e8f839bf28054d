package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/exec/state"
)

// legacyWindowDir holds a state directory written by the binary of the
// commit before window state moved into key-group tables (abfd277): a
// keyed TUMBLE aggregation (win.sql) over the input of writeLegacyInput,
// killed with SIGKILL midway through the second file, after 8 checkpoints,
// with 7 open windows; and the output its sink had written by then. It was
// made with that commit's binary, the input of writeLegacyInput in
// /tmp/gen/in, and:
//
//	streamsql run --state-dir state win.sql & sleep 0.35; kill -9 $!
const legacyWindowDir = "testdata/checkpoints-before-key-groups"

// TestRestoreLegacyWindowState resumes the job of legacyWindowDir with
// this binary at parallelism 1 and 2: the window aggregation imports the
// accumulators of the old format (each subtask those of its key groups)
// and the output equals an uninterrupted run's (at parallelism 2 both
// subtasks own some of the 7 keys). A changed query is still refused,
// naming the operator. (That the first checkpoint after the import holds
// the state in the new tables only is TestWindowAggRestoreLegacy's, in
// operators/window.)
func TestRestoreLegacyWindowState(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bin := binary(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	writeLegacyInput(t, in)
	sqlText, err := os.ReadFile(filepath.Join(legacyWindowDir, "win.sql"))
	if err != nil {
		t.Fatal(err)
	}
	// root's copy of win.sql, run at parallelism p, with the query edited
	// by edit.
	sqlFile := func(root string, p int, edit func(string) string) string {
		s := strings.ReplaceAll(string(sqlText), "/tmp/gen/in", in)
		s = strings.ReplaceAll(s, "/tmp/gen/", root+"/")
		s = fmt.Sprintf("SET 'parallelism.default' = '%d';\n", p) + edit(s)
		f := filepath.Join(root, "win.sql")
		if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	same := func(s string) string { return s }
	run := func(args ...string) (string, error) {
		out, err := exec.Command(bin, args...).CombinedOutput()
		return string(out), err
	}
	ref := filepath.Join(dir, "ref")
	if err := os.MkdirAll(ref, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := run("run", "--state-dir", filepath.Join(ref, "state"), sqlFile(ref, 1, same)); err != nil {
		t.Fatalf("reference run: %v\n%s", err, out)
	}
	want, err := os.ReadFile(filepath.Join(ref, "out-window", "part-0.json"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(want, []byte("\n")) < 1000 {
		t.Fatalf("reference output too small: %d bytes", len(want))
	}
	want = sortLines(want)
	owners := map[int]bool{}
	for k := range int64(7) {
		owners[state.SubtaskOf(state.KeyGroupOf(state.HashIntKey(k), state.DefaultMaxParallelism), 2, state.DefaultMaxParallelism)] = true
	}
	if len(owners) != 2 {
		t.Fatalf("at parallelism 2 the keys 0-6 go to subtasks %v only", owners)
	}

	for _, p := range []int{1, 2} {
		t.Run(fmt.Sprintf("parallelism-%d", p), func(t *testing.T) {
			old := filepath.Join(dir, fmt.Sprint("p", p))
			copyTree(t, legacyWindowDir, old)
			stateDir := filepath.Join(old, "state")
			out, err := run("run", "-v", "--state-dir", stateDir, sqlFile(old, p, same))
			if err != nil {
				t.Fatalf("resumed run: %v\n%s", err, out)
			}
			if !strings.Contains(out, `msg="restoring checkpoint" job=legacy-window checkpoint=8`) {
				t.Fatalf("the run did not restore the old checkpoint 8:\n%s", out)
			}
			part := filepath.Join(old, "out-window", "part-0.json")
			got, err := os.ReadFile(part)
			if err != nil {
				t.Fatal(err)
			}
			compareOutput(t, sortLines(got), want)
		})
	}

	t.Run("changed-query", func(t *testing.T) {
		old := filepath.Join(dir, "changed")
		copyTree(t, legacyWindowDir, old)
		out, err := run("run", "--state-dir", filepath.Join(old, "state"), sqlFile(old, 1, func(s string) string {
			return strings.Replace(s, "MAX(v)", "MIN(v)", 1)
		}))
		if err == nil {
			t.Fatalf("a changed query restored the old window state:\n%s", out)
		}
		for _, w := range []string{`"2-window-agg"`, "aggregates: checkpoint has [COUNT(*), SUM(BIGINT), MAX(BIGINT)], plan has [COUNT(*), SUM(BIGINT), MIN(BIGINT)]"} {
			if !strings.Contains(out, w) {
				t.Errorf("the refusal does not say %q:\n%s", w, out)
			}
		}
		if strings.Contains(out, "state: operator") {
			t.Errorf("the refusal stutters:\n%s", out)
		}
	})
}
