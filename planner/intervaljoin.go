package planner

import (
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// Interval joins.
//
// A join whose condition, besides its equi-keys, bounds a time attribute
// of one side by a time attribute of the other from below and from above
// is an interval join (plan.IntervalJoin), as in Flink:
//
//	a.ts BETWEEN b.ts - INTERVAL '5' SECOND AND b.ts + INTERVAL '5' SECOND
//	a.ts >= b.ts - INTERVAL '5' SECOND AND a.ts < b.ts + INTERVAL '5' SECOND
//	b.ts <= a.ts AND a.ts <= b.ts + INTERVAL '1' MINUTE
//
// Each bound compares "column [± interval literal …]" of one side with the
// same of the other, with <, <=, >, >= (BETWEEN is its two bounds), in ON
// or, for a comma join, in WHERE. The bounds are normalized to
// Lower <= left.ts - right.ts <= Upper in milliseconds (a strict bound
// moves by 1 ms, the precision of TIMESTAMP(3)); of several bounds on one
// end the tightest is kept, the others being implied. The conjuncts that
// are no bound stay the residual condition. A join with only one of the
// two bounds, or whose bounds compare columns that are not both time
// attributes (e.g. a window aggregation's window_end, which is not one
// in Flink either), is a regular join; its time comparisons are part of
// the residual condition.
//
// An interval join needs append-only inputs (checked with the changelog
// modes, in changelogs); its output keeps both sides' time attributes.

// timeBound is the interval found in a join condition.
type timeBound struct {
	lcol, rcol   int // in the join scope (rcol >= nLeft)
	lower, upper int64
}

// intervalBound looks for the time bounds of an interval join among the
// conjuncts cond (bound in sc, whose first nl columns are the left
// side's). It returns nil and cond unchanged when there are not both
// bounds on one pair of time attributes; else the bound and the conjuncts
// that are not part of it.
func intervalBound(sc *scope, nl int, cond []plan.Expr) (*timeBound, []plan.Expr) {
	var flat []plan.Expr
	var split func(e plan.Expr)
	split = func(e plan.Expr) {
		if c, ok := e.(*plan.Call); ok && c.Func == "AND" {
			split(c.Args[0])
			split(c.Args[1])
			return
		}
		flat = append(flat, e)
	}
	for _, e := range cond {
		split(e)
	}
	type found struct {
		lcol, rcol int
		lower      bool // a lower bound, else an upper one
		ms         int64
		at         int // in flat
	}
	var bounds []found
	for i, e := range flat {
		c, ok := e.(*plan.Call)
		if !ok || len(c.Args) != 2 {
			continue
		}
		op := c.Func
		switch op {
		case "<", "<=", ">", ">=":
		default:
			continue
		}
		ac, ao, ok1 := timeTerm(sc, c.Args[0])
		bc, bo, ok2 := timeTerm(sc, c.Args[1])
		if !ok1 || !ok2 {
			continue
		}
		// a op b with a = ac + ao, b = bc + bo: ac - bc op bo - ao.
		var l, r int
		var k int64
		switch {
		case ac < nl && bc >= nl:
			l, r, k = ac, bc, bo-ao
		case bc < nl && ac >= nl:
			// bc - ac flip(op) ao - bo
			l, r, k = bc, ac, ao-bo
			op = map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
		default:
			continue
		}
		f := found{lcol: l, rcol: r, at: i}
		switch op {
		case ">=":
			f.lower, f.ms = true, k
		case ">":
			f.lower, f.ms = true, k+1
		case "<=":
			f.ms = k
		case "<":
			f.ms = k - 1
		}
		bounds = append(bounds, f)
	}
	// The first pair of time attributes with both bounds.
	for _, first := range bounds {
		tb := &timeBound{lcol: first.lcol, rcol: first.rcol}
		var hasLower, hasUpper bool
		used := map[int]bool{}
		for _, f := range bounds {
			if f.lcol != tb.lcol || f.rcol != tb.rcol {
				continue
			}
			used[f.at] = true
			if f.lower {
				if !hasLower || f.ms > tb.lower {
					tb.lower = f.ms
				}
				hasLower = true
			} else {
				if !hasUpper || f.ms < tb.upper {
					tb.upper = f.ms
				}
				hasUpper = true
			}
		}
		if !hasLower || !hasUpper {
			continue
		}
		var rest []plan.Expr
		for i, e := range flat {
			if !used[i] {
				rest = append(rest, e)
			}
		}
		return tb, rest
	}
	return nil, cond
}

// timeTerm reports whether e is a time attribute of sc plus or minus
// interval literals, returning the column and the offset in ms.
func timeTerm(sc *scope, e plan.Expr) (col int, offset int64, ok bool) {
	switch x := e.(type) {
	case *plan.ColumnRef:
		if x.Index < 0 || x.Index >= len(sc.cols) || !sc.cols[x.Index].rowtime || !x.T.IsTemporal() {
			return 0, 0, false
		}
		return x.Index, 0, true
	case *plan.Call:
		if (x.Func != "+" && x.Func != "-") || len(x.Args) != 2 {
			return 0, 0, false
		}
		ms, ok := intervalConst(x.Args[1])
		if !ok {
			return 0, 0, false
		}
		col, off, ok := timeTerm(sc, x.Args[0])
		if !ok {
			return 0, 0, false
		}
		if x.Func == "-" {
			ms = -ms
		}
		return col, off + ms, true
	}
	return 0, 0, false
}

// intervalConst returns the value in ms of a constant interval
// expression (literals added and subtracted).
func intervalConst(e plan.Expr) (int64, bool) {
	switch x := e.(type) {
	case *plan.Literal:
		ms, ok := x.Value.(int64)
		return ms, ok && x.T.Kind == types.Interval
	case *plan.Call:
		if (x.Func != "+" && x.Func != "-") || len(x.Args) != 2 {
			return 0, false
		}
		a, ok1 := intervalConst(x.Args[0])
		b, ok2 := intervalConst(x.Args[1])
		if !ok1 || !ok2 {
			return 0, false
		}
		if x.Func == "-" {
			return a - b, true
		}
		return a + b, true
	}
	return 0, false
}

// intervalJoin returns the interval join of tb with the keys, output and
// residual of the regular join jn planned for the same condition (nl
// left columns in the join scope).
func intervalJoin(jn *plan.Join, tb *timeBound, nl int) *plan.IntervalJoin {
	ij := &plan.IntervalJoin{Left: jn.Left, Right: jn.Right, Type: jn.Type, LeftKeys: jn.LeftKeys, RightKeys: jn.RightKeys,
		LeftTime: tb.lcol, RightTime: tb.rcol - nl, Lower: tb.lower, Upper: tb.upper, Residual: jn.Residual,
		Names: jn.Names}
	ij.Output = jn.Output
	return ij
}
