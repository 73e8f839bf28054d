// Package render prints the rows of a query for people and scripts: an
// aligned table that grows as rows arrive (Flink's "tableau" mode), or one
// JSON object a line. The CLI and the REPL share it.
package render

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/types"
)

// Writer prints rows. Begin is called once before the first row, Record
// for each batch, End once at the end.
type Writer interface {
	Begin() error
	Record(rec arrow.Record) error
	End() error
	// Rows returns the number of rows printed.
	Rows() int64
}

// New returns a Writer for format "table" (or "tableau") or "json".
func New(format string, w io.Writer, schema types.Schema) (Writer, error) {
	switch format {
	case "", "table", "tableau":
		return NewTable(w, schema), nil
	case "json":
		return &jsonWriter{w: w, schema: schema}, nil
	}
	return nil, fmt.Errorf("unknown output format %q (want table or json)", format)
}

// Table prints an aligned table, one row a line, widths fixed up front
// from the column types so that rows can be printed as they arrive.
type Table struct {
	w      io.Writer
	schema types.Schema
	widths []int
	rows   int64
	buf    []byte
}

// NewTable returns a table writer.
func NewTable(w io.Writer, schema types.Schema) *Table {
	t := &Table{w: w, schema: schema}
	for _, f := range schema.Fields {
		t.widths = append(t.widths, max(len(f.Name), typeWidth(f.Type)))
	}
	return t
}

// typeWidth is the display width reserved for values of type t.
func typeWidth(t types.Type) int {
	switch t.Kind {
	case types.Boolean:
		return 5
	case types.Int:
		return 11
	case types.BigInt:
		return 20
	case types.Float, types.Double:
		return 20
	case types.Decimal:
		return t.Precision + 2
	case types.Timestamp, types.TimestampLTZ:
		return 23
	case types.Interval:
		return 16
	}
	return 12
}

func (t *Table) separator() string {
	var b strings.Builder
	b.WriteByte('+')
	for _, w := range t.widths {
		b.WriteString(strings.Repeat("-", w+2))
		b.WriteByte('+')
	}
	b.WriteByte('\n')
	return b.String()
}

// Begin prints the header.
func (t *Table) Begin() error {
	var b strings.Builder
	b.WriteString(t.separator())
	b.WriteByte('|')
	for i, f := range t.schema.Fields {
		fmt.Fprintf(&b, " %*s |", t.widths[i], f.Name)
	}
	b.WriteByte('\n')
	b.WriteString(t.separator())
	_, err := io.WriteString(t.w, b.String())
	return err
}

// Record prints the rows of rec.
func (t *Table) Record(rec arrow.Record) error {
	for r := 0; r < int(rec.NumRows()); r++ {
		b := append(t.buf[:0], '|')
		for c := 0; c < int(rec.NumCols()); c++ {
			v, ok := format.FormatValue(rec.Column(c), r)
			if !ok {
				v = "<NULL>"
			}
			b = append(b, ' ')
			for pad := t.widths[c] - len(v); pad > 0; pad-- {
				b = append(b, ' ')
			}
			b = append(b, v...)
			b = append(b, " |"...)
		}
		b = append(b, '\n')
		t.buf = b
		if _, err := t.w.Write(b); err != nil {
			return err
		}
		t.rows++
	}
	return nil
}

// End prints the closing line.
func (t *Table) End() error {
	_, err := io.WriteString(t.w, t.separator())
	return err
}

// Rows implements Writer.
func (t *Table) Rows() int64 { return t.rows }

// jsonWriter prints one JSON object a line; numbers and booleans as JSON
// values, everything else as strings, NULL as null.
type jsonWriter struct {
	w      io.Writer
	schema types.Schema
	rows   int64
	buf    []byte
}

func (j *jsonWriter) Begin() error { return nil }
func (j *jsonWriter) End() error   { return nil }
func (j *jsonWriter) Rows() int64  { return j.rows }

func (j *jsonWriter) Record(rec arrow.Record) error {
	for r := 0; r < int(rec.NumRows()); r++ {
		b := append(j.buf[:0], '{')
		for c, f := range j.schema.Fields {
			if c > 0 {
				b = append(b, ',')
			}
			name, _ := json.Marshal(f.Name)
			b = append(b, name...)
			b = append(b, ':')
			col := rec.Column(c)
			switch {
			case col.IsNull(r):
				b = append(b, "null"...)
			case f.Type.Kind == types.Boolean || f.Type.IsInteger() || f.Type.Kind == types.Decimal:
				b = format.AppendValue(b, col, r)
			case f.Type.Kind == types.Float || f.Type.Kind == types.Double:
				v := format.AppendValue(nil, col, r)
				if json.Valid(v) {
					b = append(b, v...)
				} else {
					s, _ := json.Marshal(string(v))
					b = append(b, s...)
				}
			default:
				s, _ := json.Marshal(string(format.AppendValue(nil, col, r)))
				b = append(b, s...)
			}
		}
		b = append(b, '}', '\n')
		j.buf = b
		if _, err := j.w.Write(b); err != nil {
			return err
		}
		j.rows++
	}
	return nil
}
