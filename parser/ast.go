package parser

import "github.com/alecthomas/participle/v2/lexer"

// Pos is the position of a node in the SQL text: file name, byte offset,
// 1-based line and column.
type Pos = lexer.Position

// Node is any node of the syntax tree.
type Node interface {
	// Position returns where the node starts in the source text.
	Position() Pos
	// String prints the node as canonical SQL that parses again to an
	// equal node (positions aside). Operator expressions are
	// parenthesised so that precedence survives the round trip (chains of
	// one left-associative precedence, a + b - c, need none).
	String() string
}

// Statement is one top-level SQL statement. The set of statements is closed:
// only this package's types implement it.
type Statement interface {
	Node
	stmt()
}

// Expr is a scalar expression. The set of expressions is closed.
type Expr interface {
	Node
	expr()
}

// TableRef is an item of a FROM clause. The set is closed.
type TableRef interface {
	Node
	tableRef()
}

// Ident is an identifier: a name, quoted with backticks or not. Unquoted
// names keep the case they were written in; resolution is case-insensitive
// for them.
type Ident struct {
	Pos    Pos
	Name   string
	Quoted bool
}

// ---- Statements ----

// CreateTableStmt is CREATE [TEMPORARY] TABLE [IF NOT EXISTS] name (…) WITH (…).
type CreateTableStmt struct {
	Pos         Pos
	Temporary   bool
	IfNotExists bool
	Name        Ident
	Columns     []*ColumnDef
	Watermark   *WatermarkDef  // nil when the table declares none
	PrimaryKey  *PrimaryKeyDef // nil when the table declares none
	// PartitionedBy is PARTITIONED BY (column, …): the columns whose values
	// name a row's partition (a filesystem sink's directory); nil when
	// absent.
	PartitionedBy *PartitionedByDef
	Options       []*Option // the WITH clause, in order
	Comment       string    // the table's COMMENT '…', "" when absent
}

// PartitionedByDef is PARTITIONED BY (column, …) of CREATE TABLE.
type PartitionedByDef struct {
	Pos     Pos
	Columns []Ident
}

// ColumnDef is one column of CREATE TABLE: a physical column, a metadata
// column (`name TYPE METADATA [FROM 'key'] [VIRTUAL]`) or a computed column
// (`name AS expr`, Type is nil).
type ColumnDef struct {
	Pos     Pos
	Name    Ident
	Type    *TypeName // nil for a computed column
	NotNull bool
	// Metadata is set for a METADATA column; MetadataKey is the FROM key
	// ("" means the column name), Virtual marks a read-only column.
	Metadata    bool
	MetadataKey string
	Virtual     bool
	Computed    Expr // non-nil for `name AS expr`
	Comment     string
}

// TypeName is a type as written: BIGINT, DECIMAL(10, 2), VARCHAR(20),
// TIMESTAMP(3), TIMESTAMP_LTZ(3), TIMESTAMP(3) WITH LOCAL TIME ZONE.
type TypeName struct {
	Pos Pos
	// Name is the upper-cased base name: BOOLEAN, TINYINT, SMALLINT, INT,
	// INTEGER, BIGINT, FLOAT, REAL, DOUBLE ("DOUBLE PRECISION" too), DECIMAL,
	// NUMERIC, STRING, VARCHAR, CHAR, TIMESTAMP, TIMESTAMP_LTZ, DATE, TIME.
	Name              string
	Params            []int // (p) or (p, s)
	WithLocalTimeZone bool
}

// WatermarkDef is WATERMARK FOR column AS expr.
type WatermarkDef struct {
	Pos    Pos
	Column Ident
	Expr   Expr
}

// PrimaryKeyDef is PRIMARY KEY (column, …) NOT ENFORCED: not checked
// against the rows (as in Flink); connectors that key their records by it
// (upsert-kafka) read it.
type PrimaryKeyDef struct {
	Pos     Pos
	Columns []Ident
}

// Option is one 'key' = 'value' pair of a WITH clause.
type Option struct {
	Pos   Pos
	Key   string
	Value string
}

