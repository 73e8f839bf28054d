package expr

import (
	"errors"
	"fmt"
	"math"
	"math/bits"

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
	// exactDivisor makes a zero divisor of a floating-point division an
	// error: the divisor was a DECIMAL or an integer in SQL.
	exactDivisor bool
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
		case fusedInt[T]():
			// intOverflow adds, checking as it goes.
		case lc != nil:
			addSV(as, b, out)
		case rc != nil:
			addVS(a, bs, out)
		default:
			addVV(a, b, out)
		}
	case '-':
		switch {
		case fusedInt[T]():
			// As for +.
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
		if err == nil && e.exactDivisor && zeroDivisor(b, bs, rc != nil, vb, n) {
			err = ErrDivisionByZero
		}
	default:
		err = fmt.Errorf("unknown operator %q", e.op)
	}
	if err == nil && e.op == '/' && (rc == nil || scalar[T](rc) == -1) {
		// MIN / -1 wraps to MIN; every other quotient fits.
		var vb []byte
		if valid != nil {
			vb = valid.Bytes()
		}
		switch o := any(out).(type) {
		case []int32:
			err = divOverflow(any(a).([]int32), any(as).(int32), lc != nil, any(b).([]int32), any(bs).(int32), rc != nil, vb, o, e.t)
		case []int64:
			err = divOverflow(any(a).([]int64), any(as).(int64), lc != nil, any(b).([]int64), any(bs).(int64), rc != nil, vb, o, e.t)
		}
	}
	if err == nil && (e.op == '+' || e.op == '-' || e.op == '*') {
		var vb []byte
		if valid != nil {
			vb = valid.Bytes()
		}
		switch o := any(out).(type) {
		case []int32:
			err = intOverflow(e.op, any(a).([]int32), any(as).(int32), lc != nil, any(b).([]int32), any(bs).(int32), rc != nil, vb, o, e.t)
		case []int64:
			err = intOverflow(e.op, any(a).([]int64), any(as).(int64), lc != nil, any(b).([]int64), any(bs).(int64), rc != nil, vb, o, e.t)
		}
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

// ErrOverflow is returned (wrapped) when the result of an operation does
// not fit its type: INT or BIGINT arithmetic, a cast, ABS or negation of
// the smallest value, a DECIMAL beyond its precision.
var ErrOverflow = errors.New("numeric overflow")

func overflowErr(t types.Type) error {
	return fmt.Errorf("%w: the result does not fit %s", ErrOverflow, t.Nullable())
}

// intOverflow checks the result out of op (+, - or *) on a and b (either
// may be a scalar) for wrap-around, in rows that are not NULL (per valid,
// nil meaning all rows). The common case costs one branch-free pass that
// ORs a sign bit over the rows; only when it is set are the rows, and
// their validity, looked at one by one.
func intOverflow[T int32 | int64](op byte, a []T, as T, aConst bool, b []T, bs T, bConst bool, valid []byte, out []T, t types.Type) error {
	n := len(out)
	at := func(i int) (T, T) {
		x, y := as, bs
		if !aConst {
			x = a[i]
		}
		if !bConst {
			y = b[i]
		}
		return x, y
	}
	// bad reports whether row i wrapped.
	bad := func(i int) bool {
		x, y := at(i)
		r := out[i]
		switch op {
		case '+':
			return (x^r)&(y^r) < 0
		case '-':
			return (x^y)&(x^r) < 0
		}
		return mulWraps(x, y)
	}
	var flag T
	switch op {
	case '+', '-':
		flag = addSubOverflowBits(op == '+', a, as, aConst, b, bs, bConst, out)
		if flag >= 0 {
			return nil
		}
	case '*':
		// No product of magnitudes below 2^(w/2-1) can wrap: OR the
		// magnitudes (one's complement is enough) and look row by row
		// only if one is larger.
		mag := func(x T) T { return x ^ (x >> (bitsOf[T]() - 1)) }
		switch {
		case aConst:
			flag = mag(as)
			b = b[:n]
			for i := range out {
				flag |= mag(b[i])
			}
		case bConst:
			flag = mag(bs)
			a = a[:n]
			for i := range out {
				flag |= mag(a[i])
			}
		default:
			a, b = a[:n], b[:n]
			for i := range out {
				flag |= mag(a[i]) | mag(b[i])
			}
		}
		if flag < T(1)<<(bitsOf[T]()/2-1) {
			return nil
		}
	}
	for i := 0; i < n; i++ {
		if bad(i) && (valid == nil || valid[i/8]&(1<<(i%8)) != 0) {
			return overflowErr(t)
		}
	}
	return nil
}

// bitsOf is the width of T in bits.
func bitsOf[T int32 | int64]() int {
	var z T
	if _, ok := any(z).(int32); ok {
		return 32
	}
	return 64
}

// zeroDivisor reports whether a row that is not NULL (per valid) divides
// by zero.
func zeroDivisor[T num](b []T, bs T, bConst bool, valid []byte, n int) bool {
	for i := 0; i < n; i++ {
		y := bs
		if !bConst {
			y = b[i]
		}
		if y == 0 && (valid == nil || valid[i/8]&(1<<(i%8)) != 0) {
			return true
		}
	}
	return false
}

// divOverflow finds MIN / -1 in a row that is not NULL.
func divOverflow[T int32 | int64](a []T, as T, aConst bool, b []T, bs T, bConst bool, valid []byte, out []T, t types.Type) error {
	minT := T(-1) << (bitsOf[T]() - 1)
	for i := range out {
		x, y := as, bs
		if !aConst {
			x = a[i]
		}
		if !bConst {
			y = b[i]
		}
		if x == minT && y == -1 && (valid == nil || valid[i/8]&(1<<(i%8)) != 0) {
			return overflowErr(t)
		}
	}
	return nil
}

// fusedInt reports whether + and - on T are computed by
// addSubOverflowBits, together with their overflow check, in one pass.
func fusedInt[T num]() bool {
	var z T
	switch any(z).(type) {
	case int32, int64:
		return true
	}
	return false
}

// addSubOverflowBits computes out = a + b (add) or a - b and ORs over the
// rows a value whose sign bit is set when some row wrapped around: one
// loop per operator and operand shape, each tight and branch-free.
func addSubOverflowBits[T int32 | int64](add bool, a []T, as T, aConst bool, b []T, bs T, bConst bool, out []T) T {
	var f T
	n := len(out)
	switch {
	case add && aConst:
		b = b[:n]
		for i := range out {
			r := as + b[i]
			out[i] = r
			f |= (as ^ r) & (b[i] ^ r)
		}
	case add && bConst:
		a = a[:n]
		for i := range out {
			r := a[i] + bs
			out[i] = r
			f |= (a[i] ^ r) & (bs ^ r)
		}
	case add:
		a, b = a[:n], b[:n]
		for i := range out {
			r := a[i] + b[i]
			out[i] = r
			f |= (a[i] ^ r) & (b[i] ^ r)
		}
	case aConst:
		b = b[:n]
		for i := range out {
			r := as - b[i]
			out[i] = r
			f |= (as ^ b[i]) & (as ^ r)
		}
	case bConst:
		a = a[:n]
		for i := range out {
			r := a[i] - bs
			out[i] = r
			f |= (a[i] ^ bs) & (a[i] ^ r)
		}
	default:
		a, b = a[:n], b[:n]
		for i := range out {
			r := a[i] - b[i]
			out[i] = r
			f |= (a[i] ^ b[i]) & (a[i] ^ r)
		}
	}
	return f
}

// mulWraps reports whether x * y wraps around in T.
func mulWraps[T int32 | int64](x, y T) bool {
	if x == 0 || y == 0 {
		return false
	}
	if _, is32 := any(x).(int32); is32 {
		p := int64(x) * int64(y)
		return p != int64(int32(p))
	}
	ux, uy := uint64(int64(x)), uint64(int64(y))
	neg := (int64(x) < 0) != (int64(y) < 0)
	if int64(x) < 0 {
		ux = -ux
	}
	if int64(y) < 0 {
		uy = -uy
	}
	hi, lo := bits.Mul64(ux, uy)
	if hi != 0 {
		return true
	}
	if neg {
		return lo > 1<<63
	}
	return lo > 1<<63-1
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
	if e.op == '*' {
		if a, ok, err := e.mulConst(rec); ok {
			return a, err
		}
	}
	return e.evalDecimalRows(rec)
}

// evalDecimalRows is evalDecimal's general path.
func (e *arith) evalDecimalRows(rec arrow.Record) (arrow.Array, error) {
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
