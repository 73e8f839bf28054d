package engine

import (
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
