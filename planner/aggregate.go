package planner

import (
	"fmt"
	"strings"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// aggPlan collects what a windowed aggregation needs while its select
// list and HAVING are bound: the pre-projection feeding the WindowAgg
// (time column first, then keys, then aggregate arguments) and the
// aggregate calls.
type aggPlan struct {
	in      *relation
	inScope *scope
	pre     []plan.Expr
	keys    []plan.Expr // bound GROUP BY keys (without the window)
	aggs    []plan.AggCall
	aggKeys []string // dedup keys of aggs
	legacy  string   // legacy window function (TUMBLE, HOP, …) or ""
	tvf     bool
	w       plan.Window // the window, once known
	wpos    parser.Pos  // where the window is written
	// group: a non-windowed aggregation (GroupAgg), whose output has no
	// window columns.
	group bool
	// cascade, for a cascaded window aggregation (cascade.go).
	cascade *cascade
}

// preIndex adds e to the pre-projection (once) and returns its index.
func (a *aggPlan) preIndex(e plan.Expr) int {
	for i, p := range a.pre {
		if p.String() == e.String() {
			return i
		}
	}
	a.pre = append(a.pre, e)
	return len(a.pre) - 1
}

// cascadeProp returns the window property (propEnd, propTime) input
// column c is in a cascaded window aggregation, read from the WindowAgg's
// window.
func (a *aggPlan) cascadeProp(c scopeCol) (int, bool) {
	if a.cascade == nil || c.expr != nil {
		return 0, false
	}
	p, ok := a.cascade.props[c.index]
	return p, ok
}

// outIndex returns the WindowAgg output column of a window property.
func (a *aggPlan) windowCol(name string) int {
	switch name {
	case "window_start":
		return len(a.keys)
	case "window_end":
		return len(a.keys) + 1
	}
	return len(a.keys) + 2
}

func (b *builder) planAggregate(sel *parser.Select, rel *relation) (*relation, error) {
	a := &aggPlan{in: rel, inScope: rel.scope("GROUP BY"), tvf: rel.win != nil}
	var w plan.Window
	var keyAst []parser.Expr
	if rel.win != nil {
		hasStart, hasEnd := false, false
		for _, g := range sel.GroupBy {
			if c, ok := g.(*parser.ColumnExpr); ok {
				if sc, err := rel.scope("GROUP BY").resolve(c); err == nil && sc.window {
					hasStart = hasStart || sc.name == "window_start"
					hasEnd = hasEnd || sc.name == "window_end"
					continue
				}
			}
			keyAst = append(keyAst, g)
		}
		if !hasStart || !hasEnd {
			return nil, errorf(sel.Pos, "an aggregation over a %s window must GROUP BY window_start, window_end", rel.win.w.Kind)
		}
		w, a.wpos = rel.win.w, rel.win.pos
	} else {
		var win *parser.FuncCall
		for _, g := range sel.GroupBy {
			if f, ok := g.(*parser.FuncCall); ok && windowFuncs[f.Name] {
				if win != nil {
					return nil, errorf(f.Pos, "only one group window is allowed in GROUP BY")
				}
				win = f
				continue
			}
			keyAst = append(keyAst, g)
		}
		if win == nil {
			if a.cascade = b.cascadeOf(rel, keyAst); a.cascade == nil {
				a.group = true
				return b.planGroupAgg(sel, rel, a, keyAst)
			}
			w, a.wpos = a.cascade.tumbling(), sel.Pos
			keyAst = append(keyAst[:a.cascade.endItem:a.cascade.endItem], keyAst[a.cascade.endItem+1:]...)
			if a.cascade.endItem < a.cascade.startKey {
				a.cascade.startKey--
			}
		} else {
			var err error
			if w, err = legacyWindow(a.inScope, win, b.p.TimeZone); err != nil {
				return nil, err
			}
			a.legacy, a.wpos = win.Name, win.Pos
		}
	}
	a.w = w
	// The time column comes first in the pre-projection.
	if a.cascade != nil {
		a.preIndex(a.cascade.time)
	} else {
		tc := rel.cols[w.TimeCol]
		a.preIndex(&plan.ColumnRef{Index: tc.index, Name: tc.name, T: tc.t})
	}
	w.TimeCol = 0
	keyIdx := make([]int, 0, len(keyAst))
	for _, k := range keyAst {
		e, err := a.inScope.bind(k)
		if err != nil {
			return nil, err
		}
		if containsAgg(k) {
			return nil, errorf(k.Position(), "aggregate functions are not allowed in GROUP BY")
		}
		a.keys = append(a.keys, e)
		keyIdx = append(keyIdx, a.preIndex(e))
	}
	if w.Kind == plan.Session && a.tvf {
		if err := checkSessionPartition(rel, a, keyAst, sel); err != nil {
			return nil, err
		}
	}
	// Bind HAVING and the select list over the WindowAgg's output.
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
		col := scopeCol{name: itemName(it, i), t: e.Type(), index: len(out.cols)}
		if r, ok := e.(*plan.ColumnRef); ok && r.Index == a.windowCol("window_time") {
			col.rowtime, col.proctime = !a.w.ProcTime, a.w.ProcTime
		}
		exprs = append(exprs, e)
		out.cols = append(out.cols, col)
	}
	uniquifyNames(out.cols)
	// WHERE filters the input rows before windowing.
	filter, err := where(sel, rel)
	if err != nil {
		return nil, err
	}
	// Late rows kept in a late-rows table carry the source columns it
	// takes: lateCols holds the pre-projection column of each (-1 for
	// those it does not take).
	var lateCols []int
	if rel.late != nil && !w.ProcTime {
		lateCols = make([]int, len(rel.late.cols))
		for i := range lateCols {
			lateCols[i] = -1
		}
		for _, f := range rel.late.table.SinkSchema().Fields {
			i := index(rel.late.cols, key(f.Name))
			c := rel.cols[i]
			lateCols[i] = a.preIndex(&plan.ColumnRef{Index: c.index, Name: c.name, T: c.t})
		}
	}
	// The pre-projection: skipped when it only picks input columns.
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
		input = pre
	}
	wa := &plan.WindowAgg{Input: input, Window: w}
	if err := b.emitStrategy(wa, a.wpos); err != nil {
		return nil, err
	}
	wa.Window.TimeCol = remap(0)
	for _, k := range keyIdx {
		wa.Keys = append(wa.Keys, remap(k))
	}
	for _, ag := range a.aggs {
		if ag.Arg >= 0 {
			ag.Arg = remap(ag.Arg)
		}
		if ag.Filter >= 0 {
			ag.Filter = remap(ag.Filter)
		}
		wa.Aggs = append(wa.Aggs, ag)
	}
	for i, k := range a.keys {
		wa.Output.Fields = append(wa.Output.Fields, types.Field{Name: preName(k, i+1), Type: k.Type()})
	}
	for _, name := range []string{"window_start", "window_end", "window_time"} {
		wa.Output.Fields = append(wa.Output.Fields, types.Field{Name: name, Type: windowColType(w, name)})
	}
	for i, ag := range a.aggs {
		wa.Output.Fields = append(wa.Output.Fields, types.Field{Name: fmt.Sprintf("agg$%d", i), Type: ag.T})
	}
	if a.cascade != nil {
		if b.cascades == nil {
			b.cascades = map[*plan.WindowAgg]cascadeWindow{}
		}
		b.cascades[wa] = cascadeWindow{w: a.cascade.w, startKey: a.cascade.startKey}
	}
	if lateCols != nil {
		b.keepLate(rel.late, wa, func(i int) int { return remap(lateCols[i]) })
	}
	calc := &plan.Calc{Input: wa, Filter: having, Exprs: exprs}
	calc.Output = out.schema()
	out.node = calc
	return out, nil
}

