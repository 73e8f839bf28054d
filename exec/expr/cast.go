package expr

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// castEval converts its argument to another type. Conversions that cannot
// fail (between numbers, between the int64-backed types) run as tight
// loops; parsing and formatting run row by row. A value that does not
// convert is an error naming it, or NULL for TRY_CAST.
type castEval struct {
	arg      Evaluator
	from, to types.Type
	fp, tp   phys
	dt       arrow.DataType
	safe     bool
	alloc    memory.Allocator
}

func (e *castEval) Type() types.Type      { return e.to }
func (e *castEval) operands() []Evaluator { return []Evaluator{e.arg} }

func (c *compiler) compileCast(e *plan.Cast) (Evaluator, error) {
	arg, err := c.compile(e.Arg)
	if err != nil {
		return nil, err
	}
	if !e.Zone.IsUTC() && plan.ZoneCast(arg.Type(), e.T) && !isNullLit(arg) {
		return c.compileZoneCast(e, arg)
	}
	return c.compileCastOf(e, arg)
}

// compileCastOf compiles the cast e of the compiled argument arg, in UTC.
func (c *compiler) compileCastOf(e *plan.Cast, arg Evaluator) (Evaluator, error) {
	from, to := arg.Type(), e.T
	if types.Same(from, to) {
		return arg, nil
	}
	if from.Kind == types.Null || isNullLit(arg) {
		return newLiteral(nil, to)
	}
	fp, err := physOf(from)
	if err != nil {
		return nil, err
	}
	tp, err := physOf(to)
	if err != nil {
		return nil, err
	}
	if !castable(from, to) {
		return nil, fmt.Errorf("expr: cannot cast %s to %s", from, to)
	}
	return &castEval{arg: arg, from: from, to: to, fp: fp, tp: tp, dt: to.Arrow(), safe: e.Safe, alloc: c.alloc}, nil
}

// castable reports whether CAST(from AS to) is supported.
func castable(from, to types.Type) bool {
	f, t := from.Kind, to.Kind
	switch {
	case f == t:
		return true
	case t == types.String:
		return true
	case f == types.String:
		return t != types.Interval
	case from.IsNumeric() && to.IsNumeric():
		return true
	case from.IsTemporal() && (to.IsTemporal() || t == types.BigInt):
		return true
	case f == types.BigInt && to.IsTemporal():
		return true
	case f == types.BigInt && t == types.Interval, f == types.Interval && t == types.BigInt:
		return true
	case f == types.Boolean && to.IsNumeric(), from.IsNumeric() && t == types.Boolean:
		return true
	}
	return false
}

// Eval implements Evaluator.
func (e *castEval) Eval(rec arrow.Record) (arrow.Array, error) {
	a, err := e.arg.Eval(rec)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	// Same physical representation (TIMESTAMP ↔ BIGINT, DECIMAL with the
	// same scale, …): share the buffers under the new type.
	if e.fp == e.tp && e.fp != pDec && e.fp != pStr || e.fp == pDec && e.tp == pDec && e.from.Scale == e.to.Scale && e.to.Precision >= e.from.Precision {
		d := array.NewData(e.dt, a.Len(), a.Data().Buffers(), nil, a.NullN(), a.Data().Offset())
		out := array.MakeFromData(d)
		d.Release()
		return out, nil
	}
	switch {
	case e.tp == pStr:
		return e.toString(a)
	case e.fp == pStr:
		return e.fromString(a.(*array.String))
	case e.tp == pDec:
		return e.toDecimal(a)
	case e.fp == pDec:
		return e.fromDecimal(a)
	case e.fp == pBool:
		return e.fromBool(a)
	case e.tp == pBool:
		return e.toBool(a)
	}
	if out, ok, err := e.narrowing(a); ok {
		return out, err
	}
	return convertNum(e, a), nil
}

