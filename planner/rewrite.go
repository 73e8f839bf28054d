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
func optimize(n plan.Node) plan.Node {
	switch x := n.(type) {
	case *plan.Sink:
		c := *x
		c.Input = optimize(x.Input)
		return &c
	case *plan.WindowAgg:
		c := *x
		c.Input = optimize(x.Input)
		return &c
	case *plan.Limit:
		c := *x
		c.Input = optimize(x.Input)
		return &c
	case *plan.WindowAssign:
		c := *x
		c.Input = optimize(x.Input)
		return &c
	case *plan.Calc:
		c := *x
		c.Input = optimize(x.Input)
		if inner, ok := c.Input.(*plan.Calc); ok && fusable(inner, &c) {
			c = fuse(inner, &c)
		}
		if isIdentity(&c) {
			return c.Input
		}
		return &c
	}
	return n
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
