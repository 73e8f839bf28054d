// Package render prints the rows of a query for people and scripts: an
// aligned table that grows as rows arrive (Flink's "tableau" mode), or one
// JSON object a line. The CLI and the REPL share it.
package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/exec"
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

// New returns a Writer for format "table" (or "tableau") or "json". The
// table of an updating result (one whose rows may be -U, +U or -D) has the
// changelog "op" column, as Flink's tableau mode shows streaming results,
// and its JSON rows an "op" field; an append-only result's have neither.
func New(format string, w io.Writer, schema types.Schema, updating bool) (Writer, error) {
	switch format {
	case "", "table", "tableau":
		return NewTableWith(w, schema, TableOptions{Changelog: updating}), nil
	case "json":
		return &jsonWriter{w: w, schema: schema, updating: updating}, nil
	}
	return nil, fmt.Errorf("unknown output format %q (want table or json)", format)
}

// Table prints an aligned table, one row a line, as rows arrive. Column
// widths are fixed when the first batch arrives (or at End, for a result
// without rows): the width a column's type needs, or for strings and
// other variable-width types the widest of its name and the first batch's
// values; never more than TableOptions.MaxColumnWidth. A longer value is
// cut, ending with an ellipsis. With TableOptions.Vertical each row is
// printed as a record of name | value lines instead, uncut.
type Table struct {
	w      io.Writer
	schema types.Schema
	opts   TableOptions
	widths []int // nil until the header is printed
	rows   int64
	buf    []byte
}

// DefaultMaxColumnWidth is the widest column of a table by default, as in
// Flink's SQL client ('sql-client.display.max-column-width').
const DefaultMaxColumnWidth = 30

// TableOptions choose extras of a Table.
type TableOptions struct {
	// Types adds a line with each column's SQL type under the names.
	Types bool
	// Changelog adds a first column "op" holding each row's change kind
	// (+I, -U, +U, -D: see exec/rowkind.go), as Flink's SQL client shows
	// a streaming result.
	Changelog bool
	// MaxColumnWidth caps a column's width, in characters (default
	// DefaultMaxColumnWidth).
	MaxColumnWidth int
	// Vertical prints each row as a record: one "name | value" line per
	// column under a "-[ RECORD n ]" line, for rows too wide for a table.
	Vertical bool
}

// NewTable returns a table writer.
func NewTable(w io.Writer, schema types.Schema) *Table {
	return NewTableWith(w, schema, TableOptions{})
}

// NewTableWith returns a table writer with extras.
func NewTableWith(w io.Writer, schema types.Schema, opts TableOptions) *Table {
	if opts.MaxColumnWidth <= 0 {
		opts.MaxColumnWidth = DefaultMaxColumnWidth
	}
	return &Table{w: w, schema: schema, opts: opts}
}

// typeWidth is the display width reserved for values of type t, or 0 for
// types whose values vary in width (strings): those are sized by content.
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
	return 0
}

// nullText is how a NULL prints.
const nullText = "<NULL>"

// size fixes the column widths from the first batch (rec may be nil).
func (t *Table) size(rec arrow.Record) {
	t.widths = make([]int, len(t.schema.Fields))
	for i, f := range t.schema.Fields {
		wd := max(textWidth(f.Name), typeWidth(f.Type))
		if t.opts.Types {
			wd = max(wd, textWidth(f.Type.String()))
		}
		if typeWidth(f.Type) == 0 {
			wd = max(wd, textWidth(nullText))
			if rec != nil && i < int(rec.NumCols()) {
				for r := 0; r < int(rec.NumRows()); r++ {
					if v, ok := format.FormatValue(rec.Column(i), r); ok {
						wd = max(wd, textWidth(v))
					}
				}
			}
		}
		t.widths[i] = min(wd, t.opts.MaxColumnWidth)
	}
}

// textWidth is the number of characters of s (runes: close enough for a
// terminal, short of East Asian wide characters).
func textWidth(s string) int { return utf8.RuneCountInString(s) }