// narrowing casts BIGINT to INT, and FLOAT or DOUBLE to INT or BIGINT,
// where a value can fall outside the target type: such a value is an
// error (NULL for TRY_CAST), never a wrapped or saturated number. ok is
// false for the other numeric casts, which always fit.
func (e *castEval) narrowing(a arrow.Array) (out arrow.Array, ok bool, err error) {
	switch {
	case e.fp == pI64 && e.tp == pI32:
		v := fixedValues[int64](a)
		out, err = rowwise(e, a, func(i int) (int32, bool) {
			return int32(v[i]), v[i] >= math.MinInt32 && v[i] <= math.MaxInt32
		}, func(i int) string { return strconv.FormatInt(v[i], 10) })
	case (e.fp == pF32 || e.fp == pF64) && (e.tp == pI32 || e.tp == pI64):
		f := func(i int) float64 {
			if e.fp == pF32 {
				return float64(fixedValues[float32](a)[i])
			}
			return fixedValues[float64](a)[i]
		}
		text := func(i int) string { return strconv.FormatFloat(f(i), 'g', -1, 64) }
		// Truncation toward zero; the bounds are exact powers of two.
		if e.tp == pI32 {
			out, err = rowwise(e, a, func(i int) (int32, bool) {
				x := math.Trunc(f(i))
				return int32(x), x >= math.MinInt32 && x <= math.MaxInt32
			}, text)
		} else {
			out, err = rowwise(e, a, func(i int) (int64, bool) {
				x := math.Trunc(f(i))
				return int64(x), x >= -(1<<63) && x < 1<<63
			}, text)
		}
	default:
		return nil, false, nil
	}
	return out, true, err
}

// fail reports a value that does not convert.
func (e *castEval) fail(v string) error {
	return fmt.Errorf("expr: cannot cast %s to %s", v, e.to)
}

func convertNum(e *castEval, a arrow.Array) arrow.Array {
	switch e.fp {
	case pI32:
		return convertFrom[int32](e, a)
	case pI64:
		return convertFrom[int64](e, a)
	case pF32:
		return convertFrom[float32](e, a)
	default:
		return convertFrom[float64](e, a)
	}
}

func convertFrom[F num](e *castEval, a arrow.Array) arrow.Array {
	in := fixedValues[F](a)
	switch e.tp {
	case pI32:
		return convertTo[F, int32](e, a, in)
	case pI64:
		return convertTo[F, int64](e, a, in)
	case pF32:
		return convertTo[F, float32](e, a, in)
	default:
		return convertTo[F, float64](e, a, in)
	}
}

func convertTo[F, T num](e *castEval, a arrow.Array, in []F) arrow.Array {
	n := a.Len()
	valid, nulls := copyValidity(e.alloc, a)
	buf, out := newFixed[T](e.alloc, n)
	in = in[:len(out)]
	switch o := any(out).(type) {
	case []int32:
		if f, ok := any(in).([]float32); ok {
			floatToInt(f, o)
		} else if f, ok := any(in).([]float64); ok {
			floatToInt(f, o)
		} else {
			for i := range out {
				out[i] = T(in[i]) // integers wrap, as Java's (int) cast
			}
		}
	case []int64:
		if f, ok := any(in).([]float32); ok {
			floatToInt(f, o)
		} else if f, ok := any(in).([]float64); ok {
			floatToInt(f, o)
		} else {
			for i := range out {
				out[i] = T(in[i])
			}
		}
	default:
		for i := range out {
			out[i] = T(in[i])
		}
	}
	return makeArray(e.dt, n, nulls, valid, buf)
}

// floatToInt converts like Java: truncation toward zero, NaN to 0, and
// saturation at the bounds of the integer type.
func floatToInt[F float32 | float64, I int32 | int64](in []F, out []I) {
	var z I
	bits := int(unsafe.Sizeof(z)) * 8
	hi := math.Ldexp(1, bits-1) // 2^31 or 2^63, exactly
	minI := I(1) << (bits - 1)  // wraps to the minimum
	maxI := minI - 1            // wraps to the maximum
	in = in[:len(out)]
	for i, f := range in {
		x := float64(f)
		switch {
		case x != x:
			out[i] = 0
		case x <= -hi:
			out[i] = minI
		case x >= hi:
			out[i] = maxI
		default:
			out[i] = I(x)
		}
	}
}

