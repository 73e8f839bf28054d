package engine

import (
	"sort"

	"github.com/streamsql/streamsql/planner"
)

// Read-only views of a session's catalog, for clients that complete or
// describe names (the REPL's tab completion). Each returns a fresh copy.
// The Engine's methods read its default session.

// TableNames returns the names of the default session's tables and views,
// sorted.
func (e *Engine) TableNames() []string { return e.def.TableNames() }

// Columns returns the column names of the default session's table or view
// called name (see Session.Columns).
func (e *Engine) Columns(name string) []string { return e.def.Columns(name) }

// FunctionNames returns the function names known to the default session
// (see Session.FunctionNames).
func (e *Engine) FunctionNames() []string { return e.def.FunctionNames() }

// TableNames returns the names of the session's tables and views, sorted.
func (s *Session) TableNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append(s.catalog.Tables(), s.catalog.Views()...)
	sort.Strings(out)
	return out
}

// Columns returns the column names of the table or view called name (any
// case), in declaration order, or nil when there is none.
func (s *Session) Columns(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.catalog.Table(name); ok {
		out := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			out[i] = c.Name
		}
		return out
	}
	if v, ok := s.catalog.View(name); ok {
		return v.Schema.Names()
	}
	return nil
}

// FunctionNames returns the names of the built-in scalar and aggregate
// functions, the window table functions and the session's user-defined
// functions, sorted.
func (s *Session) FunctionNames() []string {
	s.mu.Lock()
	s.syncFuncs()
	udfs := s.catalog.Functions()
	s.mu.Unlock()
	out := append(planner.ScalarFunctions(), "COUNT", "SUM", "AVG", "MIN", "MAX", "TUMBLE", "HOP", "CUMULATE", "SESSION")
	out = append(out, udfs...)
	sort.Strings(out)
	return out
}
