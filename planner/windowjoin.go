package planner

import (
	"fmt"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
)

// Window joins.
//
// A join whose condition equates a window_start of the left side with a
// window_start of the right, or a window_end with a window_end, is a
// window join (Flink's): both sides are windowed (a window TVF, or a
// query over one: a window aggregation, a window Top-N, a projection),
// and the condition must equate both bounds, of windows of the same kind
// and size. Such a join is planned as a plan.WindowJoin keyed by the two
// bounds and the other equalities between the sides (which may be none);
// the rest of the condition is its residual. Its rows come when the
// window closes, so its output keeps the time attributes of its inputs
// (window_time above all), as Flink's does. A join of window TVFs without
// any window bound equality is a regular join of their rows.
//
// A column is a window bound when the plan below computes it as one:
// traced through projections (plain column references), exchanges and
// window joins down to the WindowAssign, WindowAgg or window Top-N that
// produced it; so window joins chain (a window join of a window join).

// windowBound says which window property (start, end or time) of which
// window a column is.
type windowBound struct {
	w    plan.Window
	prop int // propStart, propEnd, propTime
	end  bool
}

// The window properties.
const (
	propStart = iota
	propEnd
	propTime
)

// propNames are the window properties' column names.
var propNames = [...]string{"window_start", "window_end", "window_time"}

// windowBoundOf traces column i of n down to the window operator that
// computed it (a cascaded window aggregation's windows are those of its
// input: see cascade.go).
func (b *builder) windowBoundOf(n plan.Node, i int) (windowBound, bool) {
	prop := func(w plan.Window, p int) (windowBound, bool) {
		if p < propStart || p > propTime {
			return windowBound{}, false
		}
		return windowBound{w: w, prop: p, end: p == propEnd}, true
	}
	for {
		switch x := n.(type) {
		case *plan.Calc:
			if i < 0 || i >= len(x.Exprs) {
				return windowBound{}, false
			}
			r, ok := x.Exprs[i].(*plan.ColumnRef)
			if !ok {
				return windowBound{}, false
			}
			n, i = x.Input, r.Index
		case *plan.Exchange:
			n = x.Input
		case *plan.Rank:
			if !x.Window || i >= x.Input.Schema().Len() {
				return windowBound{}, false
			}
			n = x.Input
		case *plan.WindowJoin:
			// Its rows come before the watermark that closes their
			// window, as a window operator's do; a side padded with
			// NULLs has no window bounds.
			nl := x.Left.Schema().Len()
			switch {
			case i >= nl && !x.Type.LeftOuter():
				n, i = x.Right, i-nl
			case i < nl && !x.Type.RightOuter():
				n = x.Left
			default:
				return windowBound{}, false
			}
		case *plan.WindowAssign:
			return prop(x.Window, i-x.Input.Schema().Len())
		case *plan.WindowAgg:
			if x.AllowLateness > 0 || x.EarlyFire > 0 {
				return windowBound{}, false // an updating result
			}
			if c, ok := b.cascades[x]; ok {
				if i == c.startKey {
					return prop(c.w, propStart)
				}
				if i == len(x.Keys) {
					return windowBound{}, false // the tumbling window's start
				}
				return prop(c.w, i-len(x.Keys))
			}
			return prop(x.Window, i-len(x.Keys))
		default:
			return windowBound{}, false
		}
	}
}

// sameWindows reports whether a and b assign rows to the same windows.
func sameWindows(a, b plan.Window) bool {
	return a.Kind == b.Kind && a.Size == b.Size && a.Slide == b.Slide && a.Step == b.Step && a.Gap == b.Gap && a.Offset == b.Offset && a.ProcTime == b.ProcTime
}

// describeWindow prints w without its time column, for errors.
func describeWindow(w plan.Window) string {
	switch w.Kind {
	case plan.Tumble:
		return fmt.Sprintf("TUMBLE(size=%dms)", w.Size)
	case plan.Hop:
		return fmt.Sprintf("HOP(slide=%dms, size=%dms)", w.Slide, w.Size)
	case plan.Cumulate:
		return fmt.Sprintf("CUMULATE(step=%dms, size=%dms)", w.Step, w.Size)
	case plan.Session:
		return fmt.Sprintf("SESSION(gap=%dms)", w.Gap)
	}
	return w.Kind.String()
}

