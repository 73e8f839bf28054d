package planner

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// relation is a planned FROM item or query: the node producing its rows
// and the columns visible to the enclosing query.
type relation struct {
	node plan.Node
	// cols are node's output columns (cols[i].index == i), followed, for a
	// window TVF, by its virtual window_start, window_end and window_time.
	cols []scopeCol
	name string // "table bids", for error messages
	win  *tvfWindow
	cat  *Catalog // for user-defined functions
	// late is set while the relation's rows are those of a table with a
	// late-rows table (late.go).
	late *lateScan
}

// tvfWindow is the window of a window TVF, planned once an aggregation
// (or a projection) consumes it.
type tvfWindow struct {
	w         plan.Window
	partition []int
	pos       parser.Pos
}

func (r *relation) scope(what string) *scope {
	return &scope{cols: r.cols, table: r.name, what: what, cat: r.cat}
}

// schema is the schema of r's real (non-virtual) columns.
func (r *relation) schema() types.Schema {
	var s types.Schema
	for _, c := range r.cols {
		if !c.window {
			s.Fields = append(s.Fields, types.Field{Name: c.name, Type: c.t})
		}
	}
	return s
}

// builder plans one statement.
type builder struct {
	p *Planner
	// views being expanded, to refuse a view that refers to itself.
	expanding []string
	// shared, in a statement set, holds the Source of each table (by
	// key) that an INSERT read, for the later INSERTs to share; read holds
	// the tables the current INSERT read, which it reads again through a
	// Source of its own (a node is never twice the input of one consumer).
	shared map[string]*plan.Source
	read   map[string]bool
	// env holds the common table expressions (WITH) in scope.
	env *cteEnv
	// cascades holds the cascaded window aggregations planned (cascade.go).
	cascades map[*plan.WindowAgg]cascadeWindow
	// hints are the STATE_TTL options of the SELECT being planned (its
	// own join and aggregation take them, not its subqueries'); inputs
	// names the inputs of that join or aggregation, for errors.
	hints  ttlHints
	inputs []string
	// late holds the late rows kept for each late-rows table (by key, in
	// lateOrder).
	late      map[string]*lateSide
	lateOrder []string
}

// physicalScope returns the scope of t's source columns (physical and
// metadata), in which computed columns are bound.
func physicalScope(t *Table) *scope {
	phys := &scope{table: "table " + t.Name, what: "a computed column"}
	i := 0
	for _, c := range t.Columns {
		if c.Kind != Computed {
			phys.cols = append(phys.cols, scopeCol{name: c.Name, table: t.Name, t: c.Type, index: i})
			i++
		}
	}
	return phys
}

// fullScope returns a scope of every column of t over its source schema,
// with computed columns standing for their expressions.
func fullScope(t *Table) (*scope, error) {
	phys := physicalScope(t)
	full := &scope{table: "table " + t.Name, what: "a WATERMARK"}
	j := 0
	for _, c := range t.Columns {
		if c.Kind == Computed {
			e, err := phys.bind(c.Expr)
			if err != nil {
				return nil, err
			}
			full.cols = append(full.cols, scopeCol{name: c.Name, table: t.Name, t: e.Type(), expr: e})
			continue
		}
		full.cols = append(full.cols, phys.cols[j])
		j++
	}
	return full, nil
}

