package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSavepointDirStaysInside builds savepoint paths from traversal names
// (a job named by SET 'pipeline.name', a savepoint name from a client):
// every one must be a single entry of STATE/savepoints.
func TestSavepointDirStaysInside(t *testing.T) {
	state := t.TempDir()
	root := filepath.Join(state, "savepoints")
	for _, c := range []struct{ job, name string }{
		{"../../../X", ""}, {"../../../X", "sp"}, {"job", "../../../etc/x"}, {"a/b", "c/d"},
		{"..", ".."}, {"job", ".."}, {"", "."}, {"/abs", "x"}, {`..\..\x`, "y"},
	} {
		dir := SavepointDir(state, c.job, c.name)
		rel, err := filepath.Rel(root, dir)
		if err != nil || rel == "." || rel == ".." || strings.ContainsRune(rel, filepath.Separator) {
			t.Errorf("SavepointDir(%q, %q) = %s: not one entry of %s", c.job, c.name, dir, root)
		}
	}
}

// TestSavepointDirUnique: two unnamed savepoints of one job in the same
// second get different directories (the second one used to fail with
// "savepoint directory … already exists").
func TestSavepointDirUnique(t *testing.T) {
	state := t.TempDir()
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		dir := SavepointDir(state, "job", "")
		if seen[dir] {
			t.Fatalf("SavepointDir gave %s twice", dir)
		}
		seen[dir] = true
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if got := SavepointDir(state, "job", "named"); filepath.Base(got) != "job-named" {
		t.Errorf("a named savepoint is %s, want job-named", got)
	}
}
