package parser

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/streamsql/streamsql/internal/suggest"
)

// converter turns the grammar structs of grammar.go into the public AST.
// It checks what the grammar cannot express (integer ranges, type
// parameters, window function arguments, joins) and keeps the first error.
type converter struct {
	err *Error
}

func (c *converter) failf(pos Pos, format string, args ...any) {
	if c.err == nil {
		c.err = &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
	}
}

func (c *converter) script(g *gScript) []Statement {
	out := make([]Statement, 0, len(g.Stmts))
	for _, s := range g.Stmts {
		if s == nil {
			continue
		}
		out = append(out, c.stmt(s))
	}
	return out
}

func (c *converter) stmt(g *gStmt) Statement {
	switch {
	case g.Create != nil:
		if g.Create.Table != nil {
			return c.createTable(g.Create)
		}
		if g.Create.Function != nil {
			return c.createFunction(g.Create)
		}
		return c.createView(g.Create)
	case g.Drop != nil:
		d := g.Drop
		return &DropStmt{Pos: d.Pos, Temporary: d.Temporary, View: d.View, IfExists: d.IfExists, Name: c.ident(d.Name)}
	case g.Show != nil:
		s := g.Show
		if s.Check {
			return &ShowStmt{Pos: s.Pos, What: "CHECKPOINTS", JobID: c.str(s.JobID)}
		}
		if s.CreateWhat != "" {
			return &ShowStmt{Pos: s.Pos, What: "CREATE " + strings.ToUpper(s.CreateWhat), Name: c.ident(s.Name)}
		}
		return &ShowStmt{Pos: s.Pos, What: strings.ToUpper(s.What)}
	case g.Describe != nil:
		return &DescribeStmt{Pos: g.Describe.Pos, Extended: g.Describe.Extended, Name: c.ident(g.Describe.Name)}
	case g.Explain != nil:
		e := g.Explain
		var inner Statement
		if e.Insert != nil {
			inner = c.insert(e.Insert)
		} else if e.StmtSet != nil {
			inner = c.stmtSet(e.StmtSet.Pos, e.StmtSet)
		} else {
			inner = &QueryStmt{Pos: e.Query.Pos, Query: c.selectStmt(e.Query)}
		}
		return &ExplainStmt{Pos: e.Pos, Stmt: inner}
	case g.Set != nil:
		s := &SetStmt{Pos: g.Set.Pos}
		if g.Set.Key != nil {
			s.Key, s.Value = c.str(g.Set.Key), c.str(g.Set.Value)
			if s.Key == "" {
				c.failf(g.Set.Key.Pos, "empty configuration key")
			}
		}
		return s
	case g.Reset != nil:
		r := &ResetStmt{Pos: g.Reset.Pos}
		if g.Reset.Key != nil {
			r.Key = c.str(g.Reset.Key)
			if r.Key == "" {
				c.failf(g.Reset.Key.Pos, "empty configuration key")
			}
		}
		return r
	case g.Insert != nil:
		return c.insert(g.Insert)
	case g.Stop != nil:
		return &StopJobStmt{Pos: g.Stop.Pos, JobID: c.str(g.Stop.JobID), WithSavepoint: g.Stop.Savepoint}
	case g.Query != nil:
		return &QueryStmt{Pos: g.Query.Pos, Query: c.selectStmt(g.Query)}
	case g.StmtSet != nil:
		return c.stmtSet(g.Pos, g.StmtSet)
	case g.BeginSet:
		return &BeginStatementSetStmt{Pos: g.Pos}
	case g.EndSet:
		return &EndStatementSetStmt{Pos: g.Pos}
	}
	panic("parser: empty statement alternative")
}

// stmtSet converts a statement set that starts at pos (its EXECUTE, or
// STATEMENT after EXPLAIN). Only INSERTs may appear in it, and at least one.
func (c *converter) stmtSet(pos Pos, g *gStmtSet) *StatementSetStmt {
	s := &StatementSetStmt{Pos: pos}
	for _, it := range g.Stmts {
		if it.Insert != nil {
			s.Inserts = append(s.Inserts, c.insert(it.Insert))
			continue
		}
		c.failf(it.Pos, "only INSERT statements may appear in a statement set, not %s", setItemKind(it))
	}
	if len(s.Inserts) == 0 && len(g.Stmts) == 0 {
		c.failf(g.End.Pos, "empty statement set: put one or more INSERT INTO … SELECT …; statements between BEGIN and END")
	}
	return s
}

