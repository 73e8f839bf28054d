package planner

import (
	"strconv"
	"strings"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// Top-N, as Flink plans it: a query of the shape
//
//	SELECT … FROM (
//	  SELECT …, ROW_NUMBER() OVER (PARTITION BY k, … ORDER BY x [DESC], …) AS rn
//	  FROM t [WHERE …]
//	) [alias] WHERE rn <= N [AND …]
//
// is a plan.Rank over t (after the inner WHERE) numbering each partition's
// rows, keeping those with rn in the range the outer WHERE bounds
// (rn <= N, rn < N, rn = N, rn BETWEEN M AND N, and lower bounds with
// them). RANK() and DENSE_RANK() are planned alike. When the partition
// holds window_start and window_end (the rows of a window TVF or window
// aggregation), it is a window Top-N: append-only, emitted when the
// window closes. The number is an
// output column of the Rank only when the outer query reads it (as Flink
// drops an unused rank number). ORDER BY … LIMIT N on a streaming query is
// a Rank without partition (planOrderBy).

// rankFuncs are the window functions a Top-N numbers rows with.
var rankFuncs = map[string]plan.RankFunc{
	"ROW_NUMBER": plan.RowNumber,
	"RANK":       plan.RankNumber,
	"DENSE_RANK": plan.DenseRank,
}

// rankColumn names the rank number's column between the Rank and the
// inner select list; the quoted name cannot be written by accident.
const rankColumn = "$rank"

// rankItem returns the index of the select item of sel that is a rank
// function call with OVER, or -1.
func rankItem(sel *parser.Select) int {
	for i, it := range sel.Items {
		if f, ok := it.Expr.(*parser.FuncCall); ok && f.Over != nil {
			if _, ok := rankFuncs[f.Name]; ok {
				return i
			}
		}
	}
	return -1
}

// rankSubquery reports whether sel reads a subquery with a rank function
// in its select list (a Top-N), and returns the subquery.
func rankSubquery(sel *parser.Select) (*parser.SubqueryRef, int, bool) {
	sq, ok := sel.From.(*parser.SubqueryRef)
	if !ok || sq.Query == nil || len(sq.Query.UnionAll) > 0 || sq.Query.Values != nil {
		return nil, -1, false
	}
	i := rankItem(sq.Query)
	return sq, i, i >= 0
}

// planRank plans the FROM subquery sq of the Top-N sel, whose item ri is
// the rank function: it returns the subquery's relation (as planFrom does)
// and sel without the conjuncts of its WHERE that bound the rank.
func (b *builder) planRank(sel *parser.Select, sq *parser.SubqueryRef, ri int) (*relation, *parser.Select, error) {
	inner := sq.Query
	f := inner.Items[ri].Expr.(*parser.FuncCall)
	over := f.Over
	switch {
	case len(inner.With) > 0:
		return nil, nil, errorf(inner.Pos, "%s() OVER in a query with WITH is not supported yet; define the common table expression around the Top-N query", f.Name)
	case len(inner.GroupBy) > 0 || inner.Having != nil || inner.Distinct:
		return nil, nil, errorf(f.Pos, "%s() OVER in an aggregating query is not supported yet; aggregate in a subquery and rank its rows", f.Name)
	case len(inner.OrderBy) > 0 || inner.Limit != nil:
		return nil, nil, errorf(inner.Pos, "ORDER BY and LIMIT are not supported in the subquery of a Top-N query")
	case len(f.Args) > 0 || f.Star || f.Distinct:
		return nil, nil, errorf(f.Pos, "%s takes no arguments", f.Name)
	case over.Ref != nil:
		return nil, nil, errorf(over.Pos, "%s() OVER %s: named windows are not supported for %s; write the window as OVER (PARTITION BY … ORDER BY …)", f.Name, over.Ref, f.Name)
	case len(over.OrderBy) == 0:
		return nil, nil, errorf(over.Pos, "%s() OVER (…) needs an ORDER BY: a Top-N orders each partition's rows", f.Name)
	case over.Frame != nil:
		return nil, nil, errorf(over.Frame.Pos, "%s() OVER (…) takes no window frame (ROWS/RANGE)", f.Name)
	}
	for i, it := range inner.Items {
		if i != ri && it.Expr != nil && hasOver(it.Expr) {
			return nil, nil, errorf(it.Expr.Position(), "a Top-N query has one rank function; OVER here is not supported")
		}
	}
	// The bound on the number, from the outer WHERE.
	name := itemName(inner.Items[ri], ri)
	alias := ""
	if sq.Alias != nil {
		alias = sq.Alias.Name
	}
	if len(sq.Columns) > ri {
		name = sq.Columns[ri].Name
	}
	isRank := func(e parser.Expr) bool {
		c, ok := e.(*parser.ColumnExpr)
		return ok && (c.Table == "" || strings.EqualFold(c.Table, alias)) &&
			(c.Name.Name == name || !c.Name.Quoted && strings.EqualFold(c.Name.Name, name))
	}
	lo, hi := int64(1), int64(-1)
	var rest []parser.Expr
	for _, c := range conjuncts(sel.Where) {
		clo, chi, ok, err := rankBound(c, isRank)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			rest = append(rest, c)
			continue
		}
		lo = max(lo, clo)
		if chi >= 0 && (hi < 0 || chi < hi) {
			hi = chi
		}
	}
	if hi < 0 {
		return nil, nil, errorf(f.Pos, "%s() OVER (…) is only supported in a Top-N query: the enclosing query must filter %s by an upper bound (WHERE %s <= N); OVER windows other than these and OVER aggregation over time are not supported on streams", f.Name, name, name)
	}
	if lo > hi {
		return nil, nil, errorf(sel.Where.Position(), "the bounds on %s select no rows (%d to %d)", name, lo, hi)
	}
	outSel := *sel
	outSel.Where = andAll(rest)
	output := refersTo(&outSel, isRank)

	rel, inner, err := b.planFromWhere(inner)
	if err != nil {
		return nil, nil, err
	}
	if rel.win != nil {
		if rel, err = materializeWindow(rel); err != nil {
			return nil, nil, err
		}
	}
	if inner.Where != nil {
		if containsAgg(inner.Where) {
			return nil, nil, errorf(inner.Where.Position(), "aggregate functions are not allowed in WHERE")
		}
		filter, err := where(inner, rel)
		if err != nil {
			return nil, nil, err
		}
		var exprs []plan.Expr
		for _, c := range rel.cols {
			exprs = append(exprs, &plan.ColumnRef{Index: c.index, Name: c.name, T: c.t})
		}
		calc := &plan.Calc{Input: rel.node, Filter: filter, Exprs: exprs}
		calc.Output = rel.schema()
		rel = &relation{node: calc, cols: rel.cols, name: rel.name, cat: rel.cat}
	}
	r := &plan.Rank{Input: rel.node, Func: rankFuncs[f.Name], Start: lo, End: hi, OutputRank: output, StateTTL: b.p.Updating.StateTTL}
	column := func(e parser.Expr, what string) (int, error) {
		c, ok := e.(*parser.ColumnExpr)
		if !ok {
			return -1, errorf(e.Position(), "%s %s: only columns are supported here yet; compute the expression in a subquery", what, e)
		}
		sc, err := rel.scope(what).resolve(c)
		if err != nil {
			return -1, err
		}
		if !groupKeyType(sc.t) {
			return -1, errorf(e.Position(), "%s %s: a value of type %s cannot be compared", what, e, sc.t)
		}
		return sc.index, nil
	}
	for _, e := range over.PartitionBy {
		i, err := column(e, "PARTITION BY")
		if err != nil {
			return nil, nil, err
		}
		r.Partition = append(r.Partition, i)
	}
	// A window Top-N: the partition holds a window's bounds.
	start, end := -1, -1
	for _, c := range r.Partition {
		switch sc := rel.cols[c]; {
		case sc.t.Kind != types.Timestamp && sc.t.Kind != types.TimestampLTZ:
		case strings.EqualFold(sc.name, "window_start"):
			start = c
		case strings.EqualFold(sc.name, "window_end"):
			end = c
		}
	}
	if start >= 0 && end >= 0 {
		r.Window, r.WindowEnd = true, end
		r.WindowZone = windowBoundZone(rel.node, end)
	}
	if o := over.OrderBy; !r.Window && r.Func == plan.RowNumber && lo == 1 && hi == 1 && len(o) == 1 && !o[0].Desc {
		// rn = 1 by a time attribute ascending: keep-first deduplication
		// (append-only, unless the input is updating: see changelogs).
		if c, ok := o[0].Expr.(*parser.ColumnExpr); ok {
			if sc, err := rel.scope("ORDER BY").resolve(c); err == nil && sc.rowtime {
				r.KeepFirst = true
			}
		}
	}
	for _, o := range over.OrderBy {
		i, err := column(o.Expr, "ORDER BY")
		if err != nil {
			return nil, nil, err
		}
		r.Order = append(r.Order, plan.SortKey{Col: i, Desc: o.Desc})
	}
	ranked := &relation{cols: append([]scopeCol(nil), rel.cols...), name: rel.name, cat: rel.cat}
	if !r.Window {
		for i := range ranked.cols {
			ranked.cols[i].rowtime = false // a Top-N's output is updating
			ranked.cols[i].notRowtime = "a Top-N's output is not a time attribute"
		}
	}
	bigint := types.BigIntType.WithNotNull(true)
	if output {
		ranked.cols = append(ranked.cols, scopeCol{name: rankColumn, t: bigint, index: len(ranked.cols), hidden: true})
	}
	r.Output = ranked.schema()
	ranked.node = r

	// The inner select list, the rank call replaced by its column (or by
	// a NULL the outer query never reads).
	items := append([]*parser.SelectItem(nil), inner.Items...)
	it := *items[ri]
	if it.Alias == nil {
		a := parser.Ident{Pos: it.Pos, Name: name}
		it.Alias = &a
	}
	if output {
		it.Expr = &parser.ColumnExpr{Pos: f.Pos, Name: parser.Ident{Pos: f.Pos, Name: rankColumn, Quoted: true}}
	} else {
		it.Expr = &parser.CastExpr{Pos: f.Pos, X: &parser.NullLit{Pos: f.Pos}, Type: &parser.TypeName{Pos: f.Pos, Name: "BIGINT"}}
	}
	items[ri] = &it
	innerSel := *inner
	innerSel.Items, innerSel.Where = items, nil
	out, err := project(&innerSel, ranked)
	if err != nil {
		return nil, nil, err
	}
	if err := b.nameSubquery(out, sq); err != nil {
		return nil, nil, err
	}
	return out, &outSel, nil
}

