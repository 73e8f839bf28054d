package planner

import (
	"strings"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// Late-rows tables. A source table's option 'scan.late-rows.table' names
// a declared table into which the job writes the rows of this table that
// an operator drops as late, instead of only counting them:
//
//	CREATE TABLE bids (…, WATERMARK FOR date_time AS …) WITH (…,
//	  'scan.late-rows.table' = 'late_bids');
//
// The late-rows table's columns name columns of the source (as SELECT *
// shows them, computed columns included), each of a type the source
// column is implicitly written as; it may leave some out. A window
// aggregation over the table's rows (TABLE bids in a window TVF, or FROM
// bids … GROUP BY TUMBLE(…)) hands the rows it drops to a plan.LateRows
// node; a Calc picks the late-rows table's columns and a Sink writes them,
// one sink per late-rows table in a job (the late rows of several
// operators are a UNION ALL into it). The sink is a sink of the job like
// the others: its writes commit with the job's checkpoints. Any other
// operator that drops late rows of such a table is a planning error
// (checkLateRows), so that no late row is dropped silently where the user
// asked to keep them.

// lateScan is the late-rows table of a table a relation reads: the
// relation's columns are still that table's rows.
type lateScan struct {
	source *Table
	table  *Table   // the late-rows table
	cols   []string // the source's columns (lower case), as the relation has them
}

// lateSide collects, for one late-rows table, the Calcs that pick its
// columns from each operator's late rows.
type lateSide struct {
	table *Table
	ins   []plan.Node
}

// scanLate reads the late-rows option of table t (read by relation rel):
// it checks the late-rows table and records it on rel.
func (b *builder) scanLate(t *Table, rel *relation) error {
	name, ok := t.Options[plan.LateRowsOption]
	if !ok {
		return nil
	}
	pos := t.OptionPos[plan.LateRowsOption]
	lt, ok := b.p.Catalog.Table(name)
	if !ok {
		if _, isView := b.p.Catalog.View(name); isView {
			return errorf(pos, "option '%s' of table %s: %q is a view; name a table to write the late rows into", plan.LateRowsOption, t.Name, name)
		}
		return errorf(pos, "option '%s' of table %s: unknown table %q; CREATE TABLE it with the columns of %s to keep late rows in", plan.LateRowsOption, t.Name, name, t.Name)
	}
	if strings.EqualFold(lt.Name, t.Name) {
		return errorf(pos, "option '%s' of table %s: the late rows cannot be written into the table itself", plan.LateRowsOption, t.Name)
	}
	src := t.Schema()
	srcCols := make([]string, src.Len())
	for i, f := range src.Fields {
		srcCols[i] = key(f.Name)
	}
	target := lt.SinkSchema()
	if target.Len() == 0 {
		return errorf(pos, "option '%s' of table %s: table %s has no columns to write", plan.LateRowsOption, t.Name, lt.Name)
	}
	for _, f := range target.Fields {
		i := index(srcCols, key(f.Name))
		cpos := columnPos(lt, f.Name)
		if i < 0 {
			return errorf(cpos, "late-rows table %s of table %s: column %q is not a column of %s (%s)", lt.Name, t.Name, f.Name, t.Name, strings.Join(src.Names(), ", "))
		}
		st := src.Fields[i].Type
		if !types.Same(st, f.Type) && !implicitly(st, f.Type) {
			return errorf(cpos, "late-rows table %s of table %s: column %q has type %s, but %s.%s is %s, which cannot be written to it", lt.Name, t.Name, f.Name, f.Type, t.Name, src.Fields[i].Name, st)
		}
		if f.Type.NotNull && !st.NotNull {
			return errorf(cpos, "late-rows table %s of table %s: column %q is NOT NULL but %s.%s may be NULL", lt.Name, t.Name, f.Name, t.Name, src.Fields[i].Name)
		}
	}
	if err := b.p.validateConnector(lt, target, true); err != nil {
		return err
	}
	rel.late = &lateScan{source: t, table: lt, cols: srcCols}
	return nil
}

// index returns the index of s in list, or -1.
func index(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// columnPos is where column name of t is declared (t's DDL when unknown).
func columnPos(t *Table, name string) parser.Pos {
	for _, c := range t.Columns {
		if strings.EqualFold(c.Name, name) {
			return c.Pos
		}
	}
	if t.DDL != nil {
		return t.DDL.Pos
	}
	return parser.Pos{}
}

// keepLate sends the late rows of the window aggregation wa to the
// late-rows table of ls: col(name) is the column of wa's input holding the
// source's column name.
func (b *builder) keepLate(ls *lateScan, wa *plan.WindowAgg, col func(srcCol int) int) {
	lr := &plan.LateRows{Input: wa}
	lr.Output = wa.Input.Schema()
	in := lr.Output
	target := ls.table.SinkSchema()
	c := &plan.Calc{Input: lr}
	c.Output = target
	for _, f := range target.Fields {
		i := col(index(ls.cols, key(f.Name)))
		ref := plan.Expr(&plan.ColumnRef{Index: i, Name: in.Fields[i].Name, T: in.Fields[i].Type})
		if !types.Same(in.Fields[i].Type, f.Type) {
			ref = coerce(ref, f.Type)
		}
		c.Exprs = append(c.Exprs, ref)
	}
	if b.late == nil {
		b.late = map[string]*lateSide{}
	}
	side := b.late[key(ls.table.Name)]
	if side == nil {
		side = &lateSide{table: ls.table}
		b.late[key(ls.table.Name)] = side
		b.lateOrder = append(b.lateOrder, key(ls.table.Name))
	}
	side.ins = append(side.ins, c)
}

// lateSinks appends to g the sinks of the late-rows tables the statement
// planned by b writes, each at pos (the statement's position) in *pos.
func (b *builder) lateSinks(g *plan.Graph, pos *[]parser.Pos, at parser.Pos) {
	for _, k := range b.lateOrder {
		side := b.late[k]
		in := side.ins[0]
		if len(side.ins) > 1 {
			u := &plan.Union{Ins: side.ins}
			u.Output = in.Schema()
			in = u
		}
		g.Sinks = append(g.Sinks, sinkNode(side.table, in, side.table.SinkSchema()))
		*pos = append(*pos, at)
	}
}

// checkLateRows refuses a plan in which an operator drops late rows of a
// table whose late rows are kept ('scan.late-rows.table') without keeping
// them: an operator other than a window aggregation, or one whose input
// are not the table's own rows. pos[i] is where errors about g.Sinks[i]
// point.
func checkLateRows(g *plan.Graph, pos []parser.Pos) error {
	keeps := map[plan.Node]bool{}
	for _, n := range g.Nodes() {
		if lr, ok := n.(*plan.LateRows); ok {
			keeps[lr.Input] = true
		}
	}
	for i, s := range g.Sinks {
		var err error
		plan.Walk(s, func(n plan.Node) {
			what := dropsLate(n)
			if err != nil || what == "" || keeps[n] {
				return
			}
			src := lateSource(n)
			if src == nil {
				return
			}
			name := src.Options[plan.LateRowsOption]
			if _, ok := n.(*plan.WindowAgg); ok {
				err = errorf(pos[i], "table %s keeps its late rows in %s ('%s'), but %s %s drops late rows of a view, subquery, join or grouping set over %s, which are not %s's own rows; apply the window to TABLE %s directly, or remove the option", src.Table, name, plan.LateRowsOption, what, n.ID(), src.Table, src.Table, src.Table)
				return
			}
			err = errorf(pos[i], "table %s keeps its late rows in %s ('%s'), but %s %s drops late rows, which only window aggregations can keep yet; remove the option to let it drop them", src.Table, name, plan.LateRowsOption, what, n.ID())
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// dropsLate names the kind of n when its operator drops late rows (""
// otherwise).
func dropsLate(n plan.Node) string {
	switch x := n.(type) {
	case *plan.WindowAgg:
		if !x.Window.ProcTime {
			return "window aggregation"
		}
	case *plan.WindowAssign:
		if !x.Window.ProcTime {
			return "window TVF"
		}
	case *plan.OverAgg:
		return "OVER aggregation"
	case *plan.TimeSort:
		return "ORDER BY"
	case *plan.WindowJoin:
		if !x.Window.ProcTime {
			return "window join"
		}
	case *plan.IntervalJoin:
		return "interval join"
	}
	return ""
}

// lateSource returns the Source with a late-rows table whose rows reach n
// without passing through another operator that drops late rows (whose
// output rows are no longer the source's), or nil.
func lateSource(n plan.Node) *plan.Source {
	var found *plan.Source
	var visit func(plan.Node)
	visit = func(x plan.Node) {
		for _, in := range x.Inputs() {
			if found != nil || dropsLate(in) != "" {
				continue
			}
			if s, ok := in.(*plan.Source); ok {
				if _, ok := s.Options[plan.LateRowsOption]; ok {
					found = s
				}
				continue
			}
			visit(in)
		}
	}
	visit(n)
	return found
}
