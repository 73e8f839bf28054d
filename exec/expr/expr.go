package expr

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

//go:generate go run gen.go

// Evaluator computes one expression over a record batch.
//
// An Evaluator is built once by Compile and applied to every batch of the
// input schema it was compiled against. Eval allocates its result (and any
// intermediate arrays, which it releases) from the allocator given to
// Compile. Evaluators hold no per-batch state and are safe for concurrent
// use. Errors are per batch: an Evaluator that failed on one batch can be
// applied to the next.
type Evaluator interface {
	// Eval returns an array of rec.NumRows() values; the caller releases it.
	Eval(rec arrow.Record) (arrow.Array, error)
	// Type is the SQL type of the values, the plan expression's type.
	Type() types.Type
}

// num is the set of Go types that hold numeric SQL values in Arrow arrays
// (int64 also holds TIMESTAMP and INTERVAL milliseconds).
type num interface {
	~int32 | ~int64 | ~float32 | ~float64
}

type ordered interface {
	~int32 | ~int64 | ~float32 | ~float64
}

// phys is the physical representation of a SQL type in an Arrow array.
type phys uint8

const (
	pBool phys = iota
	pI32
	pI64 // BIGINT, TIMESTAMP(_LTZ), INTERVAL and the NULL type
	pF32
	pF64
	pDec
	pStr
)

func physOf(t types.Type) (phys, error) {
	switch t.Kind {
	case types.Boolean:
		return pBool, nil
	case types.Int:
		return pI32, nil
	case types.BigInt, types.Null, types.Timestamp, types.TimestampLTZ, types.Interval:
		return pI64, nil
	case types.Float:
		return pF32, nil
	case types.Double:
		return pF64, nil
	case types.Decimal:
		return pDec, nil
	case types.String:
		return pStr, nil
	}
	return 0, fmt.Errorf("expr: unsupported type %s", t)
}

// Compile builds an evaluator for e, whose column references index input.
// Results and intermediates are allocated from alloc. Compile fails on
// unknown functions, unsupported operand types and column references that
// do not match input.
func Compile(e plan.Expr, input types.Schema, alloc memory.Allocator) (Evaluator, error) {
	return CompileWith(e, input, alloc, Options{})
}

// Options holds what expressions that read the running job's context
// need.
type Options struct {
	// Now is the processing time, read by PROCTIME() once per batch (every
	// row of a batch gets the same value). Nil means the wall clock; the
	// runtime passes its injected clock.
	Now func() time.Time
	// Shared, when not nil, holds the subexpressions that the expressions
	// compiled with it repeat, to compute once a batch (see Shared).
	Shared *Shared
}

// CompileWith is Compile with the job's context in opts.
func CompileWith(e plan.Expr, input types.Schema, alloc memory.Allocator, opts Options) (Evaluator, error) {
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &compiler{input: input, alloc: alloc, opts: opts}
	ev, err := c.compile(e)
	if err != nil {
		return nil, err
	}
	return ev, nil
}

type compiler struct {
	input types.Schema
	alloc memory.Allocator
	opts  Options
}

func (c *compiler) compile(e plan.Expr) (Evaluator, error) {
	var ev Evaluator
	var err error
	switch e := e.(type) {
	case *plan.ColumnRef:
		return c.compileColumn(e)
	case *plan.Literal:
		return newLiteral(e.Value, e.T)
	case *plan.Call:
		ev, err = c.compileCall(e)
	case *plan.Cast:
		ev, err = c.compileCast(e)
	case *plan.Case:
		ev, err = c.compileCase(e)
	case *plan.UDFCall:
		return c.compileUDF(e)
	case nil:
		return nil, fmt.Errorf("expr: nil expression")
	default:
		return nil, fmt.Errorf("expr: unsupported expression %T", e)
	}
	if err != nil {
		return nil, err
	}
	if ev, err = c.withType(fold(ev), e.Type()); err != nil {
		return nil, err
	}
	if w := c.opts.Shared.wrap(e, ev); w != nil {
		return w, nil
	}
	return ev, nil
}

