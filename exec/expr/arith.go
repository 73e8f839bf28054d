package expr

import (
	"errors"
	"fmt"
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// ErrDivisionByZero is returned (wrapped) when an integer or decimal is
// divided by zero, by / or by MOD.
var ErrDivisionByZero = errors.New("division by zero")

// arith is a binary arithmetic operator: + - * / %.
type arith struct {
	op    byte
	src   plan.Expr // the expression, printed only for an error
	l, r  Evaluator
	t     types.Type
	dt    arrow.DataType
	ph    phys
	alloc memory.Allocator
	// DECIMAL scales of the operands and the result.
	ls, rs, ts int
}

func (e *arith) Type() types.Type      { return e.t }
func (e *arith) operands() []Evaluator { return []Evaluator{e.l, e.r} }

// binOperands evaluates the operands of a binary operator. A non-NULL
// literal operand is returned as lc or rc instead of an array (but not
// both: when both are literals, both are expanded). The caller releases
// the arrays.
func binOperands(l, r Evaluator, rec arrow.Record) (la, ra arrow.Array, lc, rc *literal, err error) {
	lc, rc = asConst(l), asConst(r)
	if lc != nil && rc != nil {
		lc, rc = nil, nil
	}
	if lc == nil {
		if la, err = l.Eval(rec); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	if rc == nil {
		if ra, err = r.Eval(rec); err != nil {
			release(la)
			return nil, nil, nil, nil, err
		}
	}
	return la, ra, lc, rc, nil
}

func release(as ...arrow.Array) {
	for _, a := range as {
		if a != nil {
			a.Release()
		}
	}
}

// binValidity is the validity of a binary operator's result: NULL when
// either operand is.
func binValidity(alloc memory.Allocator, la, ra arrow.Array) (*memory.Buffer, int) {
	switch {
	case la == nil:
		return copyValidity(alloc, ra)
	case ra == nil:
		return copyValidity(alloc, la)
	}
	return andValidity(alloc, la, ra)
}

// Eval implements Evaluator.
func (e *arith) Eval(rec arrow.Record) (arrow.Array, error) {
	var a arrow.Array
	var err error
	switch e.ph {
	case pI32:
		a, err = arithNum[int32](e, rec)
	case pI64:
		a, err = arithNum[int64](e, rec)
	case pF32:
		a, err = arithNum[float32](e, rec)
	case pF64:
		a, err = arithNum[float64](e, rec)
	case pDec:
		a, err = e.evalDecimal(rec)
	default:
		err = fmt.Errorf("unsupported operand type %s", e.t)
	}
	if err != nil {
		return nil, fmt.Errorf("expr: %s: %w", exprText(e.src), err)
	}
	return a, nil
}

func arithNum[T num](e *arith, rec arrow.Record) (arrow.Array, error) {
	la, ra, lc, rc, err := binOperands(e.l, e.r, rec)
	if err != nil {
		return nil, err
	}
	defer release(la, ra)
	n := int(rec.NumRows())
	valid, nulls := binValidity(e.alloc, la, ra)
	buf, out := newFixed[T](e.alloc, n)
	var a, b []T
	var as, bs T
	if lc != nil {
		as = scalar[T](lc)
	} else {
		a = fixedValues[T](la)
	}
	if rc != nil {
		bs = scalar[T](rc)
	} else {
		b = fixedValues[T](ra)
	}
	switch e.op {
	case '+':
		switch {
		case lc != nil:
			addSV(as, b, out)
		case rc != nil:
			addVS(a, bs, out)
		default:
			addVV(a, b, out)
		}
	case '-':
		switch {
		case lc != nil:
			subSV(as, b, out)
		case rc != nil:
			subVS(a, bs, out)
		default:
			subVV(a, b, out)
		}
	case '*':
		switch {
		case lc != nil:
			mulSV(as, b, out)
		case rc != nil:
			mulVS(a, bs, out)
		default:
			mulVV(a, b, out)
		}
	case '/', '%':
		var vb []byte
		if valid != nil {
			vb = valid.Bytes()
		}
		switch o := any(out).(type) {
		case []int32:
			err = intDivide(e.op == '%', any(a).([]int32), any(as).(int32), lc != nil, any(b).([]int32), any(bs).(int32), rc != nil, vb, o)
		case []int64:
			err = intDivide(e.op == '%', any(a).([]int64), any(as).(int64), lc != nil, any(b).([]int64), any(bs).(int64), rc != nil, vb, o)
		case []float32:
			floatDivide(e.op == '%', any(a).([]float32), any(as).(float32), lc != nil, any(b).([]float32), any(bs).(float32), rc != nil, o)
		case []float64:
			floatDivide(e.op == '%', any(a).([]float64), any(as).(float64), lc != nil, any(b).([]float64), any(bs).(float64), rc != nil, o)
		}
	default:
		err = fmt.Errorf("unknown operator %q", e.op)
	}
	if err != nil {
		buf.Release()
		if valid != nil {
			valid.Release()
		}
		return nil, err
	}
	return makeArray(e.dt, n, nulls, valid, buf), nil
}

// intDivide computes a / b or a % b (truncated, as in Java) where either
// side may be a scalar. A zero divisor in a row that is not NULL (per
// valid, nil meaning all rows) is an error; in a NULL row it is skipped.
func intDivide[T int32 | int64](mod bool, a []T, as T, aConst bool, b []T, bs T, bConst bool, valid []byte, out []T) error {
	if bConst {
		if bs == 0 {
			if len(out) > 0 && (valid == nil || popcount(valid, len(out)) > 0) {
				return ErrDivisionByZero
			}
			clear(out)
			return nil
		}
		a = a[:len(out)]
		if mod {
			for i := range out {
				out[i] = a[i] % bs
			}
		} else {
			for i := range out {
				out[i] = a[i] / bs
			}
		}
		return nil
	}
	b = b[:len(out)]
	for i := range out {
		d := b[i]
		if d == 0 {
			if valid == nil || bitIsSet(valid, i) {
				return ErrDivisionByZero
			}
			d = 1
		}
		x := as
		if !aConst {
			x = a[i]
		}
		if mod {
			out[i] = x % d
		} else {
			out[i] = x / d
		}
	}
	return nil
}

func floatDivide[T float32 | float64](mod bool, a []T, as T, aConst bool, b []T, bs T, bConst bool, out []T) {
	at := func(i int) T {
		if aConst {
			return as
		}
		return a[i]
	}
	bt := func(i int) T {
		if bConst {
			return bs
		}
		return b[i]
	}
	if mod {
		for i := range out {
			out[i] = T(math.Mod(float64(at(i)), float64(bt(i))))
		}
		return
	}
	switch {
	case bConst:
		a = a[:len(out)]
		for i := range out {
			out[i] = a[i] / bs
		}
	case aConst:
		b = b[:len(out)]
		for i := range out {
			out[i] = as / b[i]
		}
	default:
		a, b = a[:len(out)], b[:len(out)]
		for i := range out {
			out[i] = a[i] / b[i]
		}
	}
}

// evalDecimal computes a DECIMAL operation row by row (decimal arithmetic
// is 128-bit; rescaling is per value). A result outside the precision of
// the result type is NULL, as in Flink.
func (e *arith) evalDecimal(rec arrow.Record) (arrow.Array, error) {
	la, err := e.l.Eval(rec)
	if err != nil {
		return nil, err
	}
	defer la.Release()
	ra, err := e.r.Eval(rec)
	if err != nil {
		return nil, err
	}
	defer ra.Release()
	n := int(rec.NumRows())
	a, b := la.(*array.Decimal128).Values(), ra.(*array.Decimal128).Values()
	valid, _ := andValidity(e.alloc, la, ra)
	if valid == nil {
		valid, _ = newBitmap(e.alloc, n)
		setAll(valid.Bytes(), n)
	}
	vb := valid.Bytes()
	buf, out := newFixedZero[dec](e.alloc, n)
	cs := max(e.ls, e.rs)
	for i := 0; i < n; i++ {
		if !bitIsSet(vb, i) {
			continue
		}
		x, y := a[i], b[i]
		var r dec
		switch e.op {
		case '+':
			r = rescale(rescale(x, e.ls, cs).Add(rescale(y, e.rs, cs)), cs, e.ts)
		case '-':
			r = rescale(rescale(x, e.ls, cs).Sub(rescale(y, e.rs, cs)), cs, e.ts)
		case '*':
			r = rescale(x.Mul(y), e.ls+e.rs, e.ts)
		case '/':
			if y.Sign() == 0 {
				buf.Release()
				valid.Release()
				return nil, ErrDivisionByZero
			}
			r = decDiv(x, e.ls, y, e.rs, e.ts)
		case '%':
			if y.Sign() == 0 {
				buf.Release()
				valid.Release()
				return nil, ErrDivisionByZero
			}
			r = rescale(decMod(rescale(x, e.ls, cs), rescale(y, e.rs, cs)), cs, e.ts)
		}
		if !fitsPrecision(r, e.t.Precision) {
			setBitTo(vb, i, false)
			continue
		}
		out[i] = r
	}
	nulls := n - popcount(vb, n)
	if nulls == 0 {
		valid.Release()
		valid = nil
	}
	return makeArray(e.dt, n, nulls, valid, buf), nil
}

// setAll sets the first n bits of bm.
func setAll(bm []byte, n int) {
	for i := range bm[:n/8] {
		bm[i] = 0xff
	}
	for i := n / 8 * 8; i < n; i++ {
		setBitTo(bm, i, true)
	}
}
