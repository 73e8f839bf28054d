package expr

import (
	"fmt"
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// compileFunc builds the scalar functions; ok is false for an unknown
// name.
func (c *compiler) compileFunc(f string, e *plan.Call, args []Evaluator, arity func(lo, hi int) error, nullIn func() bool) (ev Evaluator, ok bool, err error) {
	done := func(ev Evaluator, err error) (Evaluator, bool, error) { return ev, true, err }
	switch f {
	case "COALESCE":
		if err := arity(1, 250); err != nil {
			return done(nil, err)
		}
		for i := range args {
			if args[i], err = c.convert(args[i], e.T); err != nil {
				return done(nil, err)
			}
		}
		if len(args) == 1 {
			return done(args[0], nil)
		}
		return done(&coalesce{args: args, t: e.T, alloc: c.alloc, shared: c.opts.Shared}, nil)
	case "IF":
		if err := arity(3, 3); err != nil {
			return done(nil, err)
		}
		if err := wantBool(f, args[0]); err != nil {
			return done(nil, err)
		}
		a, err := c.convert(args[1], e.T)
		if err != nil {
			return done(nil, err)
		}
		b, err := c.convert(args[2], e.T)
		if err != nil {
			return done(nil, err)
		}
		return done(&caseEval{conds: args[:1], arms: []Evaluator{a, b}, t: e.T, alloc: c.alloc, shared: c.opts.Shared}, nil)
	}
	if f == "TRIM" && len(args) == 2 {
		return nil, false, nil // TRIM(s, chars): compileMore
	}
	// The rest return NULL for a NULL argument.
	switch f {
	case "LIKE", "NOT_LIKE", "||", "CONCAT", "UPPER", "LOWER", "CHAR_LENGTH", "TRIM", "SUBSTRING",
		"ABS", "FLOOR", "CEIL", "CEILING", "ROUND", "POWER", "SQRT", "FLOOR_TS",
		"YEAR", "MONTH", "DAYOFMONTH", "HOUR", "MINUTE", "SECOND":
	default:
		return nil, false, nil
	}
	switch f {
	case "LIKE", "NOT_LIKE":
		err = arity(2, 3)
	case "||":
		err = arity(2, 2)
	case "CONCAT":
		err = arity(1, 250)
	case "SUBSTRING":
		err = arity(2, 3)
	case "ROUND":
		err = arity(1, 2)
	case "POWER", "FLOOR_TS":
		err = arity(2, 2)
	default:
		err = arity(1, 1)
	}
	if err != nil {
		return done(nil, err)
	}
	if nullIn() {
		return done(newLiteral(nil, e.T))
	}
	switch f {
	case "LIKE", "NOT_LIKE":
		return done(c.compileLike(e, f == "NOT_LIKE", args))
	case "||", "CONCAT":
		for _, a := range args {
			if err := wantString(f, a); err != nil {
				return done(nil, err)
			}
		}
		return done(&concat{args: args, alloc: c.alloc}, nil)
	case "UPPER", "LOWER", "TRIM", "CHAR_LENGTH":
		if err := wantString(f, args[0]); err != nil {
			return done(nil, err)
		}
		ev := &strFunc{fn: f, arg: args[0], alloc: c.alloc, t: types.StringType}
		if f == "CHAR_LENGTH" {
			ev.t = types.IntType
		}
		return done(c.convert(ev, e.T))
	case "SUBSTRING":
		if err := wantString(f, args[0]); err != nil {
			return done(nil, err)
		}
		s := &substring{s: args[0], alloc: c.alloc}
		if s.start, err = c.convert(args[1], types.BigIntType); err != nil {
			return done(nil, err)
		}
		if len(args) == 3 {
			if s.length, err = c.convert(args[2], types.BigIntType); err != nil {
				return done(nil, err)
			}
		}
		return done(s, nil)
	case "ABS", "FLOOR", "CEIL", "CEILING", "ROUND":
		t := args[0].Type()
		if !t.IsNumeric() {
			return done(nil, fmt.Errorf("expr: %s needs a numeric argument, got %s", f, t))
		}
		ph, _ := physOf(t)
		m := &mathFunc{fn: f, arg: args[0], t: t.Nullable(), ph: ph, alloc: c.alloc}
		if f == "CEILING" {
			m.fn = "CEIL"
		}
		if f == "ROUND" && len(args) == 2 {
			d := asConst(args[1])
			if d == nil || !args[1].Type().IsInteger() {
				return done(nil, fmt.Errorf("expr: ROUND needs a constant integer number of digits"))
			}
			if d.ph == pI32 {
				m.digits = int(scalar[int32](d))
			} else {
				m.digits = int(scalar[int64](d))
			}
		}
		if t.Kind == types.Decimal && e.T.Kind == types.Decimal {
			// Compute at the result's scale directly.
			m.t = e.T.Nullable()
		}
		return done(c.convert(m, e.T))
	case "POWER", "SQRT":
		x, err := c.convert(args[0], types.DoubleType)
		if err != nil {
			return done(nil, err)
		}
		m := &mathFunc{fn: f, arg: x, t: types.DoubleType, ph: pF64, alloc: c.alloc}
		if f == "POWER" {
			if m.arg2, err = c.convert(args[1], types.DoubleType); err != nil {
				return done(nil, err)
			}
		}
		return done(c.convert(m, e.T))
	case "FLOOR_TS":
		if !args[0].Type().IsTemporal() {
			return done(nil, fmt.Errorf("expr: FLOOR_TS needs a timestamp, got %s", args[0].Type()))
		}
		k := args[1].Type().Kind
		if k != types.BigInt && k != types.Int && k != types.Interval {
			return done(nil, fmt.Errorf("expr: FLOOR_TS needs a BIGINT or INTERVAL of milliseconds, got %s", args[1].Type()))
		}
		ms := args[1]
		if k == types.Int {
			if ms, err = c.convert(ms, types.BigIntType); err != nil {
				return done(nil, err)
			}
		}
		return done(&floorTS{ts: args[0], ms: ms, t: args[0].Type().Nullable(), alloc: c.alloc}, nil)
	case "YEAR", "MONTH", "DAYOFMONTH", "HOUR", "MINUTE", "SECOND":
		if !args[0].Type().IsTemporal() {
			return done(nil, fmt.Errorf("expr: %s needs a timestamp, got %s", f, args[0].Type()))
		}
		return done(c.convert(&timePart{arg: args[0], part: timePartFuncs[f], t: types.BigIntType, alloc: c.alloc}, e.T))
	}
	return nil, false, nil
}

func wantString(f string, a Evaluator) error {
	if a.Type().Kind != types.String {
		return fmt.Errorf("expr: %s needs STRING arguments, got %s", f, a.Type())
	}
	return nil
}

// mathFunc is ABS, FLOOR, CEIL, ROUND (in the argument's type) or POWER,
// SQRT (in DOUBLE).
type mathFunc struct {
	fn     string
	arg    Evaluator
	arg2   Evaluator // POWER's exponent
	digits int       // ROUND's
	t      types.Type
	ph     phys
	alloc  memory.Allocator
}

func (e *mathFunc) Type() types.Type { return e.t }
func (e *mathFunc) operands() []Evaluator {
	if e.arg2 != nil {
		return []Evaluator{e.arg, e.arg2}
	}
	return []Evaluator{e.arg}
}

// Eval implements Evaluator.
func (e *mathFunc) Eval(rec arrow.Record) (arrow.Array, error) {
	a, err := e.arg.Eval(rec)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	if e.fn == "POWER" {
		b, err := e.arg2.Eval(rec)
		if err != nil {
			return nil, err
		}
		defer b.Release()
		valid, nulls := andValidity(e.alloc, a, b)
		buf, out := newFixed[float64](e.alloc, a.Len())
		x, y := fixedValues[float64](a), fixedValues[float64](b)
		for i := range out {
			out[i] = math.Pow(x[i], y[i])
		}
		return makeArray(arrow.PrimitiveTypes.Float64, a.Len(), nulls, valid, buf), nil
	}
	switch e.ph {
	case pI32:
		return absChecked[int32](e, mapNum(e, a, intFunc[int32](e.fn, e.digits)))
	case pI64:
		return absChecked[int64](e, mapNum(e, a, intFunc[int64](e.fn, e.digits)))
	case pF32:
		return mapNum(e, a, floatFunc[float32](e.fn, e.digits)), nil
	case pF64:
		return mapNum(e, a, floatFunc[float64](e.fn, e.digits)), nil
	case pDec:
		return e.evalDecimal(a), nil
	}
	return nil, fmt.Errorf("expr: %s: unsupported type %s", e.fn, e.t)
}

func mapNum[T num](e *mathFunc, a arrow.Array, f func(T) T) arrow.Array {
	valid, nulls := copyValidity(e.alloc, a)
	buf, out := newFixed[T](e.alloc, a.Len())
	in := fixedValues[T](a)
	in = in[:len(out)]
	for i := range out {
		out[i] = f(in[i])
	}
	return makeArray(e.t.Arrow(), a.Len(), nulls, valid, buf)
}

// absChecked fails ABS of an integer column whose result holds the type's
// smallest value in a row that is not NULL: its magnitude does not fit.
func absChecked[T int32 | int64](e *mathFunc, out arrow.Array) (arrow.Array, error) {
	if e.fn != "ABS" {
		return out, nil
	}
	vals := fixedValues[T](out)[:out.Len()]
	var neg T
	for _, v := range vals {
		neg |= v
	}
	if neg >= 0 {
		return out, nil
	}
	for i, v := range vals {
		if v < 0 && out.IsValid(i) {
			out.Release()
			return nil, fmt.Errorf("expr: ABS: %w", overflowErr(e.t))
		}
	}
	return out, nil
}

func intFunc[T int32 | int64](fn string, digits int) func(T) T {
	switch fn {
	case "ABS":
		return func(x T) T {
			if x < 0 {
				return -x // MIN stays MIN here; absChecked refuses it
			}
			return x
		}
	case "ROUND":
		if digits >= 0 {
			break
		}
		if digits < -18 {
			return func(T) T { return 0 }
		}
		p := int64(math.Pow10(-digits))
		return func(x T) T { return T(roundInt(int64(x), p)) }
	}
	return func(x T) T { return x }
}

// roundInt rounds x to a multiple of p, half away from zero.
func roundInt(x, p int64) int64 {
	q, r := x/p, x%p
	if r < 0 {
		r = -r
	}
	if 2*r >= p {
		if x < 0 {
			q--
		} else {
			q++
		}
	}
	return q * p
}

func floatFunc[T float32 | float64](fn string, digits int) func(T) T {
	switch fn {
	case "ABS":
		return func(x T) T { return T(math.Abs(float64(x))) }
	case "FLOOR":
		return func(x T) T { return T(math.Floor(float64(x))) }
	case "CEIL":
		return func(x T) T { return T(math.Ceil(float64(x))) }
	case "ROUND":
		p := math.Pow10(digits)
		return func(x T) T {
			f := float64(x)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return x
			}
			return T(math.Round(f*p) / p)
		}
	case "SQRT":
		return func(x T) T { return T(math.Sqrt(float64(x))) }
	}
	return func(x T) T { return x }
}