// CreateViewStmt is CREATE [TEMPORARY] VIEW [IF NOT EXISTS] name [(cols)] AS query.
type CreateViewStmt struct {
	Pos         Pos
	Temporary   bool
	IfNotExists bool
	Name        Ident
	Columns     []Ident
	Query       *Select
}

// CreateFunctionStmt is CREATE [TEMPORARY [SYSTEM]] FUNCTION [IF NOT
// EXISTS] name AS 'class' [LANGUAGE lang]: Flink's way of declaring a
// user-defined function by its Java class. Class is the class name;
// Language is "JAVA", "SCALA", "PYTHON" or "" (not given).
type CreateFunctionStmt struct {
	Pos         Pos
	Temporary   bool
	System      bool
	IfNotExists bool
	Name        Ident
	Class       string
	Language    string
}

// DropStmt is DROP [TEMPORARY] TABLE|VIEW [IF EXISTS] name.
type DropStmt struct {
	Pos       Pos
	Temporary bool // DROP TEMPORARY TABLE|VIEW
	View      bool // DROP VIEW; false is DROP TABLE
	IfExists  bool
	Name      Ident
}

// ShowStmt is SHOW TABLES | VIEWS | JOBS | FUNCTIONS, SHOW CREATE TABLE |
// VIEW name, or SHOW CHECKPOINTS
// FOR 'job' (What is "CHECKPOINTS", JobID set).
type ShowStmt struct {
	Pos   Pos
	What  string // upper case; "CREATE TABLE" or "CREATE VIEW" for SHOW CREATE
	JobID string
	Name  Ident // of SHOW CREATE TABLE|VIEW name
}

// DescribeStmt is DESCRIBE [EXTENDED] name (or DESC).
type DescribeStmt struct {
	Pos      Pos
	Extended bool
	Name     Ident
}

// ExplainStmt is EXPLAIN [PLAN FOR] stmt, where stmt is a query, an INSERT
// or a statement set (EXPLAIN STATEMENT SET BEGIN … END).
type ExplainStmt struct {
	Pos  Pos
	Stmt Statement
}

// SetStmt is SET 'key' = 'value', or bare SET (Key == "") listing settings.
type SetStmt struct {
	Pos   Pos
	Key   string
	Value string
}

// ResetStmt is RESET 'key', or bare RESET (Key == "") resetting all.
type ResetStmt struct {
	Pos Pos
	Key string
}

// QueryStmt is a bare SELECT whose rows go to the client.
type QueryStmt struct {
	Pos   Pos
	Query *Select
}

// InsertStmt is INSERT INTO table [(cols)] SELECT ….
type InsertStmt struct {
	Pos     Pos
	Table   Ident
	Columns []Ident
	Query   *Select
}

// StatementSetStmt is EXECUTE STATEMENT SET BEGIN INSERT …; INSERT …; END:
// INSERTs that run together as one job. It holds at least one INSERT and
// nothing else.
type StatementSetStmt struct {
	Pos     Pos
	Inserts []*InsertStmt
}

// BeginStatementSetStmt is the shell's BEGIN STATEMENT SET: the INSERTs
// that follow, up to END, are collected into one statement set.
type BeginStatementSetStmt struct {
	Pos Pos
}

// EndStatementSetStmt is the shell's END, which submits the statement set
// that BEGIN STATEMENT SET opened.
type EndStatementSetStmt struct {
	Pos Pos
}

// StopJobStmt is STOP JOB 'id' [WITH SAVEPOINT].
type StopJobStmt struct {
	Pos           Pos
	JobID         string
	WithSavepoint bool
}

// ---- Queries ----

