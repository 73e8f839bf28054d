package planner

import (
	"fmt"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// Subqueries of IN and EXISTS.
//
// A conjunct of WHERE of the form x [NOT] IN (SELECT y …) or [NOT] EXISTS
// (SELECT … WHERE inner.k = outer.k …) is planned as a semi join (IN,
// EXISTS) or an anti join (NOT IN, NOT EXISTS) of the FROM relation with
// the subquery, a plan.Join of kind SemiJoin or AntiJoin whose output is
// the FROM relation's rows, as Flink plans them. IN's key is x equal to the
// subquery's one column; EXISTS's keys are the correlated equalities of
// the subquery's WHERE (each an expression of the outer query's columns
// equal to one of the subquery's), its other conjuncts filter the
// subquery. Other correlated predicates are refused. NOT IN when x or
// the subquery's column may be NULL is the anti join filtered by the
// subquery's row counts (nullableNotIn, in scalarsubquery.go).
// A subquery predicate anywhere else (under OR, in the select list) is a
// mark join (scalarsubquery.go).

// subqueryOf returns the subquery predicate conjunct c is, and whether it
// is negated; nil if c is none.
func subqueryOf(c parser.Expr) (parser.Expr, bool) {
	not := false
	for {
		u, ok := c.(*parser.UnaryExpr)
		if !ok || u.Op != "NOT" {
			break
		}
		not, c = !not, u.X
	}
	switch x := c.(type) {
	case *parser.InSubquery:
		return x, not != x.Not
	case *parser.ExistsExpr:
		return x, not
	}
	return nil, false
}

// semiJoins joins rel, the FROM relation of sel, with the subqueries of
// sel's WHERE conjuncts that are IN or EXISTS predicates, and returns sel
// with the other conjuncts.
func (b *builder) semiJoins(rel *relation, sel *parser.Select) (*relation, *parser.Select, error) {
	all := conjuncts(sel.Where)
	var rest []parser.Expr
	for _, c := range all {
		sq, anti := subqueryOf(c)
		if sq == nil {
			rest = append(rest, c)
			continue
		}
		if rel.win != nil {
			var err error
			if rel, err = materializeWindow(rel); err != nil {
				return nil, nil, err
			}
		}
		wj, ok, err := b.windowSemiJoin(rel, c, sq, anti) // windowsemi.go
		if err != nil {
			return nil, nil, err
		}
		if ok {
			rel = wj
			continue
		}
		switch x := sq.(type) {
		case *parser.InSubquery:
			rel, err = b.inJoin(rel, c, x, anti)
		case *parser.ExistsExpr:
			rel, err = b.existsJoin(rel, x, anti)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if len(rest) != len(all) {
		s := *sel
		s.Where = andAll(rest)
		sel = &s
	}
	return rel, sel, nil
}

// inJoin plans x [NOT] IN (SELECT y …), the conjunct c, over rel.
func (b *builder) inJoin(rel *relation, c parser.Expr, in *parser.InSubquery, anti bool) (*relation, error) {
	sub, err := b.planSelect(in.Query)
	if err != nil {
		return nil, err
	}
	if sub.win != nil {
		if sub, err = materializeWindow(sub); err != nil {
			return nil, err
		}
	}
	if n := len(sub.schema().Fields); n != 1 {
		return nil, errorf(in.Query.Pos, "the subquery of IN must select one column, not %d", n)
	}
	x, err := rel.scope("WHERE").bind(in.X)
	if err != nil {
		return nil, err
	}
	y := &plan.ColumnRef{Index: 0, Name: sub.cols[0].name, T: sub.cols[0].t}
	eq, err := binary(in.Pos, "=", x, y)
	if err != nil {
		return nil, err
	}
	call, ok := eq.(*plan.Call)
	if !ok || call.Func != "=" {
		return nil, errorf(in.Pos, "cannot compare %s with the subquery's %s in IN", x.Type(), y.Type())
	}
	lk, rk := call.Args[0], call.Args[1]
	if !groupKeyType(lk.Type()) {
		return nil, errorf(in.Pos, "cannot join on a value of type %s", lk.Type())
	}
	if anti && (!lk.Type().NotNull || !rk.Type().NotNull) {
		return b.nullableNotIn(rel, sub, in, lk, rk)
	}
	return b.semiJoin(rel, sub, anti, []plan.Expr{lk}, []plan.Expr{rk})
}

// existsJoin plans [NOT] EXISTS (SELECT … FROM … WHERE …) over rel.
func (b *builder) existsJoin(rel *relation, ex *parser.ExistsExpr, anti bool) (*relation, error) {
	q := ex.Query
	switch {
	case len(q.With) > 0 || len(q.UnionAll) > 0 || q.Values != nil || q.From == nil:
		return nil, errorf(q.Pos, "EXISTS over this subquery is not supported yet: only SELECT … FROM … [WHERE …] is")
	case len(q.GroupBy) > 0 || q.Having != nil || q.Limit != nil || len(q.OrderBy) > 0:
		return nil, errorf(q.Pos, "EXISTS over a subquery with GROUP BY, HAVING, ORDER BY or LIMIT is not supported yet")
	}
	star := []*parser.SelectItem{{Pos: q.Pos, Star: true}}
	inner, own, corr, err := b.correlatedFrom(q)
	if err != nil {
		return nil, err
	}
	if inner, err = project(&parser.Select{Pos: q.Pos, Items: star, Where: andAll(own)}, inner); err != nil {
		return nil, err
	}
	sc := joinScope(rel, inner)
	sc.table, sc.what = "the outer query and the EXISTS subquery", "the WHERE of an EXISTS subquery"
	nl := len(rel.cols)
	var lkeys, rkeys []plan.Expr
	for _, c := range corr {
		if containsAgg(c) {
			return nil, errorf(c.Position(), "aggregate functions are not allowed in the WHERE of an EXISTS subquery")
		}
		e, err := sc.bind(c)
		if err != nil {
			return nil, err
		}
		call, ok := e.(*plan.Call)
		if ok && call.Func == "=" {
			a, bb := call.Args[0], call.Args[1]
			al, ar := side(a, nl)
			bl, br := side(bb, nl)
			if bl && !br && ar && !al {
				a, bb, al, ar, bl, br = bb, a, bl, br, al, ar
			}
			if al && !ar && br && !bl {
				if !groupKeyType(a.Type()) {
					return nil, errorf(c.Position(), "cannot join on a value of type %s", a.Type())
				}
				lkeys = append(lkeys, a)
				rkeys = append(rkeys, shiftRefs(bb, func(i int) int { return i - nl }))
				continue
			}
		}
		return nil, errorf(c.Position(), "the correlated predicate %s of an EXISTS subquery is not supported yet: only equalities of an outer query's expression and a subquery's (outer.k = inner.k) are", c)
	}
	if len(lkeys) == 0 {
		return nil, errorf(ex.Pos, "EXISTS over a subquery not correlated by an equality (WHERE inner.k = outer.k) is not supported yet")
	}
	return b.semiJoin(rel, inner, anti, lkeys, rkeys)
}

// semiJoin plans the semi (anti) join of left and right on the key
// expressions lkeys (over left's columns) and rkeys (over right's): its
// output is left's columns.
func (b *builder) semiJoin(left, right *relation, anti bool, lkeys, rkeys []plan.Expr) (*relation, error) {
	kind := plan.SemiJoin
	if anti {
		kind = plan.AntiJoin
	}
	for i := range lkeys {
		if lkeys[i].Type().Kind != rkeys[i].Type().Kind {
			// binary coerced both sides of "=": a mismatch is a bug.
			return nil, errorf(parser.Pos{}, "planner: join key %d is %s on the left, %s on the right", i, lkeys[i].Type(), rkeys[i].Type())
		}
	}
	lnode, lidx, lextra := keyColumns(left, lkeys)
	// The right side is only ever matched, never emitted: its key columns
	// alone are held.
	rcalc := &plan.Calc{Input: right.node, Exprs: rkeys}
	ridx := make([]int, len(rkeys))
	for i, k := range rkeys {
		ridx[i] = i
		rcalc.Output.Fields = append(rcalc.Output.Fields, types.Field{Name: fmt.Sprintf("$key%d", i), Type: k.Type()})
	}
	var rnode plan.Node = rcalc
	jn := &plan.Join{Left: lnode, Right: rnode, Type: kind, LeftKeys: lidx, RightKeys: ridx, StateTTL: b.p.Updating.StateTTL}
	jn.Output.Fields = append(jn.Output.Fields, lnode.Schema().Fields...)
	out := &relation{node: jn, name: left.name, cat: left.cat}
	var exprs []plan.Expr
	for i, c := range left.cols {
		if c.rowtime {
			c.rowtime, c.notRowtime = false, notRowtimeJoin
		}
		exprs = append(exprs, &plan.ColumnRef{Index: i, Name: jn.Output.Fields[i].Name, T: c.t})
		out.cols = append(out.cols, c)
	}
	if lextra > 0 {
		calc := &plan.Calc{Input: jn, Exprs: exprs}
		for i, e := range exprs {
			calc.Output.Fields = append(calc.Output.Fields, types.Field{Name: e.(*plan.ColumnRef).Name, Type: out.cols[i].t})
		}
		out.node = calc
	}
	return out, nil
}

// correlatedFrom plans the FROM and WHERE of subquery q (a window TVF's
// rows materialized) and splits its WHERE into the conjuncts over the
// subquery's own columns, which filter it, and the correlated others.
func (b *builder) correlatedFrom(q *parser.Select) (inner *relation, own, corr []parser.Expr, err error) {
	star := []*parser.SelectItem{{Pos: q.Pos, Star: true}}
	inner, s, err := b.planFromWhere(&parser.Select{Pos: q.Pos, Items: star, From: q.From, Where: q.Where})
	if err != nil {
		return nil, nil, nil, err
	}
	if inner.win != nil {
		if inner, err = materializeWindow(inner); err != nil {
			return nil, nil, nil, err
		}
	}
	for _, c := range conjuncts(s.Where) {
		if _, err := inner.scope("WHERE").bind(c); err == nil {
			own = append(own, c)
		} else {
			corr = append(corr, c)
		}
	}
	return inner, own, corr, nil
}
