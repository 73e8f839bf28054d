package plan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/types"
)

// Expr is a bound, typed scalar expression over the columns of one input
// schema. The set of expressions is closed.
type Expr interface {
	// Type is the SQL type of the expression's value.
	Type() types.Type
	// String prints the expression for EXPLAIN, columns as name#index.
	String() string
	isExpr()
}

// ColumnRef reads column Index of the input.
type ColumnRef struct {
	Index int
	Name  string // for EXPLAIN only
	T     types.Type
}

// Literal is a constant. Value is nil (NULL), bool, int64 (INT, BIGINT,
// TIMESTAMP ms, INTERVAL ms; DECIMAL unscaled), float64 (FLOAT, DOUBLE) or
// string.
type Literal struct {
	Value any
	T     types.Type
}

// Call applies a scalar function or operator to its arguments. The planner
// has already checked the arguments' types and inserted casts so that
// operands of arithmetic and comparison have the same type.
//
// Func is one of:
//
//	arithmetic      + - * / %  NEG          (numeric; TIMESTAMP ± INTERVAL)
//	comparison      = <> < <= > >=          (same-typed operands; BOOLEAN result)
//	logic           AND OR NOT              (three-valued)
//	null tests      IS_NULL IS_NOT_NULL IS_TRUE IS_NOT_TRUE IS_FALSE IS_NOT_FALSE
//	strings         LIKE NOT_LIKE || UPPER LOWER CHAR_LENGTH TRIM SUBSTRING CONCAT
//	numbers         ABS FLOOR CEIL ROUND MOD POWER SQRT
//	misc            COALESCE IF
//	time            TUMBLE_START-like helpers are planned away; FLOOR_TS(ts, ms)
//	                rounds a timestamp down to a multiple of ms
type Call struct {
	Func string
	Args []Expr
	T    types.Type
}

// ScalarFunc computes a user-defined scalar function over a batch: args
// hold one array per argument (of the function's declared argument types),
// each of rows values; the result must have rows values of the declared
// result type, allocated from alloc; the caller releases it.
type ScalarFunc func(args []arrow.Array, rows int, alloc memory.Allocator) (arrow.Array, error)

// UDFCall applies a user-defined scalar function. The planner has cast
// the arguments to the function's declared types.
type UDFCall struct {
	Name string
	Args []Expr
	T    types.Type
	Fn   ScalarFunc
}

// Cast converts Arg to T. Safe is set for TRY_CAST (NULL on failure instead
// of an error). Zone is the session time zone of a cast between
// TIMESTAMP_LTZ and TIMESTAMP or STRING, which sees the instant as a local
// time there (nil: UTC).
type Cast struct {
	Arg  Expr
	T    types.Type
	Safe bool
	Zone *types.Zone
}

// Case is a searched CASE: the result of the first When whose Cond is TRUE,
// else Else (NULL literal when the query has no ELSE).
type Case struct {
	Whens []When
	Else  Expr
	T     types.Type
}

// When is one arm of a Case.
type When struct {
	Cond, Result Expr
}

func (e *ColumnRef) Type() types.Type { return e.T }
func (e *Literal) Type() types.Type   { return e.T }
func (e *Call) Type() types.Type      { return e.T }
func (e *Cast) Type() types.Type      { return e.T }
func (e *Case) Type() types.Type      { return e.T }
func (e *UDFCall) Type() types.Type   { return e.T }

func (*ColumnRef) isExpr() {}
func (*Literal) isExpr()   {}
func (*Call) isExpr()      {}
func (*Cast) isExpr()      {}
func (*Case) isExpr()      {}
func (*UDFCall) isExpr()   {}

func (e *ColumnRef) String() string { return e.Name + "#" + strconv.Itoa(e.Index) }

func (e *Literal) String() string {
	switch v := e.Value.(type) {
	case nil:
		return "NULL"
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case int64:
		switch e.T.Kind {
		case types.Interval:
			return fmt.Sprintf("INTERVAL %dms", v)
		case types.Decimal:
			return string(types.AppendDecimal(nil, decimal128.FromI64(v), int32(e.T.Scale)))
		}
		return strconv.FormatInt(v, 10)
	default:
		return fmt.Sprint(v)
	}
}

func (e *Call) String() string {
	var b strings.Builder
	e.write(&b)
	return b.String()
}

// write prints e into b; nested calls print into the same builder, so
// that printing a deep expression (a chain a+a+…+a) takes linear time.
func (e *Call) write(b *strings.Builder) {
	arg := func(a Expr) {
		if c, ok := a.(*Call); ok {
			c.write(b)
		} else {
			b.WriteString(a.String())
		}
	}
	if len(e.Args) == 2 && isInfix(e.Func) {
		b.WriteByte('(')
		arg(e.Args[0])
		b.WriteByte(' ')
		b.WriteString(e.Func)
		b.WriteByte(' ')
		arg(e.Args[1])
		b.WriteByte(')')
		return
	}
	b.WriteString(e.Func)
	b.WriteByte('(')
	for i, a := range e.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		arg(a)
	}
	b.WriteByte(')')
}

func isInfix(f string) bool {
	switch f {
	case "+", "-", "*", "/", "%", "=", "<>", "<", "<=", ">", ">=", "AND", "OR", "||":
		return true
	}
	return false
}

func (e *UDFCall) String() string {
	args := make([]string, len(e.Args))
	for i, a := range e.Args {
		args[i] = a.String()
	}
	return e.Name + "(" + strings.Join(args, ", ") + ")"
}

func (e *Cast) String() string {
	zone := ""
	if !e.Zone.IsUTC() {
		zone = " AT ZONE '" + e.Zone.String() + "'"
	}
	if e.Safe {
		return "TRY_CAST(" + e.Arg.String() + " AS " + e.T.Nullable().String() + zone + ")"
	}
	return "CAST(" + e.Arg.String() + " AS " + e.T.Nullable().String() + zone + ")"
}

// ZoneCast reports whether a cast from a value of type from to type to
// depends on the session time zone: between TIMESTAMP_LTZ and TIMESTAMP or
// STRING.
func ZoneCast(from, to types.Type) bool {
	f, t := from.Kind, to.Kind
	local := func(k types.Kind) bool { return k == types.Timestamp || k == types.String }
	return f == types.TimestampLTZ && local(t) || t == types.TimestampLTZ && local(f)
}

func (e *Case) String() string {
	var b strings.Builder
	b.WriteString("CASE")
	for _, w := range e.Whens {
		fmt.Fprintf(&b, " WHEN %s THEN %s", w.Cond, w.Result)
	}
	if e.Else != nil {
		fmt.Fprintf(&b, " ELSE %s", e.Else)
	}
	b.WriteString(" END")
	return b.String()
}
