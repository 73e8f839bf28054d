package repl

import (
	"fmt"
	"io"
	"strings"

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

// newResultWriter prints a SELECT's rows as a growing table with a line
// of column types under the names and, in changelog mode, an op column.
func newResultWriter(out io.Writer, schema types.Schema, mode resultMode) *render.Table {
	return render.NewTableWith(out, schema, render.TableOptions{Types: true, Changelog: mode == changelog})
}

// printTable prints a small, complete result (SHOW, DESCRIBE, SET).
func printTable(w io.Writer, header []string, rows [][]string) {
	_ = render.PrintTable(w, header, rows)
}