// setItemKind names the kind of a statement found in a statement set.
func setItemKind(it *gSetItem) string {
	switch {
	case it.Create != nil:
		if it.Create.Table != nil {
			return "CREATE TABLE"
		}
		if it.Create.Function != nil {
			return "CREATE FUNCTION"
		}
		return "CREATE VIEW"
	case it.Drop != nil:
		return "DROP"
	case it.Show != nil:
		return "SHOW"
	case it.Describe != nil:
		return "DESCRIBE"
	case it.Explain != nil:
		return "EXPLAIN"
	case it.Set != nil:
		return "SET"
	case it.Reset != nil:
		return "RESET"
	case it.Stop != nil:
		return "STOP JOB"
	case it.Query != nil:
		return "a query (SELECT); use INSERT INTO <table> SELECT …"
	case it.StmtSet != nil:
		return "a nested statement set"
	case it.BeginSet:
		return "BEGIN STATEMENT SET"
	}
	return "this statement"
}

func (c *converter) createTable(g *gCreate) *CreateTableStmt {
	t := g.Table
	s := &CreateTableStmt{
		Pos:         g.Pos,
		Temporary:   g.Temporary,
		IfNotExists: t.IfNotExists,
		Name:        c.ident(t.Name),
	}
	if t.Partitioned != nil {
		s.PartitionedBy = &PartitionedByDef{Pos: t.Partitioned.Pos, Columns: c.idents(t.Partitioned.Columns)}
	}
	if t.Comment != nil {
		s.Comment = c.str(t.Comment)
	}
	for _, e := range t.Elems {
		switch {
		case e.Watermark != nil:
			if s.Watermark != nil {
				c.failf(e.Watermark.Pos, "a table can declare only one watermark")
			}
			s.Watermark = &WatermarkDef{Pos: e.Watermark.Pos, Column: c.ident(e.Watermark.Column), Expr: c.expr(e.Watermark.Expr)}
		case e.PrimaryKey != nil:
			if s.PrimaryKey != nil {
				c.failf(e.PrimaryKey.Pos, "a table can declare only one primary key")
			}
			s.PrimaryKey = &PrimaryKeyDef{Pos: e.PrimaryKey.Pos, Columns: c.idents(e.PrimaryKey.Columns)}
		case e.Column != nil:
			s.Columns = append(s.Columns, c.column(e.Column))
		}
	}
	if len(s.Columns) == 0 {
		c.failf(t.Name.Pos, "table %q declares no columns", s.Name.Name)
	}
	for _, o := range t.Options {
		s.Options = append(s.Options, &Option{Pos: o.Pos, Key: c.str(o.Key), Value: c.str(o.Value)})
	}
	return s
}

func (c *converter) column(g *gColumn) *ColumnDef {
	d := &ColumnDef{
		Pos:      g.Pos,
		Name:     c.ident(g.Name),
		NotNull:  g.NotNull,
		Metadata: g.Metadata,
		Virtual:  g.Virtual,
	}
	if g.Computed != nil {
		d.Computed = c.expr(g.Computed)
	} else {
		d.Type = c.typeName(g.Type)
	}
	if g.MetadataKey != nil {
		d.MetadataKey = c.str(g.MetadataKey)
	}
	if g.Comment != nil {
		d.Comment = c.str(g.Comment)
	}
	return d
}

// typeParams says how many parameters each type accepts.
var typeParams = map[string]int{
	"DECIMAL": 2, "NUMERIC": 2, "VARCHAR": 1, "CHAR": 1,
	"TIMESTAMP": 1, "TIMESTAMP_LTZ": 1, "TIME": 1,
}

