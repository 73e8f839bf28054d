package planner

import (
	"strconv"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/types"
)

// hasGroupingSets reports whether sel's GROUP BY holds GROUPING SETS,
// ROLLUP or CUBE.
func hasGroupingSets(sel *parser.Select) bool {
	for _, g := range sel.GroupBy {
		if _, ok := g.(*parser.GroupingSets); ok {
			return true
		}
	}
	return false
}

// planGroupingSets plans GROUP BY with GROUPING SETS, ROLLUP or CUBE as
// Flink does: one aggregation per grouping set, over the same input, their
// results combined by a UNION ALL. In the aggregation of a set, a grouping
// expression that is not in the set reads NULL, and GROUPING(e, …) is the
// constant bit mask of the arguments absent from the set (the first
// argument the most significant bit). The plain items of the GROUP BY are
// in every set: GROUP BY window_start, window_end, GROUPING SETS (…) is a
// window aggregation per set (Flink's window grouping sets). Without a
// window, each set is a non-windowed aggregation, which is refused while
// those are (the first set's error says so).
func (b *builder) planGroupingSets(sel *parser.Select, rel *relation) (*relation, error) {
	if n := parser.CountGroupingSets(sel.GroupBy); n > parser.MaxGroupingSets {
		return nil, errorf(sel.GroupBy[0].Position(), "GROUP BY stands for more than %d grouping sets", parser.MaxGroupingSets)
	}
	sc := rel.scope("GROUP BY")
	sets := parser.ExpandGroupBy(sel.GroupBy)
	// seen holds every grouping expression's key (its bound form).
	seen := map[string]bool{}
	keysOf := make([]map[string]bool, len(sets))
	for i, set := range sets {
		keysOf[i] = map[string]bool{}
		for _, e := range set {
			if containsAgg(e) {
				return nil, errorf(e.Position(), "aggregate functions are not allowed in GROUP BY")
			}
			k := groupKey(sc, e)
			keysOf[i][k] = true
			seen[k] = true
		}
	}
	if rel.win != nil {
		for _, set := range sets {
			if !hasWindowBounds(sc, set) {
				return nil, errorf(sel.GroupBy[0].Position(), "every grouping set of a window aggregation must hold window_start and window_end: put them before the grouping sets, as in GROUP BY window_start, window_end, GROUPING SETS (…)")
			}
		}
	}
	terms := make([]*parser.Select, len(sets))
	for i, set := range sets {
		g := &groupingRewrite{sc: sc, all: seen, present: keysOf[i]}
		t := &parser.Select{Pos: sel.Pos, From: sel.From, Where: sel.Where, GroupBy: set}
		for j, it := range sel.Items {
			if it.Star {
				t.Items = append(t.Items, it)
				continue
			}
			// Name each item as it is named without the rewrite, so that
			// the sets' columns line up by name too.
			alias := parser.Ident{Pos: it.Pos, Name: itemName(it, j)}
			if it.Alias != nil {
				alias = *it.Alias
			}
			x, err := g.expr(it.Expr)
			if err != nil {
				return nil, err
			}
			t.Items = append(t.Items, &parser.SelectItem{Pos: it.Pos, Expr: x, Alias: &alias})
		}
		if sel.Having != nil {
			h, err := g.expr(sel.Having)
			if err != nil {
				return nil, err
			}
			t.Having = h
		}
		terms[i] = t
	}
	if len(terms) == 1 {
		return b.planAggregate(terms[0], rel)
	}
	rels := make([]*relation, len(terms))
	// The sets' aggregations each drop late rows on their own: they
	// cannot keep them once (checkLateRows refuses the plan).
	noLate := *rel
	noLate.late = nil
	for i, t := range terms {
		r, err := b.planAggregate(t, &noLate)
		if err != nil {
			return nil, err
		}
		rels[i] = r
	}
	return b.unionOf(terms, rels)
}

// groupKey identifies a grouping expression: its bound form when it binds
// over sc, else its text (binding errors are reported by the aggregation).
func groupKey(sc *scope, e parser.Expr) string {
	if x, err := sc.bind(e); err == nil {
		return x.String()
	}
	return e.String()
}

// groupingRewrite rewrites the select list and HAVING of an aggregation
// for one grouping set.
type groupingRewrite struct {
	sc      *scope
	all     map[string]bool // every grouping expression's key
	present map[string]bool // the keys of this set
}