// watermark binds t's WATERMARK declaration over its source schema.
func (p *Planner) watermark(t *Table) (*plan.Watermark, error) {
	wd := t.Watermark
	if wd == nil {
		return nil, nil
	}
	full, err := fullScope(t)
	if err != nil {
		return nil, err
	}
	col, err := full.resolve(&parser.ColumnExpr{Pos: wd.Column.Pos, Name: wd.Column})
	if err != nil {
		return nil, err
	}
	if col.expr != nil && isProcTime(col.expr) {
		return nil, errorf(wd.Column.Pos, "WATERMARK FOR %s: %s is a processing-time attribute (PROCTIME()), which has no watermark; declare the watermark on an event-time column", col.name, col.name)
	}
	if !col.t.IsTemporal() {
		return nil, errorf(wd.Column.Pos, "WATERMARK FOR %s: the rowtime column must be TIMESTAMP(3) or TIMESTAMP_LTZ(3), not %s", col.name, col.t)
	}
	e, err := full.bind(wd.Expr)
	if err != nil {
		return nil, err
	}
	if !e.Type().IsTemporal() {
		return nil, errorf(wd.Expr.Position(), "the WATERMARK expression must be a timestamp, got %s", e.Type())
	}
	w := &plan.Watermark{TimeCol: -1, Expr: e}
	if v, ok := t.Options["scan.watermark.idle-timeout"]; ok {
		d, err := types.ParseInterval(v)
		if err != nil || d < 0 {
			return nil, errorf(t.OptionPos["scan.watermark.idle-timeout"], "option 'scan.watermark.idle-timeout': expected a duration such as '5 s', got %q", v)
		}
		w.IdleTimeout = d
	}
	if v, ok := t.Options["scan.watermark.max-future"]; ok {
		d, err := types.ParseInterval(v)
		if err != nil || d <= 0 {
			return nil, errorf(t.OptionPos["scan.watermark.max-future"], "option 'scan.watermark.max-future': expected a positive duration such as '1 h', got %q", v)
		}
		w.MaxFuture = d
	}
	if col.expr == nil {
		w.TimeCol = col.index
	}
	return w, nil
}

func (b *builder) planFrom(ref parser.TableRef) (*relation, error) {
	switch r := ref.(type) {
	case *parser.TableName:
		return b.planTableName(r)
	case *parser.SubqueryRef:
		if i := rankItem(r.Query); i >= 0 {
			f := r.Query.Items[i].Expr.(*parser.FuncCall)
			return nil, errorf(f.Pos, "%s() OVER (…) is only supported in a Top-N query: SELECT … FROM (SELECT …, %s() OVER (…) AS rn FROM …) WHERE rn <= N", f.Name, f.Name)
		}
		rel, err := b.planSelect(r.Query)
		if err != nil {
			return nil, err
		}
		if err := b.nameSubquery(rel, r); err != nil {
			return nil, err
		}
		return rel, nil
	case *parser.WindowTVF:
		return b.planWindowTVF(r)
	case *parser.JoinRef:
		rel, _, err := b.planJoinFrom(r, nil, false)
		return rel, err
	case nil:
		return nil, fmt.Errorf("planner: missing FROM item")
	}
	return nil, errorf(ref.Position(), "unsupported FROM item %T", ref)
}

// nameSubquery names the columns of rel, the relation of the subquery r,
// by r's alias (and its column list).
func (b *builder) nameSubquery(rel *relation, r *parser.SubqueryRef) error {
	alias := ""
	if r.Alias != nil {
		alias = r.Alias.Name
		rel.name = "subquery " + alias
		if err := renameColumns(rel, r.Alias, r.Columns, "subquery"); err != nil {
			return err
		}
	}
	for i := range rel.cols {
		rel.cols[i].table = alias
	}
	return nil
}

