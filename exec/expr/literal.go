package expr

import (
	"fmt"
	"math"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/types"
)

// literal is a constant. Its value is kept as a one-element array (so that
// kernels can read it as a scalar of the right Go type) and expanded to
// the batch length on demand. Expanded arrays are cached per length and
// allocated from the Go heap, not the compile allocator: they live as long
// as the evaluator and are shared by every batch of that length.
type literal struct {
	t     types.Type
	ph    phys
	proto arrow.Array // length 1
	null  bool

	mu    sync.Mutex
	cache map[int]arrow.Array
}

// maxLiteralCache bounds the number of lengths a literal keeps expanded.
const maxLiteralCache = 8

var heap = memory.DefaultAllocator

func newLiteral(v any, t types.Type) (*literal, error) {
	p, err := physOf(t)
	if err != nil {
		return nil, err
	}
	b := array.NewBuilder(heap, t.Arrow())
	defer b.Release()
	if err := appendValue(b, v, t); err != nil {
		return nil, err
	}
	a := b.NewArray()
	return &literal{t: t, ph: p, proto: a, null: a.IsNull(0)}, nil
}

// literalFromArray makes a literal of the first value of a.
func literalFromArray(a arrow.Array, t types.Type) *literal {
	p, _ := physOf(t)
	b := array.NewBuilder(heap, a.DataType())
	defer b.Release()
	if a.IsNull(0) {
		b.AppendNull()
	} else {
		switch x := a.(type) {
		case *array.Boolean:
			b.(*array.BooleanBuilder).Append(x.Value(0))
		case *array.String:
			b.(*array.StringBuilder).Append(x.Value(0))
		case *array.Decimal128:
			b.(*array.Decimal128Builder).Append(x.Value(0))
		default:
			// Fixed-width numbers: copy the raw value.
			switch p {
			case pI32:
				b.(*array.Int32Builder).Append(fixedValues[int32](a)[0])
			case pI64:
				appendInt64(b, fixedValues[int64](a)[0])
			case pF32:
				b.(*array.Float32Builder).Append(fixedValues[float32](a)[0])
			case pF64:
				b.(*array.Float64Builder).Append(fixedValues[float64](a)[0])
			}
		}
	}
	na := b.NewArray()
	return &literal{t: t, ph: p, proto: na, null: na.IsNull(0)}
}

func appendInt64(b array.Builder, v int64) {
	switch b := b.(type) {
	case *array.Int64Builder:
		b.Append(v)
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v))
	case *array.DurationBuilder:
		b.Append(arrow.Duration(v))
	}
}

// appendValue appends a plan.Literal value of type t to b.
func appendValue(b array.Builder, v any, t types.Type) error {
	if v == nil || t.Kind == types.Null {
		b.AppendNull()
		return nil
	}
	bad := func() error {
		return fmt.Errorf("expr: literal %v (%T) is not a valid %s", v, v, t)
	}
	switch t.Kind {
	case types.Boolean:
		x, ok := v.(bool)
		if !ok {
			return bad()
		}
		b.(*array.BooleanBuilder).Append(x)
	case types.Int:
		x, ok := toInt64(v)
		if !ok || x < math.MinInt32 || x > math.MaxInt32 {
			return bad()
		}
		b.(*array.Int32Builder).Append(int32(x))
	case types.BigInt, types.Interval:
		x, ok := toInt64(v)
		if !ok {
			return bad()
		}
		appendInt64(b, x)
	case types.Timestamp, types.TimestampLTZ:
		x, ok := toInt64(v)
		if s, isStr := v.(string); isStr {
			ms, err := types.ParseTimestamp(s)
			if err != nil {
				return fmt.Errorf("expr: literal: %w", err)
			}
			x, ok = ms, true
		}
		if !ok {
			return bad()
		}
		appendInt64(b, x)
	case types.Float, types.Double:
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case float32:
			f = float64(x)
		default:
			i, ok := toInt64(v)
			if !ok {
				return bad()
			}
			f = float64(i)
		}
		if t.Kind == types.Float {
			b.(*array.Float32Builder).Append(float32(f))
		} else {
			b.(*array.Float64Builder).Append(f)
		}
	case types.Decimal:
		var n decimal128.Num
		switch x := v.(type) {
		case decimal128.Num:
			n = x
		case string:
			var err error
			if n, err = parseDecimal(x, t); err != nil {
				return err
			}
		default:
			i, ok := toInt64(v)
			if !ok {
				return bad()
			}
			n = decimal128.FromI64(i)
		}
		b.(*array.Decimal128Builder).Append(n)
	case types.String:
		x, ok := v.(string)
		if !ok {
			return bad()
		}
		b.(*array.StringBuilder).Append(x)
	default:
		return bad()
	}
	return nil
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	}
	return 0, false
}

