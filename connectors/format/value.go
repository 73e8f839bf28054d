package format

import (
	"math"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

// FormatValue returns the SQL text form of the value at row of col, and
// false when it is NULL (the text is then ""): the caller decides how NULL
// looks ("NULL" in the REPL, "null" in the print sink). See the package
// comment for the form of each type.
func FormatValue(col arrow.Array, row int) (string, bool) {
	if col.IsNull(row) {
		return "", false
	}
	return string(AppendValue(nil, col, row)), true
}

// AppendValue appends the SQL text form of the non-NULL value at row of col
// to dst. It is FormatValue without the allocation; the caller checks
// col.IsNull(row) first.
func AppendValue(dst []byte, col arrow.Array, row int) []byte {
	switch c := col.(type) {
	case *array.Boolean:
		return strconv.AppendBool(dst, c.Value(row))
	case *array.Int32:
		return strconv.AppendInt(dst, int64(c.Value(row)), 10)
	case *array.Int64:
		return strconv.AppendInt(dst, c.Value(row), 10)
	case *array.Float32:
		return AppendFloat(dst, float64(c.Value(row)), 32)
	case *array.Float64:
		return AppendFloat(dst, c.Value(row), 64)
	case *array.Decimal128:
		return AppendDecimal(dst, c.Value(row), c.DataType().(*arrow.Decimal128Type).Scale)
	case *array.String:
		return append(dst, c.Value(row)...)
	case *array.Timestamp:
		return AppendTimestamp(dst, int64(c.Value(row)))
	case *array.Duration:
		return AppendInterval(dst, int64(c.Value(row)))
	}
	return append(dst, col.ValueStr(row)...)
}

// AppendFloat appends f in the shortest form that reads back as the same
// float of the given bit size, Java style: "1.0", "0.25", "1.0E21",
// "1.0E-7", "NaN", "Infinity", "-Infinity".
func AppendFloat(dst []byte, f float64, bitSize int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		start := len(dst)
		dst = strconv.AppendFloat(dst, f, 'E', -1, bitSize)
		// Go writes "1E+21" and "1.5E-07"; Java writes "1.0E21" and "1.5E-7".
		var mant, exp []byte
		for i := start; i < len(dst); i++ {
			if dst[i] == 'E' {
				mant, exp = dst[start:i], dst[i+1:]
				break
			}
		}
		var buf [32]byte
		out := append(buf[:0], mant...)
		if !hasDot(mant) {
			out = append(out, ".0"...)
		}
		out = append(out, 'E')
		if exp[0] == '-' {
			out = append(out, '-')
		}
		exp = exp[1:]
		for len(exp) > 1 && exp[0] == '0' {
			exp = exp[1:]
		}
		out = append(out, exp...)
		return append(dst[:start], out...)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, bitSize)
	if !hasDot(dst[start:]) {
		dst = append(dst, ".0"...)
	}
	return dst
}

func hasDot(b []byte) bool {
	for _, c := range b {
		if c == '.' {
			return true
		}
	}
	return false
}

// AppendDecimal appends n, an unscaled decimal with the given scale, with
// exactly scale fraction digits ("1.50" for 150 at scale 2).
func AppendDecimal(dst []byte, n decimal128.Num, scale int32) []byte {
	var digits []byte
	var buf [48]byte
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

const msPerDay = 86400000

// AppendTimestamp appends the timestamp of ms milliseconds since the epoch
// (UTC) as "2024-01-01 12:00:05.000".
func AppendTimestamp(dst []byte, ms int64) []byte {
	days := floorDiv(ms, msPerDay)
	rem := ms - days*msPerDay
	y, m, d := civil(days)
	if y < 0 || y > 9999 {
		dst = strconv.AppendInt(dst, y, 10)
	} else {
		dst = append4(dst, int(y))
	}
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	dst = append2(dst, d)
	dst = append(dst, ' ')
	return appendClock(dst, rem)
}

// appendClock appends ms (within a day) as "HH:MM:SS.fff".
func appendClock(dst []byte, ms int64) []byte {
	dst = append2(dst, int(ms/3600000))
	dst = append(dst, ':')
	dst = append2(dst, int(ms/60000%60))
	dst = append(dst, ':')
	dst = append2(dst, int(ms/1000%60))
	dst = append(dst, '.')
	f := int(ms % 1000)
	return append(dst, byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
}

// AppendInterval appends a day-to-second interval of ms milliseconds as
// "+1 02:03:04.000" (sign, days, then the time of day).
func AppendInterval(dst []byte, ms int64) []byte {
	if ms < 0 {
		dst = append(dst, '-')
		ms = -ms
	} else {
		dst = append(dst, '+')
	}
	dst = strconv.AppendInt(dst, ms/msPerDay, 10)
	dst = append(dst, ' ')
	return appendClock(dst, ms%msPerDay)
}

func append2(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/10), byte('0'+v%10))
}

func append4(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (H. Hinnant's algorithm).
func civil(days int64) (y int64, m, d int) {
	z := days + 719468
	era := z
	if era < 0 {
		era -= 146096
	}
	era /= 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// daysFromCivil is the inverse of civil.
func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := int64(m - 3)
	if m <= 2 {
		mp = int64(m + 9)
	}
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
