package parser

import (
	"strconv"
	"strings"
)

// This file prints the AST back to SQL. The output is canonical: keywords
// in upper case, one space between tokens, every operator expression in
// parentheses (except at the top of a clause, where they are redundant,
// and in chains of left-associative operators of one precedence, a + b - c,
// or of unary operators, NOT NOT x), and identifiers quoted only where
// they must be. Parsing the output gives back an equal tree, positions
// aside, in time linear in its length.

// String prints the identifier, quoted with backticks when it was quoted,
// is a reserved word, or is not a plain [A-Za-z_][A-Za-z0-9_]* name.
func (id Ident) String() string {
	if id.Quoted || needsQuote(id.Name) {
		return quoteIdent(id.Name)
	}
	return id.Name
}

func needsQuote(name string) bool {
	if name == "" || isReserved(name) {
		return true
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		switch {
		case b == '_', b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z':
		case b >= '0' && b <= '9' && i > 0:
		default:
			return true
		}
	}
	return false
}

func quoteIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// nameSQL prints a plain name (a qualifier kept as a string).
func nameSQL(name string) string {
	if needsQuote(name) {
		return quoteIdent(name)
	}
	return name
}

func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func identList(ids []Ident) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = id.String()
	}
	return strings.Join(parts, ", ")
}

func exprList(es []Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = clause(e)
	}
	return strings.Join(parts, ", ")
}

// operatorExpr is an expression printed in parentheses when nested; bare
// is its text without them.
type operatorExpr interface {
	bare() string
}

// clause prints e where no parentheses are needed around it: a select
// item, a WHERE condition, a function argument.
func clause(e Expr) string {
	if o, ok := e.(operatorExpr); ok {
		return o.bare()
	}
	return e.String()
}

// ---- Statements ----

func (n *CreateTableStmt) String() string {
	var b strings.Builder
	b.WriteString("CREATE ")
	if n.Temporary {
		b.WriteString("TEMPORARY ")
	}
	b.WriteString("TABLE ")
	if n.IfNotExists {
		b.WriteString("IF NOT EXISTS ")
	}
	b.WriteString(n.Name.String())
	b.WriteString(" (")
	for i, c := range n.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.String())
	}
	if n.Watermark != nil {
		if len(n.Columns) > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n.Watermark.String())
	}
	if n.PrimaryKey != nil {
		b.WriteString(", PRIMARY KEY (")
		for i, c := range n.PrimaryKey.Columns {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(c.String())
		}
		b.WriteString(") NOT ENFORCED")
	}
	b.WriteString(")")
	if n.Comment != "" {
		b.WriteString(" COMMENT ")
		b.WriteString(quoteString(n.Comment))
	}
	if n.PartitionedBy != nil {
		b.WriteString(" PARTITIONED BY (")
		for i, c := range n.PartitionedBy.Columns {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(c.String())
		}
		b.WriteString(")")
	}
	if len(n.Options) > 0 {
		b.WriteString(" WITH (")
		for i, o := range n.Options {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(o.String())
		}
		b.WriteString(")")
	}
	return b.String()
}

func (n *ColumnDef) String() string {
	var b strings.Builder
	b.WriteString(n.Name.String())
	switch {
	case n.Computed != nil:
		b.WriteString(" AS ")
		b.WriteString(clause(n.Computed))
	case n.Type != nil:
		b.WriteString(" ")
		b.WriteString(n.Type.String())
		if n.Metadata {
			b.WriteString(" METADATA")
			if n.MetadataKey != "" {
				b.WriteString(" FROM ")
				b.WriteString(quoteString(n.MetadataKey))
			}
			if n.Virtual {
				b.WriteString(" VIRTUAL")
			}
		} else if n.NotNull {
			b.WriteString(" NOT NULL")
		}
	}
	if n.Comment != "" {
		b.WriteString(" COMMENT ")
		b.WriteString(quoteString(n.Comment))
	}
	return b.String()
}

