package engine

import (
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/connectors/nexmark"
	"github.com/streamsql/streamsql/planner"
	"github.com/streamsql/streamsql/types"
)

// Function is a user-defined scalar function. Eval works on whole
// batches (vectorized); RowFunction builds one from a function of one
// row's values.
type Function = planner.Function

// RegisterFunction makes f callable from SQL in every session of the
// engine (existing ones and those created later), in statements planned
// afterwards. The name is case-insensitive and must not be a built-in
// function's. A function with a Class is not callable by its Name:
// Flink's CREATE FUNCTION name AS 'Class' declares it, as name, in a
// session. Every engine has the Nexmark suite's count_char, class
// com.github.nexmark.flink.udf.CountChar.
func (e *Engine) RegisterFunction(f Function) error {
	// Check f against a fresh catalog first, so that a bad function is
	// refused before any session has it.
	if err := planner.NewCatalog().RegisterFunction(f); err != nil {
		return err
	}
	e.mu.Lock()
	for _, g := range e.funcs {
		if f.Class != "" || g.Class != "" {
			if f.Class == g.Class {
				e.mu.Unlock()
				return fmt.Errorf("a function of class %s is already registered", f.Class)
			}
			continue
		}
		if strings.EqualFold(g.Name, f.Name) {
			e.mu.Unlock()
			return fmt.Errorf("function %s is already registered", strings.ToUpper(f.Name))
		}
	}
	e.funcs = append(e.funcs, f)
	e.mu.Unlock()
	return nil
}

// syncFuncs registers in the session's catalog the engine's functions
// registered since the last call. A session's own function of the same
// name (Session.RegisterFunction) wins. Called with s.mu held.
func (s *Session) syncFuncs() {
	s.e.mu.Lock()
	fresh := s.e.funcs[s.nfuncs:]
	s.nfuncs = len(s.e.funcs)
	s.e.mu.Unlock()
	for _, f := range fresh {
		_ = s.catalog.RegisterFunction(f) // only a session's own function can clash
	}
}

// builtinClasses are the functions every engine has, declared by CREATE
// FUNCTION with their class names.
func builtinClasses() []Function {
	return []Function{{Name: "count_char", Class: nexmark.CountCharClass,
		Args: []types.Type{types.StringType, types.StringType}, Result: types.BigIntType, Eval: nexmark.CountChar}}
}

// RowFunction returns a Function that calls fn once per row. fn receives
// the argument values as Go values — bool, int32 (INT), int64 (BIGINT),
// float32, float64, Decimal (DECIMAL), string, time.Time (TIMESTAMP),
// time.Duration (INTERVAL), or nil for NULL, as in a Row — and
// returns the result the same way (nil for NULL). A function that returns
// an error fails the query with it.
func RowFunction(name string, args []types.Type, result types.Type, fn func(args []any) (any, error)) Function {
	return Function{Name: name, Args: args, Result: result, Eval: func(cols []arrow.Array, rows int, alloc memory.Allocator) (arrow.Array, error) {
		b := array.NewBuilder(alloc, result.Arrow())
		defer b.Release()
		b.Reserve(rows)
		vals := make([]any, len(cols))
		for r := 0; r < rows; r++ {
			for i, c := range cols {
				vals[i] = goValue(c, r)
			}
			v, err := fn(vals)
			if err != nil {
				return nil, err
			}
			if err := appendGo(b, v); err != nil {
				return nil, fmt.Errorf("row %d: %w", r, err)
			}
		}
		return b.NewArray(), nil
	}}
}

func appendGo(b array.Builder, v any) error {
	if v == nil {
		b.AppendNull()
		return nil
	}
	var ok bool
	switch b := b.(type) {
	case *array.BooleanBuilder:
		ok = appendAs(v, b.Append)
	case *array.Int32Builder:
		ok = appendAs(v, b.Append)
	case *array.Int64Builder:
		ok = appendAs(v, b.Append)
	case *array.Float32Builder:
		ok = appendAs(v, b.Append)
	case *array.Float64Builder:
		ok = appendAs(v, b.Append)
	case *array.StringBuilder:
		ok = appendAs(v, b.Append)
	case *array.Decimal128Builder:
		var d Decimal
		if d, ok = v.(Decimal); ok {
			t := b.Type().(*arrow.Decimal128Type)
			n, err := d.num().Rescale(d.scale, t.Scale)
			if err != nil || !n.FitsInPrecision(t.Precision) {
				return fmt.Errorf("the function returned %s, which does not fit %s", d, t)
			}
			b.Append(n)
		}
	case *array.TimestampBuilder:
		ok = appendAs(v, func(t time.Time) { b.Append(arrow.Timestamp(t.UnixMilli())) })
	default:
		return fmt.Errorf("unsupported result type %s", b.Type())
	}
	if !ok {
		return fmt.Errorf("the function returned %T for a %s result", v, b.Type())
	}
	return nil
}

// appendAs appends v with app if v is a T.
func appendAs[T any](v any, app func(T)) bool {
	x, ok := v.(T)
	if ok {
		app(x)
	}
	return ok
}
