package connectors_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/filesystem"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// TestRegistryBaseDir: a source table's relative 'path' is resolved
// against the base dir, before the path policy and the connector see it;
// a sink's stays relative to the working directory.
func TestRegistryBaseDir(t *testing.T) {
	base := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(base, "data"), 0o755))
	must(t, os.WriteFile(filepath.Join(base, "data", "in.csv"), []byte("1\n2\n"), 0o644))
	schema := types.Schema{Fields: []types.Field{{Name: "a", Type: types.Type{Kind: types.BigInt}}}}
	opts := map[string]string{"connector": "filesystem", "path": "data/in.csv", "format": "csv"}

	t.Chdir(t.TempDir())
	plain := connectors.NewRegistry(filesystem.New())
	if err := plain.Validate(opts, schema, false); err == nil || !strings.Contains(err.Error(), "data/in.csv") {
		t.Fatalf("without a base dir: want the relative path refused, got %v", err)
	}
	var asked []string
	reg := plain.WithBaseDir(base).WithPathPolicy(func(p string) error { asked = append(asked, p); return nil })
	must(t, reg.Validate(opts, schema, false))
	if want := filepath.Join(base, "data", "in.csv"); len(asked) != 1 || asked[0] != want {
		t.Fatalf("the path policy was asked %q, want [%s]", asked, want)
	}
	if opts["path"] != "data/in.csv" {
		t.Fatalf("Validate changed the caller's options: %v", opts)
	}
	src, err := reg.NewSource("filesystem", exec.SourceConfig{Table: "t", Schema: schema, Options: opts})
	must(t, err)
	defer src.Close()
	must(t, src.Open(context.Background(), nil))
	rec, _, err := src.Read(context.Background())
	must(t, err)
	defer rec.Release()
	if rec.NumRows() != 2 {
		t.Fatalf("read %d rows, want 2", rec.NumRows())
	}

	// A sink's relative path is the working directory's.
	asked = nil
	sinkOpts := map[string]string{"connector": "filesystem", "path": "out", "format": "csv"}
	must(t, reg.Validate(sinkOpts, schema, true))
	if len(asked) != 1 || asked[0] != "out" {
		t.Fatalf("sink: the path policy was asked %q, want [out]", asked)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
