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
	opts   TableOptions
	widths []int
	rows   int64
	buf    []byte
}

// TableOptions choose extras of a Table.
type TableOptions struct {
	// Types adds a line with each column's SQL type under the names.
	Types bool
	// Changelog adds a first column "op" holding each row's change kind
	// (+I: every row of an append-only query is an insert).
	Changelog bool
}

// NewTable returns a table writer.
func NewTable(w io.Writer, schema types.Schema) *Table {
	return NewTableWith(w, schema, TableOptions{})
}

// NewTableWith returns a table writer with extras.
func NewTableWith(w io.Writer, schema types.Schema, opts TableOptions) *Table {
	t := &Table{w: w, schema: schema, opts: opts}
	for _, f := range schema.Fields {
		wd := max(len(f.Name), typeWidth(f.Type))
		if opts.Types {
			wd = max(wd, len(f.Type.String()))
		}
		t.widths = append(t.widths, wd)
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
	if t.opts.Changelog {
		b.WriteString("+----")
	}
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
	line := func(op string, cell func(types.Field) string) {
		if t.opts.Changelog {
			fmt.Fprintf(&b, "| %-2s ", op)
		}
		b.WriteByte('|')
		for i, f := range t.schema.Fields {
			fmt.Fprintf(&b, " %*s |", t.widths[i], cell(f))
		}
		b.WriteByte('\n')
	}
	line("op", func(f types.Field) string { return f.Name })
	if t.opts.Types {
		line("", func(f types.Field) string { return f.Type.String() })
	}
	b.WriteString(t.separator())
	_, err := io.WriteString(t.w, b.String())
	return err
}

// Record prints the rows of rec.
func (t *Table) Record(rec arrow.Record) error {
	for r := 0; r < int(rec.NumRows()); r++ {
		b := t.buf[:0]
		if t.opts.Changelog {
			b = append(b, "| +I "...)
		}
		b = append(b, '|')
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

// PrintTable prints a small, complete table (SHOW, DESCRIBE, listings),
// each column as wide as its widest cell.
func PrintTable(w io.Writer, header []string, rows [][]string) error {
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = len(h)
	}
	for _, r := range rows {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], len(c))
			}
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		for i := range widths {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			fmt.Fprintf(&b, "| %-*s ", widths[i], c)
		}
		b.WriteString("|\n")
	}
	sep := func() {
		for _, wd := range widths {
			b.WriteString("+" + strings.Repeat("-", wd+2))
		}
		b.WriteString("+\n")
	}
	sep()
	line(header)
	sep()
	for _, r := range rows {
		line(r)
	}
	sep()
	if len(rows) == 0 {
		b.WriteString("(empty)\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

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
