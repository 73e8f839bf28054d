package format

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/cockroachdb/datadriven"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// parseSchema parses "a BIGINT, b DECIMAL(10, 2) NOT NULL, ..." for tests.
func parseSchema(t testing.TB, s string) types.Schema {
	var parts []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	parts = append(parts, s[start:])
	var sch types.Schema
	for _, p := range parts {
		p = strings.TrimSpace(p)
		name, typ, _ := strings.Cut(p, " ")
		typ = strings.ToUpper(strings.TrimSpace(typ))
		notNull := strings.HasSuffix(typ, " NOT NULL")
		typ = strings.TrimSuffix(typ, " NOT NULL")
		var ty types.Type
		switch {
		case typ == "BOOLEAN":
			ty = types.BooleanType
		case typ == "INT":
			ty = types.IntType
		case typ == "BIGINT":
			ty = types.BigIntType
		case typ == "FLOAT":
			ty = types.FloatType
		case typ == "DOUBLE":
			ty = types.DoubleType
		case typ == "STRING":
			ty = types.StringType
		case typ == "TIMESTAMP" || typ == "TIMESTAMP(3)":
			ty = types.TimestampType
		case typ == "TIMESTAMP_LTZ" || typ == "TIMESTAMP_LTZ(3)":
			ty = types.LTZType
		case typ == "INTERVAL":
			ty = types.IntervalType
		case strings.HasPrefix(typ, "DECIMAL("):
			var p, sc int
			if _, err := fmt.Sscanf(strings.ReplaceAll(typ, " ", ""), "DECIMAL(%d,%d)", &p, &sc); err != nil {
				t.Fatalf("bad type %q", typ)
			}
			ty = types.DecimalType(p, sc)
		default:
			t.Fatalf("bad type %q", typ)
		}
		sch.Fields = append(sch.Fields, types.Field{Name: name, Type: ty.WithNotNull(notNull)})
	}
	return sch
}

// TestDataDriven runs testdata/*: see the comment at the top of each file.
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "decode":
				return runDecode(t, d)
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}

func runDecode(t *testing.T, d *datadriven.TestData) string {
	opts := map[string]string{}
	var encodeAs []string
	for _, a := range d.CmdArgs {
		v := strings.Join(a.Vals, ",")
		if a.Key == "encode" {
			encodeAs = a.Vals
			continue
		}
		opts[a.Key] = v
	}
	lines := strings.Split(d.Input, "\n")
	schemaLine, ok := strings.CutPrefix(lines[0], "schema: ")
	if !ok {
		t.Fatal("decode: the first input line must be 'schema: ...'")
	}
	schema := parseSchema(t, schemaLine)
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	dec, err := NewDecoder("", schema, opts, alloc)
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	defer dec.Release()
	var out strings.Builder
	for _, line := range lines[1:] {
		before := dec.Len()
		if err := dec.Decode([]byte(line)); err != nil {
			fmt.Fprintf(&out, "error: %v\n", err)
		} else if dec.Len() == before {
			fmt.Fprintf(&out, "skipped\n")
		} else {
			fmt.Fprintf(&out, "ok\n")
		}
	}
	rec := dec.NewRecord()
	defer rec.Release()
	out.WriteString("rows:\n")
	out.WriteString(renderRows(rec, opts[KeyFormat] == DebeziumJSON))
	for _, f := range encodeAs {
		encOpts := map[string]string{}
		for k, v := range opts {
			if strings.HasPrefix(k, f+".") && (k == KeyCSVFieldDelimiter || k == KeyCSVNullLiteral) {
				encOpts[k] = v
			}
		}
		enc, err := NewEncoder(f, schema, encOpts)
		if err != nil {
			t.Fatal(err)
		}
		b, err := enc.AppendRecord(nil, rec)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%s:\n%s", f, b)
		// What was written reads back to the same values.
		dec2, err := NewDecoder(f, schema, encOpts, alloc)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if l == "" && rec.NumRows() == 0 {
				continue
			}
			if err := dec2.Decode([]byte(l)); err != nil {
				t.Fatalf("re-decoding %s %q: %v", f, l, err)
			}
		}
		rec2 := dec2.NewRecord()
		// Data only: debezium-json writes -U as a delete and +U as a create.
		if a, b := renderRows(rec, false), renderRows(rec2, false); a != b {
			t.Errorf("%s round trip changed the rows:\n%s\n%s", f, a, b)
		}
		rec2.Release()
		dec2.Release()
	}
	return out.String()
}

