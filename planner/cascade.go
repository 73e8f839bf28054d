package planner

import (
	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// Cascaded window aggregation.
//
// A GROUP BY over a windowed input (a window aggregation, a window TVF's
// rows, a query over them) that groups by the input's window_start and
// window_end columns of one TUMBLE, HOP or CUMULATE window is a window
// aggregation on those windows, as in Flink (Nexmark q5's MaxBids): its
// rows come once, when the window closes, append-only, and it can be
// window-joined. It is planned as a WindowAgg that tumbles the input's
// rows by window_end - 1ms into windows one step (the TUMBLE size, HOP
// slide, CUMULATE step) wide, which end where the input's windows end,
// grouped by the other keys and by the input's window_start (a key, so
// that windows of one end and different starts stay apart); window_end
// and window_time are the tumbling window's, window_start that key. The
// input's rows of a window arrive before the watermark that closes it
// (a window operator emits them before it forwards that watermark), so
// none is late.

// cascadeWindow records a cascaded window aggregation's real windows.
type cascadeWindow struct {
	w        plan.Window // the input's windows
	startKey int         // the WindowAgg key column holding window_start
}

// cascade is what planAggregate needs to plan a cascaded window
// aggregation.
type cascade struct {
	w        plan.Window
	props    map[int]int // input column → window property (propEnd, propTime) read from the WindowAgg's window
	startKey int         // the GROUP BY item of window_start, among the keys
	endItem  int         // the GROUP BY item of window_end
	time     plan.Expr   // window_end - 1ms over the input
}

// cascadeOf returns the cascade of a GROUP BY (items groupBy) over rel
// without a window, or nil when it does not group by the start and end
// of one window of rel.
func (b *builder) cascadeOf(rel *relation, groupBy []parser.Expr) *cascade {
	sc := rel.scope("GROUP BY")
	c := &cascade{props: map[int]int{}, startKey: -1, endItem: -1}
	var w *plan.Window
	var end int
	for i, g := range groupBy {
		ce, ok := g.(*parser.ColumnExpr)
		if !ok {
			continue
		}
		col, err := sc.resolve(ce)
		if err != nil || col.expr != nil || col.window {
			continue
		}
		wb, ok := b.windowBoundOf(rel.node, col.index)
		if !ok || wb.prop == propTime || w != nil && !sameWindows(*w, wb.w) {
			continue
		}
		switch {
		case wb.prop == propStart && c.startKey < 0:
			c.startKey = i
		case wb.prop == propEnd && c.endItem < 0:
			c.endItem, end = i, col.index
		default:
			continue
		}
		w = &wb.w
	}
	if c.startKey < 0 || c.endItem < 0 || w.Kind == plan.Session || w.ProcTime {
		return nil
	}
	if !w.Zone.IsUTC() {
		// The bounds are local times of the zone, which the cascade's
		// tumbling windows would compare with the watermark as instants:
		// planned as a GROUP BY instead (an updating result, not a wrong one).
		return nil
	}
	c.w = *w
	for _, col := range rel.cols {
		if col.expr != nil || col.window {
			continue
		}
		if wb, ok := b.windowBoundOf(rel.node, col.index); ok && wb.prop != propStart && sameWindows(wb.w, c.w) {
			c.props[col.index] = wb.prop
		}
	}
	e := rel.cols[end]
	c.time = &plan.Call{Func: "-", Args: []plan.Expr{&plan.ColumnRef{Index: e.index, Name: e.name, T: e.t},
		&plan.Literal{Value: int64(1), T: types.IntervalType.WithNotNull(true)}}, T: e.t}
	return c
}

// tumbling returns the windows a cascade's WindowAgg tumbles by: one step
// of the input's windows wide, ending where they end.
func (c *cascade) tumbling() plan.Window {
	w := plan.Window{Kind: plan.Tumble, Size: c.w.Size}
	switch c.w.Kind {
	case plan.Hop:
		w.Size = c.w.Slide
	case plan.Cumulate:
		w.Size = c.w.Step
	}
	// The input's windows end at offset + size + k·step.
	w.Offset = ((c.w.Offset+c.w.Size)%w.Size + w.Size) % w.Size
	return w
}