func (c *converter) typeName(g *gType) *TypeName {
	t := &TypeName{Pos: g.Pos, Name: strings.ToUpper(g.Name)}
	if max := typeParams[t.Name]; len(g.Params) > max {
		switch max {
		case 0:
			c.failf(g.Params[0].Pos, "type %s takes no parameters", t.Name)
		case 1:
			c.failf(g.Params[1].Pos, "type %s takes one parameter", t.Name)
		default:
			c.failf(g.Params[max].Pos, "type %s takes at most %d parameters", t.Name, max)
		}
	}
	for _, p := range g.Params {
		n, err := strconv.Atoi(p.Value)
		if err != nil || n < 0 {
			c.failf(p.Pos, "type parameter %s is not a non-negative integer", p.Value)
		}
		t.Params = append(t.Params, n)
	}
	if g.LTZ != nil {
		if t.Name != "TIMESTAMP" {
			c.failf(g.LTZ.Pos, "WITH LOCAL TIME ZONE applies only to TIMESTAMP")
		}
		t.WithLocalTimeZone = true
	}
	return t
}

func (c *converter) createView(g *gCreate) *CreateViewStmt {
	v := g.View
	s := &CreateViewStmt{
		Pos:         g.Pos,
		Temporary:   g.Temporary,
		IfNotExists: v.IfNotExists,
		Name:        c.ident(v.Name),
		Columns:     c.idents(v.Columns),
		Query:       c.selectStmt(v.Query),
	}
	return s
}

func (c *converter) createFunction(g *gCreate) *CreateFunctionStmt {
	f := g.Function
	s := &CreateFunctionStmt{
		Pos:         g.Pos,
		Temporary:   g.Temporary,
		System:      f.System,
		IfNotExists: f.IfNotExists,
		Name:        c.ident(f.Name),
		Class:       c.str(f.Class),
	}
	if f.System && !g.Temporary {
		c.failf(f.Name.Pos, "SYSTEM functions are TEMPORARY: write CREATE TEMPORARY SYSTEM FUNCTION")
	}
	if f.Language != nil {
		s.Language = strings.ToUpper(f.Language.Value)
		switch s.Language {
		case "JAVA", "SCALA", "PYTHON":
		default:
			c.failf(f.Language.Pos, "unknown LANGUAGE %s: expected JAVA, SCALA or PYTHON", f.Language.Value)
		}
	}
	if strings.TrimSpace(s.Class) == "" {
		c.failf(f.Class.Pos, "CREATE FUNCTION needs a class name after AS")
	}
	return s
}

func (c *converter) insert(g *gInsert) *InsertStmt {
	return &InsertStmt{Pos: g.Pos, Table: c.ident(g.Table), Columns: c.idents(g.Columns), Query: c.selectStmt(g.Query)}
}

