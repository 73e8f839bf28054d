package render

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// View is the materialised current content of a result: the rows its
// changelog has inserted and not retracted, in the order they arrived, as
// Flink's SQL client shows a result in its 'table' mode. +I and +U add a
// row; -U and -D remove one row equal to theirs (the last added). A +U
// right after the -U it follows takes the place of the row the -U removed,
// so an updated row stays where it was. Rows are kept as their formatted
// cells (NULL is nullText), as the table prints them.
type View struct {
	schema  types.Schema
	rows    []viewRow        // in arrival order; removed rows are holes until compacted
	index   map[string][]int // key → positions of live rows with that key, ascending
	live    int
	hole    int // position a -U freed, for the +U that follows; -1 if none
	changes int64
	key     []byte
}

type viewRow struct {
	cells []string
	key   string
	live  bool
}

// NewView returns an empty view of a result of schema.
func NewView(schema types.Schema) *View {
	return &View{schema: schema, index: map[string][]int{}, hole: -1}
}

// Apply applies the changes of rec. A -U or -D of a row the view does not
// hold is an error naming the row (the changes are not a changelog of one
// result); the rows before it in rec are applied.
func (v *View) Apply(rec arrow.Record) error {
	kinds := exec.RowKinds(rec)
	ncols := int(exec.DataColumns(rec))
	for r := 0; r < int(rec.NumRows()); r++ {
		cells := make([]string, ncols)
		for c := range cells {
			s, ok := format.FormatValue(rec.Column(c), r)
			if !ok {
				s = nullText
			}
			cells[c] = s
		}
		if err := v.apply(exec.RowKindAt(kinds, r), cells); err != nil {
			return err
		}
	}
	return nil
}

// rowKey is the identity of a row: its cells, length-prefixed.
func (v *View) rowKey(cells []string) string {
	b := v.key[:0]
	for _, c := range cells {
		b = fmt.Appendf(b, "%d:", len(c))
		b = append(b, c...)
	}
	v.key = b
	return string(b)
}

func (v *View) apply(kind types.RowKind, cells []string) error {
	v.changes++
	key := v.rowKey(cells)
	switch kind {
	case types.Insert, types.UpdateAfter:
		pos := len(v.rows)
		if kind == types.UpdateAfter && v.hole >= 0 {
			pos = v.hole
			v.rows[pos] = viewRow{cells: cells, key: key, live: true}
		} else {
			v.rows = append(v.rows, viewRow{cells: cells, key: key, live: true})
		}
		v.hole = -1
		ps := v.index[key]
		i := len(ps)
		for i > 0 && ps[i-1] > pos {
			i--
		}
		v.index[key] = append(ps[:i], append([]int{pos}, ps[i:]...)...)
		v.live++
		return nil
	case types.UpdateBefore, types.Delete:
		ps := v.index[key]
		if len(ps) == 0 {
			v.hole = -1
			return fmt.Errorf("%s[%s] retracts a row that is not in the result", kind, strings.Join(cells, ", "))
		}
		pos := ps[len(ps)-1]
		if len(ps) == 1 {
			delete(v.index, key)
		} else {
			v.index[key] = ps[:len(ps)-1]
		}
		v.rows[pos] = viewRow{}
		v.live--
		v.hole = -1
		if kind == types.UpdateBefore {
			v.hole = pos
		}
		v.compact()
		return nil
	}
	return fmt.Errorf("unknown row kind %d", kind)
}

// compact drops the holes once they outnumber the live rows (never the
// hole a -U just left for its +U).
func (v *View) compact() {
	if len(v.rows)-v.live <= max(v.live, 64) {
		return
	}
	at := make([]int, len(v.rows))
	n := 0
	for i, r := range v.rows {
		if r.live || i == v.hole {
			at[i] = n
			v.rows[n] = r
			n++
		}
	}
	clear(v.rows[n:])
	v.rows = v.rows[:n]
	if v.hole >= 0 {
		v.hole = at[v.hole]
	}
	for k, ps := range v.index {
		for i, p := range ps {
			ps[i] = at[p]
		}
		v.index[k] = ps
	}
}

// Len returns the number of rows in the view.
func (v *View) Len() int { return v.live }

// Changes returns the number of changes applied.
func (v *View) Changes() int64 { return v.changes }

// Rows returns the cells of the first n rows (all if n < 0), in order.
func (v *View) Rows(n int) [][]string {
	if n < 0 || n > v.live {
		n = v.live
	}
	out := make([][]string, 0, n)
	for _, r := range v.rows {
		if len(out) == n {
			break
		}
		if r.live {
			out = append(out, r.cells)
		}
	}
	return out
}

// WriteFrame writes the view as one complete table (opts.Types and
// opts.MaxColumnWidth apply; it has no op column): at most maxRows rows
// (all if maxRows < 0) sized by their values, a "… N more rows" line for
// the rest, and "(empty)" for a view without rows. It returns the number
// of lines written.
func (v *View) WriteFrame(w io.Writer, maxRows int, opts TableOptions) (int, error) {
	rows := v.Rows(maxRows)
	opts.Changelog, opts.Vertical = false, false
	var buf bytes.Buffer
	t := NewTableWith(&buf, v.schema, opts)
	t.sizeCells(rows)
	if err := t.header(); err != nil {
		return 0, err
	}
	for _, cells := range rows {
		b := append(t.buf[:0], '|')
		for c, s := range cells {
			if c >= len(t.widths) {
				break
			}
			b = append(b, ' ')
			b = appendCell(b, s, t.widths[c])
			b = append(b, " |"...)
		}
		t.buf = append(b, '\n')
		buf.Write(t.buf)
	}
	buf.WriteString(t.separator())
	switch more := v.live - len(rows); {
	case v.live == 0:
		buf.WriteString("(empty)\n")
	case more == 1:
		buf.WriteString("… 1 more row\n")
	case more > 1:
		fmt.Fprintf(&buf, "… %d more rows\n", more)
	}
	lines := bytes.Count(buf.Bytes(), []byte{'\n'})
	_, err := w.Write(buf.Bytes())
	return lines, err
}

// sizeCells fixes the column widths from formatted rows, as size does
// from a batch.
func (t *Table) sizeCells(rows [][]string) {
	t.widths = make([]int, len(t.schema.Fields))
	for i, f := range t.schema.Fields {
		wd := max(textWidth(f.Name), typeWidth(f.Type))
		if t.opts.Types {
			wd = max(wd, textWidth(f.Type.String()))
		}
		if typeWidth(f.Type) == 0 {
			wd = max(wd, textWidth(nullText))
			for _, r := range rows {
				if i < len(r) {
					wd = max(wd, textWidth(r[i]))
				}
			}
		}
		t.widths[i] = min(wd, t.opts.MaxColumnWidth)
	}
}