func preName(e plan.Expr, i int) string {
	if r, ok := e.(*plan.ColumnRef); ok {
		return r.Name
	}
	return fmt.Sprintf("$%d", i)
}

// checkSessionPartition requires a SESSION TVF's PARTITION BY columns to be
// exactly its GROUP BY keys: sessions are tracked per group key.
func checkSessionPartition(rel *relation, a *aggPlan, keyAst []parser.Expr, sel *parser.Select) error {
	part := map[int]bool{}
	for _, p := range rel.win.partition {
		part[p] = true
	}
	keys := map[int]bool{}
	for _, k := range a.keys {
		if r, ok := k.(*plan.ColumnRef); ok {
			keys[r.Index] = true
		}
	}
	same := len(part) == len(keys) && len(keys) == len(a.keys)
	for p := range part {
		same = same && keys[p]
	}
	if !same {
		pos := rel.win.pos
		if len(keyAst) > 0 {
			pos = keyAst[0].Position()
		}
		return errorf(pos, "a SESSION window aggregation must GROUP BY exactly its PARTITION BY columns (sessions are tracked per key); write SESSION(TABLE t PARTITION BY k, …) … GROUP BY window_start, window_end, k")
	}
	return nil
}

// legacyWindow reads GROUP BY TUMBLE(ts, size) / HOP(ts, slide, size) /
// SESSION(ts, gap) / CUMULATE(ts, step, size).
func legacyWindow(sc *scope, f *parser.FuncCall, zone *types.Zone) (plan.Window, error) {
	var w plan.Window
	want := map[string]int{"TUMBLE": 2, "HOP": 3, "SESSION": 2, "CUMULATE": 3}[f.Name]
	if len(f.Args) != want {
		return w, errorf(f.Pos, "%s takes %d arguments (the time attribute and %d intervals), got %d", f.Name, want, want-1, len(f.Args))
	}
	c, ok := f.Args[0].(*parser.ColumnExpr)
	if !ok {
		return w, errorf(f.Args[0].Position(), "the first argument of %s must be a time attribute column", f.Name)
	}
	col, err := sc.resolve(c)
	if err != nil {
		return w, err
	}
	if !col.rowtime && !col.proctime {
		return w, errorf(c.Pos, "column %q is not a time attribute: declare WATERMARK FOR %s AS … on its table", col.name, col.name)
	}
	w.ProcTime = col.proctime
	w.Zone = windowZone(col.t, zone)
	var ms []int64
	for _, a := range f.Args[1:] {
		v, err := intervalArg(sc, a)
		if err != nil {
			return w, err
		}
		ms = append(ms, v)
	}
	w.TimeCol = col.index
	switch f.Name {
	case "TUMBLE":
		w.Kind, w.Size = plan.Tumble, ms[0]
	case "HOP":
		w.Kind, w.Slide, w.Size = plan.Hop, ms[0], ms[1]
	case "SESSION":
		w.Kind, w.Gap = plan.Session, ms[0]
	case "CUMULATE":
		w.Kind, w.Step, w.Size = plan.Cumulate, ms[0], ms[1]
	}
	return w, checkWindow(f.Pos, w)
}

