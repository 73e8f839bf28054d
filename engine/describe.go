package engine

import (
	"fmt"
	"strings"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/planner"
)

// secretMarkers mark the table options whose values SHOW CREATE TABLE and
// DESCRIBE EXTENDED print as '******': a key containing any of them.
// SET keys are masked by the same test (IsSecretKey).
var secretMarkers = []string{"password", "secret", "sasl.jaas", "token", "credential", "access-key", "access.key"}

// maskedValue is printed instead of a secret option's value.
const maskedValue = "******"

// isSecretOption reports whether the value of option key must not be shown.
func isSecretOption(key string) bool {
	k := strings.ToLower(key)
	for _, m := range secretMarkers {
		if strings.Contains(k, m) {
			return true
		}
	}
	return false
}

// maskedDDL returns a copy of the table's CREATE TABLE with the values of
// secret options masked.
func maskedDDL(t *planner.Table) *parser.CreateTableStmt { return maskDDL(t.DDL) }

// maskDDL returns a copy of a CREATE TABLE with the values of secret
// options ('password', …) masked.
func maskDDL(s *parser.CreateTableStmt) *parser.CreateTableStmt {
	ddl := *s
	ddl.Options = make([]*parser.Option, len(s.Options))
	for i, o := range s.Options {
		c := *o
		if isSecretOption(c.Key) {
			c.Value = maskedValue
		}
		ddl.Options[i] = &c
	}
	return &ddl
}

// showCreate is SHOW CREATE TABLE | VIEW name: the DDL printed back, with
// secret option values masked. Called with s.mu held.
func (s *Session) showCreate(p *planner.Planner, st *parser.ShowStmt) (*Result, error) {
	if st.What == "CREATE TABLE" {
		if t, ok := s.catalog.Table(st.Name.Name); ok && t.DDL != nil {
			return &Result{Kind: Message, Message: maskedDDL(t).String()}, nil
		}
		if _, ok := s.catalog.View(st.Name.Name); ok {
			return nil, &parser.Error{Pos: st.Name.Pos, Msg: fmt.Sprintf("%s is a view: SHOW CREATE VIEW %s", st.Name.Name, st.Name.Name)}
		}
	} else {
		if v, ok := s.catalog.View(st.Name.Name); ok && v.DDL != nil {
			return &Result{Kind: Message, Message: v.DDL.String()}, nil
		}
		if _, ok := s.catalog.Table(st.Name.Name); ok {
			return nil, &parser.Error{Pos: st.Name.Pos, Msg: fmt.Sprintf("%s is a table: SHOW CREATE TABLE %s", st.Name.Name, st.Name.Name)}
		}
	}
	// Describe names the unknown relation, with a did-you-mean.
	_, err := p.Describe(&parser.DescribeStmt{Pos: st.Pos, Name: st.Name})
	if err == nil {
		err = &parser.Error{Pos: st.Name.Pos, Msg: fmt.Sprintf("no DDL for %s", st.Name.Name)}
	}
	return nil, err
}

// describeExtended adds to DESCRIBE's column rows what DESCRIBE EXTENDED
// shows besides: the table's comment, connector options (secrets masked)
// and watermark, or the view's query. Called with s.mu held.
func (s *Session) describeExtended(name string, rows [][]string) [][]string {
	width := len(rows[0])
	row := func(k, v string) {
		r := make([]string, width)
		r[0], r[1] = k, v
		rows = append(rows, r)
	}
	if t, ok := s.catalog.Table(name); ok && t.DDL != nil {
		row("# table", t.DDL.Name.String())
		if t.DDL.Comment != "" {
			row("# comment", t.DDL.Comment)
		}
		if w := t.DDL.Watermark; w != nil {
			row("# watermark", "FOR "+w.Column.String()+" AS "+w.Expr.String())
		}
		for _, o := range maskedDDL(t).Options {
			row("# option", fmt.Sprintf("'%s' = '%s'", strings.ReplaceAll(o.Key, "'", "''"), strings.ReplaceAll(o.Value, "'", "''")))
		}
	} else if v, ok := s.catalog.View(name); ok && v.DDL != nil {
		row("# view", v.DDL.Name.String())
		row("# query", v.DDL.String())
	}
	return rows
}