// evalDecimal applies ABS, FLOOR, CEIL or ROUND to decimals, giving the
// result at e.t's scale.
func (e *mathFunc) evalDecimal(a arrow.Array) arrow.Array {
	from := a.DataType().(*arrow.Decimal128Type)
	fs, ts := int(from.Scale), e.t.Scale
	in := a.(*array.Decimal128).Values()
	n := a.Len()
	vbuf, valid := newBitmap(e.alloc, n)
	bm, off := validity(a)
	buf, out := newFixedZero[dec](e.alloc, n)
	for i := 0; i < n; i++ {
		if !isValid(bm, off, i) {
			continue
		}
		x := in[i]
		var r dec
		switch e.fn {
		case "ABS":
			r = rescale(x.Abs(), fs, ts)
		case "FLOOR", "CEIL":
			// Truncate toward zero, then step away for the remainder.
			q := truncScale(x, fs)
			if back := rescale(q, 0, fs); back != x {
				if e.fn == "FLOOR" && x.Sign() < 0 {
					q = q.Sub(decimal128.FromI64(1))
				} else if e.fn == "CEIL" && x.Sign() > 0 {
					q = q.Add(decimal128.FromI64(1))
				}
			}
			r = rescale(q, 0, ts)
		case "ROUND":
			// Scales may be negative here: rounding to -k digits is
			// rescaling to scale -k.
			d := min(e.digits, fs)
			r = rescale(rescale(x, fs, d), d, ts)
		}
		if !fitsPrecision(r, e.t.Precision) {
			continue
		}
		out[i] = r
		valid[i>>3] |= 1 << (i & 7)
	}
	return finishFixed(e.t.Arrow(), n, vbuf, buf)
}