// selectStmt converts a query: one SELECT block, or a UNION ALL of
// several (see Select for the shape).
func (c *converter) selectStmt(g *gSelect) *Select {
	head := c.term(g.First)
	if len(g.Rest) > 0 {
		if ownClauses(head) {
			head = wrapStar(head)
		}
		var terms []*Select
		if len(head.UnionAll) > 0 {
			// A parenthesised union first: (a UNION ALL b) UNION ALL c.
			terms, head.UnionAll = head.UnionAll, nil
		}
		for _, op := range g.Rest {
			switch {
			case strings.EqualFold(op.Op, "UNION") && !op.All:
				c.failf(op.Pos, "UNION (distinct) is not supported yet; use UNION ALL")
			case strings.EqualFold(op.Op, "INTERSECT"):
				c.failf(op.Pos, "INTERSECT is not supported yet; only UNION ALL is")
			case strings.EqualFold(op.Op, "EXCEPT"):
				c.failf(op.Pos, "EXCEPT is not supported yet; only UNION ALL is")
			}
			t := c.term(op.Term)
			if !ownClauses(t) && len(t.UnionAll) > 0 {
				rest := t.UnionAll
				t.UnionAll = nil
				terms = append(terms, t)
				terms = append(terms, rest...)
				continue
			}
			terms = append(terms, t)
		}
		head.UnionAll = terms
	}
	if g.After != nil {
		c.failf(g.After.Pos, "%s after LIMIT: a LIMIT applies to the whole query and comes last; put the term in parentheses to limit it alone", strings.ToUpper(g.After.Op))
	}
	if len(g.OrderBy) > 0 {
		if ownClauses(head) {
			// (SELECT … LIMIT 5) ORDER BY x: the inner LIMIT applies first.
			head = wrapStar(head)
		}
		for _, o := range g.OrderBy {
			head.OrderBy = append(head.OrderBy, &OrderItem{Pos: o.Pos, Expr: c.expr(o.Expr), Desc: strings.EqualFold(o.Dir, "DESC")})
		}
	}
	if g.Limit != nil {
		n, err := strconv.ParseInt(g.Limit.Value, 10, 64)
		if err != nil || n < 0 {
			c.failf(g.Limit.Pos, "LIMIT must be a non-negative integer, not %s", g.Limit.Value)
		}
		if head.Limit != nil || head.With != nil {
			// (SELECT … LIMIT 5) LIMIT 3: both apply.
			head = wrapStar(head)
		}
		head.Limit = &n
	}
	if g.With != nil {
		if head.With != nil {
			// WITH a AS (…) (WITH b AS (…) SELECT …): b is local.
			head = wrapStar(head)
		}
		seen := map[string]bool{}
		for _, w := range g.With.CTEs {
			cte := &CTE{Pos: w.Pos, Name: c.ident(w.Name), Columns: c.idents(w.Columns), Query: c.selectStmt(w.Query)}
			k := strings.ToLower(cte.Name.Name)
			if cte.Name.Quoted {
				k = "`" + cte.Name.Name
			}
			if seen[k] {
				c.failf(cte.Name.Pos, "duplicate name %q in WITH: each common table expression needs a name of its own", cte.Name.Name)
			}
			seen[k] = true
			head.With = append(head.With, cte)
		}
	}
	return head
}

// ownClauses reports whether s has clauses that apply to the whole of it
// (WITH, ORDER BY, LIMIT), so that s must be wrapped before it is made the
// head of a union or given clauses of its own.
func ownClauses(s *Select) bool {
	return s.Limit != nil || s.With != nil || len(s.OrderBy) > 0
}

// wrapStar returns SELECT * FROM (s): a query equal to s whose own
// clauses are free for a union or a LIMIT around it.
func wrapStar(s *Select) *Select {
	return &Select{Pos: s.Pos, Items: []*SelectItem{{Pos: s.Pos, Star: true}}, From: &SubqueryRef{Pos: s.Pos, Query: s}}
}

// term converts one operand of a set operator.
func (c *converter) term(g *gTerm) *Select {
	if g.Paren != nil {
		return c.selectStmt(g.Paren)
	}
	if g.Values != nil {
		s := &Select{Pos: g.Values.Pos}
		for _, r := range g.Values.Rows {
			row := &ValuesRow{Pos: r.Pos}
			for _, e := range r.List.List {
				row.Values = append(row.Values, c.expr(e))
			}
			s.Values = append(s.Values, row)
		}
		return s
	}
	return c.selectCore(g.Core)
}

// selectCore converts one SELECT block.
func (c *converter) selectCore(g *gSelectCore) *Select {
	s := &Select{Pos: g.Pos, Distinct: g.Distinct}
	for _, h := range g.Hints {
		s.Hints = append(s.Hints, c.hints(h)...)
	}
	for _, it := range g.Items.Items {
		s.Items = append(s.Items, c.selectItem(it))
	}
	if g.From != nil {
		s.From = c.tableRef(g.From)
		for _, j := range g.Joins {
			s.From = c.join(s.From, j)
		}
	}
	if g.Where != nil {
		s.Where = c.expr(g.Where)
	}
	if g.GroupBy != nil {
		if g.GroupBy.err != nil && c.err == nil {
			c.err = g.GroupBy.err
		}
		s.GroupBy = g.GroupBy.Items
	}
	if g.Having != nil {
		s.Having = c.expr(g.Having)
	}
	for _, w := range g.Windows {
		if w.Spec.err != nil && c.err == nil {
			c.err = w.Spec.err
		}
		s.Windows = append(s.Windows, &NamedWindow{Pos: w.Pos, Name: c.ident(w.Name), Spec: w.Spec.Spec})
	}
	return s
}

