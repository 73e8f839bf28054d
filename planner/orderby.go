package planner

import (
	"strings"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
)

// planOrderBy plans ORDER BY on the outermost query. As in Flink, a
// streaming query can only be sorted by a time attribute ascending: a
// TimeSort holds the rows until the watermark passes them. The ORDER BY
// names a column of the select list. A LIMIT applies after the sort.
// Any other ORDER BY with a LIMIT is a Top-N without partition (planTopN),
// as Flink plans it: an updating result holding the first N rows.
func (b *builder) planOrderBy(sel *parser.Select) (*relation, error) {
	o := sel.OrderBy[0]
	inner := *sel
	inner.OrderBy, inner.Limit = nil, nil
	rel, err := b.planSelect(&inner)
	if err != nil {
		return nil, err
	}
	col := -1
	switch x := o.Expr.(type) {
	case *parser.ColumnExpr:
		for i, c := range rel.cols {
			if c.window || x.Table != "" && !strings.EqualFold(x.Table, c.table) {
				continue
			}
			if c.name == x.Name.Name || !x.Name.Quoted && strings.EqualFold(c.name, x.Name.Name) {
				col = i
				break
			}
		}
		if col < 0 {
			return nil, errorf(o.Pos, "ORDER BY %s: not a column of the select list; ORDER BY names an output column", x)
		}
	default:
		if sel.Limit != nil {
			return b.planTopN(sel, rel)
		}
		return nil, errorf(o.Pos, "ORDER BY %s: only a time attribute column of the select list can order a streaming query (or any columns, with a LIMIT: a Top-N)", o.Expr)
	}
	c := rel.cols[col]
	if sel.Limit != nil && (!c.rowtime || o.Desc || len(sel.OrderBy) > 1) {
		return b.planTopN(sel, rel)
	}
	switch {
	case c.proctime:
		return nil, errorf(o.Pos, "ORDER BY %s: %s is a processing-time attribute: rows already come in processing-time order; drop the ORDER BY, or order by an event-time attribute", c.name, c.name)
	case !c.rowtime:
		why := "it is not a column declared by WATERMARK FOR, nor a window's window_time"
		if c.notRowtime != "" {
			why = c.notRowtime
		}
		return nil, errorf(o.Pos, "ORDER BY %s: a streaming query can only be sorted by a time attribute ascending (as in Flink), and %s is not one (%s); with a LIMIT, ORDER BY any columns is a Top-N", c.name, c.name, why)
	case o.Desc:
		return nil, errorf(o.Pos, "ORDER BY %s DESC: a streaming query can only be sorted by a time attribute ascending (as in Flink); with a LIMIT, ORDER BY any columns is a Top-N", c.name)
	case len(sel.OrderBy) > 1:
		return nil, errorf(sel.OrderBy[1].Pos, "ORDER BY: only one time attribute may order a streaming query; rows of equal time keep their arrival order")
	}
	ts := &plan.TimeSort{Input: rel.node, TimeCol: col}
	ts.Output = rel.schema()
	out := &relation{node: ts, cols: rel.cols, name: rel.name, cat: rel.cat}
	if sel.Limit == nil {
		return out, nil
	}
	if *sel.Limit <= 0 {
		return nil, errorf(sel.Pos, "LIMIT must be positive, got %d", *sel.Limit)
	}
	l := &plan.Limit{Input: ts, N: *sel.Limit}
	l.Output = out.schema()
	return &relation{node: l, cols: out.cols, name: out.name, cat: out.cat}, nil
}

// planTopN plans ORDER BY … LIMIT n over the planned select list rel: a
// Rank without partition keeping rows 1 to n, the number not output.
func (b *builder) planTopN(sel *parser.Select, rel *relation) (*relation, error) {
	if *sel.Limit <= 0 {
		return nil, errorf(sel.Pos, "LIMIT must be positive, got %d", *sel.Limit)
	}
	r := &plan.Rank{Input: rel.node, Func: plan.RowNumber, Start: 1, End: *sel.Limit, StateTTL: b.p.Updating.StateTTL}
	for _, o := range sel.OrderBy {
		x, ok := o.Expr.(*parser.ColumnExpr)
		col := -1
		if ok {
			for i, c := range rel.cols {
				if c.window || x.Table != "" && !strings.EqualFold(x.Table, c.table) {
					continue
				}
				if c.name == x.Name.Name || !x.Name.Quoted && strings.EqualFold(c.name, x.Name.Name) {
					col = i
					break
				}
			}
		}
		if col < 0 {
			return nil, errorf(o.Pos, "ORDER BY %s: not a column of the select list; ORDER BY names an output column", o.Expr)
		}
		if !groupKeyType(rel.cols[col].t) {
			return nil, errorf(o.Pos, "ORDER BY %s: a value of type %s cannot be compared", o.Expr, rel.cols[col].t)
		}
		r.Order = append(r.Order, plan.SortKey{Col: col, Desc: o.Desc})
	}
	out := &relation{cols: append([]scopeCol(nil), rel.cols...), name: rel.name, cat: rel.cat}
	for i := range out.cols {
		out.cols[i].rowtime = false
	}
	r.Output = out.schema()
	out.node = r
	return out, nil
}
