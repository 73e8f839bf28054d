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
		return nil, errorf(o.Pos, "ORDER BY %s: only a time attribute column of the select list can order a streaming query", o.Expr)
	}
	c := rel.cols[col]
	switch {
	case c.proctime:
		return nil, errorf(o.Pos, "ORDER BY %s: %s is a processing-time attribute: rows already come in processing-time order; drop the ORDER BY, or order by an event-time attribute", c.name, c.name)
	case !c.rowtime:
		why := "it is not a column declared by WATERMARK FOR, nor a window's window_time"
		if c.notRowtime != "" {
			why = c.notRowtime
		}
		return nil, errorf(o.Pos, "ORDER BY %s: a streaming query can only be sorted by a time attribute ascending (as in Flink), and %s is not one (%s)", c.name, c.name, why)
	case o.Desc:
		return nil, errorf(o.Pos, "ORDER BY %s DESC: a streaming query can only be sorted by a time attribute ascending (as in Flink)", c.name)
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
