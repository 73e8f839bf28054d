package planner

import (
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// The session time zone ('table.local-time-zone', Planner.TimeZone) is
// given to every cast between TIMESTAMP_LTZ and TIMESTAMP or STRING once
// the graph is built, wherever the binder made the cast (CAST, implicit
// coercions, the date functions' arguments), so that no binding site has
// to know it. Windows over a TIMESTAMP_LTZ time attribute take it when
// they are planned (plan.Window.Zone).

// applyZone sets zone on the zone-dependent casts of every expression in
// g. The nodes are the builder's own (made for this statement); the
// expressions are rebuilt, never changed in place.
func applyZone(g *plan.Graph, zone *types.Zone) {
	if zone.IsUTC() {
		return
	}
	for _, s := range g.Sinks {
		s.Zone = zone
		plan.Walk(s, func(n plan.Node) {
			switch n := n.(type) {
			case *plan.Source:
				n.Zone = zone
			case *plan.LookupJoin:
				n.Zone = zone
			case *plan.Calc:
				n.Filter = zoned(n.Filter, zone)
				n.Exprs = zonedAll(n.Exprs, zone)
			case *plan.Join:
				n.Residual = zoned(n.Residual, zone)
			case *plan.GroupAgg:
				n.Having = zoned(n.Having, zone)
			}
		})
	}
}

// zoned returns e with zone set on its zone-dependent casts.
func zoned(e plan.Expr, zone *types.Zone) plan.Expr {
	if e == nil {
		return nil
	}
	switch e := e.(type) {
	case *plan.Cast:
		c := *e
		c.Arg = zoned(e.Arg, zone)
		if plan.ZoneCast(e.Arg.Type(), e.T) {
			c.Zone = zone
		}
		return &c
	case *plan.Call:
		c := *e
		c.Args = zonedAll(e.Args, zone)
		return &c
	case *plan.UDFCall:
		c := *e
		c.Args = zonedAll(e.Args, zone)
		return &c
	case *plan.Case:
		c := *e
		c.Whens = make([]plan.When, len(e.Whens))
		for i, w := range e.Whens {
			c.Whens[i] = plan.When{Cond: zoned(w.Cond, zone), Result: zoned(w.Result, zone)}
		}
		c.Else = zoned(e.Else, zone)
		return &c
	}
	return e
}

func zonedAll(es []plan.Expr, zone *types.Zone) []plan.Expr {
	out := make([]plan.Expr, len(es))
	for i, e := range es {
		out[i] = zoned(e, zone)
	}
	return out
}

// windowBoundZone returns the zone whose local times column col of n
// holds, when it is the window_start or window_end of a window over a
// TIMESTAMP_LTZ in a zone other than UTC (followed through projections
// and exchanges to the window that made it); nil otherwise.
func windowBoundZone(n plan.Node, col int) *types.Zone {
	for {
		switch x := n.(type) {
		case *plan.Calc:
			r, ok := x.Exprs[col].(*plan.ColumnRef)
			if !ok {
				return nil
			}
			n, col = x.Input, r.Index
		case *plan.Exchange:
			n = x.Input
		case *plan.WindowAgg:
			if nk := len(x.Keys); col == nk || col == nk+1 {
				return nonUTC(x.Window.Zone)
			}
			return nil
		case *plan.WindowAssign:
			if nc := x.Input.Schema().Len(); col == nc || col == nc+1 {
				return nonUTC(x.Window.Zone)
			}
			return nil
		default:
			return nil
		}
	}
}

func nonUTC(z *types.Zone) *types.Zone {
	if z.IsUTC() {
		return nil
	}
	return z
}