func (n *TypeName) String() string {
	s := n.Name
	if len(n.Params) > 0 {
		parts := make([]string, len(n.Params))
		for i, p := range n.Params {
			parts[i] = strconv.Itoa(p)
		}
		s += "(" + strings.Join(parts, ", ") + ")"
	}
	if n.WithLocalTimeZone {
		s += " WITH LOCAL TIME ZONE"
	}
	return s
}

func (n *WatermarkDef) String() string {
	return "WATERMARK FOR " + n.Column.String() + " AS " + clause(n.Expr)
}

func (n *Option) String() string {
	return quoteString(n.Key) + " = " + quoteString(n.Value)
}

func (n *CreateViewStmt) String() string {
	var b strings.Builder
	b.WriteString("CREATE ")
	if n.Temporary {
		b.WriteString("TEMPORARY ")
	}
	b.WriteString("VIEW ")
	if n.IfNotExists {
		b.WriteString("IF NOT EXISTS ")
	}
	b.WriteString(n.Name.String())
	if len(n.Columns) > 0 {
		b.WriteString(" (" + identList(n.Columns) + ")")
	}
	b.WriteString(" AS ")
	b.WriteString(n.Query.String())
	return b.String()
}

func (n *CreateFunctionStmt) String() string {
	var b strings.Builder
	b.WriteString("CREATE ")
	if n.Temporary {
		b.WriteString("TEMPORARY ")
	}
	if n.System {
		b.WriteString("SYSTEM ")
	}
	b.WriteString("FUNCTION ")
	if n.IfNotExists {
		b.WriteString("IF NOT EXISTS ")
	}
	b.WriteString(n.Name.String() + " AS " + quoteString(n.Class))
	if n.Language != "" {
		b.WriteString(" LANGUAGE " + n.Language)
	}
	return b.String()
}

func (n *DropStmt) String() string {
	s := "DROP "
	if n.Temporary {
		s += "TEMPORARY "
	}
	if n.View {
		s += "VIEW "
	} else {
		s += "TABLE "
	}
	if n.IfExists {
		s += "IF EXISTS "
	}
	return s + n.Name.String()
}

func (n *ShowStmt) String() string {
	if n.What == "CHECKPOINTS" {
		return "SHOW CHECKPOINTS FOR " + quoteString(n.JobID)
	}
	if strings.HasPrefix(n.What, "CREATE ") {
		return "SHOW " + n.What + " " + n.Name.String()
	}
	return "SHOW " + n.What
}

func (n *DescribeStmt) String() string {
	if n.Extended {
		return "DESCRIBE EXTENDED " + n.Name.String()
	}
	return "DESCRIBE " + n.Name.String()
}

func (n *ExplainStmt) String() string {
	if set, ok := n.Stmt.(*StatementSetStmt); ok {
		return "EXPLAIN " + set.body()
	}
	return "EXPLAIN " + n.Stmt.String()
}

func (n *SetStmt) String() string {
	if n.Key == "" {
		return "SET"
	}
	return "SET " + quoteString(n.Key) + " = " + quoteString(n.Value)
}

func (n *ResetStmt) String() string {
	if n.Key == "" {
		return "RESET"
	}
	return "RESET " + quoteString(n.Key)
}

func (n *QueryStmt) String() string { return n.Query.String() }

func (n *InsertStmt) String() string {
	s := "INSERT INTO " + n.Table.String()
	if len(n.Columns) > 0 {
		s += " (" + identList(n.Columns) + ")"
	}
	return s + " " + n.Query.String()
}

func (n *StopJobStmt) String() string {
	s := "STOP JOB " + quoteString(n.JobID)
	if n.WithSavepoint {
		s += " WITH SAVEPOINT"
	}
	return s
}

func (n *StatementSetStmt) String() string { return "EXECUTE " + n.body() }

// body prints the statement set without EXECUTE.
func (n *StatementSetStmt) body() string {
	var b strings.Builder
	b.WriteString("STATEMENT SET BEGIN ")
	for _, in := range n.Inserts {
		b.WriteString(in.String())
		b.WriteString("; ")
	}
	b.WriteString("END")
	return b.String()
}

func (n *BeginStatementSetStmt) String() string { return "BEGIN STATEMENT SET" }

