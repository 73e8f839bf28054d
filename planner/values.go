package planner

import (
	"fmt"
	"strconv"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// The built-in connector behind VALUES (package connectors/values): its
// option 'rows' is the number of rows, and its one column numbers them.
const (
	valuesConnector = "values"
	valuesRows      = "rows"
	// maxValuesRows is the connector's limit on 'rows'.
	maxValuesRows = 1 << 20
)

// valuesSource returns a bounded Source of n rows from the built-in
// 'values' connector: one BIGINT NOT NULL column numbering the rows 0 …
// n-1, from which a Calc computes each row's values. A job restored after
// the source finished resumes finished (its offset is the next row's
// number).
func valuesSource(n int) *plan.Source {
	opts := map[string]string{"connector": valuesConnector, valuesRows: strconv.Itoa(n)}
	src := &plan.Source{Table: "VALUES", Connector: valuesConnector, Options: opts}
	src.Output = types.Schema{Fields: []types.Field{{Name: "row", Type: types.BigIntType.WithNotNull(true)}}}
	return src
}

// noFrom is the relation of a SELECT without FROM: one row without
// columns (the select list's expressions are computed once).
func (b *builder) noFrom() *relation {
	return &relation{node: valuesSource(1), name: "SELECT without FROM", cat: b.p.Catalog}
}

// planValues plans VALUES (…), (…) as a relation with columns EXPR$0,
// EXPR$1, … (Flink's names; AS t(a, b) renames them). Every row must have
// as many values as the first; a column's type is the common type its
// values widen to implicitly (INT and BIGINT give BIGINT; a NULL takes the
// other rows' type; a column of NULLs only is STRING, as NULL is in a
// CASE), nullable when a value may be NULL. The rows come from a bounded
// 'values' source, in order.
func (b *builder) planValues(sel *parser.Select) (*relation, error) {
	rows := sel.Values
	if len(rows) > maxValuesRows {
		return nil, errorf(rows[maxValuesRows].Pos, "VALUES has more than %d rows", maxValuesRows)
	}
	sc := &scope{table: "VALUES", what: "VALUES", cat: b.p.Catalog}
	width := len(rows[0].Values)
	bound := make([][]plan.Expr, len(rows))
	for i, r := range rows {
		if len(r.Values) != width {
			return nil, errorf(r.Pos, "VALUES: row %d has %s but row 1 has %d; every row needs the same number of values", i+1, plural(len(r.Values), "value"), width)
		}
		bound[i] = make([]plan.Expr, width)
		for j, v := range r.Values {
			if containsAgg(v) {
				return nil, errorf(v.Position(), "aggregate functions are not allowed in VALUES")
			}
			e, err := sc.bind(v)
			if err != nil {
				return nil, err
			}
			bound[i][j] = e
		}
	}
	src := valuesSource(len(rows))
	rowRef := &plan.ColumnRef{Index: 0, Name: "row", T: types.BigIntType.WithNotNull(true)}
	out := &relation{name: "VALUES", cat: b.p.Catalog}
	exprs := make([]plan.Expr, width)
	for j := 0; j < width; j++ {
		t := types.NullType.WithNotNull(true)
		for i := range rows {
			vt := bound[i][j].Type()
			ct, ok := commonType(t, vt)
			if !ok || !implicitly(vt, ct) || !implicitly(t, ct) {
				return nil, errorf(rows[i].Values[j].Position(), "VALUES: column %d has type %s in row %d, which does not combine with %s of the rows before it; add a CAST", j+1, vt.Nullable(), i+1, t.Nullable())
			}
			t = ct.WithNotNull(t.NotNull && vt.NotNull)
		}
		if t.Kind == types.Null {
			t = types.StringType
		}
		vals := make([]plan.Expr, len(rows))
		for i := range rows {
			vals[i] = coerce(bound[i][j], t)
		}
		exprs[j] = pickRow(rowRef, vals, t)
		out.cols = append(out.cols, scopeCol{name: fmt.Sprintf("EXPR$%d", j), t: t, index: j})
	}
	calc := &plan.Calc{Input: src, Exprs: exprs}
	calc.Output = out.schema()
	out.node = calc
	return out, nil
}

// caseArms is the most arms pickRow puts in one CASE (the expression
// compiler takes at most 250).
const caseArms = 100

// pickRow returns the expression whose value in row i (of the values
// source) is vals[i]: vals[0] itself for one row, else a CASE on the row
// number; beyond caseArms rows, a CASE choosing among ranges of rows,
// each a CASE of its own, so a row is found in a few comparisons per
// level.
func pickRow(row plan.Expr, vals []plan.Expr, t types.Type) plan.Expr {
	return pickRange(row, 0, vals, t)
}

// pickRange is pickRow for vals, which are rows base, base+1, ….
func pickRange(row plan.Expr, base int, vals []plan.Expr, t types.Type) plan.Expr {
	if len(vals) == 1 {
		return vals[0]
	}
	num := func(i int) plan.Expr { return &plan.Literal{Value: int64(i), T: types.BigIntType.WithNotNull(true)} }
	cmp := func(op string, i int) plan.Expr {
		return &plan.Call{Func: op, Args: []plan.Expr{row, num(i)}, T: types.BooleanType.WithNotNull(true)}
	}
	c := &plan.Case{T: t}
	if len(vals) <= caseArms {
		for i, v := range vals[:len(vals)-1] {
			c.Whens = append(c.Whens, plan.When{Cond: cmp("=", base+i), Result: v})
		}
		c.Else = vals[len(vals)-1]
		return c
	}
	size := (len(vals) + caseArms - 1) / caseArms
	for lo := 0; lo < len(vals); lo += size {
		hi := min(lo+size, len(vals))
		sub := pickRange(row, base+lo, vals[lo:hi], t)
		if hi == len(vals) {
			c.Else = sub
			break
		}
		c.Whens = append(c.Whens, plan.When{Cond: cmp("<", base+hi), Result: sub})
	}
	return c
}

// renameColumns applies the column aliases of FROM (…) AS t(a, b, …) to
// rel.
func renameColumns(rel *relation, alias *parser.Ident, cols []parser.Ident, what string) error {
	if len(cols) == 0 {
		return nil
	}
	n := 0
	for _, c := range rel.cols {
		if !c.window {
			n++
		}
	}
	if len(cols) != n {
		given := fmt.Sprintf("%d column aliases are", len(cols))
		if len(cols) == 1 {
			given = "1 column alias is"
		}
		return errorf(cols[0].Pos, "%s %s has %s but %s given", what, alias.Name, plural(n, "column"), given)
	}
	seen := map[string]bool{}
	for i, c := range cols {
		k := key(c.Name)
		if seen[k] {
			return errorf(c.Pos, "duplicate column alias %q", c.Name)
		}
		seen[k] = true
		rel.cols[i].name = c.Name
	}
	return nil
}
