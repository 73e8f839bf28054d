package expr

import (
	"math"
	"math/bits"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

// mulConst computes e (a DECIMAL '*') when one operand is a non-NULL
// literal that fits in 64 bits, as Nexmark q1's 0.908 * price: the literal
// is not expanded to a column, and an operand that is an exact CAST of
// BIGINT or INT to DECIMAL(p, 0) (which never fails) is read as the
// integers it casts, multiplied in 64×64 → 128-bit arithmetic. A product
// beyond the result's precision is NULL, as on the general path. ok is
// false when the operands are not of this form.
func (e *arith) mulConst(rec arrow.Record) (out arrow.Array, ok bool, err error) {
	x, c := e.l, asConst(e.r)
	if c == nil {
		x, c = e.r, asConst(e.l)
	}
	if c == nil || asConst(x) != nil {
		return nil, false, nil
	}
	k := scalar[dec](c)
	if !fitsInt64(k) {
		return nil, false, nil
	}
	kv := int64(k.LowBits())
	src, ints := x, phys(pDec)
	if ce, isCast := x.(*castEval); isCast && exactIntCast(ce) {
		// v cast is v·10^scale: the constant takes the factor.
		hi, lo := bits.Mul64(uabs(kv), uint64(pow10(ce.to.Scale)))
		if hi == 0 && lo <= math.MaxInt64 {
			src, ints = ce.arg, ce.fp
			if kv < 0 {
				kv = -int64(lo)
			} else {
				kv = int64(lo)
			}
		}
	}
	a, err := src.Eval(rec)
	if err != nil {
		return nil, true, err
	}
	defer a.Release()
	n := a.Len()
	valid, _ := copyValidity(e.alloc, a)
	if valid == nil {
		valid, _ = newBitmap(e.alloc, n)
		setAll(valid.Bytes(), n)
	}
	vb := valid.Bytes()
	buf, res := newFixedZero[dec](e.alloc, n)
	rescaled := e.ls+e.rs != e.ts
	prec := e.t.Precision
	if prec <= 0 || prec > 38 {
		prec = 38
	}
	bound := decimal128.GetScaleMultiplier(prec) // |product| < bound fits
	bhi, blo := uint64(bound.HighBits()), bound.LowBits()
	put := func(i int, v int64) {
		neg := (v < 0) != (kv < 0)
		hi, lo := bits.Mul64(uabs(v), uabs(kv)) // < 2^126: no overflow
		var r dec
		if !rescaled {
			if hi > bhi || hi == bhi && lo >= blo {
				setBitTo(vb, i, false)
				return
			}
			r = decimal128.New(int64(hi), lo)
			if neg {
				r = r.Negate()
			}
			res[i] = r
			return
		}
		r = decimal128.New(int64(hi), lo)
		if neg {
			r = r.Negate()
		}
		if r = rescale(r, e.ls+e.rs, e.ts); !fitsPrecision(r, prec) {
			setBitTo(vb, i, false)
			return
		}
		res[i] = r
	}
	switch ints {
	case pI64:
		v := fixedValues[int64](a)
		for i := range n {
			if bitIsSet(vb, i) {
				put(i, v[i])
			}
		}
	case pI32:
		v := fixedValues[int32](a)
		for i := range n {
			if bitIsSet(vb, i) {
				put(i, int64(v[i]))
			}
		}
	default:
		v := fixedValues[dec](a)
		for i := range n {
			if !bitIsSet(vb, i) {
				continue
			}
			if fitsInt64(v[i]) {
				put(i, int64(v[i].LowBits()))
				continue
			}
			r := rescale(v[i].Mul(k), e.ls+e.rs, e.ts)
			if !fitsPrecision(r, prec) {
				setBitTo(vb, i, false)
				continue
			}
			res[i] = r
		}
	}
	nulls := n - popcount(vb, n)
	if nulls == 0 {
		valid.Release()
		valid = nil
	}
	return makeArray(e.dt, n, nulls, valid, buf), true, nil
}

// exactIntCast reports whether ce casts BIGINT or INT to a DECIMAL that
// holds every value (the planner's CAST(price AS DECIMAL(22, 3))): it never
// fails, and its value is the integer times 10^scale.
func exactIntCast(ce *castEval) bool {
	s, p := ce.to.Scale, ce.to.Precision
	switch ce.fp {
	case pI64:
		return s <= 18 && p >= 19+s
	case pI32:
		return s <= 18 && p >= 10+s
	}
	return false
}

// uabs is |v| as an unsigned integer (math.MinInt64 included).
func uabs(v int64) uint64 {
	if v < 0 {
		return uint64(-v)
	}
	return uint64(v)
}
