package planner

import (
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// The planner builds the physical plan straight from the bound query, one
// Calc per projection step (computed columns, views, subqueries, the
// select list, INSERT casts). optimize then rewrites the tree:
//
//   - a Calc over a Calc is fused into one, substituting the inner
//     expressions into the outer ones (when that does not make an inner
//     expression computed twice), so rows are copied once;
//   - a Calc that only passes its input's columns through is removed.
//
// Rewrites copy the nodes they change; plans stay immutable.
func optimize(g *plan.Graph) *plan.Graph {
	return rewrite(g, func(n plan.Node, shared func(plan.Node) bool) plan.Node {
		c, ok := n.(*plan.Calc)
		if !ok {
			return n
		}
		// A shared inner Calc stays: fusing it into each consumer would
		// compute it once per consumer.
		if inner, ok := c.Input.(*plan.Calc); ok && !shared(inner) && fusable(inner, c) {
			f := fuse(inner, c)
			c = &f
		}
		if isIdentity(c) {
			return c.Input
		}
		return c
	})
}

// A rule rewrites one node whose inputs have been rewritten already. It
// returns n itself when it does not apply. shared reports whether a node
// (one of n's inputs) has several consumers in the graph.
type rule func(n plan.Node, shared func(plan.Node) bool) plan.Node

// rewrite applies r to every node of g, inputs before consumers. It is
// DAG-aware: a node shared by several consumers is rewritten once and the
// consumers share the result. Nodes whose inputs did not change are kept
// (not copied).
func rewrite(g *plan.Graph, r rule) *plan.Graph {
	consumers := map[plan.Node]int{}
	for _, n := range g.Nodes() {
		for _, in := range n.Inputs() {
			consumers[in]++
		}
	}
	// origin maps a rewritten node back to the node of g it replaces, for
	// shared; memo maps a node of g to its rewrite.
	origin := map[plan.Node]plan.Node{}
	memo := map[plan.Node]plan.Node{}
	shared := func(n plan.Node) bool {
		if o, ok := origin[n]; ok {
			n = o
		}
		return consumers[n] > 1
	}
	var visit func(plan.Node) plan.Node
	visit = func(n plan.Node) plan.Node {
		if out, ok := memo[n]; ok {
			return out
		}
		ins := n.Inputs()
		var changed []plan.Node
		for i, in := range ins {
			nin := visit(in)
			if nin != in && changed == nil {
				changed = append([]plan.Node(nil), ins...)
			}
			if changed != nil {
				changed[i] = nin
			}
		}
		m := n
		if changed != nil {
			m = n.WithInputs(changed...)
		}
		out := r(m, shared)
		memo[n] = out
		if _, ok := origin[out]; !ok {
			origin[out] = n
		}
		return out
	}
	sinks := make([]*plan.Sink, len(g.Sinks))
	for i, s := range g.Sinks {
		out, ok := visit(s).(*plan.Sink)
		if !ok {
			panic("planner: a rewrite rule replaced a sink")
		}
		sinks[i] = out
	}
	return &plan.Graph{Sinks: sinks}
}

// fusable reports whether outer can absorb inner: every inner expression
// that is not a plain column or literal is used at most once by outer.
func fusable(inner, outer *plan.Calc) bool {
	uses := make([]int, len(inner.Exprs))
	count := func(e plan.Expr) {
		walkPlanExpr(e, func(x plan.Expr) {
			if r, ok := x.(*plan.ColumnRef); ok {
				uses[r.Index]++
			}
		})
	}
	if outer.Filter != nil {
		count(outer.Filter)
	}
	for _, e := range outer.Exprs {
		count(e)
	}
	for i, e := range inner.Exprs {
		switch e.(type) {
		case *plan.ColumnRef, *plan.Literal:
		default:
			if uses[i] > 1 {
				return false
			}
		}
	}
	return true
}

// fuse returns one Calc equivalent to outer over inner.
func fuse(inner, outer *plan.Calc) plan.Calc {
	sub := func(e plan.Expr) plan.Expr { return substitute(e, inner.Exprs) }
	c := plan.Calc{Base: outer.Base, Input: inner.Input, Filter: inner.Filter}
	if outer.Filter != nil {
		f := sub(outer.Filter)
		if c.Filter == nil {
			c.Filter = f
		} else {
			nn := c.Filter.Type().NotNull && f.Type().NotNull
			c.Filter = &plan.Call{Func: "AND", Args: []plan.Expr{c.Filter, f}, T: types.BooleanType.WithNotNull(nn)}
		}
	}
	for _, e := range outer.Exprs {
		c.Exprs = append(c.Exprs, sub(e))
	}
	return c
}

// substitute replaces column i of e with exprs[i].
func substitute(e plan.Expr, exprs []plan.Expr) plan.Expr {
	switch x := e.(type) {
	case *plan.ColumnRef:
		return exprs[x.Index]
	case *plan.Call:
		c := *x
		c.Args = substituteAll(x.Args, exprs)
		return &c
	case *plan.UDFCall:
		c := *x
		c.Args = substituteAll(x.Args, exprs)
		return &c
	case *plan.Cast:
		c := *x
		c.Arg = substitute(x.Arg, exprs)
		return &c
	case *plan.Case:
		c := *x
		c.Whens = make([]plan.When, len(x.Whens))
		for i, w := range x.Whens {
			c.Whens[i] = plan.When{Cond: substitute(w.Cond, exprs), Result: substitute(w.Result, exprs)}
		}
		c.Else = substitute(x.Else, exprs)
		return &c
	}
	return e
}

func substituteAll(args, exprs []plan.Expr) []plan.Expr {
	out := make([]plan.Expr, len(args))
	for i, a := range args {
		out[i] = substitute(a, exprs)
	}
	return out
}

func walkPlanExpr(e plan.Expr, fn func(plan.Expr)) {
	if e == nil {
		return
	}
	fn(e)
	switch x := e.(type) {
	case *plan.Call:
		for _, a := range x.Args {
			walkPlanExpr(a, fn)
		}
	case *plan.UDFCall:
		for _, a := range x.Args {
			walkPlanExpr(a, fn)
		}
	case *plan.Cast:
		walkPlanExpr(x.Arg, fn)
	case *plan.Case:
		for _, w := range x.Whens {
			walkPlanExpr(w.Cond, fn)
			walkPlanExpr(w.Result, fn)
		}
		walkPlanExpr(x.Else, fn)
	}
}

// isIdentity reports whether c passes its input through unchanged.
func isIdentity(c *plan.Calc) bool {
	in := c.Input.Schema()
	if c.Filter != nil || len(c.Exprs) != in.Len() {
		return false
	}
	for i, e := range c.Exprs {
		r, ok := e.(*plan.ColumnRef)
		if !ok || r.Index != i || c.Output.Fields[i] != in.Fields[i] {
			return false
		}
	}
	return true
}
