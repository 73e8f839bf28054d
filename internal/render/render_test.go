package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
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
	w, err := New("json", &out, schema, false)
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
	if _, err := New("xml", &out, schema, false); err == nil {
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

func stringRecord(t *testing.T, sc types.Schema, ks []int64, vs []string) arrow.Record {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc.Arrow())
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues(ks, nil)
	b.Field(1).(*array.StringBuilder).AppendValues(vs, nil)
	return b.NewRecord()
}

// TestTableWidths: a string column is as wide as its name and the first
// rows' values, up to MaxColumnWidth; longer values, in those rows or
// later ones, are cut with an ellipsis, and every line keeps its width.
func TestTableWidths(t *testing.T) {
	sc := types.Schema{Fields: []types.Field{{Name: "k", Type: types.BigIntType}, {Name: "url", Type: types.StringType}}}
	for _, c := range []struct {
		max  int
		want string
	}{
		{0, `+----------------------+--------------------------------+
|                    k |                            url |
+----------------------+--------------------------------+
|                    1 |                 /a/short/path/ |
|                    2 | /a/much/longer/path/that/does… |
|                    3 | /this/one/comes/later/and/is/… |
|                    4 |                      /ünï/cödé |
+----------------------+--------------------------------+
`},
		{14, `+----------------+----------------+
|              k |            url |
+----------------+----------------+
|              1 | /a/short/path/ |
|              2 | /a/much/longe… |
|              3 | /this/one/com… |
|              4 |      /ünï/cödé |
+----------------+----------------+
`},
	} {
		var out bytes.Buffer
		w := NewTableWith(&out, sc, TableOptions{MaxColumnWidth: c.max})
		r1 := stringRecord(t, sc, []int64{1, 2}, []string{"/a/short/path/", "/a/much/longer/path/that/does/not/fit"})
		r2 := stringRecord(t, sc, []int64{3, 4}, []string{"/this/one/comes/later/and/is/long", "/ünï/cödé"})
		if err := w.Begin(); err != nil {
			t.Fatal(err)
		}
		for _, r := range []arrow.Record{r1, r2} {
			if err := w.Record(r); err != nil {
				t.Fatal(err)
			}
			r.Release()
		}
		if err := w.End(); err != nil {
			t.Fatal(err)
		}
		if out.String() != c.want {
			t.Errorf("max %d: got\n%swant\n%s", c.max, out.String(), c.want)
		}
	}
}

// TestTableVertical prints each row as a record, values uncut.
func TestTableVertical(t *testing.T) {
	sc := types.Schema{Fields: []types.Field{{Name: "k", Type: types.BigIntType}, {Name: "url", Type: types.StringType}}}
	var out bytes.Buffer
	w := NewTableWith(&out, sc, TableOptions{Vertical: true, Changelog: true})
	r := stringRecord(t, sc, []int64{1, 2}, []string{"/a", "/a/much/longer/path/that/does/not/fit/in/thirty/characters"})
	defer r.Release()
	if err := w.Begin(); err != nil {
		t.Fatal(err)
	}
	if err := w.Record(r); err != nil {
		t.Fatal(err)
	}
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	want := `-[ RECORD 1 ]+-------
op  | +I
k   | 1
url | /a
-[ RECORD 2 ]+-------
op  | +I
k   | 2
url | /a/much/longer/path/that/does/not/fit/in/thirty/characters
`
	if out.String() != want || w.Rows() != 2 {
		t.Errorf("got %d rows\n%swant\n%s", w.Rows(), out.String(), want)
	}
	out.Reset()
	w = NewTableWith(&out, sc, TableOptions{Vertical: true})
	_ = w.Begin()
	_ = w.End()
	if out.String() != "(0 rows)\n" {
		t.Errorf("empty: got %q", out.String())
	}
}

// updates returns record(t) as a -U and a +U row.
func updates(t *testing.T) arrow.Record {
	t.Helper()
	rec := record(t)
	defer rec.Release()
	kinds := exec.NewRowKinds(memory.DefaultAllocator, []types.RowKind{types.UpdateBefore, types.UpdateAfter})
	defer kinds.Release()
	return exec.WithRowKinds(rec, kinds)
}

// TestRowKinds: tables of updating results show each row's kind in the op
// column (vertical too); JSON gives every row of an updating result an
// "op" field (inserts too), an append-only result's none; a table
// without the op column refuses updates instead of hiding their kinds.
func TestRowKinds(t *testing.T) {
	rec := updates(t)
	defer rec.Release()
	var out bytes.Buffer
	w, err := New("table", &out, schema, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Record(rec); err != nil {
		t.Fatal(err)
	}
	_ = w.End()
	want := `+----+----------------------+--------+-------+
| op |                    k |   name |    ok |
+----+----------------------+--------+-------+
| -U |                    1 |  a "q" |  true |
| +U |                   22 | <NULL> | false |
+----+----------------------+--------+-------+
`
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}

	out.Reset()
	v := NewTableWith(&out, schema, TableOptions{Changelog: true, Vertical: true})
	if err := v.Record(rec); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "op   | -U\n") || !strings.Contains(out.String(), "op   | +U\n") {
		t.Errorf("vertical:\n%s", out.String())
	}

	out.Reset()
	j, _ := New("json", &out, schema, true)
	if err := j.Record(rec); err != nil {
		t.Fatal(err)
	}
	want = `{"op":"-U","k":1,"name":"a \"q\"","ok":true}` + "\n" + `{"op":"+U","k":22,"name":null,"ok":false}` + "\n"
	if out.String() != want {
		t.Errorf("json:\n%s\nwant:\n%s", out.String(), want)
	}
	ins := record(t)
	defer ins.Release()
	out.Reset()
	if err := j.Record(ins); err != nil {
		t.Fatal(err)
	}
	if want := `{"op":"+I","k":1,`; !strings.HasPrefix(out.String(), want) {
		t.Errorf("json of an updating result's insert:\n%s\nwant %s…", out.String(), want)
	}

	plain, _ := New("table", &out, schema, false)
	if err := plain.Record(rec); err == nil || !strings.Contains(err.Error(), "needs the changelog (op) column") {
		t.Errorf("a table without op printed updates: %v", err)
	}
}