// Select is one SELECT block, or a UNION ALL of several: then the Select
// is the first term and UnionAll the terms joined to it, in order.
//
// For a union, Limit applies to the whole union (SQL's LIMIT after the
// last term), and the clauses other than Limit to the first term only. A
// term of UnionAll has a Limit or a UnionAll of its own only when it was
// parenthesised with one, as in (SELECT … LIMIT 5); other parenthesised
// terms are flattened into the list. A first term with a LIMIT of its own
// is wrapped as SELECT * FROM (term).
//
// With, OrderBy and Limit, like Limit alone, apply to the whole query (the
// union, when there is one): WITH a AS (…) SELECT … UNION ALL SELECT …
// ORDER BY x LIMIT 5. A term with clauses of its own is parenthesised.
//
// A Select with Values set is VALUES (…), (…): it has no Items, From,
// Where, GroupBy or Having (it may have With, a union, ORDER BY, LIMIT).
type Select struct {
	Pos    Pos
	With   []*CTE // WITH name AS (query), …; nil when absent
	Values []*ValuesRow
	// Hints are the query hints of /*+ … */ comments right after SELECT,
	// in order (Flink's STATE_TTL).
	Hints    []*Hint
	Distinct bool
	Items    []*SelectItem
	From     TableRef
	Where    Expr // nil when absent
	// GroupBy holds expressions and *GroupingSets (GROUPING SETS, ROLLUP,
	// CUBE), in the order written.
	GroupBy []Expr
	Having  Expr // nil when absent
	// Windows are the WINDOW name AS (…) definitions, in order.
	Windows  []*NamedWindow
	UnionAll []*Select
	OrderBy  []*OrderItem
	Limit    *int64 // nil when absent
}

// CTE is one common table expression of a WITH clause:
// name [(column, …)] AS (query).
type CTE struct {
	Pos     Pos
	Name    Ident
	Columns []Ident // nil when absent
	Query   *Select
}

// ValuesRow is one row (v, …) of VALUES.
type ValuesRow struct {
	Pos    Pos
	Values []Expr
}

// OrderItem is one item of ORDER BY: expr [ASC | DESC].
type OrderItem struct {
	Pos  Pos
	Expr Expr
	Desc bool
}

// GroupingSets is GROUPING SETS ((a, b), (a), ()), ROLLUP (a, b) or
// CUBE (a, b) in GROUP BY; it is only found there. Kind is "GROUPING SETS",
// "ROLLUP" or "CUBE". For GROUPING SETS, Sets are the sets; for ROLLUP
// and CUBE, the elements (a column, or a parenthesised composite (a, b)
// that is rolled up as one).
type GroupingSets struct {
	Pos  Pos
	Kind string
	Sets [][]Expr
}

// SelectItem is one item of the select list: expr [AS alias], *, or t.*.
type SelectItem struct {
	Pos   Pos
	Expr  Expr   // nil for a star
	Alias *Ident // nil when absent
	Star  bool
	// StarTable qualifies a star (t.*); empty for a bare *.
	StarTable string
}

// TableName is a table or view named in FROM, with an optional alias and,
// on the right side of a join, FOR SYSTEM_TIME AS OF (a lookup or temporal
// join).
type TableName struct {
	Pos   Pos
	Name  Ident
	AsOf  Expr // FOR SYSTEM_TIME AS OF AsOf; nil when absent
	Alias *Ident
}

// JoinRef is a join in FROM: Left [INNER | LEFT | RIGHT | FULL] JOIN
// Right ON On, Left CROSS JOIN Right, or Left, Right (Comma: a cross join
// whose condition, if any, is in WHERE). Joins nest to the left: a JOIN b
// JOIN c is (a JOIN b) JOIN c.
type JoinRef struct {
	Pos   Pos    // where the join keyword (or the comma) is
	Kind  string // INNER, LEFT, RIGHT, FULL or CROSS (upper case)
	Comma bool
	Left  TableRef
	Right TableRef
	On    Expr // nil for a cross join
}

// SubqueryRef is (SELECT …) [AS] alias [(column, …)] in FROM, or
// (VALUES …) AS t(column, …).
type SubqueryRef struct {
	Pos   Pos
	Query *Select
	Alias *Ident
	// Columns renames the subquery's columns; nil when absent.
	Columns []Ident
}