// rankBound returns the range [lo, hi] of rank numbers the conjunct c
// admits when it bounds the rank column (isRank) by integer literals (hi
// -1: no upper bound); ok is false for other conjuncts.
func rankBound(c parser.Expr, isRank func(parser.Expr) bool) (lo, hi int64, ok bool, err error) {
	lit := func(e parser.Expr) (int64, bool, error) {
		n, isNum := e.(*parser.NumberLit)
		if !isNum {
			return 0, false, nil
		}
		v, perr := strconv.ParseInt(n.Text, 10, 64)
		if perr != nil {
			return 0, false, errorf(n.Pos, "the bound %s on a rank number is not an integer", n.Text)
		}
		return v, true, nil
	}
	switch x := c.(type) {
	case *parser.BinaryExpr:
		op := x.Op
		col, other := x.Left, x.Right
		if !isRank(col) {
			col, other = x.Right, x.Left
			op = map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}[op]
		}
		if !isRank(col) || op == "" {
			return 0, 0, false, nil
		}
		v, isLit, err := lit(other)
		if err != nil || !isLit {
			return 0, 0, false, err
		}
		switch op {
		case "<=":
			return 1, v, true, nil
		case "<":
			return 1, v - 1, true, nil
		case "=":
			return v, v, true, nil
		case ">=":
			return v, -1, true, nil
		case ">":
			return v + 1, -1, true, nil
		}
	case *parser.BetweenExpr:
		if x.Not || !isRank(x.X) {
			return 0, 0, false, nil
		}
		l, okL, err := lit(x.Low)
		if err != nil {
			return 0, 0, false, err
		}
		h, okH, err := lit(x.High)
		if err != nil || !okL || !okH {
			return 0, 0, false, err
		}
		return max(l, 1), h, true, nil
	}
	return 0, 0, false, nil
}