// appendCell appends v right-aligned in width, cut with an ellipsis when
// longer.
func appendCell(b []byte, v string, width int) []byte {
	n := textWidth(v)
	if n > width {
		cut := 0
		for i := range v { // keep width-1 runes, then the ellipsis
			if cut == width-1 {
				v = v[:i]
				break
			}
			cut++
		}
		return append(append(b, v...), "…"...)
	}
	for pad := width - n; pad > 0; pad-- {
		b = append(b, ' ')
	}
	return append(b, v...)
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

// Begin implements Writer. The header waits for the first batch, whose
// values size the columns.
func (t *Table) Begin() error { return nil }

// header prints the names (and types) once the widths are known.
func (t *Table) header() error {
	var b []byte
	b = append(b, t.separator()...)
	line := func(op string, cell func(types.Field) string) {
		if t.opts.Changelog {
			b = append(b, fmt.Sprintf("| %-2s ", op)...)
		}
		b = append(b, '|')
		for i, f := range t.schema.Fields {
			b = append(b, ' ')
			b = appendCell(b, cell(f), t.widths[i])
			b = append(b, " |"...)
		}
		b = append(b, '\n')
	}
	line("op", func(f types.Field) string { return f.Name })
	if t.opts.Types {
		line("", func(f types.Field) string { return f.Type.String() })
	}
	b = append(b, t.separator()...)
	_, err := t.w.Write(b)
	return err
}

// Record prints the rows of rec.
func (t *Table) Record(rec arrow.Record) error {
	if t.opts.Vertical {
		return t.vertical(rec)
	}
	if t.widths == nil {
		if rec.NumRows() == 0 {
			return nil // size by the first rows, not by none
		}
		t.size(rec)
		if err := t.header(); err != nil {
			return err
		}
	}
	kinds := exec.RowKinds(rec)
	if kinds != nil && !t.opts.Changelog {
		return errors.New("render: an updating result (rows other than +I) needs the changelog (op) column")
	}
	ncols := int(exec.DataColumns(rec))
	for r := 0; r < int(rec.NumRows()); r++ {
		b := t.buf[:0]
		if t.opts.Changelog {
			b = append(b, "| "...)
			b = append(b, exec.RowKindAt(kinds, r).String()...)
			b = append(b, ' ')
		}
		b = append(b, '|')
		for c := 0; c < ncols; c++ {
			v, ok := format.FormatValue(rec.Column(c), r)
			if !ok {
				v = nullText
			}
			b = append(b, ' ')
			b = appendCell(b, v, t.widths[c])
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

// vertical prints the rows of rec as records.
func (t *Table) vertical(rec arrow.Record) error {
	names := make([]string, 0, len(t.schema.Fields)+1)
	if t.opts.Changelog {
		names = append(names, "op")
	}
	for _, f := range t.schema.Fields {
		names = append(names, f.Name)
	}
	nameWidth := 0
	for _, n := range names {
		nameWidth = max(nameWidth, textWidth(n))
	}
	kinds := exec.RowKinds(rec)
	if kinds != nil && !t.opts.Changelog {
		return errors.New("render: an updating result (rows other than +I) needs the changelog (op) column")
	}
	ncols := int(exec.DataColumns(rec))
	for r := 0; r < int(rec.NumRows()); r++ {
		t.rows++
		b := t.buf[:0]
		title := fmt.Sprintf("-[ RECORD %d ]", t.rows)
		b = append(b, title...)
		for i := textWidth(title); i < nameWidth+1; i++ {
			b = append(b, '-')
		}
		b = append(b, "+-------\n"...)
		for i, n := range names {
			v := exec.RowKindAt(kinds, r).String()
			if c := i - (len(names) - ncols); c >= 0 {
				var ok bool
				if v, ok = format.FormatValue(rec.Column(c), r); !ok {
					v = nullText
				}
			}
			b = append(b, n...)
			for pad := nameWidth - textWidth(n); pad > 0; pad-- {
				b = append(b, ' ')
			}
			b = append(b, " | "...)
			b = append(b, v...)
			b = append(b, '\n')
		}
		t.buf = b
		if _, err := t.w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// End prints the closing line (and the header, for a result without
// rows).
func (t *Table) End() error {
	if t.opts.Vertical {
		if t.rows == 0 {
			_, err := io.WriteString(t.w, "(0 rows)\n")
			return err
		}
		return nil
	}
	if t.widths == nil {
		t.size(nil)
		if err := t.header(); err != nil {
			return err
		}
	}
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
// values, everything else as strings, NULL as null. Each row of an
// updating result starts with its kind, {"op":"+I",…} ("$op" when a
// column is named op), as format.Encoder.WriteRowKinds(true) writes it;
// an append-only result's rows have no "op", so they read as before.
type jsonWriter struct {
	w        io.Writer
	schema   types.Schema
	updating bool
	rows     int64
	buf      []byte
}

func (j *jsonWriter) Begin() error { return nil }
func (j *jsonWriter) End() error   { return nil }
func (j *jsonWriter) Rows() int64  { return j.rows }

func (j *jsonWriter) Record(rec arrow.Record) error {
	kinds := exec.RowKinds(rec)
	for r := 0; r < int(rec.NumRows()); r++ {
		b := append(j.buf[:0], '{')
		if k := exec.RowKindAt(kinds, r); k != types.Insert || j.updating {
			b = append(b, `"`+opKey(j.schema)+`":"`...)
			b = append(b, k.String()...)
			b = append(b, '"')
			if len(j.schema.Fields) > 0 {
				b = append(b, ',')
			}
		}
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

// opKey is the JSON key of a row's kind: "op", or "$op" when the schema has
// a column named op.
func opKey(schema types.Schema) string {
	if schema.Index("op") >= 0 {
		return "$op"
	}
	return "op"
}
