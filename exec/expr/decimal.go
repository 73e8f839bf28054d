package expr

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow/decimal128"

	"github.com/streamsql/streamsql/types"
)

// DECIMAL values are decimal128.Num: unscaled two's-complement 128-bit
// integers, with the scale given by the SQL type. The helpers here stay on
// native 64/128-bit arithmetic when values fit and fall back to math/big
// otherwise.

type dec = decimal128.Num

// fitsInt64 reports whether n is representable as an int64.
func fitsInt64(n dec) bool { return n.HighBits() == int64(n.LowBits())>>63 }

// rescale converts n from scale from to scale to, rounding half away from
// zero when the scale shrinks.
func rescale(n dec, from, to int) dec {
	switch {
	case from == to:
		return n
	case to > from:
		if to-from > 38 {
			return decimal128.GetMaxValue(38).Add(decimal128.FromI64(1)) // out of any precision
		}
		return n.Mul(decimal128.GetScaleMultiplier(to - from))
	}
	k := from - to
	if k > 38 {
		return dec{}
	}
	if fitsInt64(n) && k <= 18 {
		v := int64(n.LowBits())
		p := decimal128.GetScaleMultiplier(k).LowBits()
		q, r := v/int64(p), v%int64(p)
		if r < 0 {
			r = -r
		}
		if uint64(r)*2 >= p {
			if v < 0 {
				q--
			} else {
				q++
			}
		}
		return decimal128.FromI64(q)
	}
	return n.ReduceScaleBy(int32(k), true)
}

// fitsPrecision reports whether n has at most prec digits.
func fitsPrecision(n dec, prec int) bool {
	if prec <= 0 || prec > 38 {
		prec = 38
	}
	return n.Abs().Less(decimal128.GetScaleMultiplier(prec))
}

// parseDecimal parses a decimal literal such as "-12.345" or "1e3" into
// the unscaled value of type t, rounding to t's scale.
func parseDecimal(s string, t types.Type) (dec, error) {
	s = strings.TrimSpace(s)
	n, ok := parseDecimalFast(s, t.Scale)
	if !ok {
		var err error
		n, err = decimal128.FromString(s, 38, int32(t.Scale))
		if err != nil {
			return dec{}, fmt.Errorf("cannot parse %q as %s", s, t)
		}
	}
	if !fitsPrecision(n, t.Precision) {
		return dec{}, fmt.Errorf("value %q out of range of %s", s, t)
	}
	return n, nil
}

// parseDecimalFast parses [+-]digits[.digits] with at most 18 significant
// digits without allocating, rounding half away from zero to scale.
func parseDecimalFast(s string, scale int) (dec, bool) {
	if s == "" {
		return dec{}, false
	}
	neg := false
	switch s[0] {
	case '-':
		neg = true
		s = s[1:]
	case '+':
		s = s[1:]
	}
	var v int64
	sig, frac := 0, -1
	seen := false
	roundUp := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' && frac < 0 {
			frac = 0
			continue
		}
		if c < '0' || c > '9' {
			return dec{}, false
		}
		if frac == scale {
			// The first dropped digit decides the rounding; the rest must
			// still be digits.
			roundUp = c >= '5'
			for j := i + 1; j < len(s); j++ {
				if s[j] < '0' || s[j] > '9' {
					return dec{}, false
				}
			}
			break
		}
		if frac >= 0 {
			frac++
		}
		v = v*10 + int64(c-'0')
		seen = true
		if v != 0 {
			sig++
		}
		if sig > 18 {
			return dec{}, false
		}
	}
	if !seen {
		return dec{}, false
	}
	if frac < 0 {
		frac = 0
	}
	for ; frac < scale; frac++ {
		if v > 1e17 || v < -1e17 {
			return dec{}, false
		}
		v *= 10
	}
	if roundUp {
		v++
	}
	if neg {
		v = -v
	}
	return decimal128.FromI64(v), true
}

// formatDecimal prints n with scale digits after the point.
func formatDecimal(n dec, scale int) string { return string(types.AppendDecimal(nil, n, int32(scale))) }

// decDiv divides a (scale as) by b (scale bs) giving scale ts, rounding
// half away from zero. b must not be zero.
func decDiv(a dec, as int, b dec, bs int, ts int) dec {
	// a/10^as / (b/10^bs) * 10^ts = a * 10^(ts+bs-as) / b
	x, y := a.BigInt(), b.BigInt()
	k := ts + bs - as
	ten := big.NewInt(10)
	if k >= 0 {
		x.Mul(x, new(big.Int).Exp(ten, big.NewInt(int64(k)), nil))
	} else {
		y.Mul(y, new(big.Int).Exp(ten, big.NewInt(int64(-k)), nil))
	}
	q, r := new(big.Int).QuoRem(x, y, new(big.Int))
	r.Abs(r).Lsh(r, 1)
	if r.Cmp(new(big.Int).Abs(y)) >= 0 {
		if x.Sign()*y.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	if q.BitLen() > 127 {
		return decimal128.GetMaxValue(38).Add(decimal128.FromI64(1))
	}
	return decimal128.FromBigInt(q)
}

// decMod returns a mod b (truncated, the sign of a) at scale s; both are
// at scale s. b must not be zero.
func decMod(a, b dec) dec {
	_, r := a.Div(b)
	return r
}

// decToFloat converts a decimal to the nearest float64 when the unscaled
// value and the scale factor are exact in a float64 (one correctly rounded
// division), else through decimal128's conversion.
func decToFloat(n dec, scale int) float64 {
	if fitsInt64(n) && scale <= 22 {
		v := int64(n.LowBits())
		if v >= -1<<53 && v <= 1<<53 {
			return float64(v) / math.Pow10(scale)
		}
	}
	return n.ToFloat64(int32(scale))
}

// floatToDec converts a float to a decimal of type t through its shortest
// decimal representation, as Java's BigDecimal.valueOf(double) does, so
// that 0.125 becomes 0.13 at scale 2 and 1.005 becomes 1.01.
func floatToDec(x float64, bitSize int, t types.Type) (dec, bool) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return dec{}, false
	}
	var buf [64]byte
	b := strconv.AppendFloat(buf[:0], x, 'f', -1, bitSize)
	n, err := parseDecimal(unsafe.String(unsafe.SliceData(b), len(b)), t)
	return n, err == nil
}
