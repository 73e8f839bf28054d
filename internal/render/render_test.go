package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/types"
)

var schema = types.Schema{Fields: []types.Field{
	{Name: "k", Type: types.BigIntType},
	{Name: "name", Type: types.StringType},
	{Name: "ok", Type: types.BooleanType},
}}

func record(t *testing.T) arrow.Record {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema.Arrow())
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 22}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"a \"q\"", ""}, []bool{true, false})
	b.Field(2).(*array.BooleanBuilder).AppendValues([]bool{true, false}, nil)
	return b.NewRecord()
}

func TestTable(t *testing.T) {
	rec := record(t)
	defer rec.Release()
	var out bytes.Buffer
	w := NewTableWith(&out, schema, TableOptions{Types: true, Changelog: true})
	if err := w.Begin(); err != nil {
		t.Fatal(err)
	}
	if err := w.Record(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 7 || w.Rows() != 2 {
		t.Fatalf("want 7 lines and 2 rows, got %d lines, %d rows:\n%s", len(lines), w.Rows(), got)
	}
	for _, want := range []string{"| op |", "BIGINT", "| +I |", "<NULL>", `a "q"`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	for _, l := range lines[1:] {
		if len(l) != len(lines[0]) {
			t.Fatalf("ragged table:\n%s", got)
		}
	}
}

func TestJSON(t *testing.T) {
	rec := record(t)
	defer rec.Release()
	var out bytes.Buffer
	w, err := New("json", &out, schema)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Record(rec); err != nil {
		t.Fatal(err)
	}
	want := `{"k":1,"name":"a \"q\"","ok":true}` + "\n" + `{"k":22,"name":null,"ok":false}` + "\n"
	if out.String() != want {
		t.Fatalf("got\n%swant\n%s", out.String(), want)
	}
	if _, err := New("xml", &out, schema); err == nil {
		t.Fatal("unknown format accepted")
	}
}

func TestPrintTable(t *testing.T) {
	var out bytes.Buffer
	if err := PrintTable(&out, []string{"a", "bb"}, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "(empty)\n") {
		t.Fatalf("an empty table should say so:\n%s", out.String())
	}
}