// WindowTVF is a windowing table-valued function in FROM:
//
//	TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND)) [AS] alias
//	TABLE(HOP(TABLE t, DESCRIPTOR(ts), slide, size))
//	TABLE(CUMULATE(TABLE t, DESCRIPTOR(ts), step, size))
//	TABLE(SESSION(TABLE t [PARTITION BY k, …], DESCRIPTOR(ts), gap))
//
// The input may also be a parenthesised subquery instead of TABLE t.
type WindowTVF struct {
	Pos         Pos
	Func        string   // TUMBLE, HOP, CUMULATE, SESSION (upper case)
	Input       TableRef // *TableName or *SubqueryRef
	PartitionBy []Ident
	TimeCol     Ident
	Args        []Expr // the interval arguments, in order
	Alias       *Ident
}

// ---- Expressions ----

// ColumnExpr is a column reference, optionally qualified: col or t.col.
type ColumnExpr struct {
	Pos   Pos
	Table string // empty when unqualified
	Name  Ident
}

// NumberLit is a numeric literal as written: 42, 3.14, 1e3.
type NumberLit struct {
	Pos  Pos
	Text string
}

// StringLit is a string literal; Value has the quotes removed and ”
// unescaped.
type StringLit struct {
	Pos   Pos
	Value string
}

// BoolLit is TRUE or FALSE.
type BoolLit struct {
	Pos   Pos
	Value bool
}

// NullLit is NULL.
type NullLit struct {
	Pos Pos
}

// IntervalLit is INTERVAL '10' SECOND (units: MILLISECOND, SECOND, MINUTE,
// HOUR, DAY, with or without a plural S; Unit is upper-cased singular).
// A leading minus sign may appear inside the string.
type IntervalLit struct {
	Pos   Pos
	Value string
	Unit  string
}

// TimestampLit is TIMESTAMP '2024-01-01 12:00:00[.000]'.
type TimestampLit struct {
	Pos   Pos
	Value string
}

// BinaryExpr is a binary operation. Op is one of
// + - * / % || = <> < <= > >= AND OR (upper case for words; != is
// normalised to <>). Pos is where the left operand starts.
type BinaryExpr struct {
	Pos         Pos
	Op          string
	Left, Right Expr
}

// UnaryExpr is - x, + x or NOT x.
type UnaryExpr struct {
	Pos Pos
	Op  string // "-", "+", "NOT"
	X   Expr
}

// IsExpr is x IS [NOT] NULL | TRUE | FALSE. Like LikeExpr, InExpr and
// BetweenExpr, its Pos is where X starts.
type IsExpr struct {
	Pos  Pos
	X    Expr
	Not  bool
	What string // NULL, TRUE, FALSE
}

// LikeExpr is x [NOT] LIKE pattern.
type LikeExpr struct {
	Pos        Pos
	X, Pattern Expr
	Not        bool
}

// InExpr is x [NOT] IN (a, b, …).
type InExpr struct {
	Pos  Pos
	X    Expr
	List []Expr
	Not  bool
}

// InSubquery is x [NOT] IN (SELECT …): the planner makes it a semi join
// (an anti join for NOT IN) when it is a conjunct of WHERE.
type InSubquery struct {
	Pos   Pos
	X     Expr
	Query *Select
	Not   bool
}

// ExistsExpr is EXISTS (SELECT …) (NOT EXISTS is a UnaryExpr NOT over it):
// the planner makes it a semi (anti) join when it is a conjunct of WHERE.
type ExistsExpr struct {
	Pos   Pos
	Query *Select
}

// ScalarSubquery is (SELECT …) used as a value: the planner joins the
// outer query with the subquery's (at most one) row.
type ScalarSubquery struct {
	Pos   Pos
	Query *Select
}

// BetweenExpr is x [NOT] BETWEEN low AND high.
type BetweenExpr struct {
	Pos       Pos
	X         Expr
	Low, High Expr
	Not       bool
}

// CaseExpr is CASE [operand] WHEN … THEN … [ELSE …] END.
type CaseExpr struct {
	Pos     Pos
	Operand Expr // nil for a searched CASE
	Whens   []*When
	Else    Expr // nil when absent
}