func (b *builder) planTableName(r *parser.TableName) (*relation, error) {
	if r.AsOf != nil {
		return nil, errorf(r.AsOf.Position(), "FOR SYSTEM_TIME AS OF is only supported on the right side of a join (a lookup or temporal join: FROM o JOIN %s FOR SYSTEM_TIME AS OF o.time_attribute ON …)", r.Name.Name)
	}
	alias := r.Name.Name
	if r.Alias != nil {
		alias = r.Alias.Name
	}
	if def := b.env.lookup(r.Name); def != nil {
		return b.planCTE(def, r)
	}
	if v, ok := b.p.Catalog.View(r.Name.Name); ok {
		for _, e := range b.expanding {
			if strings.EqualFold(e, v.Name) {
				return nil, errorf(r.Pos, "view %q refers to itself", v.Name)
			}
		}
		b.expanding = append(b.expanding, v.Name)
		env := b.env
		b.env = nil // a view does not see the WITH queries around it
		rel, err := b.planSelect(v.Query)
		b.env = env
		b.expanding = b.expanding[:len(b.expanding)-1]
		if err != nil {
			return nil, fmt.Errorf("in view %s: %w", v.Name, err)
		}
		for i := range rel.cols {
			rel.cols[i].table = alias
			if v.Columns != nil {
				rel.cols[i].name = v.Columns[i]
			}
		}
		rel.name = "view " + v.Name
		return rel, nil
	}
	t, ok := b.p.Catalog.Table(r.Name.Name)
	if !ok {
		if hint := b.cteHint(r.Name); hint != "" {
			return nil, errorf(r.Name.Pos, "unknown table %q; did you mean the WITH query %q?", r.Name.Name, hint)
		}
		return nil, b.p.unknownRelation(r.Name, "table")
	}
	src := &plan.Source{Table: t.Name, Connector: t.Options["connector"], Options: t.Options}
	src.Output = t.SourceSchema()
	if err := b.p.validateConnector(t, src.Output, false); err != nil {
		return nil, err
	}
	wm, err := b.p.watermark(t)
	if err != nil {
		return nil, err
	}
	src.Watermark = wm
	for _, c := range t.Columns {
		if c.Kind == Metadata {
			src.Metadata = make([]string, 0, src.Output.Len())
			break
		}
	}
	if src.Metadata != nil {
		for _, c := range t.Columns {
			switch c.Kind {
			case Metadata:
				src.Metadata = append(src.Metadata, c.MetadataKey)
			case Physical:
				src.Metadata = append(src.Metadata, "")
			}
		}
	}
	if b.shared != nil && !b.read[key(t.Name)] {
		if s, ok := b.shared[key(t.Name)]; ok {
			src = s
		} else {
			b.shared[key(t.Name)] = src
		}
	}
	if b.read != nil {
		b.read[key(t.Name)] = true
	}
	rowtime := ""
	if t.Watermark != nil {
		rowtime = t.Watermark.Column.Name
	}
	rel := &relation{node: src, name: "table " + t.Name, cat: b.p.Catalog}
	full, err := fullScope(t)
	if err != nil {
		return nil, err
	}
	var exprs []plan.Expr
	computed := false
	for i, c := range full.cols {
		e := c.expr
		if e == nil {
			e = &plan.ColumnRef{Index: c.index, Name: c.name, T: c.t}
		} else {
			computed = true
		}
		exprs = append(exprs, e)
		rel.cols = append(rel.cols, scopeCol{name: c.name, table: alias, t: c.t, index: i, rowtime: strings.EqualFold(c.name, rowtime), proctime: t.Columns[i].ProcTime})
	}
	if computed {
		calc := &plan.Calc{Input: src, Exprs: exprs}
		calc.Output = t.Schema()
		rel.node = calc
	}
	if err := b.scanLate(t, rel); err != nil {
		return nil, err
	}
	return rel, nil
}