// truncScale drops the fractional digits of x (scale s), toward zero.
func truncScale(x dec, s int) dec {
	if s == 0 {
		return x
	}
	q, _ := x.Div(decimal128.GetScaleMultiplier(s))
	return q
}

// floorTS is FLOOR_TS(ts, ms): ts rounded down to a multiple of ms.
type floorTS struct {
	ts, ms Evaluator
	t      types.Type
	alloc  memory.Allocator
}

func (e *floorTS) Type() types.Type      { return e.t }
func (e *floorTS) operands() []Evaluator { return []Evaluator{e.ts, e.ms} }

// Eval implements Evaluator.
func (e *floorTS) Eval(rec arrow.Record) (arrow.Array, error) {
	ta, ma, _, mc, err := binOperands(e.ts, e.ms, rec)
	if err != nil {
		return nil, err
	}
	if ta == nil { // both constant
		ta, _ = e.ts.Eval(rec)
	}
	defer release(ta, ma)
	n := ta.Len()
	valid, nulls := binValidity(e.alloc, ta, ma)
	buf, out := newFixedZero[int64](e.alloc, n)
	ts := fixedValues[int64](ta)
	if mc != nil {
		p := scalar[int64](mc)
		if p <= 0 {
			releaseBuf(buf, valid)
			return nil, fmt.Errorf("expr: FLOOR_TS: non-positive unit %d", p)
		}
		for i := range out {
			out[i] = ts[i] - floorMod(ts[i], p)
		}
	} else {
		ms := fixedValues[int64](ma)
		var vb []byte
		if valid != nil {
			vb = valid.Bytes()
		}
		for i := range out {
			p := ms[i]
			if p <= 0 {
				if vb == nil || bitIsSet(vb, i) {
					releaseBuf(buf, valid)
					return nil, fmt.Errorf("expr: FLOOR_TS: non-positive unit %d", p)
				}
				continue
			}
			out[i] = ts[i] - floorMod(ts[i], p)
		}
	}
	return makeArray(e.t.Arrow(), n, nulls, valid, buf), nil
}

// floorMod returns a modulo b with the sign of b (b > 0): the distance of a
// above the multiple of b at or below it.
func floorMod(a, b int64) int64 {
	r := a % b
	if r < 0 {
		r += b
	}
	return r
}
