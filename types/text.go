package types

import (
	"math"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

// AppendFloat appends f as Java's Double.toString (Float.toString for
// bitSize 32) prints it, which is what Flink shows for DOUBLE and FLOAT:
// the shortest digits that read back as the same float, in plain notation
// with at least one fraction digit for 1e-3 <= |f| < 1e7 ("1.0", "0.001",
// "1234567.5") and as d.ddd"E"exp otherwise ("1.0E7", "1.5E-4",
// "1.0E21"); and "NaN", "Infinity", "-Infinity".
func AppendFloat(dst []byte, f float64, bitSize int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	if abs := math.Abs(f); f == 0 || (abs >= 1e-3 && abs < 1e7) {
		start := len(dst)
		dst = strconv.AppendFloat(dst, f, 'f', -1, bitSize)
		if !hasDot(dst[start:]) {
			dst = append(dst, ".0"...)
		}
		return dst
	}
	// Go writes "1e+21" and "1.5e-07"; Java writes "1.0E21" and "1.5E-7".
	var tmp [32]byte
	s := strconv.AppendFloat(tmp[:0], f, 'e', -1, bitSize)
	i := 0
	for s[i] != 'e' {
		i++
	}
	mant, exp := s[:i], s[i+1:]
	dst = append(dst, mant...)
	if !hasDot(mant) {
		dst = append(dst, ".0"...)
	}
	dst = append(dst, 'E')
	if exp[0] == '-' {
		dst = append(dst, '-')
	}
	exp = exp[1:] // the sign
	for len(exp) > 1 && exp[0] == '0' {
		exp = exp[1:]
	}
	return append(dst, exp...)
}

func hasDot(b []byte) bool {
	for _, c := range b {
		if c == '.' {
			return true
		}
	}
	return false
}

// AppendDecimal appends n, an unscaled DECIMAL with the given scale, with
// exactly scale fraction digits ("1.50" for 150 at scale 2, "-0.05" for -5)
// or, for a negative scale, with -scale zeros ("700" for 7 at scale -2).
func AppendDecimal(dst []byte, n decimal128.Num, scale int32) []byte {
	var buf [48]byte
	var digits []byte
	neg := n.Sign() < 0
	if neg {
		n = n.Negate()
	}
	if n.HighBits() == 0 {
		digits = strconv.AppendUint(buf[:0], n.LowBits(), 10)
	} else {
		digits = n.BigInt().Append(buf[:0], 10)
	}
	if neg {
		dst = append(dst, '-')
	}
	if scale <= 0 {
		dst = append(dst, digits...)
		for i := int32(0); i < -scale; i++ {
			dst = append(dst, '0')
		}
		return dst
	}
	s := int(scale)
	if len(digits) <= s {
		dst = append(dst, '0', '.')
		for i := len(digits); i < s; i++ {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	dst = append(dst, digits[:len(digits)-s]...)
	dst = append(dst, '.')
	return append(dst, digits[len(digits)-s:]...)
}
