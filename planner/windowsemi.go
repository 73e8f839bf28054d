package planner

import (
	"fmt"
	"maps"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// Window semi and anti joins.
//
// A subquery predicate of WHERE (x [NOT] IN (SELECT y …), [NOT] EXISTS
// (SELECT …)) over a windowed FROM relation, whose subquery reads a
// relation windowed alike and is correlated on both window bounds
// (WHERE L.window_start = R.window_start AND L.window_end = R.window_end
// …), is a window join of kind SEMI (IN, EXISTS) or ANTI (NOT IN, NOT
// EXISTS), as in Flink: a plan.WindowJoin keyed by the two bounds, the
// other correlated equalities and (IN) x = y, whose output is the outer
// relation's rows, emitted when their window closes and appended; its
// state is dropped then. The windows are checked as a window join's are
// (windowjoin.go). A subquery correlated on neither bound is the regular
// semi (anti) join of subquery.go; one correlated on one bound alone is
// refused, as a window join equating one bound is.

// windowSemiJoin plans the subquery predicate c (sq, negated when anti)
// over rel as a semi (anti) window join; ok is false, and nothing
// planned, when its subquery is not correlated on window bounds.
func (b *builder) windowSemiJoin(rel *relation, c, sq parser.Expr, anti bool) (_ *relation, ok bool, _ error) {
	var q *parser.Select
	var in *parser.InSubquery
	switch x := sq.(type) {
	case *parser.InSubquery:
		q, in = x.Query, x
	case *parser.ExistsExpr:
		q = x.Query
	default:
		return nil, false, nil
	}
	switch {
	case len(q.With) > 0 || len(q.UnionAll) > 0 || q.Values != nil || q.From == nil,
		len(q.GroupBy) > 0 || q.Having != nil || q.Limit != nil || len(q.OrderBy) > 0:
		return nil, false, nil
	case !columnEquality(q.Where) || !b.hasWindowBound(rel):
		return nil, false, nil
	}
	// Planning the subquery has effects on b (the tables read, late
	// rows): undone when it is not a window join after all.
	mark := b.markTables()
	star := []*parser.SelectItem{{Pos: q.Pos, Star: true}}
	inner, s, err := b.planFromWhere(&parser.Select{Pos: q.Pos, Items: star, From: q.From, Where: q.Where})
	if err != nil {
		b.restoreTables(mark)
		return nil, false, nil // the regular semi join reports it
	}
	if inner.win != nil {
		if inner, err = materializeWindow(inner); err != nil {
			return nil, true, err
		}
	}
	var own, corr []parser.Expr
	for _, c := range conjuncts(s.Where) {
		if _, err := inner.scope("WHERE").bind(c); err == nil {
			own = append(own, c)
		} else {
			corr = append(corr, c)
		}
	}
	if inner, err = project(&parser.Select{Pos: q.Pos, Items: star, Where: andAll(own)}, inner); err != nil {
		return nil, true, err
	}
	sc := joinScope(rel, inner)
	sc.table, sc.what = "the outer query and the subquery", "the WHERE of a subquery"
	nl := len(rel.cols)
	type bound struct {
		l, r int
		w    plan.Window
		pos  parser.Pos
	}
	var bounds [2]*bound
	var lkeys, rkeys []plan.Expr
	var other []parser.Expr // correlated, not an equality of the sides
	for _, c := range corr {
		if containsAgg(c) {
			b.restoreTables(mark)
			return nil, false, nil
		}
		e, err := sc.bind(c)
		if err != nil {
			b.restoreTables(mark)
			return nil, false, nil
		}
		call, isEq := e.(*plan.Call)
		if !isEq || call.Func != "=" {
			other = append(other, c)
			continue
		}
		a, bb := call.Args[0], call.Args[1]
		al, ar := side(a, nl)
		bl, br := side(bb, nl)
		if bl && !br && ar && !al {
			a, bb, al, ar, bl, br = bb, a, bl, br, al, ar
		}
		if !al || ar || !br || bl {
			other = append(other, c)
			continue
		}
		bb = shiftRefs(bb, func(i int) int { return i - nl })
		la, _ := a.(*plan.ColumnRef)
		rb, _ := bb.(*plan.ColumnRef)
		if la != nil && rb != nil {
			lw, lok := b.windowBoundOf(rel.node, la.Index)
			rw, rok := b.windowBoundOf(inner.node, rb.Index)
			if lok && rok && lw.prop != propTime && rw.prop != propTime {
				if lw.end != rw.end {
					return nil, true, errorf(c.Position(), "a window semi (anti) join equates window_start with window_start and window_end with window_end, not the window_%s of the outer query with the window_%s of the subquery", boundName(lw.end), boundName(rw.end))
				}
				if !lw.w.Zone.IsUTC() {
					return nil, true, errorf(c.Position(), "a window join of windows over a TIMESTAMP_LTZ in the session time zone %s is not supported yet (SET 'table.local-time-zone' = 'UTC', or window a TIMESTAMP)", lw.w.Zone)
				}
				if !sameWindows(lw.w, rw.w) {
					return nil, true, errorf(c.Position(), "a window semi (anti) join needs both sides windowed alike, but the outer query's windows are %s and the subquery's %s", describeWindow(lw.w), describeWindow(rw.w))
				}
				i := 0
				if lw.end {
					i = 1
				}
				if bounds[i] == nil {
					bounds[i] = &bound{la.Index, rb.Index, lw.w, c.Position()}
					continue
				}
			}
		}
		if !groupKeyType(a.Type()) {
			return nil, true, errorf(c.Position(), "cannot join on a value of type %s", a.Type())
		}
		lkeys = append(lkeys, a)
		rkeys = append(rkeys, bb)
	}
	if bounds[0] == nil && bounds[1] == nil {
		b.restoreTables(mark)
		return nil, false, nil
	}
	for i := range bounds {
		if bounds[i] == nil {
			only := []string{"window_end", "window_start"}[i]
			return nil, true, errorf(q.Pos, "a window semi (anti) join's subquery must equate both the window_start and the window_end of the two sides (WHERE L.window_start = R.window_start AND L.window_end = R.window_end AND …); this one equates only their %s", only)
		}
	}
	if !sameWindows(bounds[0].w, bounds[1].w) {
		return nil, true, errorf(bounds[1].pos, "a window semi (anti) join needs both sides windowed alike, but its window_start equality is of %s windows and its window_end equality of %s windows", describeWindow(bounds[0].w), describeWindow(bounds[1].w))
	}
	win := bounds[0].w
	switch {
	case win.Kind == plan.Session:
		return nil, true, errorf(bounds[0].pos, "a window join of SESSION windows is not supported: window both sides with TUMBLE, HOP or CUMULATE")
	case win.ProcTime:
		return nil, true, errorf(bounds[0].pos, "a window join of processing-time windows is not supported (as in Flink): window both sides on an event-time attribute")
	}
	if len(other) > 0 {
		return nil, true, errorf(other[0].Position(), "the correlated predicate %s of a window semi (anti) join's subquery is not supported yet: only equalities of an outer query's expression and a subquery's (outer.k = inner.k) are", other[0])
	}
	if in != nil {
		if lkeys, rkeys, err = inKey(rel, inner, c, in, anti, lkeys, rkeys); err != nil {
			return nil, true, err
		}
	}
	lkeys = append([]plan.Expr{colRef(rel, bounds[0].l), colRef(rel, bounds[1].l)}, lkeys...)
	rkeys = append([]plan.Expr{colRef(inner, bounds[0].r), colRef(inner, bounds[1].r)}, rkeys...)
	kind := plan.SemiJoin
	if anti {
		kind = plan.AntiJoin
	}
	lnode, lidx, lextra := keyColumns(rel, lkeys)
	// The subquery's rows are only ever matched: their keys alone are held.
	rcalc := &plan.Calc{Input: inner.node, Exprs: rkeys}
	ridx := make([]int, len(rkeys))
	for i, k := range rkeys {
		ridx[i] = i
		rcalc.Output.Fields = append(rcalc.Output.Fields, types.Field{Name: fmt.Sprintf("$key%d", i), Type: k.Type()})
	}
	rcalc.Output.Fields[0].Name, rcalc.Output.Fields[1].Name = "window_start", "window_end"
	jn := &plan.WindowJoin{Left: lnode, Right: rcalc, Type: kind, LeftKeys: lidx, RightKeys: ridx, Window: win}
	jn.Window.TimeCol = lidx[1]
	jn.Output.Fields = append(jn.Output.Fields, lnode.Schema().Fields...)
	out := &relation{node: jn, name: rel.name, cat: rel.cat, cols: rel.cols}
	if lextra > 0 {
		calc := &plan.Calc{Input: jn}
		calc.Output = rel.schema()
		for i, c := range rel.cols {
			calc.Exprs = append(calc.Exprs, &plan.ColumnRef{Index: i, Name: c.name, T: c.t})
		}
		out.node = calc
	}
	return out, true, nil
}

// inKey appends to lkeys and rkeys the key of x [NOT] IN (SELECT y …), in
// (the conjunct c), y over inner's columns.
func inKey(rel, inner *relation, c parser.Expr, in *parser.InSubquery, anti bool, lkeys, rkeys []plan.Expr) ([]plan.Expr, []plan.Expr, error) {
	q := in.Query
	if len(q.Items) != 1 || q.Items[0].Star {
		n := len(q.Items)
		if n == 1 {
			n = len(inner.schema().Fields)
		}
		return nil, nil, errorf(q.Pos, "the subquery of IN must select one column, not %d", n)
	}
	if containsAgg(q.Items[0].Expr) {
		return nil, nil, errorf(q.Items[0].Pos, "aggregate functions are not allowed in the select list of a window semi (anti) join's subquery")
	}
	y, err := inner.scope("the select list").bind(q.Items[0].Expr)
	if err != nil {
		return nil, nil, err
	}
	x, err := rel.scope("WHERE").bind(in.X)
	if err != nil {
		return nil, nil, err
	}
	eq, err := binary(in.Pos, "=", x, y)
	if err != nil {
		return nil, nil, err
	}
	call, ok := eq.(*plan.Call)
	if !ok || call.Func != "=" {
		return nil, nil, errorf(in.Pos, "cannot compare %s with the subquery's %s in IN", x.Type(), y.Type())
	}
	lk, rk := call.Args[0], call.Args[1]
	if anti && (!lk.Type().NotNull || !rk.Type().NotNull) {
		return nil, nil, errorf(c.Position(), "NOT IN (SELECT …) over a column that may be NULL is not supported yet (a NULL on either side makes NOT IN never TRUE); write NOT EXISTS (SELECT … WHERE inner = outer), or declare the columns NOT NULL")
	}
	if !groupKeyType(lk.Type()) {
		return nil, nil, errorf(in.Pos, "cannot join on a value of type %s", lk.Type())
	}
	return append(lkeys, lk), append(rkeys, rk), nil
}

// columnEquality reports whether a conjunct of where is an equality of
// two column references (as a window bound equality is).
func columnEquality(where parser.Expr) bool {
	for _, c := range conjuncts(where) {
		e, ok := c.(*parser.BinaryExpr)
		if !ok || e.Op != "=" {
			continue
		}
		_, l := e.Left.(*parser.ColumnExpr)
		_, r := e.Right.(*parser.ColumnExpr)
		if l && r {
			return true
		}
	}
	return false
}

// hasWindowBound reports whether a column of rel is a window_start or a
// window_end.
func (b *builder) hasWindowBound(rel *relation) bool {
	for i := range rel.node.Schema().Fields {
		if w, ok := b.windowBoundOf(rel.node, i); ok && w.prop != propTime {
			return true
		}
	}
	return false
}

// tablesMark is what planning a query recorded on b: the tables read and
// the late rows kept (see builder).
type tablesMark struct {
	read, shared map[string]bool
	late         map[string]int
	lateOrder    int
}

func (b *builder) markTables() tablesMark {
	m := tablesMark{read: maps.Clone(b.read), shared: map[string]bool{}, late: map[string]int{}, lateOrder: len(b.lateOrder)}
	for k := range b.shared {
		m.shared[k] = true
	}
	for k, s := range b.late {
		m.late[k] = len(s.ins)
	}
	return m
}

// restoreTables undoes what planning recorded on b since m.
func (b *builder) restoreTables(m tablesMark) {
	if b.read != nil {
		b.read = m.read
	}
	for k := range b.shared {
		if !m.shared[k] {
			delete(b.shared, k)
		}
	}
	for k, s := range b.late {
		n, ok := m.late[k]
		if !ok {
			delete(b.late, k)
			continue
		}
		s.ins = s.ins[:n]
	}
	b.lateOrder = b.lateOrder[:m.lateOrder]
}
