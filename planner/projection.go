package planner

import "github.com/streamsql/streamsql/plan"

// projector is implemented by a Validator that knows which connectors can
// skip the columns a job does not read (the connectors registry: see
// connectors.ProjectableSource).
type projector interface {
	SourceProjects(opts map[string]string) bool
}

// pushProjections hands each Source of a connector that can skip columns
// the list of the columns the job reads (plan.Source.Columns), so that a
// query reading two columns of a wide table does not have the others
// generated or decoded, and tells each regular join the columns of its
// output nobody reads (plan.Join.Unread), which it then does not build.
//
// The columns a node needs of its input are computed from the columns its
// consumers need of it, sinks first: a Calc needs those its filter reads
// and those the expressions of its needed outputs read; an Exchange,
// Limit and Union pass their needs through (an Exchange adds its keys); a
// WindowAssign needs the passed-through columns that are needed, its time
// column and its partition keys; a WindowAgg its keys, time column and
// aggregate arguments; a GroupAgg its keys and aggregate arguments; a Join
// its keys and the columns of each side that its needed outputs and its
// residual condition read; a Rank (Top-N, deduplication) the needed
// columns it passes through, its partition and order columns and its
// window_end. Every other node kind (interval, window, lookup and
// temporal joins, OVER, sinks, …) needs all its input's
// columns: always correct, if not the narrowest. A node shared
// by several consumers needs the union of what each needs; so does a
// Source, which also keeps the columns its watermark reads. A LateRows
// node needs nothing of the operator it reads the late rows of, but what
// its consumers need of it, of that operator's input (the rows it drops
// are its input's rows).
//
// The source's schema does not change (the columns it skips are NULL), so
// no column index of the plan moves.
func (p *Planner) pushProjections(g *plan.Graph) *plan.Graph {
	need := needs(g)
	g = markUnread(g, need)
	pr, ok := p.Connectors.(projector)
	if !ok {
		return g
	}
	return rewrite(g, func(n plan.Node, _ func(plan.Node) bool) plan.Node {
		src, ok := n.(*plan.Source)
		if !ok || src.Columns != nil || !pr.SourceProjects(src.Options) {
			return n
		}
		m := need[n]
		if m == nil {
			return n
		}
		if w := src.Watermark; w != nil {
			if w.TimeCol >= 0 {
				m[w.TimeCol] = true
			}
			markRefs(w.Expr, m)
		}
		cols := []int{}
		for i, ok := range m {
			if ok {
				cols = append(cols, i)
			}
		}
		if len(cols) == len(m) {
			return n
		}
		c := *src
		c.Columns = cols
		return &c
	})
}

// needs returns the columns the consumers of each node of g read of it
// (a node missing: all of them).
func needs(g *plan.Graph) map[plan.Node][]bool {
	nodes := g.Nodes() // inputs before consumers
	need := map[plan.Node][]bool{}
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		out := need[n]
		if l, ok := n.(*plan.LateRows); ok {
			// Its rows are those its input (the dropping operator) received:
			// what the late-rows table reads, that operator's input must
			// carry. (Visited before the operator, so before that input.)
			for _, in := range l.Input.Inputs() {
				if in.Schema().Len() == n.Schema().Len() {
					m := need[in]
					if m == nil {
						m = make([]bool, in.Schema().Len())
						need[in] = m
					}
					for i := range m {
						if out == nil || i >= len(out) || out[i] {
							m[i] = true
						}
					}
				}
			}
			continue
		}
		for k, in := range n.Inputs() {
			m := need[in]
			if m == nil {
				m = make([]bool, in.Schema().Len())
				need[in] = m
			}
			inputNeeds(n, k, out, m)
		}
	}
	return need
}

// markUnread sets the Unread columns of each regular join of g (those
// that may be NULL), from need, the columns its consumers read of each
// node of g. (A join whose
// input is a join rewritten here is a copy, not in need: it is marked by
// the next round, whose need is of the rewritten graph.)
func markUnread(g *plan.Graph, need map[plan.Node][]bool) *plan.Graph {
	for round := 0; round < 16; round++ {
		changed := false
		g = rewrite(g, func(n plan.Node, _ func(plan.Node) bool) plan.Node {
			j, ok := n.(*plan.Join)
			m, known := need[n]
			if !ok || !known || j.Unread != nil {
				return n
			}
			var unread []int
			for i, r := range m {
				// (A NOT NULL column stays: NULL would break its type.)
				if !r && i < j.Schema().Len() && !j.Schema().Fields[i].Type.NotNull {
					unread = append(unread, i)
				}
			}
			if len(unread) == 0 {
				return n
			}
			c := *j
			c.Unread = unread
			changed = true
			return &c
		})
		if !changed {
			break
		}
		need = needs(g)
	}
	return g
}

// inputNeeds marks in m the columns of n's input k that n needs when its
// consumers need its columns out (nil: all of them).
func inputNeeds(n plan.Node, k int, out, m []bool) {
	needOut := func(i int) bool { return out == nil || i >= len(out) || out[i] }
	all := func() {
		for i := range m {
			m[i] = true
		}
	}
	mark := func(cols ...int) {
		for _, c := range cols {
			if c >= 0 && c < len(m) {
				m[c] = true
			}
		}
	}
	passThrough := func() {
		for i := range m {
			if needOut(i) {
				m[i] = true
			}
		}
	}
	switch x := n.(type) {
	case *plan.Calc:
		markRefs(x.Filter, m)
		for i, e := range x.Exprs {
			if needOut(i) {
				markRefs(e, m)
			}
		}
	case *plan.Exchange:
		passThrough()
		mark(x.Keys...)
	case *plan.Limit, *plan.Union:
		passThrough()
	case *plan.WindowAssign:
		passThrough() // the input's columns come first, then the window's
		mark(x.Window.TimeCol)
		mark(x.Partition...)
	case *plan.WindowAgg:
		mark(x.Window.TimeCol)
		mark(x.Keys...)
		for _, a := range x.Aggs {
			mark(a.Arg, a.Filter)
		}
	case *plan.Rank:
		passThrough() // the input's columns, then the rank number
		mark(x.Partition...)
		for _, o := range x.Order {
			mark(o.Col)
		}
		if x.Window {
			mark(x.WindowEnd)
		}
	case *plan.GroupAgg:
		mark(x.Keys...) // Having reads the output, made of keys and aggregates
		for _, a := range x.Aggs {
			mark(a.Arg, a.Filter)
		}
	case *plan.Join:
		// The output (and Residual's row) is the left columns then the
		// right ones; a semi or anti join outputs the left ones alone.
		left := x.Left.Schema().Len()
		off := 0
		if k == 1 {
			off = left
			mark(x.RightKeys...)
		} else {
			mark(x.LeftKeys...)
		}
		want := make([]bool, n.Schema().Len())
		for i := range want {
			want[i] = needOut(i)
		}
		if x.Residual != nil {
			if x.Type.LeftOnly() {
				want = append(want, make([]bool, x.Right.Schema().Len())...)
			}
			markRefs(x.Residual, want)
		}
		for i := range m {
			if j := off + i; j < len(want) && want[j] {
				m[i] = true
			}
		}
	default:
		all()
	}
}

// markRefs marks in m every column e reads.
func markRefs(e plan.Expr, m []bool) {
	walkPlanExpr(e, func(x plan.Expr) {
		if r, ok := x.(*plan.ColumnRef); ok && r.Index >= 0 && r.Index < len(m) {
			m[r.Index] = true
		}
	})
}