// renderRows prints the rows of rec, each with its kind first ("-U 1 | a")
// when kinds is set.
func renderRows(rec arrow.Record, kinds bool) string {
	var out strings.Builder
	k := exec.RowKinds(rec)
	cols := rec.Columns()[:exec.DataColumns(rec)]
	for r := 0; r < int(rec.NumRows()); r++ {
		if kinds {
			out.WriteString(exec.RowKindAt(k, r).String() + " ")
		}
		for i, c := range cols {
			if i > 0 {
				out.WriteString(" | ")
			}
			if s, ok := FormatValue(c, r); ok {
				out.WriteString(s)
			} else {
				out.WriteString("NULL")
			}
		}
		out.WriteString("\n")
	}
	return out.String()
}

// TestFormatValue checks the NULL convention; the text of each type is
// that of package types, tested there, and pinned end to end by the
// decode tests.
func TestFormatValue(t *testing.T) {
	// A NULL is ("", false).
	b := array.NewInt64Builder(memory.DefaultAllocator)
	b.AppendNull()
	b.Append(7)
	a := b.NewArray()
	defer a.Release()
	if s, ok := FormatValue(a, 0); ok || s != "" {
		t.Errorf("NULL formatted as %q, %v", s, ok)
	}
	if s, ok := FormatValue(a, 1); !ok || s != "7" {
		t.Errorf("7 formatted as %q, %v", s, ok)
	}
}

func TestValidateOptions(t *testing.T) {
	for _, tc := range []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"format": "avro"}, `option "format": unknown format "avro": expected 'json', 'csv' or 'debezium-json'`},
		{map[string]string{"format": "json", "json.ignore-parse-errors": "yes"}, `option "json.ignore-parse-errors": expected 'true' or 'false', got "yes"`},
		{map[string]string{"format": "json", "csv.field-delimiter": ";"}, `option "csv.field-delimiter": applies only to format 'csv', but 'format' is 'json'`},
		{map[string]string{"format": "csv", "json.fail-on-missing-field": "true"}, `option "json.fail-on-missing-field": applies only to format 'json', but 'format' is 'csv'`},
		{map[string]string{"format": "csv", "csv.field-delimiter": ";;"}, `option "csv.field-delimiter": expected a single character, got ";;"`},
		{map[string]string{"format": "csv", "csv.field-delimiter": `\t`, "csv.allow-comments": "TRUE"}, ``},
	} {
		err := Validate("", tc.opts)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%v:\n got  %s\n want %s", tc.opts, got, tc.want)
		}
	}
}

var benchSchema = types.Schema{Fields: []types.Field{
	{Name: "auction", Type: types.BigIntType}, {Name: "bidder", Type: types.BigIntType},
	{Name: "price", Type: types.BigIntType}, {Name: "channel", Type: types.StringType},
	{Name: "url", Type: types.StringType}, {Name: "date_time", Type: types.TimestampType},
	{Name: "extra", Type: types.StringType},
}}

