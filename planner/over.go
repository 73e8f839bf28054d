package planner

import (
	"fmt"
	"strings"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// overCalls returns the calls with an OVER clause in sel's select list.
func overCalls(sel *parser.Select) []*parser.FuncCall {
	var calls []*parser.FuncCall
	for _, it := range sel.Items {
		walkExpr(it.Expr, func(x parser.Expr) {
			if f, ok := x.(*parser.FuncCall); ok && f.Over != nil {
				calls = append(calls, f)
			}
		})
	}
	return calls
}

// planOver plans a select list with OVER aggregates, as Flink does: one
// OverAgg (all the aggregates share one window) over the input (with WHERE
// and the non-column partition keys, aggregate arguments and FILTER
// conditions in a Calc before it), then a Calc for the select list, in
// which each OVER call reads its aggregate's column.
func (b *builder) planOver(sel *parser.Select, rel *relation, calls []*parser.FuncCall) (*relation, error) {
	if len(sel.GroupBy) > 0 || sel.Having != nil {
		return nil, errorf(calls[0].Pos, "OVER aggregates cannot be combined with GROUP BY or HAVING in one SELECT; aggregate in a subquery first")
	}
	for _, it := range sel.Items {
		if it.Expr != nil && containsAgg(it.Expr) {
			return nil, errorf(it.Expr.Position(), "OVER aggregates cannot be combined with other aggregates in one SELECT; aggregate in a subquery first")
		}
	}
	if rel.win != nil {
		var err error
		if rel, err = materializeWindow(rel); err != nil {
			return nil, err
		}
	}
	named := map[string]*parser.NamedWindow{}
	for _, w := range sel.Windows {
		k := strings.ToLower(w.Name.Name)
		if named[k] != nil {
			return nil, errorf(w.Pos, "window %q is defined twice", w.Name.Name)
		}
		if w.Spec.Ref != nil {
			return nil, errorf(w.Spec.Pos, "window %q must be defined by (PARTITION BY … ORDER BY …), not by another window's name", w.Name.Name)
		}
		named[k] = w
	}
	var spec *parser.WindowSpec
	var first *parser.FuncCall
	sc0 := rel.scope("the select list")
	for _, f := range calls {
		if _, ok := aggregateFuncs[f.Name]; !ok {
			// Not an aggregate: the binder says what the call is (a rank
			// function outside a Top-N, a scalar function).
			if _, err := sc0.bindFunc(f); err != nil {
				return nil, err
			}
			return nil, errorf(f.Pos, "%s … OVER is not supported yet", f.Name)
		}
		s := f.Over
		if s.Ref != nil {
			w := named[strings.ToLower(s.Ref.Name)]
			if w == nil {
				return nil, errorf(s.Pos, "unknown window %q; define it with WINDOW %s AS (PARTITION BY … ORDER BY …)", s.Ref.Name, s.Ref.Name)
			}
			s = w.Spec
		}
		switch {
		case spec == nil:
			spec, first = s, f
		case s.String() != spec.String():
			return nil, errorf(f.Pos, "all OVER aggregates of one SELECT must use the same window, as in Flink: %s OVER %s differs from %s OVER %s", f.Name, s, first.Name, spec)
		}
	}
	sc := rel.scope("an OVER window")
	ov := &plan.OverAgg{StateTTL: b.p.Updating.StateTTL}
	if err := overWindow(sc, spec, ov); err != nil {
		return nil, err
	}
	// The pre-projection: the input's columns, then what else the
	// partition keys and aggregates read.
	a := &aggPlan{in: rel, inScope: sc, group: true}
	for _, c := range rel.cols {
		a.pre = append(a.pre, &plan.ColumnRef{Index: c.index, Name: c.name, T: c.t})
	}
	for _, e := range spec.PartitionBy {
		if containsAgg(e) {
			return nil, errorf(e.Position(), "aggregate functions are not allowed in PARTITION BY")
		}
		k, err := sc.bind(e)
		if err != nil {
			return nil, err
		}
		if !groupKeyType(k.Type()) {
			return nil, errorf(e.Position(), "cannot PARTITION BY a value of type %s", k.Type())
		}
		ov.Partition = append(ov.Partition, a.preIndex(k))
	}
	aggOf := map[*parser.FuncCall]plan.Expr{}
	for _, f := range calls {
		c := *f
		c.Over = nil
		ref, err := a.aggregate(&c, aggregateFuncs[f.Name])
		if err != nil {
			return nil, err
		}
		aggOf[f] = ref
	}
	filter, err := where(sel, rel)
	if err != nil {
		return nil, err
	}
	var input plan.Node = rel.node
	if filter != nil || len(a.pre) > len(rel.cols) {
		pre := &plan.Calc{Input: rel.node, Filter: filter, Exprs: a.pre}
		for i, e := range a.pre {
			pre.Output.Fields = append(pre.Output.Fields, types.Field{Name: preName(e, i), Type: e.Type()})
		}
		input = pre
	}
	ov.Input = input
	ov.Aggs = a.aggs
	ov.Output = types.Schema{Fields: append([]types.Field(nil), input.Schema().Fields...)}
	for i, ag := range a.aggs {
		ov.Output.Fields = append(ov.Output.Fields, types.Field{Name: fmt.Sprintf("agg$%d", i), Type: ag.T})
	}
	// The select list reads the input's columns (same indexes) and, for
	// each OVER call, its aggregate's column.
	base := len(input.Schema().Fields)
	out := &relation{node: ov, cols: rel.cols, name: rel.name, cat: rel.cat}
	items := *sel
	items.Where = nil
	return projectWith(&items, out, func(e parser.Expr) (plan.Expr, bool, error) {
		f, ok := e.(*parser.FuncCall)
		if !ok || f.Over == nil {
			return nil, false, nil
		}
		r := aggOf[f].(*plan.ColumnRef)
		return &plan.ColumnRef{Index: base + r.Index, Name: r.Name, T: r.T}, true, nil
	})
}

// overWindow reads an OVER window's ORDER BY and frame into ov.
func overWindow(sc *scope, spec *parser.WindowSpec, ov *plan.OverAgg) error {
	if len(spec.OrderBy) != 1 {
		return errorf(spec.Pos, "an OVER window must be ordered by exactly one time attribute, ascending (ORDER BY ts)")
	}
	o := spec.OrderBy[0]
	c, ok := o.Expr.(*parser.ColumnExpr)
	if !ok {
		return errorf(o.Pos, "OVER windows must be ordered by a time attribute column ascending, as in Flink's streaming mode")
	}
	col, err := sc.resolve(c)
	if err != nil {
		return err
	}
	if !col.rowtime {
		return errorf(o.Pos, "OVER windows must be ordered by a time attribute ascending, as in Flink's streaming mode; column %q is not one (declare WATERMARK FOR it)", col.name)
	}
	if o.Desc {
		return errorf(o.Pos, "OVER windows must be ordered by a time attribute ascending, as in Flink's streaming mode, not DESC")
	}
	ov.TimeCol = col.index
	fr := spec.Frame
	if fr == nil {
		// SQL's default frame with an ORDER BY.
		ov.Rows, ov.Preceding = false, -1
		return nil
	}
	ov.Rows = fr.Rows
	if fr.End.Kind != "CURRENT ROW" {
		return errorf(fr.End.Pos, "OVER windows must end at CURRENT ROW, as in Flink: %s bounds are not supported", fr.End.Kind)
	}
	switch fr.Start.Kind {
	case "UNBOUNDED PRECEDING":
		ov.Preceding = -1
	case "CURRENT ROW":
		ov.Preceding = 0
	case "PRECEDING":
		if ov.Rows {
			e, err := sc.bind(fr.Start.Offset)
			if err != nil {
				return err
			}
			l, ok := e.(*plan.Literal)
			n, isInt := int64(0), false
			if ok {
				n, isInt = l.Value.(int64)
			}
			if !isInt || (l.T.Kind != types.Int && l.T.Kind != types.BigInt) || n < 0 {
				return errorf(fr.Start.Offset.Position(), "a ROWS frame's offset must be a non-negative integer literal, as in ROWS BETWEEN 10 PRECEDING AND CURRENT ROW")
			}
			ov.Preceding = n
			return nil
		}
		v, err := intervalLiteral(sc, fr.Start.Offset)
		if err != nil {
			return errorf(fr.Start.Offset.Position(), "a RANGE frame over a time attribute is bounded by an interval, as in RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW")
		}
		if v < 0 {
			return errorf(fr.Start.Offset.Position(), "a RANGE frame's interval must not be negative, got %dms", v)
		}
		ov.Preceding = v
	default:
		return errorf(fr.Start.Pos, "OVER windows must start at or before CURRENT ROW, as in Flink: a frame starting %s is not supported", fr.Start.Kind)
	}
	return nil
}
