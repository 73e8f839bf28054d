package planner

import (
	"fmt"
	"strings"

	"github.com/streamsql/streamsql/internal/suggest"
	"github.com/streamsql/streamsql/parser"
)

// cteEnv is the chain of common table expressions (WITH name AS (…))
// visible at a point of a query, innermost first. Each CTE sees the ones
// defined before it, in its own WITH and in the enclosing queries', but
// not itself or later ones (WITH is not recursive); a name shadows a
// table or view of the same name and an outer CTE of the same name, as in
// Flink (Calcite).
type cteEnv struct {
	parent *cteEnv
	cte    *parser.CTE
}

// lookup returns the innermost CTE named n, or nil. Names compare as table
// names do: case-insensitively, unless quoted.
func (e *cteEnv) lookup(n parser.Ident) *cteEnv {
	for ; e != nil; e = e.parent {
		name := e.cte.Name
		if name.Name == n.Name || !n.Quoted && !name.Quoted && strings.EqualFold(name.Name, n.Name) {
			return e
		}
	}
	return nil
}

// names returns the names of the visible CTEs.
func (e *cteEnv) names() []string {
	var out []string
	for ; e != nil; e = e.parent {
		out = append(out, e.cte.Name.Name)
	}
	return out
}

// planWith plans WITH a AS (…), … query: the query with the CTEs visible.
// A CTE is inlined where it is referenced, as a derived table: a CTE
// referenced twice is planned twice, and its sources are read twice (as a
// view referenced twice is).
func (b *builder) planWith(sel *parser.Select) (*relation, error) {
	saved := b.env
	defer func() { b.env = saved }()
	for _, c := range sel.With {
		b.env = &cteEnv{parent: b.env, cte: c}
	}
	inner := *sel
	inner.With = nil
	return b.planSelect(&inner)
}

// planCTE plans a reference to the CTE def, under the alias of the
// reference.
func (b *builder) planCTE(def *cteEnv, r *parser.TableName) (*relation, error) {
	saved := b.env
	b.env = def.parent
	rel, err := b.planSelect(def.cte.Query)
	b.env = saved
	name := def.cte.Name.Name
	if err != nil {
		return nil, fmt.Errorf("in WITH query %s: %w", name, err)
	}
	alias := name
	if r.Alias != nil {
		alias = r.Alias.Name
	}
	if err := renameColumns(rel, &def.cte.Name, def.cte.Columns, "WITH query"); err != nil {
		return nil, err
	}
	for i := range rel.cols {
		rel.cols[i].table = alias
	}
	rel.name = "WITH query " + name
	return rel, nil
}

// cteHint suggests a visible CTE whose name is close to n, for an
// unknown table.
func (b *builder) cteHint(n parser.Ident) string {
	return suggest.Closest(n.Name, b.env.names())
}
