package planner

import (
	"fmt"
	"strings"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// Scalar subqueries.
//
// A scalar subquery (SELECT …) in the select list, WHERE or HAVING of a
// query is planned, as Flink plans it, as a LEFT join of the query's FROM
// relation with the subquery's relation, whose one column is appended to
// the FROM relation as a hidden column the subquery's expression reads.
//
// An uncorrelated subquery is a one-row updating relation (an aggregate
// without GROUP BY): the join's key is a constant on both sides, so that
// every outer row joins the one row, and when the scalar changes the
// join retracts the rows it emitted with the old value and emits them
// with the new. A subquery whose WHERE has correlated equalities
// (inner.k = outer.k) is decorrelated as Calcite does: the subquery is
// grouped by its side of the equalities and joined on them. Before the
// subquery has a row (for a key), the join pads the value with NULL,
// which is what an aggregate over no rows is, except COUNT: the value of
// the subquery's expression over no rows (COUNT(…) is 0, the other
// aggregates NULL) is then read instead.
//
// SQL makes a scalar subquery that returns more than one row a runtime
// error (Flink fails the job then); here a subquery that cannot be shown
// to return at most one row (one that is not an aggregate without GROUP
// BY, or without FROM) is refused when the query is planned.

// subqueryJoins plans the subqueries of sel's clauses over rel, its FROM
// relation: the semi joins of its WHERE, then its scalar subqueries.
func (b *builder) subqueryJoins(rel *relation, sel *parser.Select) (*relation, *parser.Select, error) {
	rel, sel, err := b.semiJoins(rel, sel)
	if err != nil {
		return nil, nil, err
	}
	return b.scalarJoins(rel, sel)
}

// scalarJoins joins rel, the FROM relation of sel (with its semi joins),
// with the scalar subqueries of sel's select list, WHERE and HAVING, each
// a hidden column of the result that binds the subquery expression. When
// sel aggregates, the subqueries of its select list and HAVING are added
// to its GROUP BY: their value is the same in every row of the FROM
// relation, so the groups do not change.
func (b *builder) scalarJoins(rel *relation, sel *parser.Select) (*relation, *parser.Select, error) {
	var subs, outside []parser.Expr
	collect := func(e parser.Expr, out bool) {
		walkExpr(e, func(x parser.Expr) {
			switch x.(type) {
			case *parser.ScalarSubquery, *parser.InSubquery, *parser.ExistsExpr:
				subs = append(subs, x)
				if out {
					outside = append(outside, x)
				}
			}
		})
	}
	for _, it := range sel.Items {
		collect(it.Expr, true)
	}
	collect(sel.Where, false)
	collect(sel.Having, true)
	if len(subs) == 0 {
		return rel, sel, nil
	}
	if rel.win != nil {
		var err error
		if rel, err = materializeWindow(rel); err != nil {
			return nil, nil, err
		}
	}
	agg := len(sel.GroupBy) > 0 || sel.Having != nil
	for _, it := range sel.Items {
		agg = agg || it.Expr != nil && containsAgg(it.Expr)
	}
	grouped := map[parser.Expr]bool{}
	if agg {
		for _, s := range outside {
			grouped[s] = true
		}
	}
	for _, s := range subs {
		var err error
		if _, ok := s.(*parser.ScalarSubquery); !ok && grouped[s] {
			return nil, nil, errorf(s.Position(), "IN (SELECT …) and EXISTS (SELECT …) in the select list or HAVING of an aggregation are not supported yet")
		}
		switch x := s.(type) {
		case *parser.ScalarSubquery:
			rel, err = b.scalarJoin(rel, x, grouped[s])
		case *parser.InSubquery:
			rel, err = b.inMark(rel, x)
		case *parser.ExistsExpr:
			rel, err = b.existsMark(rel, x)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if agg && len(outside) > 0 {
		s := *sel
		s.GroupBy = append([]parser.Expr(nil), sel.GroupBy...)
		s.GroupBy = append(s.GroupBy, outside...)
		sel = &s
	}
	return rel, sel, nil
}

// scalarJoin joins rel with the scalar subquery sq.
// In the select list or HAVING of an aggregation (grouped), only an
// uncorrelated one is.
func (b *builder) scalarJoin(rel *relation, sq *parser.ScalarSubquery, grouped bool) (*relation, error) {
	q := sq.Query
	simple := len(q.With) == 0 && len(q.UnionAll) == 0 && q.Values == nil && q.From != nil
	if simple {
		if len(q.Items) != 1 || q.Items[0].Star {
			return nil, errorf(q.Pos, "a scalar subquery must select one column")
		}
		if len(q.OrderBy) > 0 || q.Limit != nil {
			return nil, errorf(q.Pos, "a scalar subquery with ORDER BY or LIMIT is not supported")
		}
		star := []*parser.SelectItem{{Pos: q.Pos, Star: true}}
		inner, own, corr, err := b.correlatedFrom(q)
		if err != nil {
			return nil, err
		}
		if len(corr) > 0 {
			if grouped {
				return nil, errorf(sq.Pos, "a correlated scalar subquery in the select list or HAVING of an aggregation is not supported yet")
			}
			if inner, err = project(&parser.Select{Pos: q.Pos, Items: star, Where: andAll(own)}, inner); err != nil {
				return nil, err
			}
			return b.correlatedScalar(rel, sq, inner, corr)
		}
	}
	if err := atMostOneRow(q); err != nil {
		return nil, err
	}
	sub, err := b.planSelect(q)
	if err != nil {
		return nil, err
	}
	if sub.win != nil {
		if sub, err = materializeWindow(sub); err != nil {
			return nil, err
		}
	}
	if n := len(sub.schema().Fields); n != 1 {
		return nil, errorf(q.Pos, "a scalar subquery must select one column, not %d", n)
	}
	zero, err := numberLiteral(&parser.NumberLit{Pos: sq.Pos, Text: "0"})
	if err != nil {
		return nil, err
	}
	empty, err := emptyValue(q)
	if err != nil {
		return nil, err
	}
	return b.scalarLeftJoin(rel, sub, sq, []plan.Expr{zero}, []plan.Expr{zero}, 0, empty)
}

// atMostOneRow checks that the uncorrelated scalar subquery q returns at
// most one row: that it aggregates without GROUP BY, or has no FROM.
func atMostOneRow(q *parser.Select) error {
	refuse := func(why string) error {
		return errorf(q.Pos, "a scalar subquery must return at most one row, and this one may return more (%s): only an aggregate without GROUP BY (such as (SELECT MAX(x) FROM t)) is supported; Flink would fail at run time on a second row", why)
	}
	switch {
	case len(q.With) > 0:
		return refuse("WITH")
	case len(q.UnionAll) > 0:
		return refuse("UNION ALL")
	case q.Values != nil:
		if len(q.Values) == 1 {
			return nil
		}
		return refuse("VALUES of several rows")
	case q.From == nil:
		return nil
	case len(q.GroupBy) > 0:
		return refuse("GROUP BY")
	case q.Having != nil:
		return errorf(q.Having.Position(), "HAVING in a scalar subquery is not supported yet")
	case q.Distinct:
		return refuse("DISTINCT")
	}
	for _, it := range q.Items {
		if it.Expr != nil && containsAgg(it.Expr) {
			return nil
		}
	}
	return refuse("it is not an aggregate")
}

// correlatedScalar decorrelates the scalar subquery sq whose FROM
// relation, filtered by its own conjuncts, is inner, and whose WHERE
// conjuncts corr refer to rel's columns: each must be an equality of an
// expression of inner and one of rel. The subquery is then inner grouped
// by its sides of the equalities, LEFT joined with rel on them.
func (b *builder) correlatedScalar(rel *relation, sq *parser.ScalarSubquery, inner *relation, corr []parser.Expr) (*relation, error) {
	q := sq.Query
	if len(q.GroupBy) > 0 || q.Having != nil || q.Distinct {
		return nil, errorf(q.Pos, "a correlated scalar subquery with GROUP BY, HAVING or DISTINCT is not supported yet")
	}
	if !containsAgg(q.Items[0].Expr) {
		return nil, errorf(q.Pos, "a scalar subquery must return at most one row, and this one may return more (it is not an aggregate): only an aggregate (such as (SELECT COUNT(*) FROM b WHERE b.k = a.k)) is supported; Flink would fail at run time on a second row")
	}
	isc, osc := inner.scope("WHERE"), rel.scope("WHERE")
	var outer []plan.Expr
	agg := &parser.Select{Pos: q.Pos, Hints: q.Hints}
	for _, c := range corr {
		x, ok := c.(*parser.BinaryExpr)
		if ok && x.Op == "=" {
			in, out := x.Left, x.Right
			if _, err := isc.bind(in); err != nil {
				in, out = out, in
			}
			_, ierr := isc.bind(in)
			o, oerr := osc.bind(out)
			if ierr == nil && oerr == nil && !containsAgg(c) {
				outer = append(outer, o)
				agg.Items = append(agg.Items, &parser.SelectItem{Pos: in.Position(), Expr: in, Alias: &parser.Ident{Name: fmt.Sprintf("$key%d", len(agg.GroupBy))}})
				agg.GroupBy = append(agg.GroupBy, in)
				continue
			}
		}
		return nil, errorf(c.Position(), "the correlated predicate %s of a scalar subquery is not supported yet: only equalities of an outer query's expression and a subquery's (outer.k = inner.k) are", c)
	}
	agg.Items = append(agg.Items, &parser.SelectItem{Pos: q.Items[0].Pos, Expr: q.Items[0].Expr, Alias: &parser.Ident{Name: "$value"}})
	sub, err := b.planAggregate(agg, inner)
	if err != nil {
		return nil, err
	}
	n := len(agg.GroupBy)
	var lkeys, rkeys []plan.Expr
	for i, o := range outer {
		c := sub.cols[i]
		eq, err := binary(corr[i].Position(), "=", o, &plan.ColumnRef{Index: i, Name: c.name, T: c.t})
		if err != nil {
			return nil, err
		}
		call, ok := eq.(*plan.Call)
		if !ok || call.Func != "=" {
			return nil, errorf(corr[i].Position(), "cannot compare %s with %s", o.Type(), c.t)
		}
		if !groupKeyType(call.Args[0].Type()) {
			return nil, errorf(corr[i].Position(), "cannot join on a value of type %s", call.Args[0].Type())
		}
		lkeys, rkeys = append(lkeys, call.Args[0]), append(rkeys, call.Args[1])
	}
	empty, err := emptyValue(q)
	if err != nil {
		return nil, err
	}
	return b.scalarLeftJoin(rel, sub, sq, lkeys, rkeys, n, empty)
}

// scalarLeftJoin plans rel LEFT JOIN sub on lkeys = rkeys and appends
// sub's column at index val as the hidden column of sq. When sub has no
// row for an outer row, the column is empty (when not NULL) instead.
func (b *builder) scalarLeftJoin(rel, sub *relation, sq *parser.ScalarSubquery, lkeys, rkeys []plan.Expr, val int, empty plan.Expr) (*relation, error) {
	lnode, lidx, lextra := keyColumns(rel, lkeys)
	rnode, ridx, _ := keyColumns(sub, rkeys)
	jn := &plan.Join{Left: lnode, Right: rnode, Type: plan.LeftJoin, LeftKeys: lidx, RightKeys: ridx, StateTTL: b.p.Updating.StateTTL}
	jn.InputTTL = [2]int64{b.hintedTTL(rel), b.hintedTTL(sub)}
	jn.Output.Fields = append(jn.Output.Fields, lnode.Schema().Fields...)
	for _, f := range rnode.Schema().Fields {
		f.Type = f.Type.Nullable()
		jn.Output.Fields = append(jn.Output.Fields, f)
	}
	uniq := make([]scopeCol, len(jn.Output.Fields))
	for i, f := range jn.Output.Fields {
		uniq[i] = scopeCol{name: f.Name}
	}
	uniquifyNames(uniq)
	for i := range uniq {
		jn.Output.Fields[i].Name = uniq[i].name
	}
	nl := len(rel.cols) + lextra
	out := &relation{node: jn, name: rel.name, cat: rel.cat}
	calc := &plan.Calc{Input: jn}
	for i, c := range rel.cols {
		if c.rowtime {
			c.rowtime, c.notRowtime = false, notRowtimeJoin
		}
		c.index = i
		calc.Exprs = append(calc.Exprs, &plan.ColumnRef{Index: i, Name: jn.Output.Fields[i].Name, T: c.t})
		out.cols = append(out.cols, c)
	}
	f := jn.Output.Fields[nl+val]
	var v plan.Expr = &plan.ColumnRef{Index: nl + val, Name: f.Name, T: f.Type}
	if l, ok := empty.(*plan.Literal); !ok || l.Value != nil {
		t := sub.cols[val].t
		if !types.Same(empty.Type(), t) {
			if !castable(empty.Type(), t) {
				return nil, errorf(sq.Pos, "planner: the scalar subquery's value over no rows is %s, not %s", empty.Type(), t)
			}
			empty = &plan.Cast{Arg: empty, T: t.WithNotNull(empty.Type().NotNull)}
		}
		marker := jn.Output.Fields[nl+ridx[0]]
		isNull := &plan.Call{Func: "IS_NULL", Args: []plan.Expr{&plan.ColumnRef{Index: nl + ridx[0], Name: marker.Name, T: marker.Type}}, T: types.BooleanType.WithNotNull(true)}
		v = &plan.Case{Whens: []plan.When{{Cond: isNull, Result: empty}}, Else: v, T: t.WithNotNull(t.NotNull && empty.Type().NotNull)}
	}
	calc.Exprs = append(calc.Exprs, v)
	name := fmt.Sprintf("$scalar%d", len(out.cols))
	out.cols = append(out.cols, scopeCol{name: name, t: v.Type(), index: len(out.cols), hidden: true, subquery: parser.Expr(sq)})
	for i, e := range calc.Exprs {
		calc.Output.Fields = append(calc.Output.Fields, types.Field{Name: out.cols[i].name, Type: e.Type()})
	}
	out.node = calc
	return out, nil
}

// emptyValue is the value of the scalar subquery q over no rows: its
// expression with COUNT(…) 0 and the other aggregates NULL.
func emptyValue(q *parser.Select) (plan.Expr, error) {
	if q.From == nil || len(q.Items) != 1 || q.Items[0].Expr == nil {
		return &plan.Literal{T: types.NullType}, nil
	}
	e := noRows(q.Items[0].Expr)
	v, err := (&scope{what: "a scalar subquery"}).bind(e)
	if err != nil {
		return nil, errorf(q.Pos, "cannot compute the value of the scalar subquery over no rows: %v", err)
	}
	return v, nil
}

// noRows returns e with its aggregate calls replaced by their value over
// no rows.
func noRows(e parser.Expr) parser.Expr {
	switch x := e.(type) {
	case *parser.FuncCall:
		if _, ok := aggregateFuncs[strings.ToUpper(x.Name)]; ok && x.Over == nil {
			if strings.EqualFold(x.Name, "COUNT") {
				return &parser.NumberLit{Pos: x.Pos, Text: "0"}
			}
			return &parser.NullLit{Pos: x.Pos}
		}
		c := *x
		c.Args = make([]parser.Expr, len(x.Args))
		for i, a := range x.Args {
			c.Args[i] = noRows(a)
		}
		return &c
	case *parser.BinaryExpr:
		c := *x
		c.Left, c.Right = noRows(x.Left), noRows(x.Right)
		return &c
	case *parser.UnaryExpr:
		c := *x
		c.X = noRows(x.X)
		return &c
	case *parser.IsExpr:
		c := *x
		c.X = noRows(x.X)
		return &c
	case *parser.CastExpr:
		c := *x
		c.X = noRows(x.X)
		return &c
	case *parser.BetweenExpr:
		c := *x
		c.X, c.Low, c.High = noRows(x.X), noRows(x.Low), noRows(x.High)
		return &c
	case *parser.InExpr:
		c := *x
		c.X = noRows(x.X)
		c.List = make([]parser.Expr, len(x.List))
		for i, a := range x.List {
			c.List[i] = noRows(a)
		}
		return &c
	case *parser.CaseExpr:
		c := *x
		if x.Operand != nil {
			c.Operand = noRows(x.Operand)
		}
		if x.Else != nil {
			c.Else = noRows(x.Else)
		}
		c.Whens = make([]*parser.When, len(x.Whens))
		for i, w := range x.Whens {
			cw := *w
			cw.Cond, cw.Result = noRows(w.Cond), noRows(w.Result)
			c.Whens[i] = &cw
		}
		return &c
	}
	return e
}

// nullableNotIn plans x NOT IN (SELECT y …) over rel when x (lk) or y
// (rk, over sub's column) may be NULL. SQL keeps a row iff the subquery
// is empty, or x is not NULL, no subquery row equals x and none is NULL.
// The plan: the anti join of rel with sub on x = y (which keeps the rows
// without a match, those whose x is NULL included), LEFT joined on a
// constant key with the subquery's row counts, SELECT COUNT(*),
// COUNT(*) FILTER (WHERE y IS NULL), and filtered by
// count IS NULL OR count = 0 OR (x IS NOT NULL AND nulls = 0);
// the filter's rows change (retractions) as the counts do.
func (b *builder) nullableNotIn(rel, sub *relation, in *parser.InSubquery, lk, rk plan.Expr) (*relation, error) {
	anti, err := b.semiJoin(rel, sub, true, []plan.Expr{lk}, []plan.Expr{rk})
	if err != nil {
		return nil, err
	}
	cnt, err := b.subqueryCounts(in.Query, in.Pos)
	if err != nil {
		return nil, err
	}
	zero, err := numberLiteral(&parser.NumberLit{Pos: in.Pos, Text: "0"})
	if err != nil {
		return nil, err
	}
	j, at, err := b.leftJoinCols(anti, cnt, []plan.Expr{zero}, []plan.Expr{zero})
	if err != nil {
		return nil, err
	}
	col := func(i int) plan.Expr {
		return &plan.ColumnRef{Index: i, Name: j.Output.Fields[i].Name, T: j.Output.Fields[i].Type}
	}
	// lk is over rel's columns, which are the first of the join's too.
	x := lk
	count, nulls := col(at), col(at+1)
	notNull := types.BooleanType.WithNotNull(true)
	call := func(f string, t types.Type, args ...plan.Expr) plan.Expr {
		return &plan.Call{Func: f, Args: args, T: t}
	}
	eq0 := func(e plan.Expr) (plan.Expr, error) {
		return binary(in.Pos, "=", e, zero)
	}
	c0, err := eq0(count)
	if err != nil {
		return nil, err
	}
	n0, err := eq0(nulls)
	if err != nil {
		return nil, err
	}
	keep := call("OR", types.BooleanType,
		call("OR", types.BooleanType, call("IS_NULL", notNull, count), c0),
		call("AND", types.BooleanType, call("IS_NOT_NULL", notNull, x), n0))
	calc := &plan.Calc{Input: j, Filter: keep}
	out := &relation{node: calc, name: anti.name, cat: anti.cat}
	for i, c := range anti.cols {
		c.index = i
		calc.Exprs = append(calc.Exprs, col(i))
		calc.Output.Fields = append(calc.Output.Fields, types.Field{Name: j.Output.Fields[i].Name, Type: c.t})
		out.cols = append(out.cols, c)
	}
	return out, nil
}

// subqueryCounts plans SELECT COUNT(*), COUNT(*) FILTER (WHERE y IS NULL)
// FROM (q) over the one column y of the subquery q.
func (b *builder) subqueryCounts(q *parser.Select, pos parser.Pos) (*relation, error) {
	c := &parser.ColumnExpr{Pos: pos, Table: "$sub", Name: parser.Ident{Pos: pos, Name: "$y", Quoted: true}}
	sel := &parser.Select{
		Pos: pos,
		Items: []*parser.SelectItem{
			{Pos: pos, Expr: &parser.FuncCall{Pos: pos, Name: "COUNT", Star: true}, Alias: &parser.Ident{Name: "$count"}},
			{Pos: pos, Expr: &parser.FuncCall{Pos: pos, Name: "COUNT", Star: true, Filter: &parser.IsExpr{Pos: pos, X: c, What: "NULL"}}, Alias: &parser.Ident{Name: "$nulls"}},
		},
		From: &parser.SubqueryRef{Pos: pos, Query: q, Alias: &parser.Ident{Pos: pos, Name: "$sub", Quoted: true}, Columns: []parser.Ident{{Pos: pos, Name: "$y", Quoted: true}}},
	}
	return b.planSelect(sel)
}

// leftJoinCols plans left LEFT JOIN right on lkeys = rkeys and returns
// the join, whose columns are left's, then the key columns keyColumns
// appended to left, then right's (from the returned index at).
func (b *builder) leftJoinCols(left, right *relation, lkeys, rkeys []plan.Expr) (*plan.Join, int, error) {
	lnode, lidx, lextra := keyColumns(left, lkeys)
	rnode, ridx, _ := keyColumns(right, rkeys)
	jn := &plan.Join{Left: lnode, Right: rnode, Type: plan.LeftJoin, LeftKeys: lidx, RightKeys: ridx, StateTTL: b.p.Updating.StateTTL}
	jn.InputTTL = [2]int64{b.hintedTTL(left), b.hintedTTL(right)}
	jn.Output.Fields = append(jn.Output.Fields, lnode.Schema().Fields...)
	for _, f := range rnode.Schema().Fields {
		f.Type = f.Type.Nullable()
		jn.Output.Fields = append(jn.Output.Fields, f)
	}
	uniq := make([]scopeCol, len(jn.Output.Fields))
	for i, f := range jn.Output.Fields {
		uniq[i] = scopeCol{name: f.Name}
	}
	uniquifyNames(uniq)
	for i := range uniq {
		jn.Output.Fields[i].Name = uniq[i].name
	}
	return jn, len(left.cols) + lextra, nil
}

// Mark joins: IN and EXISTS as values.
//
// An IN or EXISTS predicate under OR or NOT, or in the select list, is
// planned as Calcite's mark join: a LEFT join of the FROM relation with
// the subquery's distinct keys, whose key column (never NULL when
// matched) marks the rows that have a match. x IN (SELECT y …) is then
//
//	CASE WHEN the subquery is empty THEN FALSE
//	     WHEN matched THEN TRUE
//	     WHEN x IS NULL OR the subquery has a NULL THEN NULL
//	     ELSE FALSE END
//
// with the subquery's counts of rows and of NULLs from a LEFT join on a
// constant key (not needed when neither x nor y may be NULL: the value
// is then whether the row matched). EXISTS is whether the row matched
// the subquery's distinct correlated keys or, uncorrelated, whether the
// subquery's count of rows is above 0.

// inMark plans in as a value over rel.
func (b *builder) inMark(rel *relation, in *parser.InSubquery) (*relation, error) {
	sub, err := b.planSelect(in.Query)
	if err != nil {
		return nil, err
	}
	if n := len(sub.schema().Fields); n != 1 {
		return nil, errorf(in.Query.Pos, "the subquery of IN must select one column, not %d", n)
	}
	yt := sub.cols[0].t
	x, err := rel.scope("WHERE").bind(in.X)
	if err != nil {
		return nil, err
	}
	pos := in.Pos
	ycol := &parser.ColumnExpr{Pos: pos, Table: "$sub", Name: parser.Ident{Pos: pos, Name: "$y", Quoted: true}}
	from := &parser.SubqueryRef{Pos: pos, Query: in.Query, Alias: &parser.Ident{Pos: pos, Name: "$sub", Quoted: true}, Columns: []parser.Ident{{Pos: pos, Name: "$y", Quoted: true}}}
	keys, err := b.planSelect(&parser.Select{Pos: pos, Items: []*parser.SelectItem{{Pos: pos, Expr: ycol, Alias: &parser.Ident{Name: "$mark"}}}, From: from, GroupBy: []parser.Expr{ycol}})
	if err != nil {
		return nil, err
	}
	eq, err := binary(pos, "=", x, &plan.ColumnRef{Index: 0, Name: keys.cols[0].name, T: keys.cols[0].t})
	if err != nil {
		return nil, err
	}
	call, ok := eq.(*plan.Call)
	if !ok || call.Func != "=" {
		return nil, errorf(pos, "cannot compare %s with the subquery's %s in IN", x.Type(), yt)
	}
	if !groupKeyType(call.Args[0].Type()) {
		return nil, errorf(pos, "cannot join on a value of type %s", call.Args[0].Type())
	}
	notNull := types.BooleanType.WithNotNull(true)
	fn := func(f string, t types.Type, args ...plan.Expr) plan.Expr {
		return &plan.Call{Func: f, Args: args, T: t}
	}
	var counts []plan.Expr
	cur := rel
	if !x.Type().NotNull || !yt.NotNull {
		cnt, err := b.subqueryCounts(in.Query, pos)
		if err != nil {
			return nil, err
		}
		zero, err := numberLiteral(&parser.NumberLit{Pos: pos, Text: "0"})
		if err != nil {
			return nil, err
		}
		if cur, counts, err = b.leftJoinHidden(cur, cnt, []plan.Expr{zero}, []plan.Expr{zero}); err != nil {
			return nil, err
		}
	}
	cur, marks, err := b.leftJoinHidden(cur, keys, []plan.Expr{call.Args[0]}, []plan.Expr{call.Args[1]})
	if err != nil {
		return nil, err
	}
	var v plan.Expr = fn("IS_NOT_NULL", notNull, marks[0])
	if counts != nil {
		zero, err := numberLiteral(&parser.NumberLit{Pos: pos, Text: "0"})
		if err != nil {
			return nil, err
		}
		c0, err := binary(pos, "=", counts[0], zero)
		if err != nil {
			return nil, err
		}
		n0, err := binary(pos, ">", counts[1], zero)
		if err != nil {
			return nil, err
		}
		f := &plan.Literal{Value: false, T: notNull}
		v = &plan.Case{Whens: []plan.When{
			{Cond: fn("OR", types.BooleanType, fn("IS_NULL", notNull, counts[0]), c0), Result: f},
			{Cond: v, Result: &plan.Literal{Value: true, T: notNull}},
			{Cond: fn("OR", types.BooleanType, fn("IS_NULL", notNull, x), n0), Result: &plan.Literal{T: types.BooleanType}},
		}, Else: f, T: types.BooleanType}
	}
	if in.Not {
		v = fn("NOT", v.Type(), v)
	}
	return appendValue(cur, v, in), nil
}

// existsMark plans ex as a value over rel.
func (b *builder) existsMark(rel *relation, ex *parser.ExistsExpr) (*relation, error) {
	q := ex.Query
	pos := ex.Pos
	simple := len(q.With) == 0 && len(q.UnionAll) == 0 && q.Values == nil && q.From != nil &&
		len(q.GroupBy) == 0 && q.Having == nil && q.Limit == nil && len(q.OrderBy) == 0
	notNull := types.BooleanType.WithNotNull(true)
	if simple {
		star := []*parser.SelectItem{{Pos: q.Pos, Star: true}}
		inner, own, corr, err := b.correlatedFrom(q)
		if err != nil {
			return nil, err
		}
		if len(corr) > 0 {
			if inner, err = project(&parser.Select{Pos: q.Pos, Items: star, Where: andAll(own)}, inner); err != nil {
				return nil, err
			}
			outer, innerKeys, err := corrKeys(inner, rel, corr, "an EXISTS subquery")
			if err != nil {
				return nil, err
			}
			agg := &parser.Select{Pos: q.Pos, GroupBy: innerKeys}
			for i, k := range innerKeys {
				agg.Items = append(agg.Items, &parser.SelectItem{Pos: k.Position(), Expr: k, Alias: &parser.Ident{Name: fmt.Sprintf("$key%d", i)}})
			}
			keys, err := b.planAggregate(agg, inner)
			if err != nil {
				return nil, err
			}
			var lkeys, rkeys []plan.Expr
			for i, o := range outer {
				c := keys.cols[i]
				eq, err := binary(corr[i].Position(), "=", o, &plan.ColumnRef{Index: i, Name: c.name, T: c.t})
				if err != nil {
					return nil, err
				}
				call, ok := eq.(*plan.Call)
				if !ok || call.Func != "=" {
					return nil, errorf(corr[i].Position(), "cannot compare %s with %s", o.Type(), c.t)
				}
				if !groupKeyType(call.Args[0].Type()) {
					return nil, errorf(corr[i].Position(), "cannot join on a value of type %s", call.Args[0].Type())
				}
				lkeys, rkeys = append(lkeys, call.Args[0]), append(rkeys, call.Args[1])
			}
			cur, marks, err := b.leftJoinHidden(rel, keys, lkeys, rkeys)
			if err != nil {
				return nil, err
			}
			return appendValue(cur, &plan.Call{Func: "IS_NOT_NULL", Args: []plan.Expr{marks[0]}, T: notNull}, ex), nil
		}
	}
	cnt, err := b.planSelect(&parser.Select{
		Pos:   pos,
		Items: []*parser.SelectItem{{Pos: pos, Expr: &parser.FuncCall{Pos: pos, Name: "COUNT", Star: true}, Alias: &parser.Ident{Name: "$count"}}},
		From:  &parser.SubqueryRef{Pos: pos, Query: q, Alias: &parser.Ident{Pos: pos, Name: "$sub", Quoted: true}},
	})
	if err != nil {
		return nil, err
	}
	zero, err := numberLiteral(&parser.NumberLit{Pos: pos, Text: "0"})
	if err != nil {
		return nil, err
	}
	cur, counts, err := b.leftJoinHidden(rel, cnt, []plan.Expr{zero}, []plan.Expr{zero})
	if err != nil {
		return nil, err
	}
	gt, err := binary(pos, ">", counts[0], zero)
	if err != nil {
		return nil, err
	}
	v := &plan.Call{Func: "AND", Args: []plan.Expr{&plan.Call{Func: "IS_NOT_NULL", Args: []plan.Expr{counts[0]}, T: notNull}, gt}, T: types.BooleanType}
	return appendValue(cur, v, ex), nil
}

// corrKeys splits the correlated conjuncts corr of a subquery over inner
// into the outer (rel's) expressions, bound, and the inner ones of their
// equalities; any other conjunct is refused.
func corrKeys(inner, rel *relation, corr []parser.Expr, what string) ([]plan.Expr, []parser.Expr, error) {
	isc, osc := inner.scope("WHERE"), rel.scope("WHERE")
	var outer []plan.Expr
	var ins []parser.Expr
	for _, c := range corr {
		x, ok := c.(*parser.BinaryExpr)
		if ok && x.Op == "=" && !containsAgg(c) {
			in, out := x.Left, x.Right
			if _, err := isc.bind(in); err != nil {
				in, out = out, in
			}
			_, ierr := isc.bind(in)
			o, oerr := osc.bind(out)
			if ierr == nil && oerr == nil {
				outer, ins = append(outer, o), append(ins, in)
				continue
			}
		}
		return nil, nil, errorf(c.Position(), "the correlated predicate %s of %s is not supported yet: only equalities of an outer query's expression and a subquery's (outer.k = inner.k) are", c, what)
	}
	return outer, ins, nil
}

// leftJoinHidden plans left LEFT JOIN right on lkeys = rkeys: its columns
// are left's, then right's, hidden; it returns those of right.
func (b *builder) leftJoinHidden(left, right *relation, lkeys, rkeys []plan.Expr) (*relation, []plan.Expr, error) {
	jn, at, err := b.leftJoinCols(left, right, lkeys, rkeys)
	if err != nil {
		return nil, nil, err
	}
	calc := &plan.Calc{Input: jn}
	out := &relation{node: calc, name: left.name, cat: left.cat}
	add := func(c scopeCol, i int) plan.Expr {
		f := jn.Output.Fields[i]
		ref := &plan.ColumnRef{Index: i, Name: f.Name, T: f.Type}
		c.index, c.t = len(out.cols), f.Type
		calc.Exprs = append(calc.Exprs, ref)
		calc.Output.Fields = append(calc.Output.Fields, types.Field{Name: f.Name, Type: f.Type})
		out.cols = append(out.cols, c)
		return &plan.ColumnRef{Index: c.index, Name: f.Name, T: f.Type}
	}
	for i, c := range left.cols {
		if c.rowtime {
			c.rowtime, c.notRowtime = false, notRowtimeJoin
		}
		add(c, i)
	}
	var refs []plan.Expr
	for i := range right.cols {
		refs = append(refs, add(scopeCol{name: jn.Output.Fields[at+i].Name, hidden: true}, at+i))
	}
	return out, refs, nil
}

// appendValue appends v, over rel's columns, to rel as the hidden column
// of the predicate e.
func appendValue(rel *relation, v plan.Expr, e parser.Expr) *relation {
	calc := &plan.Calc{Input: rel.node}
	out := &relation{node: calc, name: rel.name, cat: rel.cat}
	for i, c := range rel.cols {
		calc.Exprs = append(calc.Exprs, &plan.ColumnRef{Index: i, Name: c.name, T: c.t})
		calc.Output.Fields = append(calc.Output.Fields, types.Field{Name: c.name, Type: c.t})
		out.cols = append(out.cols, c)
	}
	name := fmt.Sprintf("$mark%d", len(out.cols))
	calc.Exprs = append(calc.Exprs, v)
	calc.Output.Fields = append(calc.Output.Fields, types.Field{Name: name, Type: v.Type()})
	out.cols = append(out.cols, scopeCol{name: name, t: v.Type(), index: len(out.cols), hidden: true, subquery: e})
	return out
}