func (e *literal) Type() types.Type { return e.t }

// Eval implements Evaluator.
func (e *literal) Eval(rec arrow.Record) (arrow.Array, error) {
	return e.expand(int(rec.NumRows())), nil
}

// expand returns the literal repeated n times, retained.
func (e *literal) expand(n int) arrow.Array {
	e.mu.Lock()
	defer e.mu.Unlock()
	if a, ok := e.cache[n]; ok {
		a.Retain()
		return a
	}
	a := repeat(e.proto, n)
	if e.cache == nil {
		e.cache = make(map[int]arrow.Array)
	}
	if len(e.cache) >= maxLiteralCache {
		for k, old := range e.cache {
			old.Release()
			delete(e.cache, k)
			break
		}
	}
	e.cache[n] = a
	a.Retain()
	return a
}

// repeat returns an array holding the single value of proto n times,
// allocated from the Go heap.
func repeat(proto arrow.Array, n int) arrow.Array {
	dt := proto.DataType()
	if proto.IsNull(0) {
		return allNull(heap, dt, n)
	}
	switch x := proto.(type) {
	case *array.Boolean:
		buf, bm := newBitmap(heap, n)
		if x.Value(0) {
			for i := range bm {
				bm[i] = 0xff
			}
		}
		return makeArray(dt, n, 0, nil, buf)
	case *array.String:
		s := x.Value(0)
		offs, o := newFixed[int32](heap, n+1)
		data := memory.NewResizableBuffer(heap)
		data.Resize(n * len(s))
		d := data.Bytes()
		for i := 0; i < n; i++ {
			o[i] = int32(i * len(s))
			copy(d[i*len(s):], s)
		}
		o[n] = int32(n * len(s))
		return makeArray(dt, n, 0, nil, offs, data)
	case *array.Decimal128:
		return repeatFixed(x.Value(0), dt, n)
	}
	switch dt.ID() {
	case arrow.INT32:
		return repeatFixed(fixedValues[int32](proto)[0], dt, n)
	case arrow.FLOAT32:
		return repeatFixed(fixedValues[float32](proto)[0], dt, n)
	case arrow.FLOAT64:
		return repeatFixed(fixedValues[float64](proto)[0], dt, n)
	default: // int64, timestamp, duration
		return repeatFixed(fixedValues[int64](proto)[0], dt, n)
	}
}

func repeatFixed[T any](v T, dt arrow.DataType, n int) arrow.Array {
	buf, vals := newFixed[T](heap, n)
	for i := range vals {
		vals[i] = v
	}
	return makeArray(dt, n, 0, nil, buf)
}

// scalar returns the literal's value as a T; the literal must not be NULL
// and T must match its physical type.
func scalar[T any](e *literal) T { return fixedValues[T](e.proto)[0] }

// asConst returns ev as a non-NULL literal, or nil.
func asConst(ev Evaluator) *literal {
	if l, ok := ev.(*literal); ok && !l.null {
		return l
	}
	return nil
}

// isNullLit reports whether ev is the NULL literal.
func isNullLit(ev Evaluator) bool {
	l, ok := ev.(*literal)
	return ok && l.null
}