func benchDecode(b *testing.B, format string, lines [][]byte) {
	dec, err := NewDecoder(format, benchSchema, nil, memory.DefaultAllocator)
	if err != nil {
		b.Fatal(err)
	}
	defer dec.Release()
	var bytesN int
	for _, l := range lines {
		bytesN += len(l) + 1
	}
	b.SetBytes(int64(bytesN / len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := dec.Decode(lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
		if dec.Len() == 4096 {
			dec.NewRecord().Release()
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkJSONDecode decodes a 7-field Nexmark bid per row.
func BenchmarkJSONDecode(b *testing.B) {
	var lines [][]byte
	for i := 0; i < 1024; i++ {
		lines = append(lines, fmt.Appendf(nil,
			`{"auction":%d,"bidder":%d,"price":%d,"channel":"channel-%d","url":"https://www.nexmark.com/item.htm?query=%d","date_time":"2024-01-01 00:%02d:%02d.%03d","extra":"%s"}`,
			1000+i%97, 2000+i*7, 100+i*13%9000, i%5, i, i/60%60, i%60, i%1000, strings.Repeat("x", i%20)))
	}
	benchDecode(b, JSON, lines)
}

// BenchmarkCSVDecode decodes the same rows as CSV.
func BenchmarkCSVDecode(b *testing.B) {
	var lines [][]byte
	for i := 0; i < 1024; i++ {
		lines = append(lines, fmt.Appendf(nil,
			`%d,%d,%d,channel-%d,https://www.nexmark.com/item.htm?query=%d,2024-01-01 00:%02d:%02d.%03d,%s`,
			1000+i%97, 2000+i*7, 100+i*13%9000, i%5, i, i/60%60, i%60, i%1000, strings.Repeat("x", i%20+1)))
	}
	benchDecode(b, CSV, lines)
}

// BenchmarkJSONEncode encodes 4096-row batches of the same rows.
func BenchmarkJSONEncode(b *testing.B) {
	dec, _ := NewDecoder(JSON, benchSchema, nil, memory.DefaultAllocator)
	for i := 0; i < 4096; i++ {
		line := fmt.Appendf(nil, `{"auction":%d,"bidder":%d,"price":%d,"channel":"c","url":"u","date_time":%d,"extra":"e"}`, i, i, i, i)
		if err := dec.Decode(line); err != nil {
			b.Fatal(err)
		}
	}
	rec := dec.NewRecord()
	defer rec.Release()
	enc, _ := NewEncoder(JSON, benchSchema, nil)
	var buf []byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf, _ = enc.AppendRecord(buf[:0], rec)
	}
	b.ReportMetric(float64(b.N)*4096/b.Elapsed().Seconds(), "rows/s")
}

// TestDecodeLTZInZone: with a session zone, zone-less TIMESTAMP_LTZ text is
// local time there, text with Z or an offset and epoch milliseconds are
// instants, and TIMESTAMP columns are untouched.
func TestDecodeLTZInZone(t *testing.T) {
	zone, err := types.ParseZone("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	schema := parseSchema(t, "l TIMESTAMP_LTZ(3), n TIMESTAMP(3)")
	for _, c := range []struct {
		format string
		lines  []string
	}{
		{JSON, []string{
			`{"l":"1970-01-01 08:00:01","n":"1970-01-01 08:00:01"}`,
			`{"l":"1970-01-01T00:00:01Z","n":"1970-01-01 00:00:01"}`,
			`{"l":"1970-01-01 09:00:01+09:00","n":1000}`,
			`{"l":1000,"n":"1970-01-01T00:00:01Z"}`,
		}},
		{CSV, []string{"1970-01-01 08:00:01,1970-01-01 08:00:01", "1970-01-01T00:00:01Z,1970-01-01 00:00:01", `"1970-01-01 09:00:01+09:00",1000`, "1000,1970-01-01T00:00:01Z"}},
	} {
		dec, err := NewDecoder(c.format, schema, nil, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		dec.SetZone(zone)
		for _, l := range c.lines {
			if err := dec.Decode([]byte(l)); err != nil {
				t.Fatalf("%s %s: %v", c.format, l, err)
			}
		}
		rec := dec.NewRecord()
		ltz, ntz := rec.Column(0).(*array.Timestamp), rec.Column(1).(*array.Timestamp)
		wantN := []int64{28801000, 1000, 1000, 1000}
		for i := range c.lines {
			if ltz.Value(i) != 1000 || int64(ntz.Value(i)) != wantN[i] {
				t.Errorf("%s %s: %d, %d; want 1000, %d", c.format, c.lines[i], ltz.Value(i), ntz.Value(i), wantN[i])
			}
		}
		rec.Release()
		dec.Release()
	}
}