func (n *EndStatementSetStmt) String() string { return "END" }

// ---- Queries ----

func (n *Select) String() string {
	var b strings.Builder
	if len(n.With) > 0 {
		b.WriteString("WITH ")
		for i, w := range n.With {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(w.String())
		}
		b.WriteString(" ")
	}
	if n.Values != nil {
		b.WriteString("VALUES ")
		for i, r := range n.Values {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(r.String())
		}
		n.writeTail(&b)
		return b.String()
	}
	b.WriteString("SELECT ")
	if len(n.Hints) > 0 {
		b.WriteString(formatHints(n.Hints))
		b.WriteByte(' ')
	}
	if n.Distinct {
		b.WriteString("DISTINCT ")
	}
	for i, it := range n.Items {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(it.String())
	}
	if n.From != nil {
		b.WriteString(" FROM ")
		b.WriteString(n.From.String())
	}
	if n.Where != nil {
		b.WriteString(" WHERE ")
		b.WriteString(clause(n.Where))
	}
	if len(n.GroupBy) > 0 {
		b.WriteString(" GROUP BY ")
		b.WriteString(exprList(n.GroupBy))
	}
	if n.Having != nil {
		b.WriteString(" HAVING ")
		b.WriteString(clause(n.Having))
	}
	for i, w := range n.Windows {
		if i == 0 {
			b.WriteString(" WINDOW ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(w.String())
	}
	n.writeTail(&b)
	return b.String()
}

// writeTail writes the union terms, ORDER BY and LIMIT of n.
func (n *Select) writeTail(b *strings.Builder) {
	for _, u := range n.UnionAll {
		b.WriteString(" UNION ALL ")
		if ownClauses(u) || len(u.UnionAll) > 0 {
			b.WriteString("(")
			b.WriteString(u.String())
			b.WriteString(")")
		} else {
			b.WriteString(u.String())
		}
	}
	if len(n.OrderBy) > 0 {
		b.WriteString(" ORDER BY ")
		for i, o := range n.OrderBy {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(o.String())
		}
	}
	if n.Limit != nil {
		b.WriteString(" LIMIT ")
		b.WriteString(strconv.FormatInt(*n.Limit, 10))
	}
}

func (n *CTE) String() string {
	s := n.Name.String()
	if len(n.Columns) > 0 {
		s += " (" + identList(n.Columns) + ")"
	}
	return s + " AS (" + n.Query.String() + ")"
}

func (n *ValuesRow) String() string { return "(" + exprList(n.Values) + ")" }

func (n *OrderItem) String() string {
	if n.Desc {
		return clause(n.Expr) + " DESC"
	}
	return clause(n.Expr)
}

func (n *GroupingSets) String() string {
	parts := make([]string, len(n.Sets))
	for i, set := range n.Sets {
		if n.Kind != "GROUPING SETS" && len(set) == 1 {
			parts[i] = clause(set[0])
		} else {
			parts[i] = "(" + exprList(set) + ")"
		}
	}
	return n.Kind + " (" + strings.Join(parts, ", ") + ")"
}

func (n *SelectItem) String() string {
	if n.Star {
		if n.StarTable != "" {
			return nameSQL(n.StarTable) + ".*"
		}
		return "*"
	}
	s := clause(n.Expr)
	if n.Alias != nil {
		s += " AS " + n.Alias.String()
	}
	return s
}

func aliasSQL(a *Ident) string {
	if a == nil {
		return ""
	}
	return " AS " + a.String()
}

func (n *TableName) String() string {
	s := n.Name.String()
	if n.AsOf != nil {
		s += " FOR SYSTEM_TIME AS OF " + n.AsOf.String()
	}
	return s + aliasSQL(n.Alias)
}

func (n *JoinRef) String() string {
	if n.Comma {
		return n.Left.String() + ", " + n.Right.String()
	}
	s := n.Left.String() + " " + n.Kind + " JOIN " + n.Right.String()
	if n.On != nil {
		s += " ON " + clause(n.On)
	}
	return s
}

func (n *SubqueryRef) String() string {
	s := "(" + n.Query.String() + ")" + aliasSQL(n.Alias)
	if len(n.Columns) > 0 {
		s += " (" + identList(n.Columns) + ")"
	}
	return s
}

func (n *WindowTVF) String() string {
	var b strings.Builder
	b.WriteString("TABLE(")
	b.WriteString(n.Func)
	b.WriteString("(")
	switch in := n.Input.(type) {
	case *TableName:
		b.WriteString("TABLE ")
		b.WriteString(in.Name.String())
	case *SubqueryRef:
		b.WriteString("(" + in.Query.String() + ")")
	}
	if len(n.PartitionBy) > 0 {
		b.WriteString(" PARTITION BY ")
		b.WriteString(identList(n.PartitionBy))
	}
	b.WriteString(", DESCRIPTOR(")
	b.WriteString(n.TimeCol.String())
	b.WriteString(")")
	for _, a := range n.Args {
		b.WriteString(", ")
		b.WriteString(clause(a))
	}
	b.WriteString("))")
	b.WriteString(aliasSQL(n.Alias))
	return b.String()
}

// ---- Expressions ----

func (n *ColumnExpr) String() string {
	if n.Table != "" {
		return nameSQL(n.Table) + "." + n.Name.String()
	}
	return n.Name.String()
}

func (n *NumberLit) String() string { return n.Text }

func (n *StringLit) String() string { return quoteString(n.Value) }

func (n *BoolLit) String() string {
	if n.Value {
		return "TRUE"
	}
	return "FALSE"
}

func (n *NullLit) String() string { return "NULL" }

func (n *IntervalLit) String() string { return "INTERVAL " + quoteString(n.Value) + " " + n.Unit }

func (n *TimestampLit) String() string { return "TIMESTAMP " + quoteString(n.Value) }

func (n *BinaryExpr) String() string {
	var b strings.Builder
	writeExpr(&b, n, true)
	return b.String()
}

func (n *BinaryExpr) bare() string {
	var b strings.Builder
	writeExpr(&b, n, false)
	return b.String()
}

func (n *UnaryExpr) String() string {
	var b strings.Builder
	writeExpr(&b, n, true)
	return b.String()
}

func (n *UnaryExpr) bare() string {
	var b strings.Builder
	writeExpr(&b, n, false)
	return b.String()
}

// precedence groups the binary operators that associate with each other
// to the left: a chain of them (a + b - c, x AND y AND z) prints without
// parentheses around its left operands, so that the printed text of a long
// flat expression is as flat as the text it was parsed from (it would
// otherwise nest past MaxNesting, and print in quadratic time).
var precedence = map[string]int{"OR": 1, "AND": 2, "||": 3, "+": 4, "-": 4, "*": 5, "/": 5, "%": 5}

// writeExpr prints e into b, in parentheses if nested and e is an operator
// expression.
func writeExpr(b *strings.Builder, e Expr, nested bool) {
	switch n := e.(type) {
	case *BinaryExpr:
		if nested {
			b.WriteByte('(')
		}
		l, ok := n.Left.(*BinaryExpr)
		chain := ok && precedence[l.Op] != 0 && precedence[l.Op] == precedence[n.Op]
		writeExpr(b, n.Left, !chain)
		b.WriteByte(' ')
		b.WriteString(n.Op)
		b.WriteByte(' ')
		writeExpr(b, n.Right, true)
		if nested {
			b.WriteByte(')')
		}
	case *UnaryExpr:
		if nested {
			b.WriteByte('(')
		}
		// A chain of unary operators prints without parentheses too:
		// NOT NOT x, - -x (with a space, since -- starts a comment).
		b.WriteString(n.Op)
		x, chain := n.X.(*UnaryExpr)
		chain = chain && (x.Op == "NOT") == (n.Op == "NOT")
		if n.Op == "NOT" || chain {
			b.WriteByte(' ')
		}
		writeExpr(b, n.X, !chain)
		if nested {
			b.WriteByte(')')
		}
	default:
		b.WriteString(e.String())
	}
}

func notKw(b bool) string {
	if b {
		return "NOT "
	}
	return ""
}

func (n *IsExpr) String() string { return "(" + n.bare() + ")" }

func (n *IsExpr) bare() string { return n.X.String() + " IS " + notKw(n.Not) + n.What }

func (n *LikeExpr) String() string { return "(" + n.bare() + ")" }

func (n *LikeExpr) bare() string {
	return n.X.String() + " " + notKw(n.Not) + "LIKE " + n.Pattern.String()
}

func (n *InExpr) String() string { return "(" + n.bare() + ")" }

func (n *InExpr) bare() string {
	return n.X.String() + " " + notKw(n.Not) + "IN (" + exprList(n.List) + ")"
}

func (n *InSubquery) String() string { return "(" + n.bare() + ")" }

func (n *InSubquery) bare() string {
	return n.X.String() + " " + notKw(n.Not) + "IN (" + n.Query.String() + ")"
}

func (n *ExistsExpr) String() string { return "EXISTS (" + n.Query.String() + ")" }

func (n *ScalarSubquery) String() string { return "(" + n.Query.String() + ")" }

func (n *BetweenExpr) String() string { return "(" + n.bare() + ")" }

func (n *BetweenExpr) bare() string {
	return n.X.String() + " " + notKw(n.Not) + "BETWEEN " + n.Low.String() + " AND " + n.High.String()
}

func (n *CaseExpr) String() string {
	var b strings.Builder
	b.WriteString("CASE")
	if n.Operand != nil {
		b.WriteString(" ")
		b.WriteString(clause(n.Operand))
	}
	for _, w := range n.Whens {
		b.WriteString(" ")
		b.WriteString(w.String())
	}
	if n.Else != nil {
		b.WriteString(" ELSE ")
		b.WriteString(clause(n.Else))
	}
	b.WriteString(" END")
	return b.String()
}

func (n *When) String() string {
	return "WHEN " + clause(n.Cond) + " THEN " + clause(n.Result)
}

func (n *CastExpr) String() string {
	kw := "CAST"
	if n.TryCast {
		kw = "TRY_CAST"
	}
	return kw + "(" + clause(n.X) + " AS " + n.Type.String() + ")"
}

func (n *FuncCall) String() string {
	var s string
	switch {
	case n.Star:
		s = n.Name + "(*)"
	case n.Distinct:
		s = n.Name + "(DISTINCT " + exprList(n.Args) + ")"
	case n.TimeUnit != "":
		s = n.Name + "(" + exprList(n.Args) + " TO " + n.TimeUnit + ")"
	default:
		s = n.Name + "(" + exprList(n.Args) + ")"
	}
	if n.Filter != nil {
		s += " FILTER (WHERE " + clause(n.Filter) + ")"
	}
	if n.Over != nil {
		s += " OVER " + n.Over.String()
	}
	return s
}

// String prints the window as (…), or the name it refers to.
func (n *WindowSpec) String() string {
	if n.Ref != nil {
		return n.Ref.String()
	}
	var parts []string
	if len(n.PartitionBy) > 0 {
		parts = append(parts, "PARTITION BY "+exprList(n.PartitionBy))
	}
	if len(n.OrderBy) > 0 {
		items := make([]string, len(n.OrderBy))
		for i, o := range n.OrderBy {
			items[i] = o.String()
		}
		parts = append(parts, "ORDER BY "+strings.Join(items, ", "))
	}
	if n.Frame != nil {
		parts = append(parts, n.Frame.String())
	}
	return "(" + strings.Join(parts, " ") + ")"
}

func (n *WindowFrame) String() string {
	kw := "RANGE"
	if n.Rows {
		kw = "ROWS"
	}
	if n.Short {
		return kw + " " + n.Start.String()
	}
	return kw + " BETWEEN " + n.Start.String() + " AND " + n.End.String()
}

func (n *FrameBound) String() string {
	if n.Offset != nil {
		return clause(n.Offset) + " " + n.Kind
	}
	return n.Kind
}

func (n *NamedWindow) String() string { return n.Name.String() + " AS " + n.Spec.String() }
