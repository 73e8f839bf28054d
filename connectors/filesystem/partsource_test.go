package filesystem

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// TestPartitionedSourceResumes: the partitions hold files of one name;
// a source restored from the offset of one taken mid-file reads each row
// once, with its partition's value.
func TestPartitionedSourceResumes(t *testing.T) {
	dir := t.TempDir()
	var want []string
	for _, dt := range []string{"2026-12-01", "2026-12-02", "__DEFAULT_PARTITION__"} {
		p := filepath.Join(dir, "dt="+dt)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		var lines []byte
		for i := range 5 {
			lines = fmt.Appendf(lines, "{\"v\":%d}\n", i)
			v := dt
			if dt == "__DEFAULT_PARTITION__" {
				v = "NULL"
			}
			want = append(want, fmt.Sprintf("%d %s", i, v))
		}
		if err := os.WriteFile(filepath.Join(p, "part-0-0.json"), lines, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Not in a partition directory, or hidden: not read.
	for _, f := range []string{"stray.json", "dt=2026-12-01/_SUCCESS", "dt=2026-12-01/.part-1.inprogress"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("{\"v\":99}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := exec.SourceConfig{Table: "t", BatchSize: 3,
		Schema:  types.Schema{Fields: []types.Field{{Name: "dt", Type: types.Type{Kind: types.String}}, {Name: "v", Type: types.Type{Kind: types.BigInt}}}},
		Options: map[string]string{optPath: dir, "format": "json", plan.PartitionKeysOption: "dt"}}
	ctx := context.Background()
	var got []string
	read := func(s *source, n int) {
		for i := 0; n < 0 || i < n; i++ {
			rec, _, err := s.Read(ctx)
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			dt, v := rec.Column(0).(*array.String), rec.Column(1).(*array.Int64)
			for r := range int(rec.NumRows()) {
				d := "NULL"
				if dt.IsValid(r) {
					d = dt.Value(r)
				}
				got = append(got, fmt.Sprintf("%d %s", v.Value(r), d))
			}
			rec.Release()
		}
	}
	s, err := newSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(ctx, nil); err != nil {
		t.Fatal(err)
	}
	read(s, 3) // 3 + 2 rows of the first partition, 3 of the second
	offsets := map[string][]byte{}
	if err := s.Offsets(func(split string, b []byte) error { offsets[split] = slices.Clone(b); return nil }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = newSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Open(ctx, offsets); err != nil {
		t.Fatal(err)
	}
	read(s, -1)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("read %v\nwant %v", got, want)
	}
}