// withType makes ev report the plan's type t: the same type with another
// NOT NULL flag is only relabelled; another type is cast.
func (c *compiler) withType(ev Evaluator, t types.Type) (Evaluator, error) {
	switch {
	case ev.Type() == t:
		return ev, nil
	case !types.Same(ev.Type(), t):
		return c.convert(ev, t)
	}
	if l, ok := ev.(*literal); ok {
		return &literal{t: t, ph: l.ph, proto: l.proto, null: l.null}, nil
	}
	return &relabel{Evaluator: ev, t: t}, nil
}

// relabel reports another nullability than the evaluator it wraps.
type relabel struct {
	Evaluator
	t types.Type
}

func (e *relabel) Type() types.Type      { return e.t }
func (e *relabel) operands() []Evaluator { return []Evaluator{e.Evaluator} }

func (c *compiler) compileAll(es []plan.Expr) ([]Evaluator, error) {
	out := make([]Evaluator, len(es))
	for i, e := range es {
		ev, err := c.compile(e)
		if err != nil {
			return nil, err
		}
		out[i] = ev
	}
	return out, nil
}

// column returns the input column retained.
type column struct {
	idx int
	t   types.Type
	id  arrow.Type
}

func (c *compiler) compileColumn(e *plan.ColumnRef) (Evaluator, error) {
	if e.Index < 0 || e.Index >= c.input.Len() {
		return nil, fmt.Errorf("expr: column %s out of range of input %s", e, c.input)
	}
	if f := c.input.Fields[e.Index]; !types.Same(f.Type, e.T) {
		return nil, fmt.Errorf("expr: column %s has type %s, input has %s", e, e.T, f.Type)
	}
	if _, err := physOf(e.T); err != nil {
		return nil, err
	}
	return &column{idx: e.Index, t: e.T, id: e.T.Arrow().ID()}, nil
}

func (e *column) Type() types.Type { return e.t }

func (e *column) Eval(rec arrow.Record) (arrow.Array, error) {
	if e.idx >= int(rec.NumCols()) {
		return nil, fmt.Errorf("expr: column %d out of range of batch with %d columns", e.idx, rec.NumCols())
	}
	a := rec.Column(e.idx)
	if a.DataType().ID() != e.id {
		return nil, fmt.Errorf("expr: column %d holds %s, want %s", e.idx, a.DataType(), e.t)
	}
	a.Retain()
	return a, nil
}

// fold replaces an evaluator whose operands are all literals by the
// literal of its value. An evaluator that fails on the constant (e.g.
// 1/0) is kept, so that the error surfaces when a batch is evaluated.
func fold(ev Evaluator) Evaluator {
	if _, ok := ev.(*literal); ok {
		return ev
	}
	k, ok := ev.(interface{ operands() []Evaluator })
	if !ok {
		return ev
	}
	for _, o := range k.operands() {
		if _, ok := o.(*literal); !ok {
			return ev
		}
	}
	rec := array.NewRecord(arrow.NewSchema(nil, nil), nil, 1)
	defer rec.Release()
	a, err := ev.Eval(rec)
	if err != nil {
		return ev
	}
	defer a.Release()
	return literalFromArray(a, ev.Type())
}

func funcName(f string) string { return strings.ToUpper(f) }

// maxExprText is the most runes of an expression an error message quotes.
const maxExprText = 200

// exprText prints e for an error message, cut short if long. Evaluators
// keep the plan expression and print it only here: printing it when
// compiling cost time quadratic in the depth of a long a+a+…+a.
func exprText(e plan.Expr) string {
	s := e.String()
	if utf8.RuneCountInString(s) <= maxExprText {
		return s
	}
	return string([]rune(s)[:maxExprText]) + "…"
}