func (c *converter) selectItem(g *gSelectItem) *SelectItem {
	it := &SelectItem{Pos: g.Pos}
	switch {
	case g.Star:
		it.Star = true
	case g.StarTable != nil:
		it.Star = true
		it.StarTable = c.ident(g.StarTable).Name
	default:
		it.Expr = c.expr(g.Expr)
		if g.Alias != nil {
			a := c.ident(g.Alias)
			it.Alias = &a
		}
	}
	return it
}

// join converts one join of a FROM clause, left being the items before it.
func (c *converter) join(left TableRef, g *gJoin) TableRef {
	j := &JoinRef{Pos: g.Pos, Kind: strings.ToUpper(g.Kind), Comma: g.Comma, Left: left, Right: c.tableRef(g.Right)}
	switch {
	case g.Comma:
		j.Kind = "CROSS"
	case j.Kind == "NATURAL":
		c.failf(g.Pos, "NATURAL JOIN is not supported; write the join condition with ON")
	case j.Kind == "":
		j.Kind = "INNER"
	}
	if g.Outer && (j.Kind == "INNER" || j.Kind == "CROSS") {
		c.failf(g.Pos, "OUTER needs LEFT, RIGHT or FULL before it")
	}
	switch {
	case len(g.Using) > 0:
		c.failf(g.Using[0].Pos, "JOIN … USING is not supported yet; write the join condition with ON")
	case g.On != nil && (g.Comma || j.Kind == "CROSS"):
		c.failf(g.On.Pos, "a cross join has no ON condition; use JOIN … ON or put the condition in WHERE")
	case g.On != nil:
		j.On = c.expr(g.On)
	case !g.Comma && j.Kind != "CROSS":
		c.failf(g.Pos, "%s JOIN needs an ON condition", j.Kind)
	}
	return j
}

func (c *converter) tableRef(g *gTableRef) TableRef {
	if g.AsOf != nil && g.Name == nil {
		c.failf(g.AsOf.Pos, "FOR SYSTEM_TIME AS OF needs a table name before it")
	}
	var alias *Ident
	if g.Alias != nil {
		a := c.ident(g.Alias)
		alias = &a
	}
	switch {
	case g.Sub != nil:
		return &SubqueryRef{Pos: g.Pos, Query: c.selectStmt(g.Sub), Alias: alias, Columns: c.idents(g.Cols)}
	}
	if len(g.Cols) > 0 {
		c.failf(g.Cols[0].Pos, "column aliases (AS t(a, b, …)) are only supported on a subquery or VALUES in FROM")
	}
	if g.TVF != nil {
		w := c.windowTVF(g.TVF)
		w.Alias = alias
		return w
	}
	t := &TableName{Pos: g.Pos, Name: c.ident(g.Name), Alias: alias}
	if g.AsOf != nil {
		t.AsOf = c.expr(g.AsOf)
	}
	return t
}

// windowParams lists the interval parameters of each window function in
// positional order, as Flink names them; named arguments (SIZE => …) are
// put in this order.
var windowParams = map[string][]string{
	"TUMBLE":   {"SIZE", "OFFSET"},
	"HOP":      {"SLIDE", "SIZE", "OFFSET"},
	"CUMULATE": {"STEP", "SIZE", "OFFSET"},
	"SESSION":  {"GAP"},
}

// windowParamAliases are other names accepted for a window parameter:
// CUMULATE's SIZE is its maximum window size, and some Flink documentation
// calls it MAX_SIZE.
var windowParamAliases = map[string]map[string]string{
	"CUMULATE": {"MAX_SIZE": "SIZE"},
}

// unknownArg reports a named argument that fn does not take, with a
// did-you-mean when the name is close to one it does take.
func (c *converter) unknownArg(pos Pos, name, fn string, expected []string) {
	msg := fmt.Sprintf("unknown argument %s of %s", strings.ToUpper(name), fn)
	if s := suggest.Closest(name, expected); s != "" {
		msg += fmt.Sprintf("; did you mean %s?", s)
	} else if len(expected) == 1 {
		msg += "; expected " + expected[0]
	} else {
		msg += "; expected one of " + strings.Join(expected, ", ")
	}
	c.failf(pos, "%s", msg)
}