// intercept binds, in the select list and HAVING of an aggregation,
// aggregate calls, window properties and GROUP BY expressions to columns of
// the WindowAgg's output; other nodes are bound by the scope as usual.
func (a *aggPlan) intercept(as *scope, e parser.Expr) (plan.Expr, bool, error) {
	switch x := e.(type) {
	case *parser.FuncCall:
		if fn, ok := aggregateFuncs[x.Name]; ok && x.Over == nil {
			ref, err := a.aggregate(x, fn)
			return ref, true, err
		}
		if prop, ok := windowProps[x.Name]; ok {
			prefix := x.Name[:strings.IndexByte(x.Name, '_')]
			if a.legacy != prefix {
				return nil, true, errorf(x.Pos, "%s needs GROUP BY %s(…)", x.Name, prefix)
			}
			return &plan.ColumnRef{Index: a.windowCol(prop), Name: prop, T: windowColType(a.w, prop)}, true, nil
		}
	case *parser.ColumnExpr:
		c, err := as.resolve(x)
		if err != nil {
			return nil, true, err
		}
		if c.window {
			return &plan.ColumnRef{Index: a.windowCol(c.name), Name: c.name, T: windowColType(a.w, c.name)}, true, nil
		}
		if p, ok := a.cascadeProp(*c); ok {
			name := propNames[p]
			return &plan.ColumnRef{Index: a.windowCol(name), Name: name, T: windowColType(a.w, name)}, true, nil
		}
	}
	if containsAgg(e) {
		return nil, false, nil
	}
	// An expression equal to a GROUP BY key reads the key column.
	b, err := a.inScope.bind(e)
	if err == nil {
		for i, k := range a.keys {
			if k.String() == b.String() {
				return &plan.ColumnRef{Index: i, Name: preName(k, i+1), T: k.Type()}, true, nil
			}
		}
		if l, ok := b.(*plan.Literal); ok {
			return l, true, nil
		}
	}
	if c, ok := e.(*parser.ColumnExpr); ok {
		return nil, true, errorf(c.Pos, "column %q must appear in GROUP BY or be used in an aggregate function", c.Name.Name)
	}
	return nil, false, nil
}