// When is one WHEN cond THEN result arm of a CASE.
type When struct {
	Pos    Pos
	Cond   Expr
	Result Expr
}

// CastExpr is CAST(x AS type) (TryCast for TRY_CAST).
type CastExpr struct {
	Pos     Pos
	X       Expr
	Type    *TypeName
	TryCast bool
}

// FuncCall is name(args), including aggregates: COUNT(*) has Star set,
// COUNT(DISTINCT x) has Distinct set. Name is upper-cased. Legacy group
// windows appear as calls too: TUMBLE(ts, INTERVAL …), TUMBLE_START(…).
//
// An aggregate may carry FILTER (WHERE cond) (Filter set) and any call
// OVER (window) or OVER name (Over set): an OVER aggregate, or a ranking
// function such as ROW_NUMBER() OVER (PARTITION BY … ORDER BY …).
type FuncCall struct {
	Pos      Pos
	Name     string
	Args     []Expr
	Star     bool
	Distinct bool
	Filter   Expr        // FILTER (WHERE cond); nil when absent
	Over     *WindowSpec // OVER (…) or OVER name; nil when absent
	// TimeUnit is the unit of FLOOR(ts TO unit) and CEIL(ts TO unit)
	// (upper case); "" for every other call.
	TimeUnit string
}

// WindowSpec is the window of an OVER clause or of a WINDOW name AS (…)
// definition: [PARTITION BY expr, …] [ORDER BY item, …] [frame]. OVER name
// is a WindowSpec with only Ref set.
type WindowSpec struct {
	Pos         Pos
	Ref         *Ident // OVER w: the named window; nil for an inline window
	PartitionBy []Expr
	OrderBy     []*OrderItem
	Frame       *WindowFrame // nil when absent
}

// WindowFrame is ROWS|RANGE BETWEEN start AND end, or ROWS|RANGE start
// (then End is CURRENT ROW, as SQL defines it, and Short is set).
type WindowFrame struct {
	Pos        Pos
	Rows       bool // ROWS; false is RANGE
	Start, End *FrameBound
	Short      bool // written without BETWEEN
}

// FrameBound is one bound of a window frame.
type FrameBound struct {
	Pos Pos
	// Kind is one of "UNBOUNDED PRECEDING", "PRECEDING", "CURRENT ROW",
	// "FOLLOWING", "UNBOUNDED FOLLOWING".
	Kind   string
	Offset Expr // n or INTERVAL '…' of PRECEDING and FOLLOWING; nil otherwise
}

// NamedWindow is one definition name AS (spec) of a SELECT's WINDOW clause.
type NamedWindow struct {
	Pos  Pos
	Name Ident
	Spec *WindowSpec
}

// Position implementations.

