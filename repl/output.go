package repl

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/internal/render"
	"github.com/streamsql/streamsql/types"
)

// resultModeKey is the client setting that picks how SELECT rows print.
const resultModeKey = "sql-client.execution.result-mode"

// resultMode is how the shell prints the rows of a SELECT.
type resultMode uint8

const (
	// tableau: an aligned table that grows as windows close.
	tableau resultMode = iota
	// changelog: the same table with an "op" column, +I for each row
	// (window aggregates are append-only: every row is an insert).
	changelog
)

func parseResultMode(v string) (resultMode, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "tableau", "table":
		return tableau, nil
	case "changelog":
		return changelog, nil
	}
	return 0, fmt.Errorf("SET %s: expected 'tableau' or 'changelog', got %q", resultModeKey, v)
}

// resultWriter prints a SELECT's rows through render.Table, with a line
// of column types under the names and, in changelog mode, an op column.
//
// render.Table fixes its column widths from the schema; to make room for
// the type names the writer hands it names padded to the types' widths,
// captures the header Begin prints, reads the widths back from its
// separator line and prints its own header.
type resultWriter struct {
	table  *render.Table
	schema types.Schema
	mode   resultMode
	tap    tap
	widths []int
}

// tap is the writer under render.Table: it captures the header, then
// passes rows through, prefixed with the op column in changelog mode.
type tap struct {
	out       io.Writer
	capture   *bytes.Buffer
	changelog bool
	line      []byte
}

func (t *tap) Write(p []byte) (int, error) {
	if t.capture != nil {
		return t.capture.Write(p)
	}
	if !t.changelog {
		return t.out.Write(p)
	}
	// render.Table writes whole lines; prefix each.
	b := t.line[:0]
	for _, l := range bytes.SplitAfter(p, []byte("\n")) {
		switch {
		case len(l) == 0:
		case l[0] == '+':
			b = append(b, "+----"...)
		case l[0] == '|':
			b = append(b, "| +I "...)
		}
		b = append(b, l...)
	}
	t.line = b
	if _, err := t.out.Write(b); err != nil {
		return 0, err
	}
	return len(p), nil
}

func newResultWriter(out io.Writer, schema types.Schema, mode resultMode) *resultWriter {
	w := &resultWriter{schema: schema, mode: mode, tap: tap{out: out, changelog: mode == changelog}}
	padded := types.Schema{Fields: make([]types.Field, len(schema.Fields))}
	for i, f := range schema.Fields {
		name := f.Name
		if n := len(f.Type.String()); n > len(name) {
			name += strings.Repeat(" ", n-len(name))
		}
		padded.Fields[i] = types.Field{Name: name, Type: f.Type}
	}
	w.table = render.NewTable(&w.tap, padded)
	return w
}

// Begin prints the header: names, types.
func (w *resultWriter) Begin() error {
	var hdr bytes.Buffer
	w.tap.capture = &hdr
	err := w.table.Begin()
	w.tap.capture = nil
	if err != nil {
		return err
	}
	sep, _, _ := strings.Cut(hdr.String(), "\n")
	for _, seg := range strings.Split(strings.Trim(sep, "+"), "+") {
		w.widths = append(w.widths, len(seg)-2)
	}
	if len(w.widths) != len(w.schema.Fields) { // not the table we know: keep its header
		_, err := w.tap.Write(hdr.Bytes())
		return err
	}
	var b strings.Builder
	line := func(op string, cell func(i int) string) {
		if w.mode == changelog {
			fmt.Fprintf(&b, "| %-2s ", op)
		}
		b.WriteByte('|')
		for i := range w.widths {
			fmt.Fprintf(&b, " %*s |", w.widths[i], cell(i))
		}
		b.WriteByte('\n')
	}
	opSep := ""
	if w.mode == changelog {
		opSep = "+----"
	}
	b.WriteString(opSep + sep + "\n")
	line("op", func(i int) string { return w.schema.Fields[i].Name })
	line("", func(i int) string { return w.schema.Fields[i].Type.String() })
	b.WriteString(opSep + sep + "\n")
	_, err = io.WriteString(w.tap.out, b.String())
	return err
}

// Record prints the rows of rec.
func (w *resultWriter) Record(rec arrow.Record) error { return w.table.Record(rec) }

// End prints the closing line.
func (w *resultWriter) End() error { return w.table.End() }

// Rows returns the number of rows printed.
func (w *resultWriter) Rows() int64 { return w.table.Rows() }

// printTable prints a small, complete result (SHOW, DESCRIBE, SET).
func printTable(w io.Writer, header []string, rows [][]string) {
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
	io.WriteString(w, b.String())
}