// conjuncts splits e at its top-level ANDs.
func conjuncts(e parser.Expr) []parser.Expr {
	if e == nil {
		return nil
	}
	if b, ok := e.(*parser.BinaryExpr); ok && b.Op == "AND" {
		return append(conjuncts(b.Left), conjuncts(b.Right)...)
	}
	return []parser.Expr{e}
}

// andAll joins es with AND (nil for none).
func andAll(es []parser.Expr) parser.Expr {
	var out parser.Expr
	for _, e := range es {
		if out == nil {
			out = e
			continue
		}
		out = &parser.BinaryExpr{Pos: out.Position(), Op: "AND", Left: out, Right: e}
	}
	return out
}

// refersTo reports whether the select list, WHERE, GROUP BY or HAVING of
// sel reads a column for which is reports true, or a star does.
func refersTo(sel *parser.Select, is func(parser.Expr) bool) bool {
	found := false
	visit := func(e parser.Expr) {
		walkExpr(e, func(x parser.Expr) {
			if is(x) {
				found = true
			}
		})
	}
	for _, it := range sel.Items {
		if it.Star {
			return true
		}
		visit(it.Expr)
	}
	visit(sel.Where)
	visit(sel.Having)
	for _, g := range sel.GroupBy {
		visit(g)
	}
	for _, o := range sel.OrderBy {
		visit(o.Expr)
	}
	return found
}

// hasOver reports whether e calls a function with OVER.
func hasOver(e parser.Expr) bool {
	found := false
	walkExpr(e, func(x parser.Expr) {
		if f, ok := x.(*parser.FuncCall); ok && f.Over != nil {
			found = true
		}
	})
	return found
}