func (n *CreateTableStmt) Position() Pos       { return n.Pos }
func (n *ColumnDef) Position() Pos             { return n.Pos }
func (n *TypeName) Position() Pos              { return n.Pos }
func (n *WatermarkDef) Position() Pos          { return n.Pos }
func (n *Option) Position() Pos                { return n.Pos }
func (n *CreateViewStmt) Position() Pos        { return n.Pos }
func (n *CreateFunctionStmt) Position() Pos    { return n.Pos }
func (n *DropStmt) Position() Pos              { return n.Pos }
func (n *ShowStmt) Position() Pos              { return n.Pos }
func (n *DescribeStmt) Position() Pos          { return n.Pos }
func (n *ExplainStmt) Position() Pos           { return n.Pos }
func (n *SetStmt) Position() Pos               { return n.Pos }
func (n *ResetStmt) Position() Pos             { return n.Pos }
func (n *QueryStmt) Position() Pos             { return n.Pos }
func (n *InsertStmt) Position() Pos            { return n.Pos }
func (n *StopJobStmt) Position() Pos           { return n.Pos }
func (n *StatementSetStmt) Position() Pos      { return n.Pos }
func (n *BeginStatementSetStmt) Position() Pos { return n.Pos }
func (n *EndStatementSetStmt) Position() Pos   { return n.Pos }
func (n *Select) Position() Pos                { return n.Pos }
func (n *SelectItem) Position() Pos            { return n.Pos }
func (n *TableName) Position() Pos             { return n.Pos }
func (n *JoinRef) Position() Pos               { return n.Pos }
func (n *SubqueryRef) Position() Pos           { return n.Pos }
func (n *WindowTVF) Position() Pos             { return n.Pos }
func (n *ColumnExpr) Position() Pos            { return n.Pos }
func (n *NumberLit) Position() Pos             { return n.Pos }
func (n *StringLit) Position() Pos             { return n.Pos }
func (n *BoolLit) Position() Pos               { return n.Pos }
func (n *NullLit) Position() Pos               { return n.Pos }
func (n *IntervalLit) Position() Pos           { return n.Pos }
func (n *TimestampLit) Position() Pos          { return n.Pos }
func (n *BinaryExpr) Position() Pos            { return n.Pos }
func (n *UnaryExpr) Position() Pos             { return n.Pos }
func (n *IsExpr) Position() Pos                { return n.Pos }
func (n *LikeExpr) Position() Pos              { return n.Pos }
func (n *InExpr) Position() Pos                { return n.Pos }
func (n *InSubquery) Position() Pos            { return n.Pos }
func (n *ExistsExpr) Position() Pos            { return n.Pos }
func (n *ScalarSubquery) Position() Pos        { return n.Pos }
func (n *BetweenExpr) Position() Pos           { return n.Pos }
func (n *CaseExpr) Position() Pos              { return n.Pos }
func (n *When) Position() Pos                  { return n.Pos }
func (n *CastExpr) Position() Pos              { return n.Pos }
func (n *FuncCall) Position() Pos              { return n.Pos }
func (n *WindowSpec) Position() Pos            { return n.Pos }
func (n *WindowFrame) Position() Pos           { return n.Pos }
func (n *FrameBound) Position() Pos            { return n.Pos }
func (n *NamedWindow) Position() Pos           { return n.Pos }
func (n *CTE) Position() Pos                   { return n.Pos }
func (n *ValuesRow) Position() Pos             { return n.Pos }
func (n *OrderItem) Position() Pos             { return n.Pos }
func (n *GroupingSets) Position() Pos          { return n.Pos }

func (*CreateTableStmt) stmt()       {}
func (*CreateViewStmt) stmt()        {}
func (*CreateFunctionStmt) stmt()    {}
func (*DropStmt) stmt()              {}
func (*ShowStmt) stmt()              {}
func (*DescribeStmt) stmt()          {}
func (*ExplainStmt) stmt()           {}
func (*SetStmt) stmt()               {}
func (*ResetStmt) stmt()             {}
func (*QueryStmt) stmt()             {}
func (*InsertStmt) stmt()            {}
func (*StopJobStmt) stmt()           {}
func (*StatementSetStmt) stmt()      {}
func (*BeginStatementSetStmt) stmt() {}
func (*EndStatementSetStmt) stmt()   {}

func (*ColumnExpr) expr()     {}
func (*NumberLit) expr()      {}
func (*StringLit) expr()      {}
func (*BoolLit) expr()        {}
func (*NullLit) expr()        {}
func (*IntervalLit) expr()    {}
func (*TimestampLit) expr()   {}
func (*BinaryExpr) expr()     {}
func (*UnaryExpr) expr()      {}
func (*IsExpr) expr()         {}
func (*LikeExpr) expr()       {}
func (*InExpr) expr()         {}
func (*InSubquery) expr()     {}
func (*ExistsExpr) expr()     {}
func (*ScalarSubquery) expr() {}
func (*BetweenExpr) expr()    {}
func (*CaseExpr) expr()       {}
func (*CastExpr) expr()       {}
func (*FuncCall) expr()       {}
func (*GroupingSets) expr()   {}

func (*TableName) tableRef()   {}
func (*JoinRef) tableRef()     {}
func (*SubqueryRef) tableRef() {}
func (*WindowTVF) tableRef()   {}