// expr returns e with the grouping expressions absent from the set
// replaced by NULL (typed as the expression) outside aggregate calls, and
// GROUPING(…) replaced by its value for the set.
func (g *groupingRewrite) expr(e parser.Expr) (parser.Expr, error) {
	if e == nil {
		return nil, nil
	}
	if f, ok := e.(*parser.FuncCall); ok {
		if _, agg := aggregateFuncs[f.Name]; agg {
			return e, nil
		}
		if f.Name == "GROUPING" || f.Name == "GROUPING_ID" {
			return g.grouping(f)
		}
	}
	if !containsAgg(e) {
		// A grouping expression stands whole: k % 3 in the set keeps
		// its k even when k alone is absent.
		if k := groupKey(g.sc, e); g.all[k] {
			if g.present[k] {
				return e, nil
			}
			return g.null(e), nil
		}
	}
	var err error
	sub := func(x parser.Expr) parser.Expr {
		if err != nil {
			return x
		}
		var y parser.Expr
		y, err = g.expr(x)
		return y
	}
	var out parser.Expr
	switch x := e.(type) {
	case *parser.BinaryExpr:
		c := *x
		c.Left, c.Right = sub(x.Left), sub(x.Right)
		out = &c
	case *parser.UnaryExpr:
		c := *x
		c.X = sub(x.X)
		out = &c
	case *parser.IsExpr:
		c := *x
		c.X = sub(x.X)
		out = &c
	case *parser.LikeExpr:
		c := *x
		c.X, c.Pattern = sub(x.X), sub(x.Pattern)
		out = &c
	case *parser.InExpr:
		c := *x
		c.X = sub(x.X)
		c.List = make([]parser.Expr, len(x.List))
		for i, y := range x.List {
			c.List[i] = sub(y)
		}
		out = &c
	case *parser.BetweenExpr:
		c := *x
		c.X, c.Low, c.High = sub(x.X), sub(x.Low), sub(x.High)
		out = &c
	case *parser.CaseExpr:
		c := *x
		if x.Operand != nil {
			c.Operand = sub(x.Operand)
		}
		c.Whens = make([]*parser.When, len(x.Whens))
		for i, w := range x.Whens {
			c.Whens[i] = &parser.When{Pos: w.Pos, Cond: sub(w.Cond), Result: sub(w.Result)}
		}
		if x.Else != nil {
			c.Else = sub(x.Else)
		}
		out = &c
	case *parser.CastExpr:
		c := *x
		c.X = sub(x.X)
		out = &c
	case *parser.FuncCall:
		c := *x
		c.Args = make([]parser.Expr, len(x.Args))
		for i, y := range x.Args {
			c.Args[i] = sub(y)
		}
		out = &c
	default:
		out = e
	}
	return out, err
}

// grouping returns the value of GROUPING(a, b, …) for the set: bit n-1-i
// is set when argument i is absent from it. Flink's GROUPING and
// GROUPING_ID return BIGINT NOT NULL.
func (g *groupingRewrite) grouping(f *parser.FuncCall) (parser.Expr, error) {
	if len(f.Args) == 0 || f.Star || f.Distinct {
		return nil, errorf(f.Pos, "%s takes one or more GROUP BY expressions", f.Name)
	}
	if len(f.Args) > 63 {
		return nil, errorf(f.Pos, "%s takes at most 63 arguments", f.Name)
	}
	var v int64
	for _, a := range f.Args {
		k := groupKey(g.sc, a)
		if !g.all[k] {
			return nil, errorf(a.Position(), "the argument of %s must be a GROUP BY expression, and %s is not one", f.Name, a)
		}
		v <<= 1
		if !g.present[k] {
			v |= 1
		}
	}
	return &parser.CastExpr{Pos: f.Pos, X: &parser.NumberLit{Pos: f.Pos, Text: strconv.FormatInt(v, 10)}, Type: &parser.TypeName{Pos: f.Pos, Name: "BIGINT"}}, nil
}

// null returns a NULL of e's type: CAST(NULL AS type), or a bare NULL when
// the type has no SQL name (the UNION ALL of the sets types it).
func (g *groupingRewrite) null(e parser.Expr) parser.Expr {
	pos := e.Position()
	x, err := g.sc.bind(e)
	if err != nil {
		return &parser.NullLit{Pos: pos}
	}
	t := x.Type()
	tn := &parser.TypeName{Pos: pos, Name: t.Kind.String()}
	switch t.Kind {
	case types.Decimal:
		tn.Params = []int{t.Precision, t.Scale}
	case types.Timestamp, types.TimestampLTZ:
		tn.Params = []int{t.Precision}
	case types.Null, types.Interval:
		return &parser.NullLit{Pos: pos}
	}
	if _, err := typeOf(tn); err != nil {
		return &parser.NullLit{Pos: pos}
	}
	return &parser.CastExpr{Pos: pos, X: &parser.NullLit{Pos: pos}, Type: tn}
}

// hasWindowBounds reports whether set holds window_start and window_end
// of the window TVF in sc.
func hasWindowBounds(sc *scope, set []parser.Expr) bool {
	start, end := false, false
	for _, e := range set {
		if c, ok := e.(*parser.ColumnExpr); ok {
			if col, err := sc.resolve(c); err == nil && col.window {
				start = start || col.name == "window_start"
				end = end || col.name == "window_end"
			}
		}
	}
	return start && end
}
