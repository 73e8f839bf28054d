package values

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/streamsql/streamsql/connectors/internal/pace"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

var schema = types.Schema{Fields: []types.Field{{Name: "row", Type: types.BigIntType.WithNotNull(true)}}}

// read opens a source of n rows at the given offsets and returns the row
// numbers it reads until io.EOF, and its final offset.
func read(t *testing.T, n string, batch int, offsets map[string][]byte) ([]int64, int64) {
	t.Helper()
	src, err := New().NewSource(exec.SourceConfig{Table: "VALUES", Schema: schema, Options: map[string]string{OptRows: n}, BatchSize: batch})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.Open(context.Background(), offsets); err != nil {
		t.Fatal(err)
	}
	var got []int64
	for {
		rec, _, err := src.Read(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		col := rec.Column(0).(*array.Int64)
		got = append(got, col.Int64Values()...)
		rec.Release()
	}
	var next int64 = -1
	if err := src.Offsets(func(split string, off []byte) error {
		var err error
		next, err = pace.DecodeOffset(off)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return got, next
}

// TestRowsAndRestore reads 5 rows in batches of 2, then restores at row 3
// (resumes with rows 3, 4) and at the end (finished: no rows).
func TestRowsAndRestore(t *testing.T) {
	got, next := read(t, "5", 2, nil)
	if len(got) != 5 || got[0] != 0 || got[4] != 4 || next != 5 {
		t.Fatalf("fresh: rows %v, next %d", got, next)
	}
	got, next = read(t, "5", 2, map[string][]byte{pace.Split: pace.EncodeOffset(3)})
	if len(got) != 2 || got[0] != 3 || got[1] != 4 || next != 5 {
		t.Fatalf("restored at 3: rows %v, next %d", got, next)
	}
	got, next = read(t, "5", 2, map[string][]byte{pace.Split: pace.EncodeOffset(5)})
	if len(got) != 0 || next != 5 {
		t.Fatalf("restored finished: rows %v, next %d", got, next)
	}
}

// TestBadConfig refuses bad row counts, a sink, a wrong schema and an
// offset past the end.
func TestBadConfig(t *testing.T) {
	f := New()
	for _, n := range []string{"", "-1", "x", "2000000"} {
		if err := f.Validate(map[string]string{OptRows: n}, schema, false); err == nil {
			t.Errorf("rows %q accepted", n)
		}
	}
	if err := f.Validate(map[string]string{OptRows: "1"}, schema, true); err == nil {
		t.Error("sink accepted")
	}
	bad := types.Schema{Fields: []types.Field{{Name: "x", Type: types.StringType}}}
	if err := f.Validate(map[string]string{OptRows: "1"}, bad, false); err == nil {
		t.Error("STRING column accepted")
	}
	src, err := f.NewSource(exec.SourceConfig{Schema: schema, Options: map[string]string{OptRows: "2"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Open(context.Background(), map[string][]byte{pace.Split: pace.EncodeOffset(3)}); err == nil {
		t.Error("offset past the end accepted")
	}
}