// windowJoin plans the join of left and right on the conjuncts cond
// (bound in sc) as a window join when cond equates window bounds of the
// two sides; ok is false (and nothing planned) when it equates none.
func (b *builder) windowJoin(j *parser.JoinRef, kind plan.JoinKind, left, right *relation, sc *scope, cond []parser.Expr) (_ *relation, ok bool, _ error) {
	nl := len(left.cols)
	var bounds [2]*struct {
		l, r int
		w    plan.Window
		pos  parser.Pos
	}
	var rest []plan.Expr // the other conjuncts, bound
	var restPos []parser.Pos
	var win plan.Window
	var winPos parser.Pos
	for _, c := range cond {
		if containsAgg(c) {
			return nil, true, errorf(c.Position(), "aggregate functions are not allowed in a join condition")
		}
		e, err := sc.bind(c)
		if err != nil {
			return nil, true, err
		}
		if e, err = toBool(c.Position(), e, "a join condition"); err != nil {
			return nil, true, err
		}
		if call, isEq := e.(*plan.Call); isEq && call.Func == "=" {
			a, _ := call.Args[0].(*plan.ColumnRef)
			bb, _ := call.Args[1].(*plan.ColumnRef)
			if a != nil && bb != nil && (a.Index < nl) != (bb.Index < nl) {
				if a.Index >= nl {
					a, bb = bb, a
				}
				lb, lok := b.windowBoundOf(left.node, a.Index)
				rb, rok := b.windowBoundOf(right.node, bb.Index-nl)
				if lok && rok && lb.prop != propTime && rb.prop != propTime {
					if lb.end != rb.end {
						return nil, true, errorf(c.Position(), "a window join equates window_start with window_start and window_end with window_end, not the window_%s of one side with the window_%s of the other", boundName(lb.end), boundName(rb.end))
					}
					if !lb.w.Zone.IsUTC() {
						return nil, true, errorf(c.Position(), "a window join of windows over a TIMESTAMP_LTZ in the session time zone %s is not supported yet (SET 'table.local-time-zone' = 'UTC', or window a TIMESTAMP)", lb.w.Zone)
					}
					if !sameWindows(lb.w, rb.w) {
						return nil, true, errorf(c.Position(), "a window join needs both sides windowed alike, but the left side's windows are %s and the right side's %s", describeWindow(lb.w), describeWindow(rb.w))
					}
					i := 0
					if lb.end {
						i = 1
					}
					if bounds[i] == nil {
						bounds[i] = &struct {
							l, r int
							w    plan.Window
							pos  parser.Pos
						}{a.Index, bb.Index - nl, lb.w, c.Position()}
						win, winPos = lb.w, c.Position()
						continue
					}
				}
			}
		}
		rest = append(rest, e)
		restPos = append(restPos, c.Position())
	}
	if bounds[0] == nil && bounds[1] == nil {
		return nil, false, nil
	}
	if bounds[0] != nil && bounds[1] != nil && !sameWindows(bounds[0].w, bounds[1].w) {
		return nil, true, errorf(bounds[1].pos, "a window join needs both sides windowed alike, but its window_start equality is of %s windows and its window_end equality of %s windows", describeWindow(bounds[0].w), describeWindow(bounds[1].w))
	}
	for i := range bounds {
		if bounds[i] == nil {
			only := []string{"window_end", "window_start"}[i]
			return nil, true, errorf(j.Pos, "a window join must equate both the window_start and the window_end of its two sides (ON L.window_start = R.window_start AND L.window_end = R.window_end AND …); this condition equates only their %s", only)
		}
	}
	switch {
	case win.Kind == plan.Session:
		return nil, true, errorf(winPos, "a window join of SESSION windows is not supported: window both sides with TUMBLE, HOP or CUMULATE")
	case win.ProcTime:
		return nil, true, errorf(winPos, "a window join of processing-time windows is not supported (as in Flink): window both sides on an event-time attribute")
	}
	lkeys := []plan.Expr{colRef(left, bounds[0].l), colRef(left, bounds[1].l)}
	rkeys := []plan.Expr{colRef(right, bounds[0].r), colRef(right, bounds[1].r)}
	var residual []plan.Expr
	for i, e := range rest {
		if call, isEq := e.(*plan.Call); isEq && call.Func == "=" {
			a, bb := call.Args[0], call.Args[1]
			al, ar := side(a, nl)
			bl, br := side(bb, nl)
			if bl && !br && ar && !al {
				a, bb, al, br = bb, a, true, true
			}
			if al && !ar && br && !bl {
				if !groupKeyType(a.Type()) {
					return nil, true, errorf(restPos[i], "cannot join on a value of type %s", a.Type())
				}
				lkeys = append(lkeys, a)
				rkeys = append(rkeys, shiftRefs(bb, func(i int) int { return i - nl }))
				continue
			}
		}
		residual = append(residual, e)
	}
	lnode, lidx, lextra := keyColumns(left, lkeys)
	rnode, ridx, rextra := keyColumns(right, rkeys)
	nlOut := nl + lextra
	jn := &plan.WindowJoin{Left: lnode, Right: rnode, Type: kind, LeftKeys: lidx, RightKeys: ridx, Window: win,
		Names: sides(left, right)}
	jn.Window.TimeCol = lidx[1]
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
	for _, e := range residual {
		e = shiftRefs(e, func(i int) int {
			if i >= nl {
				return i + lextra
			}
			return i
		})
		if jn.Residual == nil {
			jn.Residual = e
		} else {
			jn.Residual = &plan.Call{Func: "AND", Args: []plan.Expr{jn.Residual, e}, T: boolOf(jn.Residual, e)}
		}
	}
	out := &relation{node: jn, name: "the window join", cat: left.cat}
	var exprs []plan.Expr
	add := func(c scopeCol, at int) {
		c.t = jn.Output.Fields[at].Type
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
		calc := &plan.Calc{Input: jn, Exprs: exprs}
		calc.Output = out.schema()
		for i, e := range exprs {
			calc.Output.Fields[i].Name = jn.Output.Fields[e.(*plan.ColumnRef).Index].Name
		}
		out.node = calc
	}
	return out, true, nil
}

func boundName(end bool) string {
	if end {
		return "end"
	}
	return "start"
}

// colRef is a reference to column i of rel.
func colRef(rel *relation, i int) plan.Expr {
	c := rel.cols[i]
	return &plan.ColumnRef{Index: i, Name: c.name, T: c.t}
}
