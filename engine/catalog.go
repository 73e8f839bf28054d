package engine

import (
	"sort"

	"github.com/streamsql/streamsql/planner"
)

// Read-only views of the session's catalog, for clients that complete or
// describe names (the REPL's tab completion). Each returns a fresh copy.

// TableNames returns the names of the session's tables and views, sorted.
func (e *Engine) TableNames() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := append(e.catalog.Tables(), e.catalog.Views()...)
	sort.Strings(out)
	return out
}

// Columns returns the column names of the table or view called name (any
// case), in declaration order, or nil when there is none.
func (e *Engine) Columns(name string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t, ok := e.catalog.Table(name); ok {
		out := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			out[i] = c.Name
		}
		return out
	}
	if v, ok := e.catalog.View(name); ok {
		return v.Schema.Names()
	}
	return nil
}

// FunctionNames returns the names of the built-in scalar and aggregate
// functions, the window table functions and the session's user-defined
// functions, sorted.
func (e *Engine) FunctionNames() []string {
	e.mu.Lock()
	udfs := e.catalog.Functions()
	e.mu.Unlock()
	out := append(planner.ScalarFunctions(), "COUNT", "SUM", "AVG", "MIN", "MAX", "TUMBLE", "HOP", "CUMULATE", "SESSION")
	out = append(out, udfs...)
	sort.Strings(out)
	return out
}