func (c *converter) windowTVF(g *gTVF) *WindowTVF {
	w := &WindowTVF{Pos: g.Pos, Func: strings.ToUpper(g.Func), TimeCol: c.ident(g.TimeCol)}
	if g.Table != nil {
		id := c.ident(g.Table)
		w.Input = &TableName{Pos: g.Table.Pos, Name: id}
	} else {
		w.Input = &SubqueryRef{Pos: g.Sub.Pos, Query: c.selectStmt(g.Sub.Query)}
	}
	if n := g.DataName; n != nil && !strings.EqualFold(n.Name, "DATA") {
		c.unknownArg(n.Pos, n.Name, w.Func, []string{"DATA"})
	}
	if n := g.TimeName; n != nil && !strings.EqualFold(n.Name, "TIMECOL") {
		c.unknownArg(n.Pos, n.Name, w.Func, []string{"TIMECOL"})
	}
	w.PartitionBy = c.idents(g.PartitionBy)
	if len(w.PartitionBy) > 0 && w.Func != "SESSION" {
		c.failf(g.PartitionBy[0].Pos, "PARTITION BY is only allowed in SESSION windows")
	}
	params := windowParams[w.Func]
	named := len(g.Args) > 0 && g.Args[0].Name != ""
	if named {
		args := make([]Expr, len(params))
		last := -1
		for _, a := range g.Args {
			if a.Name == "" {
				c.failf(a.Pos, "cannot mix named and positional arguments")
				continue
			}
			name := a.Name
			if canon, ok := windowParamAliases[w.Func][strings.ToUpper(name)]; ok {
				name = canon
			}
			i := indexFold(params, name)
			if i < 0 {
				c.unknownArg(a.Pos, a.Name, w.Func, params)
				continue
			}
			if args[i] != nil {
				c.failf(a.Pos, "argument %s given twice", params[i])
			}
			args[i] = c.expr(a.X)
			last = max(last, i)
		}
		for i := 0; i <= last; i++ {
			if args[i] == nil {
				c.failf(g.Pos, "%s is missing argument %s", w.Func, params[i])
				break
			}
		}
		w.Args = args[:last+1]
	} else {
		for _, a := range g.Args {
			if a.Name != "" {
				c.failf(a.Pos, "cannot mix named and positional arguments")
			}
			w.Args = append(w.Args, c.expr(a.X))
		}
	}
	minArgs := len(params) - 1
	if w.Func == "SESSION" {
		minArgs = 1
	}
	switch {
	case len(w.Args) < minArgs:
		c.failf(g.Pos, "%s needs %s", w.Func, strings.Join(params[:minArgs], " and "))
	case len(w.Args) > len(params):
		c.failf(g.Args[len(params)].Pos, "too many arguments to %s", w.Func)
	}
	return w
}

func indexFold(list []string, s string) int {
	for i, v := range list {
		if strings.EqualFold(v, s) {
			return i
		}
	}
	return -1
}

// ---- Expressions ----

// expr returns the expression exprParser built, and reports the first
// non-syntax error found in it.
func (c *converter) expr(g *gOr) Expr {
	if g.err != nil && c.err == nil {
		c.err = g.err
	}
	return g.X
}

// ---- Tokens ----

func (c *converter) ident(g *gIdent) Ident {
	v := g.Value
	if strings.HasPrefix(v, "`") {
		name := strings.ReplaceAll(v[1:len(v)-1], "``", "`")
		if name == "" {
			c.failf(g.Pos, "zero-length quoted identifier")
		}
		return Ident{Pos: g.Pos, Name: name, Quoted: true}
	}
	return Ident{Pos: g.Pos, Name: v}
}

func (c *converter) idents(gs []*gIdent) []Ident {
	if len(gs) == 0 {
		return nil
	}
	out := make([]Ident, len(gs))
	for i, g := range gs {
		out[i] = c.ident(g)
	}
	return out
}

func (c *converter) str(g *gString) string {
	v := g.Value
	return strings.ReplaceAll(v[1:len(v)-1], "''", "'")
}
