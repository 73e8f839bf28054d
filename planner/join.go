package planner

import (
	"fmt"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// Joins.
//
// A join in FROM is planned as a plan.Join over its two sides: the
// conjuncts of its condition that equate an expression of the left side
// with one of the right are the join key (a side whose key is not a plain
// column gets a Calc computing it, dropped again after the join); the
// other conjuncts are the residual condition. A join without any such
// equality is refused, as Flink refuses it over unbounded streams. A
// comma join (FROM a, b WHERE …) or CROSS JOIN takes its condition from
// the WHERE conjuncts that refer only to the columns of its two sides;
// the other conjuncts stay in WHERE.
//
// The output of a regular join has no time attributes (Flink materializes
// them: a row may be emitted long after the watermark passed its time).
// A join whose condition bounds the two sides' time attributes is an
// interval join instead (intervaljoin.go), whose output keeps them.

// notRowtimeJoin says why a column of a regular join's output is not a
// time attribute.
const notRowtimeJoin = "the output of a regular join has no time attributes (its rows may come long after the watermark passed them)"

// planFromWhere plans sel's FROM item; when it is a join, a comma or cross
// join takes its condition from sel's WHERE, and sel is returned with the
// conjuncts left over.
// IN and EXISTS subqueries of WHERE are then semi and anti joins
// (subquery.go).
func (b *builder) planFromWhere(sel *parser.Select) (*relation, *parser.Select, error) {
	j, ok := sel.From.(*parser.JoinRef)
	if !ok {
		rel, err := b.planFrom(sel.From)
		if err != nil {
			return nil, nil, err
		}
		return b.subqueryJoins(rel, sel)
	}
	rel, rest, err := b.planJoinFrom(j, conjuncts(sel.Where), true)
	if err != nil {
		return nil, nil, err
	}
	if len(rest) != len(conjuncts(sel.Where)) {
		s := *sel
		s.Where = andAll(rest)
		sel = &s
	}
	return b.subqueryJoins(rel, sel)
}

// planJoinFrom plans a FROM item that is a join, with where the WHERE
// conjuncts a comma join may take its condition from (and, when push is
// set, an inner join the conjuncts over one of its sides); it
// returns those left over.
func (b *builder) planJoinFrom(j *parser.JoinRef, where []parser.Expr, push bool) (*relation, []parser.Expr, error) {
	var left *relation
	var err error
	if lj, ok := j.Left.(*parser.JoinRef); ok {
		// Below an inner or left join, a WHERE conjunct over the left
		// side's columns may filter them before (not below the
		// NULL-padded side of a right or full join).
		left, where, err = b.planJoinFrom(lj, where, push && (j.Kind == "INNER" || j.Kind == "CROSS" || j.Kind == "LEFT"))
	} else {
		left, err = b.planFrom(j.Left)
	}
	if err != nil {
		return nil, nil, err
	}
	kind := map[string]plan.JoinKind{"INNER": plan.InnerJoin, "CROSS": plan.InnerJoin, "LEFT": plan.LeftJoin, "RIGHT": plan.RightJoin, "FULL": plan.FullJoin}[j.Kind]
	if t, ok := j.Right.(*parser.TableName); ok && t.AsOf != nil {
		rel, err := b.planTemporalJoin(j, kind, left) // temporaljoin.go
		return rel, where, err
	}
	right, err := b.planFrom(j.Right)
	if err != nil {
		return nil, nil, err
	}
	// A window TVF side is joined by its rows (windowjoin.go).
	for _, rel := range []**relation{&left, &right} {
		if (*rel).win != nil {
			if *rel, err = materializeWindow(*rel); err != nil {
				return nil, nil, err
			}
		}
	}
	sc := joinScope(left, right)
	var cond []parser.Expr
	if j.On != nil {
		cond = conjuncts(j.On)
	} else {
		// A cross join takes the WHERE conjuncts over its columns alone.
		var rest []parser.Expr
		for _, w := range where {
			if _, err := sc.bind(w); err == nil && !containsAgg(w) {
				cond = append(cond, w)
			} else {
				rest = append(rest, w)
			}
		}
		where = rest
	}
	if rel, ok, err := b.windowJoin(j, kind, left, right, sc, cond); ok {
		return rel, where, err
	}
	if push && kind == plan.InnerJoin && j.On != nil {
		// WHERE conjuncts over one side of an inner join filter that side
		// before the join (join pushes them down).
		var rest []parser.Expr
		for _, w := range where {
			if e, err := sc.bind(w); err == nil && !containsAgg(w) && oneSided(e, left, right) {
				cond = append(cond, w)
			} else {
				rest = append(rest, w)
			}
		}
		where = rest
	}
	rel, err := b.join(j, kind, left, right, sc, cond)
	return rel, where, err
}

// joinScope is the scope of a join's condition: the left side's columns,
// then the right side's.
func joinScope(left, right *relation) *scope {
	sc := &scope{table: "the join", what: "a join condition", cat: left.cat}
	sc.cols = append(sc.cols, left.cols...)
	n := len(left.cols)
	for _, c := range right.cols {
		c.index += n
		sc.cols = append(sc.cols, c)
	}
	return sc
}

// side says which sides of a join (of nLeft left columns) expression e
// refers to.
func side(e plan.Expr, nLeft int) (l, r bool) {
	walkPlanExpr(e, func(x plan.Expr) {
		if c, ok := x.(*plan.ColumnRef); ok {
			if c.Index < nLeft {
				l = true
			} else {
				r = true
			}
		}
	})
	return l, r
}

// shiftRefs returns e with every column index i replaced by f(i).
func shiftRefs(e plan.Expr, f func(int) int) plan.Expr {
	switch x := e.(type) {
	case *plan.ColumnRef:
		c := *x
		c.Index = f(x.Index)
		return &c
	case *plan.Call:
		c := *x
		c.Args = make([]plan.Expr, len(x.Args))
		for i, a := range x.Args {
			c.Args[i] = shiftRefs(a, f)
		}
		return &c
	case *plan.UDFCall:
		c := *x
		c.Args = make([]plan.Expr, len(x.Args))
		for i, a := range x.Args {
			c.Args[i] = shiftRefs(a, f)
		}
		return &c
	case *plan.Cast:
		c := *x
		c.Arg = shiftRefs(x.Arg, f)
		return &c
	case *plan.Case:
		c := *x
		c.Whens = make([]plan.When, len(x.Whens))
		for i, w := range x.Whens {
			c.Whens[i] = plan.When{Cond: shiftRefs(w.Cond, f), Result: shiftRefs(w.Result, f)}
		}
		if x.Else != nil {
			c.Else = shiftRefs(x.Else, f)
		}
		return &c
	}
	return e
}

// join plans the join of left and right on the conjuncts cond (bound in
// sc).
func (b *builder) join(j *parser.JoinRef, kind plan.JoinKind, left, right *relation, sc *scope, cond []parser.Expr) (*relation, error) {
	nl := len(left.cols)
	var lkeys, rkeys []plan.Expr // over each side's own columns
	var residual []plan.Expr     // over the combined columns
	for _, c := range cond {
		if containsAgg(c) {
			return nil, errorf(c.Position(), "aggregate functions are not allowed in a join condition")
		}
		e, err := sc.bind(c)
		if err != nil {
			return nil, err
		}
		if e, err = toBool(c.Position(), e, "a join condition"); err != nil {
			return nil, err
		}
		if call, ok := e.(*plan.Call); ok && call.Func == "=" {
			a, bb := call.Args[0], call.Args[1]
			al, ar := side(a, nl)
			bl, br := side(bb, nl)
			if al && !ar && br && !bl {
				// a is the left key, bb the right
			} else if bl && !br && ar && !al {
				a, bb = bb, a
			} else {
				residual = append(residual, e)
				continue
			}
			if !groupKeyType(a.Type()) {
				return nil, errorf(c.Position(), "cannot join on a value of type %s", a.Type())
			}
			lkeys = append(lkeys, a)
			rkeys = append(rkeys, shiftRefs(bb, func(i int) int { return i - nl }))
			continue
		}
		residual = append(residual, e)
	}
	if len(lkeys) == 0 {
		return nil, errorf(j.Pos, "the join has no equality condition between its two sides (such as a.k = b.k): a join of two streams without one would keep every row of both in state and match each with all of the other's; Flink refuses it too")
	}
	if kind == plan.InnerJoin {
		left, right, residual = pushSideFilters(left, right, residual)
	}
	tb, residual := intervalBound(sc, nl, residual)
	lnode, lidx, lextra := keyColumns(left, lkeys)
	rnode, ridx, rextra := keyColumns(right, rkeys)
	nlOut := nl + lextra
	jn := &plan.Join{Left: lnode, Right: rnode, Type: kind, LeftKeys: lidx, RightKeys: ridx, StateTTL: b.p.Updating.StateTTL,
		Names: sides(left, right)}
	jn.InputTTL = [2]int64{b.hintedTTL(left), b.hintedTTL(right)}
	for _, f := range lnode.Schema().Fields {
		if kind.RightOuter() {
			f.Type = f.Type.Nullable()
		}
		jn.Output.Fields = append(jn.Output.Fields, f)
	}
	for _, f := range rnode.Schema().Fields {
		if kind.LeftOuter() {
			f.Type = f.Type.Nullable()
		}
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
	var res plan.Expr
	for _, e := range residual {
		e = shiftRefs(e, func(i int) int {
			if i >= nl {
				return i + lextra
			}
			return i
		})
		if res == nil {
			res = e
		} else {
			res = &plan.Call{Func: "AND", Args: []plan.Expr{res, e}, T: boolOf(res, e)}
		}
	}
	jn.Residual = res
	var node plan.Node = jn
	if tb != nil {
		node = intervalJoin(jn, tb, nl)
	}
	out := &relation{node: node, name: "the join", cat: left.cat}
	var exprs []plan.Expr
	add := func(c scopeCol, at int) {
		c.t = jn.Output.Fields[at].Type
		if c.rowtime && tb == nil {
			c.rowtime, c.notRowtime = false, notRowtimeJoin
		}
		exprs = append(exprs, &plan.ColumnRef{Index: at, Name: jn.Output.Fields[at].Name, T: c.t})
		c.index = len(out.cols)
		out.cols = append(out.cols, c)
	}
	for i, c := range left.cols {
		add(c, i)
	}
	for i, c := range right.cols {
		add(c, nlOut+i)
	}
	if lextra+rextra > 0 {
		calc := &plan.Calc{Input: node, Exprs: exprs}
		for i, e := range exprs {
			calc.Output.Fields = append(calc.Output.Fields, types.Field{Name: jn.Output.Fields[e.(*plan.ColumnRef).Index].Name, Type: out.cols[i].t})
		}
		out.node = calc
	}
	return out, nil
}

// pushSideFilters moves the conjuncts of an inner join's residual
// condition (over the join scope: left's columns, then right's) that read
// one side alone, deterministically and without a possible error, into a
// filter of that side, as Flink's optimizer does: a side's rows the join
// would drop anyway are neither held nor matched.
func pushSideFilters(left, right *relation, residual []plan.Expr) (*relation, *relation, []plan.Expr) {
	nl := len(left.cols)
	var lf, rf, rest []plan.Expr
	for _, e := range residual {
		if !oneSided(e, left, right) {
			rest = append(rest, e)
			continue
		}
		if l, _ := side(e, nl); l {
			lf = append(lf, e)
		} else {
			rf = append(rf, shiftRefs(e, func(i int) int { return i - nl }))
		}
	}
	return filtered(left, lf), filtered(right, rf), rest
}

// oneSided reports whether e (over the scope of the join of left and
// right) reads the columns of one side alone, none of them a processing
// time or of a relation with a late-rows table, and may be evaluated
// before the join: it is deterministic and cannot fail (pushable).
func oneSided(e plan.Expr, left, right *relation) bool {
	nl := len(left.cols)
	l, r := side(e, nl)
	if l == r || !pushable(e) {
		return false
	}
	rel, off := left, 0
	if r {
		rel, off = right, nl
	}
	if rel.late != nil || len(rel.cols) != len(rel.schema().Fields) {
		return false
	}
	ok := true
	walkPlanExpr(e, func(x plan.Expr) {
		if c, is := x.(*plan.ColumnRef); is && (c.Index-off >= len(rel.cols) || rel.cols[c.Index-off].proctime) {
			ok = false
		}
	})
	return ok
}

// pushableFuncs are the functions a filter pushed below a join may call:
// comparisons and logic, which neither fail nor depend on when they run.
var pushableFuncs = map[string]bool{"=": true, "<>": true, "<": true, "<=": true, ">": true, ">=": true,
	"AND": true, "OR": true, "NOT": true, "IS_NULL": true, "IS_NOT_NULL": true, "IS_TRUE": true,
	"IS_FALSE": true, "IS_NOT_TRUE": true, "IS_NOT_FALSE": true, "LIKE": true, "NOT_LIKE": true}

// pushable reports whether e is made of column references, literals,
// pushableFuncs and casts that cannot fail.
func pushable(e plan.Expr) bool {
	switch x := e.(type) {
	case *plan.ColumnRef, *plan.Literal:
		return true
	case *plan.Call:
		if !pushableFuncs[x.Func] {
			return false
		}
		for _, a := range x.Args {
			if !pushable(a) {
				return false
			}
		}
		return true
	case *plan.Cast:
		from, to := x.Arg.Type().Kind, x.T.Kind
		widening := (from == types.Int || from == types.BigInt) && (to == types.BigInt || to == types.Double) && from <= to
		return (x.Safe || widening || from == to && to != types.Decimal || from == types.Null) && pushable(x.Arg)
	}
	return false
}

// filtered returns rel with its rows filtered by the conjuncts conds
// (over its columns): a Calc keeping every column.
func filtered(rel *relation, conds []plan.Expr) *relation {
	if len(conds) == 0 {
		return rel
	}
	cond := conds[0]
	for _, c := range conds[1:] {
		cond = &plan.Call{Func: "AND", Args: []plan.Expr{cond, c}, T: boolOf(cond, c)}
	}
	calc := &plan.Calc{Input: rel.node, Filter: cond}
	calc.Output = rel.schema()
	for i, c := range rel.cols {
		calc.Exprs = append(calc.Exprs, &plan.ColumnRef{Index: i, Name: c.name, T: c.t})
	}
	out := *rel
	out.node = calc
	return &out
}

// sides returns the qualifiers of the columns of a join's inputs, for
// EXPLAIN (plan.Sides).
func sides(left, right *relation) plan.Sides {
	return plan.Sides{Left: qualifiers(left), Right: qualifiers(right)}
}

// qualifiers returns the qualifier of each of rel's columns, in the order
// of its node's schema (a window TVF's virtual columns come last in both).
func qualifiers(rel *relation) []string {
	q := make([]string, len(rel.cols))
	for i, c := range rel.cols {
		q[i] = c.table
	}
	return q
}

// keyColumns returns the node of rel with the key expressions keys as
// columns: rel's node itself when every key is a plain column, else a
// Calc appending those that are not. It returns the key columns and the
// number of columns appended.
func keyColumns(rel *relation, keys []plan.Expr) (plan.Node, []int, int) {
	n := len(rel.cols)
	idx := make([]int, len(keys))
	var extra []plan.Expr
	for i, k := range keys {
		if c, ok := k.(*plan.ColumnRef); ok {
			idx[i] = c.Index
			continue
		}
		idx[i] = n + len(extra)
		extra = append(extra, k)
	}
	if len(extra) == 0 {
		return rel.node, idx, 0
	}
	calc := &plan.Calc{Input: rel.node}
	calc.Output = rel.schema()
	for i, c := range rel.cols {
		calc.Exprs = append(calc.Exprs, &plan.ColumnRef{Index: i, Name: c.name, T: c.t})
	}
	for i, e := range extra {
		calc.Exprs = append(calc.Exprs, e)
		calc.Output.Fields = append(calc.Output.Fields, types.Field{Name: fmt.Sprintf("$key%d", i), Type: e.Type()})
	}
	return calc, idx, len(extra)
}
