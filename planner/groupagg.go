package planner

import (
	"fmt"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// UpdatingOptions configures the updating operators the planner makes
// (GroupAgg), as the table.exec.* settings say.
type UpdatingOptions struct {
	// MiniBatch, with Size > 0, buffers the input of a GroupAgg
	// (table.exec.mini-batch.enabled, .size, .allow-latency).
	MiniBatch plan.MiniBatch
	// StateTTL, when positive, expires keys idle for that many ms of
	// processing time (table.exec.state.ttl).
	StateTTL int64
	// AllowLateness, when positive, is how long (ms of event time) an
	// event-time window aggregation keeps a fired window for late rows,
	// which update its result (table.exec.emit.allow-lateness).
	AllowLateness int64
	// EarlyFire, when positive, is how often (ms of processing time) an
	// event-time window aggregation emits the partial results of its open
	// windows (table.exec.emit.early-fire.enabled and .delay); negative:
	// enabled without a delay, an error for a window aggregation.
	EarlyFire int64
	// LateFire is set when table.exec.emit.late-fire.enabled is: then
	// LateFireDelay, when positive, is how often (ms of processing time)
	// the late updates of fired windows are emitted (0: after every
	// batch, as without late firing; negative: no delay set, an error).
	LateFire      bool
	LateFireDelay int64
}

// planGroupAgg plans a GROUP BY without a window (or an aggregation
// without GROUP BY): a GroupAgg over the pre-projection of its keys and
// aggregate arguments, HAVING inside it (so that a row that stops
// satisfying it is deleted), and a Calc for the select list.
func (b *builder) planGroupAgg(sel *parser.Select, rel *relation, a *aggPlan, keyAst []parser.Expr) (*relation, error) {
	keyIdx := make([]int, 0, len(keyAst))
	for _, k := range keyAst {
		if containsAgg(k) {
			return nil, errorf(k.Position(), "aggregate functions are not allowed in GROUP BY")
		}
		e, err := a.inScope.bind(k)
		if err != nil {
			return nil, err
		}
		if !groupKeyType(e.Type()) {
			return nil, errorf(k.Position(), "cannot GROUP BY a value of type %s", e.Type())
		}
		a.keys = append(a.keys, e)
		keyIdx = append(keyIdx, a.preIndex(e))
	}
	as := &scope{cols: rel.cols, table: rel.name, what: "the select list", cat: rel.cat}
	as.intercept = func(e parser.Expr) (plan.Expr, bool, error) { return a.intercept(as, e) }
	var having plan.Expr
	if sel.Having != nil {
		h, err := as.bind(sel.Having)
		if err != nil {
			return nil, err
		}
		if having, err = toBool(sel.Having.Position(), h, "HAVING"); err != nil {
			return nil, err
		}
	}
	var exprs []plan.Expr
	out := &relation{name: rel.name, cat: rel.cat}
	for i, it := range sel.Items {
		if it.Star {
			return nil, errorf(it.Pos, "SELECT * is not allowed in an aggregation; list the GROUP BY columns and aggregates")
		}
		e, err := as.bind(it.Expr)
		if err != nil {
			return nil, err
		}
		exprs = append(exprs, e)
		out.cols = append(out.cols, scopeCol{name: itemName(it, i), t: e.Type(), index: len(out.cols)})
	}
	uniquifyNames(out.cols)
	filter, err := where(sel, rel)
	if err != nil {
		return nil, err
	}
	var input plan.Node = rel.node
	allRefs := filter == nil
	for _, e := range a.pre {
		_, ok := e.(*plan.ColumnRef)
		allRefs = allRefs && ok
	}
	remap := func(i int) int { return i }
	if allRefs {
		remap = func(i int) int { return a.pre[i].(*plan.ColumnRef).Index }
	} else {
		pre := &plan.Calc{Input: rel.node, Filter: filter, Exprs: a.pre}
		for i, e := range a.pre {
			pre.Output.Fields = append(pre.Output.Fields, types.Field{Name: preName(e, i), Type: e.Type()})
		}
		if len(a.pre) == 0 {
			// COUNT(*) without keys reads no column; keep one so that
			// batches carry their row count.
			pre.Exprs = []plan.Expr{&plan.Literal{Value: true, T: types.BooleanType.WithNotNull(true)}}
			pre.Output.Fields = []types.Field{{Name: "$0", Type: types.BooleanType.WithNotNull(true)}}
		}
		input = pre
	}
	ga := &plan.GroupAgg{Input: input, Having: having, MiniBatch: b.p.Updating.MiniBatch, StateTTL: b.p.Updating.StateTTL}
	switch t := b.hintedTTL(rel); {
	case t > 0:
		ga.StateTTL = t
	case t < 0:
		ga.StateTTL = 0
	}
	for _, k := range keyIdx {
		ga.Keys = append(ga.Keys, remap(k))
	}
	for _, ag := range a.aggs {
		if ag.Arg >= 0 {
			ag.Arg = remap(ag.Arg)
		}
		if ag.Filter >= 0 {
			ag.Filter = remap(ag.Filter)
		}
		ga.Aggs = append(ga.Aggs, ag)
	}
	for i, k := range a.keys {
		ga.Output.Fields = append(ga.Output.Fields, types.Field{Name: preName(k, i+1), Type: k.Type()})
	}
	for i, ag := range a.aggs {
		ga.Output.Fields = append(ga.Output.Fields, types.Field{Name: fmt.Sprintf("agg$%d", i), Type: ag.T})
	}
	calc := &plan.Calc{Input: ga, Exprs: exprs}
	calc.Output = out.schema()
	out.node = calc
	return out, nil
}

// groupKeyType reports whether values of t can be a group key (the key
// encoding of keyed state covers them).
func groupKeyType(t types.Type) bool {
	switch t.Kind {
	case types.Int, types.BigInt, types.Timestamp, types.TimestampLTZ, types.Interval, types.Boolean, types.Null,
		types.Float, types.Double, types.Decimal, types.String:
		return true
	}
	return false
}

// distinctOfAggregate reports whether sel is SELECT DISTINCT over an
// aggregation (GROUP BY, HAVING or aggregate calls in the select list),
// which is planned as the aggregation followed by distinctRows.
func distinctOfAggregate(sel *parser.Select) bool {
	if len(sel.GroupBy) > 0 || sel.Having != nil {
		return true
	}
	for _, it := range sel.Items {
		if it.Expr != nil && containsAgg(it.Expr) {
			return true
		}
	}
	return false
}

// distinctRows plans SELECT DISTINCT over the rows of rel (an
// aggregation's result, possibly updating): a GroupAgg keyed on every
// column with no aggregates, as Flink plans it.
func (b *builder) distinctRows(pos parser.Pos, rel *relation) (*relation, error) {
	ga := &plan.GroupAgg{Input: rel.node, MiniBatch: b.p.Updating.MiniBatch, StateTTL: b.p.Updating.StateTTL}
	for i, c := range rel.cols {
		if !groupKeyType(c.t) {
			return nil, errorf(pos, "SELECT DISTINCT cannot compare values of type %s (column %q)", c.t, c.name)
		}
		ga.Keys = append(ga.Keys, i)
	}
	ga.Output = rel.schema()
	out := &relation{node: ga, name: rel.name, cat: rel.cat}
	for _, c := range rel.cols {
		out.cols = append(out.cols, scopeCol{name: c.name, t: c.t, index: c.index})
	}
	return out, nil
}

// distinctAsGroupBy rewrites SELECT DISTINCT a, b … as SELECT a, b …
// GROUP BY a, b, as Flink plans it.
func distinctAsGroupBy(sel *parser.Select) (*parser.Select, error) {
	d := *sel
	d.Distinct = false
	d.GroupBy = nil
	for _, it := range sel.Items {
		if it.Star {
			return nil, errorf(it.Pos, "SELECT DISTINCT * is not supported yet; list the columns")
		}
		d.GroupBy = append(d.GroupBy, it.Expr)
	}
	return &d, nil
}