func (b *builder) planWindowTVF(r *parser.WindowTVF) (*relation, error) {
	in, err := b.planFrom(r.Input)
	if err != nil {
		return nil, err
	}
	if in.win != nil {
		return nil, errorf(r.Input.Position(), "a window TVF over another window TVF is not supported")
	}
	sc := in.scope("a window TVF")
	tc, err := sc.resolve(&parser.ColumnExpr{Pos: r.TimeCol.Pos, Name: r.TimeCol})
	if err != nil {
		return nil, err
	}
	if !tc.rowtime && !tc.proctime {
		if tc.notRowtime != "" {
			return nil, errorf(r.TimeCol.Pos, "column %q is not a time attribute: %s", tc.name, tc.notRowtime)
		}
		return nil, errorf(r.TimeCol.Pos, "column %q is not a time attribute: declare WATERMARK FOR %s AS … on its table", tc.name, tc.name)
	}
	// The last argument may be an offset, which may be zero or negative;
	// the others are sizes, which must be positive.
	sizes := map[string][]string{"TUMBLE": {"SIZE"}, "HOP": {"SLIDE", "SIZE"}, "CUMULATE": {"STEP", "SIZE"}, "SESSION": {"GAP"}}[r.Func]
	var ms []int64
	for i, a := range r.Args {
		v, err := intervalLiteral(sc, a)
		if err != nil {
			return nil, err
		}
		if i < len(sizes) && v <= 0 {
			return nil, errorf(a.Position(), "the %s of a %s window must be a positive interval, got %dms (only the offset may be zero or negative)", sizes[i], r.Func, v)
		}
		ms = append(ms, v)
	}
	w := plan.Window{TimeCol: tc.index, ProcTime: tc.proctime, Zone: windowZone(tc.t, b.p.TimeZone)}
	want := map[string][2]int{"TUMBLE": {1, 2}, "HOP": {2, 3}, "CUMULATE": {2, 3}, "SESSION": {1, 1}}[r.Func]
	if len(ms) < want[0] || len(ms) > want[1] {
		return nil, errorf(r.Pos, "%s takes %d interval arguments after DESCRIPTOR, got %d", r.Func, want[0], len(ms))
	}
	switch r.Func {
	case "TUMBLE":
		w.Kind, w.Size = plan.Tumble, ms[0]
		if len(ms) > 1 {
			w.Offset = ms[1]
		}
	case "HOP":
		w.Kind, w.Slide, w.Size = plan.Hop, ms[0], ms[1]
		if len(ms) > 2 {
			w.Offset = ms[2]
		}
	case "CUMULATE":
		w.Kind, w.Step, w.Size = plan.Cumulate, ms[0], ms[1]
		if len(ms) > 2 {
			w.Offset = ms[2]
		}
	case "SESSION":
		w.Kind, w.Gap = plan.Session, ms[0]
	default:
		return nil, errorf(r.Pos, "unknown window function %s", r.Func)
	}
	if err := checkWindow(r.Pos, w); err != nil {
		return nil, err
	}
	tw := &tvfWindow{w: w, pos: r.Pos}
	if len(r.PartitionBy) > 0 && w.Kind != plan.Session {
		return nil, errorf(r.PartitionBy[0].Pos, "PARTITION BY is only allowed in SESSION windows")
	}
	for _, pcol := range r.PartitionBy {
		c, err := sc.resolve(&parser.ColumnExpr{Pos: pcol.Pos, Name: pcol})
		if err != nil {
			return nil, err
		}
		tw.partition = append(tw.partition, c.index)
	}
	alias := ""
	if r.Alias != nil {
		alias = r.Alias.Name
	}
	rel := &relation{node: in.node, name: in.name, win: tw, cat: in.cat, late: in.late}
	for _, c := range in.cols {
		if alias != "" {
			c.table = alias
		}
		rel.cols = append(rel.cols, c)
	}
	n := len(in.cols)
	for i, name := range []string{"window_start", "window_end", "window_time"} {
		rel.cols = append(rel.cols, windowCol(w, name, alias, n+i, true))
	}
	return rel, nil
}

// isProcTime reports whether e is PROCTIME().
func isProcTime(e plan.Expr) bool {
	c, ok := e.(*plan.Call)
	return ok && c.Func == "PROCTIME"
}

// windowCol is the scope column of window property name (window_start,
// window_end, window_time) of window w at index i: window_start and
// window_end are TIMESTAMP(3); window_time is the window's time attribute,
// a rowtime or a proctime, a TIMESTAMP_LTZ(3) when the window's time
// attribute is one (PROCTIME() always), as Flink gives them.
func windowCol(w plan.Window, name, table string, i int, virtual bool) scopeCol {
	c := scopeCol{name: name, table: table, t: windowColType(w, name), index: i, window: virtual}
	if name == "window_time" {
		c.rowtime, c.proctime = !w.ProcTime, w.ProcTime
	}
	return c
}