// aggregate plans one aggregate call and returns the reference to its
// output column.
func (a *aggPlan) aggregate(f *parser.FuncCall, fn plan.AggFunc) (plan.Expr, error) {
	call := plan.AggCall{Func: fn, Arg: -1, Filter: -1, Distinct: f.Distinct}
	if f.Filter != nil {
		if containsAgg(f.Filter) {
			return nil, errorf(f.Filter.Position(), "aggregate functions are not allowed in FILTER (WHERE …)")
		}
		sc := *a.inScope
		sc.what = "FILTER (WHERE …)"
		cond, err := sc.bind(f.Filter)
		if err != nil {
			return nil, err
		}
		if cond, err = toBool(f.Filter.Position(), cond, "FILTER (WHERE …)"); err != nil {
			return nil, err
		}
		call.Filter = a.preIndex(cond)
	}
	switch {
	case f.Star:
		if fn != plan.Count {
			return nil, errorf(f.Pos, "%s(*) is not allowed; only COUNT(*)", f.Name)
		}
		call.Func = plan.CountStar
		call.T = types.BigIntType.WithNotNull(true)
	case len(f.Args) != 1:
		return nil, errorf(f.Pos, "%s takes one argument, got %d", f.Name, len(f.Args))
	default:
		if containsAgg(f.Args[0]) {
			return nil, errorf(f.Args[0].Position(), "aggregate functions cannot be nested")
		}
		sc := *a.inScope
		sc.what = "an aggregate's argument"
		arg, err := sc.bind(f.Args[0])
		if err != nil {
			return nil, err
		}
		t := arg.Type()
		switch fn {
		case plan.Count:
			call.T = types.BigIntType.WithNotNull(true)
		case plan.Sum, plan.Avg:
			if !t.IsNumeric() {
				return nil, errorf(f.Args[0].Position(), "%s needs a numeric argument, got %s", f.Name, t)
			}
			call.T = sumType(fn, t)
		case plan.Min, plan.Max:
			if t.Kind == types.Null || t.Kind == types.Interval {
				return nil, errorf(f.Args[0].Position(), "%s cannot aggregate values of type %s", f.Name, t)
			}
			call.T = t.Nullable()
		}
		if f.Distinct && (fn == plan.Min || fn == plan.Max) {
			call.Distinct = false // MIN/MAX(DISTINCT x) = MIN/MAX(x)
		}
		call.Arg = a.preIndex(arg)
	}
	k := fmt.Sprintf("%d/%d/%v/%d", call.Func, call.Arg, call.Distinct, call.Filter)
	i := -1
	for j, ak := range a.aggKeys {
		if ak == k {
			i = j
		}
	}
	if i < 0 {
		a.aggs = append(a.aggs, call)
		a.aggKeys = append(a.aggKeys, k)
		i = len(a.aggs) - 1
	}
	off := 3 // window_start, window_end, window_time
	if a.group {
		off = 0
	}
	return &plan.ColumnRef{Index: len(a.keys) + off + i, Name: fmt.Sprintf("agg$%d", i), T: call.T}, nil
}

// sumType is the result type of SUM and AVG, as in Flink: SUM widens
// integers to BIGINT, floats to DOUBLE and DECIMAL(p, s) to DECIMAL(38, s);
// AVG keeps an integer argument's type and makes DECIMAL(p, s) a
// DECIMAL(38, max(6, s)) (Flink's LogicalTypeMerging.findAvgAggType).
func sumType(fn plan.AggFunc, t types.Type) types.Type {
	switch t.Kind {
	case types.Int, types.BigInt:
		if fn == plan.Sum {
			return types.BigIntType
		}
		return t.Nullable()
	case types.Float, types.Double:
		return types.DoubleType
	case types.Decimal:
		if fn == plan.Avg {
			return types.DecimalType(38, max(6, t.Scale))
		}
		return types.DecimalType(38, t.Scale)
	}
	return t.Nullable()
}

// emitStrategy applies the session's emit strategy (allowed lateness,
// early firing) to the event-time window aggregation wa, written at pos.
// Processing-time windows have no late rows, so lateness does not apply
// to them, as in Flink.
func (b *builder) emitStrategy(wa *plan.WindowAgg, pos parser.Pos) error {
	o := b.p.Updating
	if o.AllowLateness <= 0 && o.EarlyFire == 0 && !o.LateFire {
		return nil
	}
	if o.EarlyFire < 0 {
		return errorf(pos, "'table.exec.emit.early-fire.enabled' is true but 'table.exec.emit.early-fire.delay' is not set; SET it to how often partial results are emitted (e.g. '5 s')")
	}
	if o.LateFire && o.LateFireDelay < 0 {
		return errorf(pos, "'table.exec.emit.late-fire.enabled' is true but 'table.exec.emit.late-fire.delay' is not set; SET it to how often late updates are emitted (e.g. '5 s', or '0' for every row)")
	}
	if o.LateFire && o.AllowLateness <= 0 && !wa.Window.ProcTime {
		return errorf(pos, "'table.exec.emit.late-fire.enabled' needs 'table.exec.emit.allow-lateness': without it a %s window drops its late rows, and there is nothing to fire late; SET the allowed lateness (e.g. '1 min')", wa.Window.Kind)
	}
	if wa.Window.ProcTime {
		// A processing-time window has no late rows: late firing and
		// lateness are ignored, as in Flink.
		if o.EarlyFire > 0 {
			return errorf(pos, "early firing ('table.exec.emit.early-fire.enabled') applies to event-time windows; this %s window is over a processing-time attribute, and fires on the clock already", wa.Window.Kind)
		}
		return nil
	}
	wa.AllowLateness, wa.EarlyFire = max(o.AllowLateness, 0), o.EarlyFire
	if o.LateFire {
		wa.LateFire = o.LateFireDelay
	}
	return nil
}
