package filesystem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

var schema = types.Schema{Fields: []types.Field{
	{Name: "id", Type: types.BigIntType},
	{Name: "name", Type: types.StringType},
	{Name: "ts", Type: types.TimestampType},
}}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func rows(rec arrow.Record) []string {
	var out []string
	for r := 0; r < int(rec.NumRows()); r++ {
		var parts []string
		for _, c := range rec.Columns() {
			s, ok := format.FormatValue(c, r)
			if !ok {
				s = "NULL"
			}
			parts = append(parts, s)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out
}

func newSrc(t testing.TB, alloc memory.Allocator, opts map[string]string, batch int, m *exec.SourceMetrics) exec.Source {
	t.Helper()
	src, err := New().NewSource(exec.SourceConfig{Table: "t", Schema: schema, Options: opts, BatchSize: batch, Alloc: alloc, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// readAll reads up to max batches (all when max < 0).
func readBatches(t testing.TB, src exec.Source, max int) ([]string, error) {
	var out []string
	for i := 0; max < 0 || i < max; i++ {
		rec, _, err := src.Read(context.Background())
		if err == io.EOF {
			return out, io.EOF
		}
		if err != nil {
			return out, err
		}
		out = append(out, rows(rec)...)
		rec.Release()
	}
	return out, nil
}

// writeDir writes nfiles JSON files of random line counts (with blank
// lines, CRLF endings and a missing final newline here and there) plus
// files the source must skip, and returns the rows in reading order.
func writeDir(t testing.TB, dir string, rng *rand.Rand, nfiles int) []string {
	var want []string
	id := 0
	for f := 0; f < nfiles; f++ {
		var b strings.Builder
		n := rng.Intn(40)
		for i := 0; i < n; i++ {
			if rng.Intn(10) == 0 {
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, `{"id":%d,"name":"n%d","ts":%d}`, id, id, 1704067200000+int64(id)*1000)
			want = append(want, fmt.Sprintf("%d|n%d|%s", id, id, types.FormatTimestamp(1704067200000+int64(id)*1000)))
			id++
			switch {
			case i == n-1 && rng.Intn(2) == 0: // no final newline
			case rng.Intn(5) == 0:
				b.WriteString("\r\n")
			default:
				b.WriteString("\n")
			}
		}
		write(t, filepath.Join(dir, fmt.Sprintf("part-%03d.json", f)), b.String())
	}
	write(t, filepath.Join(dir, ".hidden.json"), "garbage\n")
	write(t, filepath.Join(dir, "_SUCCESS"), "")
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	write(t, filepath.Join(dir, "sub", "x.json"), "garbage\n")
	return want
}

func TestSourceReadsDirectoryInOrder(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	dir := t.TempDir()
	want := writeDir(t, dir, rand.New(rand.NewSource(1)), 5)
	m := new(exec.SourceMetrics)
	src := newSrc(t, alloc, map[string]string{"path": dir, "format": "json"}, 7, m)
	if err := src.Open(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	got, err := readBatches(t, src, -1)
	if err != io.EOF {
		t.Fatal(err)
	}
	src.Close()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if m.Records.Load() != int64(len(want)) || m.Bytes.Load() == 0 {
		t.Fatalf("metrics: %d records, %d bytes", m.Records.Load(), m.Bytes.Load())
	}
}

// TestSourceResume cuts reading at random batch boundaries across several
// files, restores a new source from the offset, and checks that the rows
// read before and after the cut are exactly the rows of one run.
func TestSourceResume(t *testing.T) {
	for seed := int64(0); seed < 30; seed++ {
		rng := rand.New(rand.NewSource(seed))
		dir := t.TempDir()
		want := writeDir(t, dir, rng, 1+rng.Intn(5))
		opts := map[string]string{"path": dir, "format": "json"}
		var got []string
		var offset map[string][]byte
		for restarts := 0; ; restarts++ {
			src := newSrc(t, memory.DefaultAllocator, opts, 1+rng.Intn(10), nil)
			if err := src.Open(context.Background(), offset); err != nil {
				t.Fatal(err)
			}
			part, err := readBatches(t, src, rng.Intn(4))
			if err != nil && err != io.EOF {
				t.Fatal(err)
			}
			got = append(got, part...)
			var oerr error
			if offset, oerr = exec.SourceOffsets(src); oerr != nil {
				t.Fatal(oerr)
			}
			// Batches read after the offset was taken are lost in the
			// "crash": the restored source must read them again.
			readBatches(t, src, rng.Intn(2))
			src.Close()
			if err == io.EOF {
				break
			}
			if restarts > 1000 {
				t.Fatal("no progress")
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("seed %d: got\n%s\nwant\n%s", seed, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestSourceOffsetPerFile checks the split the offsets name: the file
// being read, by its path, then the last file read to the end; a restore
// from the end reads only files added since that sort after it, even when
// the last file is gone; and the one offset of a checkpoint written
// before offsets were kept per split still restores.
func TestSourceOffsetPerFile(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a", "b", "c"} {
		write(t, filepath.Join(dir, f+".json"), fmt.Sprintf(`{"id":1,"name":"%s"}`+"\n"+`{"id":2,"name":"%s"}`+"\n", f, f))
	}
	opts := map[string]string{"path": dir, "format": "json"}
	src := newSrc(t, memory.DefaultAllocator, opts, 1, nil)
	must(t, src.Open(context.Background(), nil))
	var splits []string
	for {
		if _, err := readBatches(t, src, 1); err == io.EOF {
			break
		}
		off, err := exec.SourceOffsets(src)
		if err != nil || len(off) != 1 {
			t.Fatalf("offsets %q, %v", off, err)
		}
		for k := range off {
			splits = append(splits, filepath.Base(k))
		}
	}
	if got := strings.Join(splits, ","); got != "a.json,a.json,b.json,b.json,c.json,c.json" {
		t.Fatalf("splits after each batch: %s", got)
	}
	end, _ := exec.SourceOffsets(src)
	src.Close()
	if _, ok := end[filepath.Join(dir, "c.json")]; !ok || len(end) != 1 {
		t.Fatalf("offsets at the end: %q", end)
	}
	os.Remove(filepath.Join(dir, "c.json"))
	write(t, filepath.Join(dir, "0.json"), `{"id":0,"name":"early"}`+"\n")
	write(t, filepath.Join(dir, "d.json"), `{"id":4,"name":"d"}`+"\n")
	src = newSrc(t, memory.DefaultAllocator, opts, 10, nil)
	must(t, src.Open(context.Background(), end))
	if got, err := readBatches(t, src, -1); err != io.EOF || strings.Join(got, ",") != "4|d|NULL" {
		t.Fatalf("after the end: %v, %v", got, err)
	}
	src.Close()

	// A legacy offset: file b.json (#2), one line (20 bytes) read.
	legacy := []byte{legacyOffsetVersion, 2, byte(len(`{"id":1,"name":"b"}`) + 1), 1, 6}
	legacy = append(legacy, "b.json"...)
	src = newSrc(t, memory.DefaultAllocator, opts, 10, nil)
	must(t, src.Open(context.Background(), map[string][]byte{exec.LegacySplit: legacy}))
	if got, err := readBatches(t, src, -1); err != io.EOF || strings.Join(got, ",") != "2|b|NULL,4|d|NULL" {
		t.Fatalf("from a legacy offset: %v, %v", got, err)
	}
	src.Close()
	src = newSrc(t, memory.DefaultAllocator, opts, 10, nil)
	must(t, src.Open(context.Background(), map[string][]byte{exec.LegacySplit: {legacyOffsetVersion, 3, 0, 0, 0}}))
	if got, err := readBatches(t, src, -1); err != io.EOF || len(got) != 0 {
		t.Fatalf("from a legacy offset at the end: %v, %v", got, err)
	}
	src.Close()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSourceSingleFileCSV(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.csv")
	write(t, path, "1;a;2024-01-01 00:00:00\n\n2;;1704067201000\n# c\n")
	src := newSrc(t, memory.DefaultAllocator, map[string]string{"path": path, "format": "csv",
		"csv.field-delimiter": ";", "csv.allow-comments": "true"}, 0, nil)
	src.Open(context.Background(), nil)
	got, err := readBatches(t, src, -1)
	if err != io.EOF {
		t.Fatal(err)
	}
	if want := "1|a|2024-01-01 00:00:00.000,2|NULL|2024-01-01 00:00:01.000"; strings.Join(got, ",") != want {
		t.Fatalf("got %v", got)
	}
	// Restoring the offset taken at the end reads nothing more.
	off, _ := exec.SourceOffsets(src)
	src2 := newSrc(t, memory.DefaultAllocator, map[string]string{"path": path, "format": "csv"}, 0, nil)
	src2.Open(context.Background(), off)
	if got, err := readBatches(t, src2, -1); err != io.EOF || len(got) != 0 {
		t.Fatalf("after the end: %v, %v", got, err)
	}
}

func TestSourceMalformed(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.json"), `{"id":1}`+"\n")
	write(t, filepath.Join(dir, "b.json"), `{"id":2}`+"\n\n"+`{"id":"x"}`+"\n"+`{"id":3`+"\n"+`{"id":4}`+"\n")
	m := new(exec.SourceMetrics)
	src := newSrc(t, memory.DefaultAllocator, map[string]string{"path": dir, "format": "json"}, 100, m)
	src.Open(context.Background(), nil)
	_, err := readBatches(t, src, -1)
	want := filepath.Join(dir, "b.json") + `:3: field "id": expected an integer (BIGINT), got "x"`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	src.Close()

	src = newSrc(t, memory.DefaultAllocator, map[string]string{"path": dir, "format": "json", "json.ignore-parse-errors": "true"}, 100, m)
	src.Open(context.Background(), nil)
	got, err := readBatches(t, src, -1)
	if err != io.EOF {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "1|NULL|NULL,2|NULL|NULL,4|NULL|NULL" {
		t.Fatalf("got %v", got)
	}
	if n := m.Malformed.Load(); n != 2 {
		t.Fatalf("Malformed = %d, want 2", n)
	}
}

func TestSourceOffsetErrors(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.json"), `{"id":1}`+"\n")
	src := newSrc(t, memory.DefaultAllocator, map[string]string{"path": dir, "format": "json"}, 0, nil)
	src.Open(context.Background(), nil)
	off, _ := exec.SourceOffsets(src)
	os.Rename(filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json"))
	if err := newSrc(t, memory.DefaultAllocator, map[string]string{"path": dir, "format": "json"}, 0, nil).
		Open(context.Background(), off); err == nil || !strings.Contains(err.Error(), `file "a.json" of the restored offset no longer exists`) {
		t.Fatalf("got %v", err)
	}
	for _, bad := range []map[string][]byte{
		{filepath.Join(dir, "b.json"): {7}},
		{exec.LegacySplit: {7}},
		{filepath.Join(dir, "b.json"): {2, 0, 0, 0}},       // truncated
		{filepath.Join(dir, "b.json"): {2, 9, 0, 0, 0}},    // flags
		{filepath.Join(dir, "b.json"): {2, 0, 0, 0, 0, 0}}, // trailing
		{"a": {2, 0, 0, 0, 0}, "b": {2, 0, 0, 0, 0}},
	} {
		if err := src.Open(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "invalid offset") {
			t.Fatalf("garbage offset %v: %v", bad, err)
		}
	}
}

func record(t testing.TB, alloc memory.Allocator, ids ...int64) arrow.Record {
	b := array.NewRecordBuilder(alloc, schema.Arrow())
	defer b.Release()
	for _, id := range ids {
		b.Field(0).(*array.Int64Builder).Append(id)
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("n,%d", id))
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(1704067200000 + id))
	}
	return b.NewRecord()
}

func TestSinkTruncateOnRestore(t *testing.T) {
	for _, f := range []string{"json", "csv"} {
		t.Run(f, func(t *testing.T) {
			alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer alloc.AssertSize(t, 0)
			dir := filepath.Join(t.TempDir(), "out", "nested")
			opts := map[string]string{"path": dir, "format": f}
			if err := New().Validate(opts, schema, true); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			open := func(handle []byte) exec.Sink {
				s, err := New().NewSink(exec.SinkConfig{Table: "out", Schema: schema, Options: opts, Alloc: alloc})
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Open(ctx, handle); err != nil {
					t.Fatal(err)
				}
				return s
			}
			part := filepath.Join(dir, "part-0."+f)
			writeRec := func(s exec.Sink, ids ...int64) {
				rec := record(t, alloc, ids...)
				defer rec.Release()
				if err := s.Write(ctx, rec); err != nil {
					t.Fatal(err)
				}
			}

			s := open(nil)
			writeRec(s, 1, 2)
			h1, err := s.PreCommit(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			s.Commit(ctx, 1)
			committed, _ := os.ReadFile(part)
			writeRec(s, 3)
			if _, err := s.PreCommit(ctx, 2); err != nil { // checkpoint 2 never completes
				t.Fatal(err)
			}
			writeRec(s, 4)
			s.Close() // crash: what follows checkpoint 1 is on disk
			if b, _ := os.ReadFile(part); len(b) <= len(committed) {
				t.Fatalf("expected uncommitted output on disk before restore")
			}

			s = open(h1)
			if b, _ := os.ReadFile(part); string(b) != string(committed) {
				t.Fatalf("after restore:\n%s\nwant\n%s", b, committed)
			}
			writeRec(s, 3)
			h2, _ := s.PreCommit(ctx, 2)
			s.Close()

			// The part file reads back as rows 1, 2, 3 exactly once.
			src := newSrc(t, alloc, opts, 0, nil)
			src.Open(ctx, nil)
			got, err := readBatches(t, src, -1)
			src.Close()
			if err != io.EOF {
				t.Fatal(err)
			}
			want := "1|n,1|2024-01-01 00:00:00.001,2|n,2|2024-01-01 00:00:00.002,3|n,3|2024-01-01 00:00:00.003"
			if strings.Join(got, ",") != want {
				t.Fatalf("got %v", got)
			}

			// A fresh start empties the part file; a handle longer than the
			// file is refused.
			s = open(nil)
			s.Close()
			if b, _ := os.ReadFile(part); len(b) != 0 {
				t.Fatalf("fresh start left %q", b)
			}
			s2, _ := New().NewSink(exec.SinkConfig{Table: "out", Schema: schema, Options: opts, Alloc: alloc})
			if err := s2.Open(ctx, h2); err == nil || !strings.Contains(err.Error(), "fewer than") {
				t.Fatalf("got %v", err)
			}
			if err := s2.Open(ctx, []byte{1, 200}); err == nil {
				t.Fatal("garbage handle accepted")
			}
		})
	}
}

func TestSinkCreatesMissingFileOnRestore(t *testing.T) {
	dir := t.TempDir()
	opts := map[string]string{"path": dir, "format": "json"}
	s, _ := New().NewSink(exec.SinkConfig{Schema: schema, Options: opts})
	s.Open(context.Background(), nil)
	h, _ := s.PreCommit(context.Background(), 1) // empty
	s.Close()
	os.Remove(filepath.Join(dir, "part-0.json"))
	s, _ = New().NewSink(exec.SinkConfig{Schema: schema, Options: opts})
	if err := s.Open(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, "part-0.json")); err != nil {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.json")
	write(t, file, "")
	r := connectors.NewRegistry(New())
	for _, tc := range []struct {
		opts map[string]string
		sink bool
		want string
	}{
		{opts: map[string]string{"format": "json"}, want: `option "path": missing required option of connector "filesystem"`},
		{opts: map[string]string{"path": dir}, want: `option "format": missing required option of connector "filesystem"`},
		{opts: map[string]string{"path": dir, "format": "xml"}, want: `option "format": unknown format "xml": expected 'json', 'csv' or 'debezium-json'`},
		{opts: map[string]string{"path": dir, "format": "json", "json.ignore-parse-errors": "1"}, want: `option "json.ignore-parse-errors": expected 'true' or 'false', got "1"`},
		{opts: map[string]string{"path": dir, "format": "json", "json.ignore-parse-errors": "true"}, sink: true, want: `option "json.ignore-parse-errors": option does not apply to a filesystem sink`},
		{opts: map[string]string{"path": filepath.Join(dir, "nope"), "format": "json"}, want: `option "path": cannot read "` + filepath.Join(dir, "nope") + `": no such file or directory`},
		{opts: map[string]string{"path": file, "format": "json"}, sink: true, want: `option "path": "` + file + `" is a file; the filesystem sink writes a part file into a directory`},
		{opts: map[string]string{"path": dir, "format": "csv", "csv.field-delimiter": "ab"}, want: `option "csv.field-delimiter": expected a single character, got "ab"`},
		{opts: map[string]string{"path": dir, "fromat": "csv"}, want: `option "fromat": unknown option for connector "filesystem"; did you mean "format"?`},
		{opts: map[string]string{"path": file, "format": "csv"}},
		{opts: map[string]string{"path": filepath.Join(dir, "new"), "format": "csv"}, sink: true},
	} {
		opts := map[string]string{"connector": "filesystem"}
		for k, v := range tc.opts {
			opts[k] = v
		}
		err := r.Validate(opts, schema, tc.sink)
		got := ""
		if err != nil {
			got = err.Error()
			var oe *connectors.OptionError
			if !errors.As(err, &oe) {
				t.Errorf("%v: %T is not an *OptionError", tc.opts, err)
			}
		}
		if got != tc.want {
			t.Errorf("%v:\n got  %s\n want %s", tc.opts, got, tc.want)
		}
	}
}