// windowColType is the type of window property name of w.
func windowColType(w plan.Window, name string) types.Type {
	if name == "window_time" && (w.ProcTime || w.Zone != nil) {
		return types.LTZType.WithNotNull(true)
	}
	return types.TimestampType.WithNotNull(true)
}

// windowZone is the plan.Window.Zone of a window over a time attribute of
// type t in session zone zone: nil for a TIMESTAMP, else the zone (UTC
// when unset), which marks window_time a TIMESTAMP_LTZ.
func windowZone(t types.Type, zone *types.Zone) *types.Zone {
	switch {
	case t.Kind != types.TimestampLTZ:
		return nil
	case zone == nil:
		return types.UTCZone
	}
	return zone
}

func checkWindow(pos parser.Pos, w plan.Window) error {
	switch w.Kind {
	case plan.Hop:
		if w.Size%w.Slide != 0 {
			return errorf(pos, "HOP window size (%dms) must be a multiple of its slide (%dms)", w.Size, w.Slide)
		}
	case plan.Cumulate:
		if w.Size%w.Step != 0 {
			return errorf(pos, "CUMULATE window max size (%dms) must be a multiple of its step (%dms)", w.Size, w.Step)
		}
	}
	return nil
}

// intervalArg reads a window size: a positive interval literal.
func intervalArg(sc *scope, a parser.Expr) (int64, error) {
	v, err := intervalLiteral(sc, a)
	if err != nil {
		return 0, err
	}
	if v <= 0 {
		return 0, errorf(a.Position(), "window intervals must be positive, got %dms", v)
	}
	return v, nil
}

// intervalLiteral reads a constant interval (INTERVAL '-4' MINUTE and
// -INTERVAL '4' MINUTE fold to the same literal) in milliseconds.
func intervalLiteral(sc *scope, a parser.Expr) (int64, error) {
	e, err := sc.bind(a)
	if err != nil {
		return 0, err
	}
	l, ok := e.(*plan.Literal)
	if !ok || l.T.Kind != types.Interval {
		return 0, errorf(a.Position(), "expected an interval literal such as INTERVAL '10' SECOND")
	}
	v, ok := l.Value.(int64)
	if !ok {
		return 0, errorf(a.Position(), "expected a non-NULL interval")
	}
	return v, nil
}

// planQuery plans the outermost SELECT of a statement, which may have a
// LIMIT: the job ends once that many rows have passed.
func (b *builder) planQuery(sel *parser.Select) (*relation, error) {
	if len(sel.OrderBy) > 0 {
		return b.planOrderBy(sel)
	}
	if sel.Limit == nil {
		return b.planSelect(sel)
	}
	if *sel.Limit <= 0 {
		return nil, errorf(sel.Pos, "LIMIT must be positive, got %d", *sel.Limit)
	}
	inner := *sel
	inner.Limit = nil
	rel, err := b.planSelect(&inner)
	if err != nil {
		return nil, err
	}
	l := &plan.Limit{Input: rel.node, N: *sel.Limit}
	l.Output = rel.schema()
	return &relation{node: l, cols: rel.cols, name: rel.name, cat: rel.cat}, nil
}

// planSelect plans one SELECT block, or a UNION ALL of several, with its
// hints (hints.go): an option of a STATE_TTL hint that no join or
// aggregation of the block took is an error.
func (b *builder) planSelect(sel *parser.Select) (*relation, error) {
	h, err := readHints(sel)
	if err != nil {
		return nil, err
	}
	saved, savedInputs := b.hints, b.inputs
	defer func() { b.hints, b.inputs = saved, savedInputs }()
	b.hints, b.inputs = h, nil
	rel, err := b.planSelectBlock(sel)
	if err == nil && h != nil {
		err = h.unused(b.inputs)
	}
	return rel, err
}

