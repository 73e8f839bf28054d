package repl

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/streamsql/streamsql/internal/render"
	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/types"
)

// resultModeKey is the client setting that picks how SELECT rows print.
const resultModeKey = "sql-client.execution.result-mode"

// resultMode is how the shell prints the rows of a SELECT, as Flink's SQL
// client's 'sql-client.execution.result-mode'.
type resultMode uint8

const (
	// tableau: an aligned table that grows as rows arrive; an updating
	// result (a non-windowed GROUP BY, a debezium-json table) is shown as
	// in changelog mode, as Flink's tableau mode shows streaming results
	// with an op column.
	tableau resultMode = iota
	// changelog: the same table with an "op" column holding each row's
	// kind: +I, -U, +U or -D (append-only results are all +I).
	changelog
	// table: the materialised current table, redrawn in place on a
	// terminal (liveTable); elsewhere printed once, at the end.
	table
)

func parseResultMode(v string) (resultMode, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "tableau":
		return tableau, nil
	case "changelog":
		return changelog, nil
	case "table":
		return table, nil
	}
	return 0, fmt.Errorf("SET %s: expected 'table', 'tableau' or 'changelog', got %q", resultModeKey, v)
}

// Display settings of the shell, as in Flink's SQL client (vertical is
// ours: Flink has none; psql's \x).
const (
	maxColumnWidthKey = "sql-client.display.max-column-width"
	verticalKey       = "sql-client.display.vertical"
)

// newResultWriter returns the writer of a SELECT's rows: in table mode
// the live table (unless the display is vertical, which prints the
// changes as records); otherwise a growing table with a line of column
// types under the names and, in changelog mode, an op column; or, with
// 'sql-client.display.vertical', records.
func (s *shell) newResultWriter(schema types.Schema, mode resultMode) render.Writer {
	opts := render.TableOptions{Types: true, Changelog: mode == changelog}
	if v, ok := s.eng.Setting(maxColumnWidthKey); ok {
		opts.MaxColumnWidth, _ = strconv.Atoi(strings.TrimSpace(v)) // checked by SET
	}
	if v, ok := s.eng.Setting(verticalKey); ok {
		opts.Vertical, _ = strconv.ParseBool(strings.TrimSpace(v))
	}
	if mode == table && !opts.Vertical {
		lt := newLiveTable(s.out, schema, opts)
		if !lt.Terminal() && !s.toldNoTerminal {
			s.toldNoTerminal = true
			fmt.Fprintf(s.errw, "note: result mode 'table' redraws the table on a terminal; the output is not one, so the final table prints when the query ends\n")
		}
		return lt
	}
	if mode == table { // vertical: the changes, as records
		opts.Changelog = true
	}
	return render.NewTableWith(s.out, schema, opts)
}

// toggleVertical is \x: it flips 'sql-client.display.vertical'.
func (s *shell) toggleVertical(ctx context.Context) error {
	on := false
	if v, ok := s.eng.Setting(verticalKey); ok {
		on, _ = strconv.ParseBool(strings.TrimSpace(v))
	}
	value := strconv.FormatBool(!on)
	if _, err := s.eng.Execute(ctx, &parser.SetStmt{Key: verticalKey, Value: value}); err != nil {
		return err
	}
	w := s.out // a script's Out holds only results
	if !s.interactive {
		w = s.errw
	}
	if on {
		fmt.Fprintln(w, "vertical display is off: rows print as a table")
	} else {
		fmt.Fprintln(w, "vertical display is on: each row prints as a record")
	}
	return nil
}

// printTable prints a small, complete result (SHOW, DESCRIBE, SET).
func printTable(w io.Writer, header []string, rows [][]string) {
	_ = render.PrintTable(w, header, rows)
}
