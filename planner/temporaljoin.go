package planner

import (
	"strings"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// Lookup and temporal joins: `FROM o JOIN t FOR SYSTEM_TIME AS OF o.x ON …`.
//
// What AS OF names decides the kind, as in Flink: a processing-time
// attribute of the left side (a PROCTIME() column) makes a lookup join
// (plan.LookupJoin: each row asks the table's connector, when it arrives,
// for the rows of its key); an event-time attribute (a rowtime column) an
// event-time temporal join against a versioned table (a PRIMARY KEY and a
// watermark). Either is INNER or LEFT. The equalities between a column of
// the table and an expression of the left side are the key (the left
// expression cast to the column's type where it widens to it); the other
// conjuncts are the residual condition. The output keeps the left side's
// time attributes and is append-only over an append-only left side.

// planTemporalJoin plans join j, whose right side is a table FOR
// SYSTEM_TIME AS OF, over the planned left side.
func (b *builder) planTemporalJoin(j *parser.JoinRef, kind plan.JoinKind, left *relation) (*relation, error) {
	tn := j.Right.(*parser.TableName)
	if left.win != nil { // a window TVF is joined by its rows
		var err error
		if left, err = materializeWindow(left); err != nil {
			return nil, err
		}
	}
	asOf, err := left.scope("FOR SYSTEM_TIME AS OF").bind(tn.AsOf)
	if err != nil {
		return nil, err
	}
	ref, ok := asOf.(*plan.ColumnRef)
	if !ok || ref.Index >= len(left.cols) {
		return nil, errorf(tn.AsOf.Position(), "FOR SYSTEM_TIME AS OF needs a time attribute of the join's left side (a PROCTIME() column for a lookup join, a rowtime column for an event-time temporal join), not the expression %s", tn.AsOf)
	}
	col := left.cols[ref.Index]
	if j.Kind != "INNER" && j.Kind != "LEFT" {
		return nil, errorf(j.Pos, "a %s join FOR SYSTEM_TIME AS OF is not supported: lookup and temporal joins are INNER or LEFT, as in Flink", j.Kind)
	}
	if j.On == nil {
		return nil, errorf(j.Pos, "a join FOR SYSTEM_TIME AS OF needs an ON condition")
	}
	if b.env.lookup(tn.Name) != nil {
		return nil, errorf(tn.Name.Pos, "the WITH query %q cannot be read FOR SYSTEM_TIME AS OF: name a table", tn.Name.Name)
	}
	if _, isView := b.p.Catalog.View(tn.Name.Name); isView {
		return nil, errorf(tn.Name.Pos, "the view %q cannot be read FOR SYSTEM_TIME AS OF: name a table", tn.Name.Name)
	}
	t, ok := b.p.Catalog.Table(tn.Name.Name)
	if !ok {
		return nil, b.p.unknownRelation(tn.Name, "table")
	}
	switch {
	case col.proctime:
		return b.lookupJoin(j, kind, left, tn, t)
	case col.rowtime:
		if !versioned(t) {
			return nil, errorf(tn.AsOf.Position(), "%s is an event-time attribute, and an event-time temporal join needs a versioned table, but table %q is not one (it lacks %s); declare what it lacks, or join AS OF a PROCTIME() column for a lookup join", col.name, t.Name, missingVersioning(t))
		}
		return b.eventTimeJoin(j, kind, left, ref.Index, tn, t)
	}
	why := ""
	if col.notRowtime != "" {
		why = " (" + col.notRowtime + ")"
	}
	return nil, errorf(tn.AsOf.Position(), "FOR SYSTEM_TIME AS OF %s: the column is not a time attribute%s; name a PROCTIME() column of the left side for a lookup join, or its rowtime column for an event-time temporal join of a versioned table", col.name, why)
}

// versioned reports whether t is a versioned table: a PRIMARY KEY and a
// watermark.
func versioned(t *Table) bool {
	return t.Options[plan.PrimaryKeyOption] != "" && t.Watermark != nil
}

// missingVersioning names what t lacks to be versioned.
func missingVersioning(t *Table) string {
	var miss []string
	if t.Options[plan.PrimaryKeyOption] == "" {
		miss = append(miss, "a PRIMARY KEY (…) NOT ENFORCED")
	}
	if t.Watermark == nil {
		miss = append(miss, "a WATERMARK")
	}
	return strings.Join(miss, " and ")
}

// lookupJoin plans a lookup join of left with table t.
func (b *builder) lookupJoin(j *parser.JoinRef, kind plan.JoinKind, left *relation, tn *parser.TableName, t *Table) (*relation, error) {
	for _, c := range t.Columns {
		if c.Kind != Physical {
			return nil, errorf(tn.Name.Pos, "table %q cannot be the lookup side of a lookup join: its column %q is computed or metadata, and a lookup returns only a table's physical columns", t.Name, c.Name)
		}
	}
	schema := t.SourceSchema()
	if err := b.p.validateConnector(t, schema, false); err != nil {
		return nil, err
	}
	cache := ""
	if p := b.p.Connectors; p != nil {
		var err error
		if cache, err = p.LookupCache(t.Options); err != nil {
			return nil, errorf(tn.Name.Pos, "table %q cannot be the lookup side of a lookup join: %v", t.Name, err)
		}
	}
	alias := t.Name
	if tn.Alias != nil {
		alias = tn.Alias.Name
	}
	right := &relation{name: "table " + t.Name, cat: b.p.Catalog}
	for i, f := range schema.Fields {
		right.cols = append(right.cols, scopeCol{name: f.Name, table: alias, t: f.Type, index: i})
	}
	sc := joinScope(left, right)
	nl := len(left.cols)
	var lkeys []plan.Expr
	var tkeys []int
	var residual []plan.Expr
	for _, c := range conjuncts(j.On) {
		if containsAgg(c) {
			return nil, errorf(c.Position(), "aggregate functions are not allowed in a join condition")
		}
		e, err := sc.bind(c)
		if err != nil {
			return nil, err
		}
		if e, err = toBool(c.Position(), e, "a join condition"); err != nil {
			return nil, err
		}
		if call, ok := e.(*plan.Call); ok && call.Func == "=" {
			a, bb := call.Args[0], call.Args[1]
			if _, r := side(a, nl); r {
				a, bb = bb, a
			}
			tc, isCol := bb.(*plan.ColumnRef)
			if _, ar := side(a, nl); isCol && tc.Index >= nl && !ar {
				ct := schema.Fields[tc.Index-nl].Type
				if !groupKeyType(ct) {
					return nil, errorf(c.Position(), "cannot look up by a column of type %s", ct)
				}
				if a.Type().Kind != ct.Kind {
					if !implicitly(a.Type(), ct) {
						return nil, errorf(c.Position(), "cannot look up column %q (%s) of table %q by a value of type %s; CAST it", tc.Name, ct, t.Name, a.Type())
					}
					a = coerce(a, ct)
				}
				lkeys = append(lkeys, a)
				tkeys = append(tkeys, tc.Index-nl)
				continue
			}
		}
		residual = append(residual, e)
	}
	if len(lkeys) == 0 {
		return nil, errorf(j.On.Position(), "a lookup join needs an equality between a column of table %q and an expression of the left side (such as o.k = %s.k): the table is read by key", t.Name, alias)
	}
	lnode, lidx, lextra := keyColumns(left, lkeys)
	lj := &plan.LookupJoin{Input: lnode, Table: t.Name, Connector: t.Options["connector"], Options: t.Options,
		TableSchema: schema, Type: kind, InputKeys: lidx, TableKeys: tkeys, Cache: cache, Names: sides(left, right)}
	lj.Output.Fields = append(lj.Output.Fields, lnode.Schema().Fields...)
	for _, f := range schema.Fields {
		if kind.LeftOuter() {
			f.Type = f.Type.Nullable()
		}
		lj.Output.Fields = append(lj.Output.Fields, f)
	}
	lj.Residual = joinResidual(residual, nl, lextra)
	return joinOutput(lj, left, right, lextra, true), nil
}

// joinResidual is the conjunction of the residual conditions (over the
// left columns, then the right ones), with the right columns moved past
// the lextra key columns appended to the left side; nil when there are
// none.
func joinResidual(residual []plan.Expr, nl, lextra int) plan.Expr {
	var res plan.Expr
	for _, e := range residual {
		e = shiftRefs(e, func(i int) int {
			if i >= nl {
				return i + lextra
			}
			return i
		})
		if res == nil {
			res = e
		} else {
			res = &plan.Call{Func: "AND", Args: []plan.Expr{res, e}, T: boolOf(res, e)}
		}
	}
	return res
}

// joinOutput is the relation of join node jn, whose output is the left
// side's columns with lextra key columns appended, then the right side's:
// the key columns are dropped again by a Calc, the output names made
// unique, and the left side's time attributes kept when keepTime is set.
func joinOutput(jn plan.Node, left, right *relation, lextra int, keepTime bool) *relation {
	fields := jn.Props().Output.Fields
	uniq := make([]scopeCol, len(fields))
	for i, f := range fields {
		uniq[i] = scopeCol{name: f.Name}
	}
	uniquifyNames(uniq)
	for i := range uniq {
		fields[i].Name = uniq[i].name
	}
	out := &relation{node: jn, name: "the join", cat: left.cat}
	var exprs []plan.Expr
	add := func(c scopeCol, at int, keep bool) {
		c.t = fields[at].Type
		if !keep {
			c.rowtime, c.proctime = false, false
		}
		exprs = append(exprs, &plan.ColumnRef{Index: at, Name: fields[at].Name, T: c.t})
		c.index = len(out.cols)
		out.cols = append(out.cols, c)
	}
	for i, c := range left.cols {
		add(c, i, keepTime)
	}
	nlOut := len(left.cols) + lextra
	for i, c := range right.cols {
		add(c, nlOut+i, false)
	}
	if lextra > 0 {
		calc := &plan.Calc{Input: jn, Exprs: exprs}
		for i, e := range exprs {
			calc.Output.Fields = append(calc.Output.Fields, types.Field{Name: fields[e.(*plan.ColumnRef).Index].Name, Type: out.cols[i].t})
		}
		out.node = calc
	}
	return out
}

// eventTimeJoin plans an event-time temporal join of left (AS OF its
// rowtime column leftTime) with the versioned table t.
func (b *builder) eventTimeJoin(j *parser.JoinRef, kind plan.JoinKind, left *relation, leftTime int, tn *parser.TableName, t *Table) (*relation, error) {
	plain := *tn
	plain.AsOf = nil
	right, err := b.planTableName(&plain)
	if err != nil {
		return nil, err
	}
	rightTime := -1
	for i, c := range right.cols {
		if c.rowtime {
			rightTime = i
		}
	}
	pk := strings.Split(t.Options[plan.PrimaryKeyOption], ",")
	pkCol := map[int]int{} // right column → position in pk
	for i, name := range pk {
		for ci, c := range right.cols {
			if strings.EqualFold(c.name, name) {
				pkCol[ci] = i
			}
		}
	}
	if rightTime < 0 || len(pkCol) != len(pk) {
		return nil, errorf(tn.Name.Pos, "table %q: its PRIMARY KEY and rowtime columns must be columns it reads", t.Name)
	}
	sc := joinScope(left, right)
	nl := len(left.cols)
	lkeys := make([]plan.Expr, len(pk))
	var residual []plan.Expr
	for _, c := range conjuncts(j.On) {
		if containsAgg(c) {
			return nil, errorf(c.Position(), "aggregate functions are not allowed in a join condition")
		}
		e, err := sc.bind(c)
		if err != nil {
			return nil, err
		}
		if e, err = toBool(c.Position(), e, "a join condition"); err != nil {
			return nil, err
		}
		if call, ok := e.(*plan.Call); ok && call.Func == "=" {
			a, bb := call.Args[0], call.Args[1]
			if _, r := side(a, nl); r {
				a, bb = bb, a
			}
			if tc, isCol := bb.(*plan.ColumnRef); isCol && tc.Index >= nl {
				if at, isKey := pkCol[tc.Index-nl]; isKey && lkeys[at] == nil {
					if _, ar := side(a, nl); !ar {
						ct := right.cols[tc.Index-nl].t
						if a.Type().Kind != ct.Kind {
							if !implicitly(a.Type(), ct) {
								return nil, errorf(c.Position(), "cannot join the key column %q (%s) of table %q with a value of type %s; CAST it", tc.Name, ct, t.Name, a.Type())
							}
							a = coerce(a, ct)
						}
						lkeys[at] = a
						continue
					}
				}
			}
		}
		residual = append(residual, e)
	}
	var missing []string
	for i, k := range lkeys {
		if k == nil {
			missing = append(missing, pk[i])
		}
	}
	if len(missing) > 0 {
		return nil, errorf(j.On.Position(), "an event-time temporal join must equate every PRIMARY KEY column of the versioned table %q (%s) with the left side, as Flink requires; the condition lacks %s", t.Name, strings.Join(pk, ", "), strings.Join(missing, ", "))
	}
	rkeys := make([]int, len(pk))
	for ci, at := range pkCol {
		rkeys[at] = ci
	}
	lnode, lidx, lextra := keyColumns(left, lkeys)
	tj := &plan.TemporalJoin{Left: lnode, Right: right.node, Type: kind, LeftKeys: lidx, RightKeys: rkeys,
		LeftTime: leftTime, RightTime: rightTime, Names: sides(left, right)}
	tj.Output.Fields = append(tj.Output.Fields, lnode.Schema().Fields...)
	for _, f := range right.node.Schema().Fields {
		if kind.LeftOuter() {
			f.Type = f.Type.Nullable()
		}
		tj.Output.Fields = append(tj.Output.Fields, f)
	}
	tj.Residual = joinResidual(residual, nl, lextra)
	return joinOutput(tj, left, right, lextra, true), nil
}