// planSelectBlock is planSelect without the hints.
func (b *builder) planSelectBlock(sel *parser.Select) (*relation, error) {
	if len(sel.With) > 0 {
		return b.planWith(sel)
	}
	if len(sel.OrderBy) > 0 {
		return nil, errorf(sel.OrderBy[0].Pos, "ORDER BY is only supported on the outermost query (by a time attribute ascending)")
	}
	if len(sel.UnionAll) > 0 {
		return b.planUnion(sel)
	}
	if sel.Values != nil {
		if sel.Limit != nil {
			return nil, errorf(sel.Pos, "LIMIT is only supported on the outermost query")
		}
		return b.planValues(sel)
	}
	var rel *relation
	var err error
	if sq, ri, ok := rankSubquery(sel); ok {
		if rel, sel, err = b.planRank(sel, sq, ri); err != nil {
			return nil, err
		}
	} else if sel.From == nil {
		if rel, sel, err = b.scalarJoins(b.noFrom(), sel); err != nil {
			return nil, err
		}
	} else if rel, sel, err = b.planFromWhere(sel); err != nil {
		return nil, err
	}
	if calls := overCalls(sel); len(calls) > 0 {
		if sel.Distinct {
			return nil, errorf(sel.Pos, "SELECT DISTINCT with OVER aggregates is not supported yet; select from a subquery")
		}
		return b.planOver(sel, rel, calls)
	}
	if sel.Distinct && distinctOfAggregate(sel) {
		inner := *sel
		inner.Distinct = false
		plan := b.planAggregate
		if hasGroupingSets(&inner) {
			plan = b.planGroupingSets
		}
		r, err := plan(&inner, rel)
		if err != nil {
			return nil, err
		}
		return b.distinctRows(sel.Pos, r)
	}
	if sel.Distinct {
		if sel, err = distinctAsGroupBy(sel); err != nil {
			return nil, err
		}
	}
	if sel.Limit != nil {
		return nil, errorf(sel.Pos, "LIMIT is only supported on the outermost query")
	}
	agg := len(sel.GroupBy) > 0 || sel.Having != nil
	for _, it := range sel.Items {
		agg = agg || it.Expr != nil && containsAgg(it.Expr)
	}
	if agg {
		if hasGroupingSets(sel) {
			return b.planGroupingSets(sel, rel)
		}
		return b.planAggregate(sel, rel)
	}
	if rel.win != nil {
		if rel, err = materializeWindow(rel); err != nil {
			return nil, err
		}
	}
	return project(sel, rel)
}

// materializeWindow plans a window TVF consumed without aggregation: a
// WindowAssign that emits each row once per window it belongs to, with
// window_start, window_end and window_time appended, as Flink does.
func materializeWindow(rel *relation) (*relation, error) {
	out := &relation{name: rel.name, cat: rel.cat}
	for _, c := range rel.cols {
		if !c.window {
			out.cols = append(out.cols, c)
		}
	}
	if w := rel.win.w; w.ProcTime && w.Kind == plan.Session {
		return nil, errorf(rel.win.pos, "a SESSION window over a processing-time attribute is only supported in a window aggregation (GROUP BY window_start, window_end, …)")
	}
	wa := &plan.WindowAssign{Input: rel.node, Window: rel.win.w, Partition: rel.win.partition}
	n := len(out.cols)
	for i, name := range []string{"window_start", "window_end", "window_time"} {
		out.cols = append(out.cols, windowCol(rel.win.w, name, rel.cols[n+i].table, n+i, false))
	}
	wa.Output = out.schema()
	out.node = wa
	return out, nil
}

// itemName is the output name of select item i.
func itemName(it *parser.SelectItem, i int) string {
	if it.Alias != nil {
		return it.Alias.Name
	}
	if c, ok := it.Expr.(*parser.ColumnExpr); ok {
		return c.Name.Name
	}
	return fmt.Sprintf("EXPR$%d", i)
}