// rowwise builds the result of a cast row by row: conv returns the value
// of row i, or ok=false when it does not convert; the row's text for the
// error comes from text(i).
func rowwise[T any](e *castEval, a arrow.Array, conv func(i int) (T, bool), text func(i int) string) (arrow.Array, error) {
	n := a.Len()
	vbuf, valid := newBitmap(e.alloc, n)
	bm, off := validity(a)
	buf, out := newFixedZero[T](e.alloc, n)
	for i := 0; i < n; i++ {
		if !isValid(bm, off, i) {
			continue
		}
		v, ok := conv(i)
		if !ok {
			if !e.safe {
				vbuf.Release()
				buf.Release()
				return nil, e.fail(text(i))
			}
			continue
		}
		out[i] = v
		valid[i>>3] |= 1 << (i & 7)
	}
	return finishFixed(e.dt, n, vbuf, buf), nil
}

// finishFixed makes an array from values and a validity bitmap, dropping
// the bitmap when it has no nulls.
func finishFixed(dt arrow.DataType, n int, valid, vals *memory.Buffer) arrow.Array {
	nulls := n - popcount(valid.Bytes(), n)
	if nulls == 0 {
		valid.Release()
		valid = nil
	}
	return makeArray(dt, n, nulls, valid, vals)
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func (e *castEval) fromString(a *array.String) (arrow.Array, error) {
	text := func(i int) string { return quote(a.Value(i)) }
	val := func(i int) string { return strings.TrimSpace(a.Value(i)) }
	switch e.to.Kind {
	case types.Int:
		return rowwise(e, a, func(i int) (int32, bool) {
			v, err := strconv.ParseInt(val(i), 10, 32)
			return int32(v), err == nil
		}, text)
	case types.BigInt:
		return rowwise(e, a, func(i int) (int64, bool) {
			v, err := strconv.ParseInt(val(i), 10, 64)
			return v, err == nil
		}, text)
	case types.Float:
		return rowwise(e, a, func(i int) (float32, bool) {
			v, err := strconv.ParseFloat(val(i), 32)
			return float32(v), err == nil
		}, text)
	case types.Double:
		return rowwise(e, a, func(i int) (float64, bool) {
			v, err := strconv.ParseFloat(val(i), 64)
			return v, err == nil
		}, text)
	case types.Decimal:
		return rowwise(e, a, func(i int) (dec, bool) {
			v, err := parseDecimal(val(i), e.to)
			return v, err == nil
		}, text)
	case types.Timestamp, types.TimestampLTZ:
		return rowwise(e, a, func(i int) (int64, bool) {
			v, err := types.ParseTimestamp(val(i))
			return v, err == nil
		}, text)
	case types.Boolean:
		n := a.Len()
		vbuf, valid := newBitmap(e.alloc, n)
		obuf, out := newBitmap(e.alloc, n)
		bm, off := validity(a)
		for i := 0; i < n; i++ {
			if !isValid(bm, off, i) {
				continue
			}
			switch s := val(i); {
			case strings.EqualFold(s, "true"):
				setBitTo(out, i, true)
			case strings.EqualFold(s, "false"):
			default:
				if !e.safe {
					vbuf.Release()
					obuf.Release()
					return nil, e.fail(text(i))
				}
				continue
			}
			setBitTo(valid, i, true)
		}
		return finishBool(n, obuf, vbuf), nil
	}
	return nil, fmt.Errorf("expr: cannot cast %s to %s", e.from, e.to)
}

func (e *castEval) toString(a arrow.Array) (arrow.Array, error) {
	n := a.Len()
	b := array.NewStringBuilder(e.alloc)
	defer b.Release()
	b.Reserve(n)
	bm, off := validity(a)
	var scratch []byte
	emit := func(f func(i int, dst []byte) []byte) {
		for i := 0; i < n; i++ {
			if !isValid(bm, off, i) {
				b.AppendNull()
				continue
			}
			scratch = f(i, scratch[:0])
			b.BinaryBuilder.Append(scratch)
		}
	}
	switch e.from.Kind {
	case types.Boolean:
		x := a.(*array.Boolean)
		emit(func(i int, dst []byte) []byte {
			if x.Value(i) {
				return append(dst, "true"...)
			}
			return append(dst, "false"...)
		})
	case types.Int:
		v := fixedValues[int32](a)
		emit(func(i int, dst []byte) []byte { return strconv.AppendInt(dst, int64(v[i]), 10) })
	case types.BigInt, types.Interval:
		v := fixedValues[int64](a)
		emit(func(i int, dst []byte) []byte { return strconv.AppendInt(dst, v[i], 10) })
	case types.Float:
		v := fixedValues[float32](a)
		emit(func(i int, dst []byte) []byte { return types.AppendFloat(dst, float64(v[i]), 32) })
	case types.Double:
		v := fixedValues[float64](a)
		emit(func(i int, dst []byte) []byte { return types.AppendFloat(dst, v[i], 64) })
	case types.Decimal:
		v := a.(*array.Decimal128).Values()
		emit(func(i int, dst []byte) []byte { return types.AppendDecimal(dst, v[i], int32(e.from.Scale)) })
	case types.Timestamp, types.TimestampLTZ:
		v := fixedValues[int64](a)
		emit(func(i int, dst []byte) []byte { return types.AppendTimestamp(dst, v[i]) })
	default:
		return nil, fmt.Errorf("expr: cannot cast %s to %s", e.from, e.to)
	}
	return b.NewArray(), nil
}

func (e *castEval) toDecimal(a arrow.Array) (arrow.Array, error) {
	ts := e.to.Scale
	prec := e.to.Precision
	fits := func(n dec) bool { return fitsPrecision(n, prec) }
	switch e.fp {
	case pI32:
		v := fixedValues[int32](a)
		return rowwise(e, a, func(i int) (dec, bool) {
			n := rescale(decimal128.FromI64(int64(v[i])), 0, ts)
			return n, fits(n)
		}, func(i int) string { return strconv.Itoa(int(v[i])) })
	case pI64:
		v := fixedValues[int64](a)
		return rowwise(e, a, func(i int) (dec, bool) {
			n := decimal128.FromI64(v[i])
			if ts > 0 && !fitsPrecision(n, 38-ts) {
				return dec{}, false
			}
			n = rescale(n, 0, ts)
			return n, fits(n)
		}, func(i int) string { return strconv.FormatInt(v[i], 10) })
	case pF32, pF64:
		var f func(i int) float64
		bitSize := 64
		if e.fp == pF32 {
			v := fixedValues[float32](a)
			f = func(i int) float64 { return float64(v[i]) }
			bitSize = 32
		} else {
			v := fixedValues[float64](a)
			f = func(i int) float64 { return v[i] }
		}
		return rowwise(e, a, func(i int) (dec, bool) {
			return floatToDec(f(i), bitSize, e.to)
		}, func(i int) string { return string(types.AppendFloat(nil, f(i), bitSize)) })
	case pDec:
		v := a.(*array.Decimal128).Values()
		fs := e.from.Scale
		return rowwise(e, a, func(i int) (dec, bool) {
			n := v[i]
			if ts > fs && !fitsPrecision(n, 38-(ts-fs)) {
				return dec{}, false
			}
			n = rescale(n, fs, ts)
			return n, fits(n)
		}, func(i int) string { return formatDecimal(v[i], fs) })
	case pBool:
		x := a.(*array.Boolean)
		return rowwise(e, a, func(i int) (dec, bool) {
			n := decimal128.FromI64(0)
			if x.Value(i) {
				n = rescale(decimal128.FromI64(1), 0, ts)
			}
			return n, fits(n)
		}, func(i int) string { return strconv.FormatBool(x.Value(i)) })
	}
	return nil, fmt.Errorf("expr: cannot cast %s to %s", e.from, e.to)
}

func (e *castEval) fromDecimal(a arrow.Array) (arrow.Array, error) {
	v := a.(*array.Decimal128).Values()
	fs := e.from.Scale
	text := func(i int) string { return formatDecimal(v[i], fs) }
	// toInt truncates toward zero, as Java's BigDecimal.longValue.
	toInt := func(n dec) (int64, bool) {
		q := n
		if fs > 0 {
			if fitsInt64(n) && fs <= 18 {
				q = decimal128.FromI64(int64(n.LowBits()) / int64(decimal128.GetScaleMultiplier(fs).LowBits()))
			} else {
				b := new(big.Int).Quo(n.BigInt(), decimal128.GetScaleMultiplier(fs).BigInt())
				q = decimal128.FromBigInt(b)
			}
		}
		return int64(q.LowBits()), fitsInt64(q)
	}
	switch e.tp {
	case pI32:
		return rowwise(e, a, func(i int) (int32, bool) {
			x, ok := toInt(v[i])
			return int32(x), ok && x >= math.MinInt32 && x <= math.MaxInt32
		}, text)
	case pI64:
		return rowwise(e, a, func(i int) (int64, bool) { return toInt(v[i]) }, text)
	case pF32:
		return rowwise(e, a, func(i int) (float32, bool) { return float32(decToFloat(v[i], fs)), true }, text)
	case pF64:
		return rowwise(e, a, func(i int) (float64, bool) { return decToFloat(v[i], fs), true }, text)
	case pBool:
		return e.toBool(a)
	}
	return nil, fmt.Errorf("expr: cannot cast %s to %s", e.from, e.to)
}

// fromBool converts TRUE/FALSE to 1/0.
func (e *castEval) fromBool(a arrow.Array) (arrow.Array, error) {
	x := a.(*array.Boolean)
	one := func(i int) float64 {
		if x.Value(i) {
			return 1
		}
		return 0
	}
	text := func(i int) string { return strconv.FormatBool(x.Value(i)) }
	switch e.tp {
	case pI32:
		return rowwise(e, a, func(i int) (int32, bool) { return int32(one(i)), true }, text)
	case pI64:
		return rowwise(e, a, func(i int) (int64, bool) { return int64(one(i)), true }, text)
	case pF32:
		return rowwise(e, a, func(i int) (float32, bool) { return float32(one(i)), true }, text)
	case pF64:
		return rowwise(e, a, func(i int) (float64, bool) { return one(i), true }, text)
	}
	return nil, fmt.Errorf("expr: cannot cast %s to %s", e.from, e.to)
}

// toBool converts a number to TRUE when it is not zero.
func (e *castEval) toBool(a arrow.Array) (arrow.Array, error) {
	n := a.Len()
	obuf, out := newBitmap(e.alloc, n)
	switch e.fp {
	case pI32:
		v := fixedValues[int32](a)
		for i := range v {
			setBitTo(out, i, v[i] != 0)
		}
	case pI64:
		v := fixedValues[int64](a)
		for i := range v {
			setBitTo(out, i, v[i] != 0)
		}
	case pF32:
		v := fixedValues[float32](a)
		for i := range v {
			setBitTo(out, i, v[i] != 0)
		}
	case pF64:
		v := fixedValues[float64](a)
		for i := range v {
			setBitTo(out, i, v[i] != 0)
		}
	case pDec:
		v := a.(*array.Decimal128).Values()
		for i := range v {
			setBitTo(out, i, v[i].Sign() != 0)
		}
	default:
		obuf.Release()
		return nil, fmt.Errorf("expr: cannot cast %s to %s", e.from, e.to)
	}
	valid, nulls := copyValidity(e.alloc, a)
	return makeArray(e.dt, n, nulls, valid, obuf), nil
}
