package parser

import (
	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// This file holds the participle grammar: unexported structs whose tags
// describe the syntax. convert.go turns a parsed script into the public
// AST, so that the AST carries no participle tags and stays free to change
// shape independently of the grammar.

var sqlParser = participle.MustBuild[gScript](
	participle.Lexer(sqlLexer),
	participle.CaseInsensitive("Keyword", "Ident"),
	participle.UseLookahead(participle.MaxLookahead),
)

// ---- Script and statements ----

type gScript struct {
	Stmts []*gStmt `parser:"';'* ( @@ ( ';'+ @@? )* )?"`
}

type gStmt struct {
	Pos      lexer.Position
	Create   *gCreate   `parser:"  @@"`
	Drop     *gDrop     `parser:"| @@"`
	Show     *gShow     `parser:"| @@"`
	Describe *gDescribe `parser:"| @@"`
	Explain  *gExplain  `parser:"| @@"`
	Set      *gSet      `parser:"| @@"`
	Reset    *gReset    `parser:"| @@"`
	Insert   *gInsert   `parser:"| @@"`
	Stop     *gStop     `parser:"| @@"`
	Query    *gSelect   `parser:"| @@"`
	StmtSet  *gStmtSet  `parser:"| 'EXECUTE' @@"`
	BeginSet bool       `parser:"| @( 'BEGIN' 'STATEMENT' 'SET' )"`
	EndSet   bool       `parser:"| @'END'"`
}

// gStmtSet is STATEMENT SET BEGIN stmt; … END, after EXECUTE or EXPLAIN.
// Any statement but the shell's BEGIN STATEMENT SET and END is accepted
// inside, so that convert can say that only INSERTs belong there.
type gStmtSet struct {
	Pos   lexer.Position
	Stmts []*gSetItem `parser:"'STATEMENT' 'SET' 'BEGIN' ';'* ( @@ ';'+ )*"`
	End   *gEnd       `parser:"@@"`
}

// gEnd is the END closing a statement set.
type gEnd struct {
	Pos lexer.Position
	Kw  string `parser:"@'END'"`
}

// gSetItem is one statement inside a statement set.
type gSetItem struct {
	Pos      lexer.Position
	Create   *gCreate   `parser:"  @@"`
	Drop     *gDrop     `parser:"| @@"`
	Show     *gShow     `parser:"| @@"`
	Describe *gDescribe `parser:"| @@"`
	Explain  *gExplain  `parser:"| @@"`
	Set      *gSet      `parser:"| @@"`
	Reset    *gReset    `parser:"| @@"`
	Insert   *gInsert   `parser:"| @@"`
	Stop     *gStop     `parser:"| @@"`
	Query    *gSelect   `parser:"| @@"`
	StmtSet  *gStmtSet  `parser:"| 'EXECUTE' @@"`
	BeginSet bool       `parser:"| @( 'BEGIN' 'STATEMENT' 'SET' )"`
}

type gCreate struct {
	Pos       lexer.Position
	Temporary bool          `parser:"'CREATE' @'TEMPORARY'?"`
	Table     *gCreateTable `parser:"( @@"`
	View      *gCreateView  `parser:"| @@"`
	Function  *gCreateFunc  `parser:"| @@ )"`
}

// gCreateFunc is Flink's CREATE [TEMPORARY [SYSTEM]] FUNCTION [IF NOT
// EXISTS] name AS 'class' [LANGUAGE JAVA|SCALA|PYTHON] (after CREATE
// [TEMPORARY]).
type gCreateFunc struct {
	System      bool     `parser:"@'SYSTEM'? 'FUNCTION'"`
	IfNotExists bool     `parser:"( @'IF' 'NOT' 'EXISTS' )?"`
	Name        *gIdent  `parser:"@@"`
	Class       *gString `parser:"'AS' @@"`
	Language    *gIdent  `parser:"( 'LANGUAGE' @@ )?"`
}

type gCreateTable struct {
	IfNotExists bool          `parser:"'TABLE' ( @'IF' 'NOT' 'EXISTS' )?"`
	Name        *gIdent       `parser:"@@"`
	Elems       []*gTableElem `parser:"'(' @@ ( ',' @@ )* ')'"`
	Comment     *gString      `parser:"( 'COMMENT' @@ )?"`
	Partitioned *gPartitioned `parser:"@@?"`
	Options     []*gOption    `parser:"( 'WITH' '(' @@ ( ',' @@ )* ')' )?"`
}

// gPartitioned is PARTITIONED BY (column, …) of CREATE TABLE.
type gPartitioned struct {
	Pos     lexer.Position
	Columns []*gIdent `parser:"'PARTITIONED' 'BY' '(' @@ ( ',' @@ )* ')'"`
}

type gTableElem struct {
	Watermark  *gWatermark  `parser:"  @@"`
	PrimaryKey *gPrimaryKey `parser:"| @@"`
	Column     *gColumn     `parser:"| @@"`
}

type gWatermark struct {
	Pos    lexer.Position
	Column *gIdent `parser:"'WATERMARK' 'FOR' @@"`
	Expr   *gOr    `parser:"'AS' @@"`
}

// gPrimaryKey is PRIMARY KEY (…) NOT ENFORCED (see PrimaryKeyDef).
type gPrimaryKey struct {
	Pos     lexer.Position
	Columns []*gIdent `parser:"'PRIMARY' 'KEY' '(' @@ ( ',' @@ )* ')' 'NOT' 'ENFORCED'"`
}

type gColumn struct {
	Pos         lexer.Position
	Name        *gIdent  `parser:"@@"`
	Computed    *gOr     `parser:"( 'AS' @@"`
	Type        *gType   `parser:"| @@"`
	Metadata    bool     `parser:"  ( @'METADATA'"`
	MetadataKey *gString `parser:"    ( 'FROM' @@ )?"`
	Virtual     bool     `parser:"    @'VIRTUAL'?"`
	NotNull     bool     `parser:"  | @'NOT' 'NULL' )? )"`
	Comment     *gString `parser:"( 'COMMENT' @@ )?"`
}

type gType struct {
	Pos    lexer.Position
	Name   string      `parser:"( @'DOUBLE' 'PRECISION'? | @( 'BOOLEAN' | 'TINYINT' | 'SMALLINT' | 'INTEGER' | 'INT' | 'BIGINT' | 'FLOAT' | 'REAL' | 'DECIMAL' | 'NUMERIC' | 'STRING' | 'VARCHAR' | 'CHAR' | 'TIMESTAMP_LTZ' | 'TIMESTAMP' | 'DATE' | 'TIME' ) )"`
	Params []*gNumber  `parser:"( '(' @@ ( ',' @@ )* ')' )?"`
	LTZ    *gWithLocal `parser:"( (?= 'WITH' 'LOCAL' ) @@ )?"`
}

type gWithLocal struct {
	Pos lexer.Position
	Kw  string `parser:"@'WITH' 'LOCAL' 'TIME' 'ZONE'"`
}

type gOption struct {
	Pos   lexer.Position
	Key   *gString `parser:"@@"`
	Value *gString `parser:"'=' @@"`
}

type gCreateView struct {
	IfNotExists bool      `parser:"'VIEW' ( @'IF' 'NOT' 'EXISTS' )?"`
	Name        *gIdent   `parser:"@@"`
	Columns     []*gIdent `parser:"( '(' @@ ( ',' @@ )* ')' )?"`
	Query       *gSelect  `parser:"'AS' @@"`
}

type gDrop struct {
	Pos       lexer.Position
	Temporary bool    `parser:"'DROP' @'TEMPORARY'?"`
	View      bool    `parser:"( @'VIEW' | 'TABLE' )"`
	IfExists  bool    `parser:"( @'IF' 'EXISTS' )?"`
	Name      *gIdent `parser:"@@"`
}

type gShow struct {
	Pos        lexer.Position
	What       string   `parser:"'SHOW' ( @( 'TABLES' | 'VIEWS' | 'JOBS' | 'FUNCTIONS' )"`
	Check      bool     `parser:"       | @'CHECKPOINTS'"`
	JobID      *gString `parser:"         'FOR' @@"`
	CreateWhat string   `parser:"       | 'CREATE' @( 'TABLE' | 'VIEW' )"`
	Name       *gIdent  `parser:"         @@ )"`
}

type gDescribe struct {
	Pos      lexer.Position
	Extended bool    `parser:"( 'DESCRIBE' | 'DESC' ) @'EXTENDED'?"`
	Name     *gIdent `parser:"@@"`
}

type gExplain struct {
	Pos     lexer.Position
	Insert  *gInsert  `parser:"'EXPLAIN' ( 'PLAN' 'FOR' )? ( @@"`
	StmtSet *gStmtSet `parser:"| 'EXECUTE'? @@"`
	Query   *gSelect  `parser:"| @@ )"`
}

type gSet struct {
	Pos   lexer.Position
	Key   *gString `parser:"'SET' ( @@"`
	Value *gString `parser:"'=' @@ )?"`
}

type gReset struct {
	Pos lexer.Position
	Key *gString `parser:"'RESET' @@?"`
}

type gInsert struct {
	Pos     lexer.Position
	Table   *gIdent   `parser:"'INSERT' 'INTO' @@"`
	Columns []*gIdent `parser:"( '(' @@ ( ',' @@ )* ')' )?"`
	Query   *gSelect  `parser:"@@"`
}

type gStop struct {
	Pos       lexer.Position
	JobID     *gString `parser:"'STOP' 'JOB' @@"`
	Savepoint bool     `parser:"( @'WITH' 'SAVEPOINT' )?"`
}

// ---- Queries ----

// gSelect is a query: SELECT blocks (or parenthesised queries) joined by
// set operators, then a LIMIT that applies to the whole of it.
type gSelect struct {
	Pos     lexer.Position
	With    *gWith        `parser:"@@?"`
	First   *gTerm        `parser:"@@"`
	Rest    []*gSetOp     `parser:"@@*"`
	OrderBy []*gOrderItem `parser:"( 'ORDER' 'BY' @@ ( ',' @@ )* )?"`
	Limit   *gNumber      `parser:"( 'LIMIT' @@"`
	After   *gSetOp       `parser:"  @@? )?"`
}

// gWith is WITH cte, … before a query.
type gWith struct {
	Pos  lexer.Position
	CTEs []*gCTE `parser:"'WITH' @@ ( ',' @@ )*"`
}

// gCTE is name [(col, …)] AS (query).
type gCTE struct {
	Pos     lexer.Position
	Name    *gIdent   `parser:"@@"`
	Columns []*gIdent `parser:"( '(' @@ ( ',' @@ )* ')' )?"`
	Query   *gSelect  `parser:"'AS' '(' @@ ')'"`
}

// gOrderItem is expr [ASC | DESC] of ORDER BY.
type gOrderItem struct {
	Pos  lexer.Position
	Expr *gOr   `parser:"@@"`
	Dir  string `parser:"@( 'ASC' | 'DESC' )?"`
}

// gTerm is one operand of a set operator.
type gTerm struct {
	Pos    lexer.Position
	Core   *gSelectCore `parser:"  @@"`
	Values *gValues     `parser:"| @@"`
	Paren  *gSelect     `parser:"| '(' @@ ')'"`
}

// gValues is VALUES (…), (…).
type gValues struct {
	Pos  lexer.Position
	Rows []*gValuesRow `parser:"'VALUES' @@ ( ',' @@ )*"`
}

// gValuesRow is one row of VALUES.
type gValuesRow struct {
	Pos  lexer.Position
	List *gExprList `parser:"'(' @@ ')'"`
}

// gSetOp is a set operator and its right operand. Only UNION ALL is
// supported; the others are parsed so that convert can say so.
type gSetOp struct {
	Pos      lexer.Position
	Op       string `parser:"@( 'UNION' | 'INTERSECT' | 'EXCEPT' )"`
	All      bool   `parser:"( @'ALL'"`
	Distinct bool   `parser:"| @'DISTINCT' )?"`
	Term     *gTerm `parser:"@@"`
}

// gSelectCore is one SELECT block without LIMIT.
type gSelectCore struct {
	Pos      lexer.Position
	Hints    []lexer.Token   `parser:"'SELECT' @Hint*"`
	Distinct bool            `parser:"@'DISTINCT'?"`
	Items    *gSelectList    `parser:"@@"`
	From     *gTableRef      `parser:"( 'FROM' @@"`
	Joins    []*gJoin        `parser:"  @@* )?"`
	Where    *gOr            `parser:"( 'WHERE' @@ )?"`
	GroupBy  *gGroupList     `parser:"( 'GROUP' 'BY' @@ )?"`
	Having   *gOr            `parser:"( 'HAVING' @@ )?"`
	Windows  []*gNamedWindow `parser:"( 'WINDOW' @@ ( ',' @@ )* )?"`
}

// gNamedWindow is name AS (window) of a WINDOW clause.
type gNamedWindow struct {
	Pos  lexer.Position
	Name *gIdent      `parser:"@@ 'AS'"`
	Spec *gWindowSpec `parser:"@@"`
}

// gJoin is one join of a FROM clause after its first item: a comma, or
// [INNER | LEFT [OUTER] | RIGHT [OUTER] | FULL [OUTER] | CROSS] JOIN,
// then the item joined and, for a JOIN, its ON condition.
type gJoin struct {
	Pos   lexer.Position
	Comma bool       `parser:"( @','"`
	Kind  string     `parser:"| @( 'NATURAL' | 'CROSS' | 'INNER' | 'LEFT' | 'RIGHT' | 'FULL' )?"`
	Outer bool       `parser:"  @'OUTER'? 'JOIN' )"`
	Right *gTableRef `parser:"@@"`
	On    *gOr       `parser:"( 'ON' @@"`
	Using []*gIdent  `parser:"| 'USING' '(' @@ ( ',' @@ )* ')' )?"`
}

// gSelectItem is one item of a select list, parsed by gSelectList.
type gSelectItem struct {
	Pos       lexer.Position
	Star      bool
	StarTable *gIdent
	Expr      *gOr
	Alias     *gIdent
}

type gTableRef struct {
	Pos   lexer.Position
	TVF   *gTVF     `parser:"( @@"`
	Sub   *gSelect  `parser:"| '(' @@ ')'"`
	Name  *gIdent   `parser:"| @@ )"`
	AsOf  *gOr      `parser:"( 'FOR' 'SYSTEM_TIME' 'AS' 'OF' @@ )?"`
	Alias *gIdent   `parser:"( 'AS'? @@"`
	Cols  []*gIdent `parser:"  ( '(' @@ ( ',' @@ )* ')' )? )?"`
}

type gTVF struct {
	Pos         lexer.Position
	Func        string       `parser:"'TABLE' '(' @( 'TUMBLE' | 'HOP' | 'CUMULATE' | 'SESSION' ) '('"`
	DataName    *gArgName    `parser:"@@?"`
	Table       *gIdent      `parser:"( 'TABLE' @@"`
	Sub         *gSubInput   `parser:"| @@ )"`
	PartitionBy []*gIdent    `parser:"( 'PARTITION' 'BY' ( '(' @@ ( ',' @@ )* ')' | @@ ( ',' (?! ( 'DESCRIPTOR' '(' | Ident '=>' ) ) @@ )* ) )?"`
	TimeName    *gArgName    `parser:"',' @@?"`
	TimeCol     *gIdent      `parser:"'DESCRIPTOR' '(' @@ ')'"`
	Args        []*gNamedArg `parser:"( ',' @@ )* ')' ')'"`
}

type gSubInput struct {
	Pos   lexer.Position
	Query *gSelect `parser:"'(' @@ ')'"`
}

// gArgName is the NAME => before a named argument.
type gArgName struct {
	Pos  lexer.Position
	Name string `parser:"@Ident '=>'"`
}

type gNamedArg struct {
	Pos  lexer.Position
	Name string `parser:"( @Ident '=>' )?"`
	X    *gOr   `parser:"@@"`
}

// ---- Expressions ----

// Expressions (gOr) are parsed by hand: see exprparse.go.

// ---- Tokens with positions ----

type gIdent struct {
	Pos   lexer.Position
	Value string `parser:"@( Ident | QuotedIdent )"`
}

type gString struct {
	Pos   lexer.Position
	Value string `parser:"@String"`
}

type gNumber struct {
	Pos   lexer.Position
	Value string `parser:"@Number"`
}