// where binds the WHERE clause of sel over rel (nil when there is none).
func where(sel *parser.Select, rel *relation) (plan.Expr, error) {
	if sel.Where == nil {
		return nil, nil
	}
	f, err := rel.scope("WHERE").bind(sel.Where)
	if err != nil {
		return nil, err
	}
	return toBool(sel.Where.Position(), f, "WHERE")
}

// project plans WHERE and the select list of a query without aggregation.
func project(sel *parser.Select, rel *relation) (*relation, error) {
	return projectWith(sel, rel, nil)
}

// projectWith is project with an intercept for the select list's scope
// (nil for none).
func projectWith(sel *parser.Select, rel *relation, intercept func(parser.Expr) (plan.Expr, bool, error)) (*relation, error) {
	filter, err := where(sel, rel)
	if err != nil {
		return nil, err
	}
	sc := rel.scope("the select list")
	sc.intercept = intercept
	out := &relation{name: rel.name, cat: rel.cat}
	var exprs []plan.Expr
	identity := filter == nil
	for i, it := range sel.Items {
		if it.Star {
			matched := false
			for _, c := range rel.cols {
				if c.hidden || it.StarTable != "" && !strings.EqualFold(it.StarTable, c.table) {
					continue
				}
				matched = true
				exprs = append(exprs, &plan.ColumnRef{Index: c.index, Name: c.name, T: c.t})
				c.index = len(out.cols)
				out.cols = append(out.cols, c)
			}
			if !matched {
				return nil, errorf(it.Pos, "unknown table or alias %q in %s.*", it.StarTable, it.StarTable)
			}
			continue
		}
		e, err := sc.bind(it.Expr)
		if err != nil {
			return nil, err
		}
		col := scopeCol{name: itemName(it, i), t: e.Type(), index: len(out.cols), proctime: isProcTime(e)}
		if r, ok := e.(*plan.ColumnRef); ok && r.Index < len(rel.cols) {
			col.rowtime, col.notRowtime = rel.cols[r.Index].rowtime, rel.cols[r.Index].notRowtime
			col.proctime = rel.cols[r.Index].proctime
		}
		exprs = append(exprs, e)
		out.cols = append(out.cols, col)
	}
	uniquifyNames(out.cols)
	for i, e := range exprs {
		r, ok := e.(*plan.ColumnRef)
		identity = identity && ok && r.Index == i && i < len(rel.cols) && out.cols[i].name == rel.cols[i].name
	}
	if identity && len(exprs) == len(rel.schema().Fields) {
		return &relation{node: rel.node, cols: out.cols, name: rel.name, cat: rel.cat}, nil
	}
	calc := &plan.Calc{Input: rel.node, Filter: filter, Exprs: exprs}
	calc.Output = out.schema()
	out.node = calc
	return out, nil
}

// uniquifyNames renames output columns whose name an earlier column
// already has, as Flink does (Calcite's SqlValidatorUtil.uniquify with its
// EXPR_SUGGESTER): the second v becomes v0, a third v1, skipping names
// already taken. Names compare case-insensitively, as column references do.
func uniquifyNames(cols []scopeCol) {
	used := make(map[string]bool, len(cols))
	for i := range cols {
		name := cols[i].name
		if !used[strings.ToLower(name)] {
			used[strings.ToLower(name)] = true
			continue
		}
		for j := 0; ; j++ {
			cand := name + strconv.Itoa(j)
			if !used[strings.ToLower(cand)] {
				used[strings.ToLower(cand)] = true
				cols[i].name = cand
				break
			}
		}
	}
}

// planUnion plans sel UNION ALL sel.UnionAll…: a Union of the terms. The
// terms must have as many columns as the first; each column's type is the
// common type its terms' types widen to implicitly (a Calc casts a term's
// columns where they differ), its name the first term's. A column is a
// time attribute when it is one in every term, with the same type (so a
// window TVF over a view or subquery of a UNION ALL windows by it); the
// union's event time is then the least of its inputs' watermarks.
func (b *builder) planUnion(sel *parser.Select) (*relation, error) {
	first := *sel
	first.UnionAll = nil
	terms := append([]*parser.Select{&first}, sel.UnionAll...)
	rels := make([]*relation, len(terms))
	for i, t := range terms {
		r, err := b.planSelect(t)
		if err != nil {
			return nil, err
		}
		rels[i] = r
	}
	return b.unionOf(terms, rels)
}

// unionOf combines the planned terms of a UNION ALL (see planUnion).
func (b *builder) unionOf(terms []*parser.Select, rels []*relation) (*relation, error) {
	cols := make([]scopeCol, len(rels[0].cols))
	copy(cols, rels[0].cols)
	for i, r := range rels[1:] {
		if len(r.cols) != len(cols) {
			return nil, errorf(terms[i+1].Pos, "UNION ALL: term %d has %s but the first term has %d (%s)", i+2, plural(len(r.cols), "column"), len(cols), strings.Join(rels[0].schema().Names(), ", "))
		}
	}
	for j := range cols {
		t := cols[j].t
		same := true
		for i, r := range rels[1:] {
			rt := r.cols[j].t
			ct, ok := commonType(t, rt)
			if !ok || !implicitly(rt, ct) || !implicitly(t, ct) {
				return nil, errorf(itemPos(terms[i+1], j), "UNION ALL: column %d (%s) has type %s in term %d, which does not combine with %s of the terms before it; add a CAST", j+1, cols[j].name, rt, i+2, t)
			}
			same = same && types.Same(rt.Nullable(), t.Nullable())
			t = ct
		}
		rowtime, some, lacking, proctime := same, false, 0, true
		for i, r := range rels {
			proctime = proctime && r.cols[j].proctime
			rowtime = rowtime && r.cols[j].rowtime
			some = some || r.cols[j].rowtime
			if !r.cols[j].rowtime && lacking == 0 {
				lacking = i + 1
			}
		}
		col := scopeCol{name: cols[j].name, t: t, index: j, rowtime: rowtime, proctime: proctime}
		switch {
		case rowtime || !some:
		case lacking > 0:
			col.notRowtime = fmt.Sprintf("in a UNION ALL a column is a time attribute only when it is one in every term, and in term %d it is not", lacking)
		default:
			col.notRowtime = "in a UNION ALL a time attribute must have the same type in every term"
		}
		cols[j] = col
	}
	out := &relation{cols: cols, name: "UNION ALL", cat: b.p.Catalog}
	schema := out.schema()
	u := &plan.Union{Ins: make([]plan.Node, len(rels))}
	u.Output = schema
	for i, r := range rels {
		u.Ins[i] = castTo(r, schema)
	}
	out.node = u
	return out, nil
}

// castTo returns r's node with its columns cast and renamed to schema's
// (a Calc), or r's node itself when they are schema's already.
func castTo(r *relation, schema types.Schema) plan.Node {
	in := r.schema()
	same := in.Len() == schema.Len()
	for i := 0; same && i < in.Len(); i++ {
		same = in.Fields[i].Name == schema.Fields[i].Name && types.Same(in.Fields[i].Type, schema.Fields[i].Type) && in.Fields[i].Type.NotNull == schema.Fields[i].Type.NotNull
	}
	if same {
		return r.node
	}
	exprs := make([]plan.Expr, schema.Len())
	for i, f := range schema.Fields {
		exprs[i] = coerce(&plan.ColumnRef{Index: i, Name: in.Fields[i].Name, T: in.Fields[i].Type}, f.Type)
	}
	c := &plan.Calc{Input: r.node, Exprs: exprs}
	c.Output = schema
	return c
}

// plural prints n thing, with an s when n is not 1.
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
