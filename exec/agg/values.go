package agg

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

// Column views: the values of a as a Go slice, without copying when the
// Arrow layout already is one, converted into *scratch otherwise. Values
// under NULL slots are unspecified.

func intValues(a arrow.Array, scratch *[]int64) []int64 {
	n := a.Len()
	switch a := a.(type) {
	case *array.Int64:
		return a.Int64Values()
	case *array.Timestamp, *array.Duration:
		if n == 0 {
			return nil
		}
		off := a.Data().Offset()
		return arrow.Int64Traits.CastFromBytes(a.Data().Buffers()[1].Bytes())[off : off+n]
	}
	if cap(*scratch) < n {
		*scratch = make([]int64, n)
	}
	s := (*scratch)[:n]
	switch a := a.(type) {
	case *array.Int32:
		for i, v := range a.Int32Values() {
			s[i] = int64(v)
		}
	case *array.Boolean:
		for i := range s {
			s[i] = 0
			if a.Value(i) {
				s[i] = 1
			}
		}
	case *array.Null:
		clear(s)
	default:
		panic(fmt.Sprintf("agg: integer values of %s", a.DataType()))
	}
	return s
}

func floatValues(a arrow.Array, scratch *[]float64) []float64 {
	switch a := a.(type) {
	case *array.Float64:
		return a.Float64Values()
	case *array.Float32:
		v := a.Float32Values()
		if cap(*scratch) < len(v) {
			*scratch = make([]float64, len(v))
		}
		s := (*scratch)[:len(v)]
		for i, x := range v {
			s[i] = float64(x)
		}
		return s
	}
	panic(fmt.Sprintf("agg: float values of %s", a.DataType()))
}

func decimalValues(a arrow.Array, _ *[]decimal128.Num) []decimal128.Num {
	return a.(*array.Decimal128).Values()
}

// stringValues views the strings of a; they alias a's buffers, so a value
// kept beyond the batch must be cloned.
func stringValues(a arrow.Array, scratch *[]string) []string {
	s := a.(*array.String)
	n := s.Len()
	if cap(*scratch) < n {
		*scratch = make([]string, n)
	}
	out := (*scratch)[:n]
	for i := range out {
		out[i] = s.Value(i)
	}
	return out
}

// Overflow-checked int64 arithmetic.

func addInt(a, b int64) (int64, bool) {
	c := a + b
	return c, (c > a) == (b > 0) || b == 0
}

func subInt(a, b int64) (int64, bool) {
	c := a - b
	return c, (c < a) == (b > 0) || b == 0
}

// maxDecimal38 is the largest magnitude of DECIMAL(38).
var maxDecimal38 = func() decimal128.Num {
	n, _ := decimal128.FromString("99999999999999999999999999999999999999", 38, 0)
	return n
}()

// addDec adds b to a, and reports whether the sum fits 38 digits (the
// operands do).
func addDec(a, b decimal128.Num) (decimal128.Num, bool) {
	c := a.Add(b)
	// Two 38-digit operands cannot overflow 128 bits.
	return c, !c.Abs().Greater(maxDecimal38)
}

// Value encodings: integers as zig-zag varints, floats as their 8 IEEE
// bits (little endian), decimals as 16 bytes (high word, low word; big
// endian), strings as a uvarint length and the bytes.

func encInt(buf []byte, v int64) []byte { return binary.AppendVarint(buf, v) }

func decInt(buf []byte) (int64, []byte, error) {
	v, n := binary.Varint(buf)
	if n <= 0 {
		return 0, nil, ErrCorrupt
	}
	return v, buf[n:], nil
}

func encFloat(buf []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
}

func decFloat(buf []byte) (float64, []byte, error) {
	if len(buf) < 8 {
		return 0, nil, ErrCorrupt
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(buf)), buf[8:], nil
}

func encDecimal(buf []byte, v decimal128.Num) []byte {
	buf = binary.BigEndian.AppendUint64(buf, uint64(v.HighBits()))
	return binary.BigEndian.AppendUint64(buf, v.LowBits())
}

func decDecimal(buf []byte) (decimal128.Num, []byte, error) {
	if len(buf) < 16 {
		return decimal128.Num{}, nil, ErrCorrupt
	}
	return decimal128.New(int64(binary.BigEndian.Uint64(buf)), binary.BigEndian.Uint64(buf[8:])), buf[16:], nil
}

func encString(buf []byte, v string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(v)))
	return append(buf, v...)
}

func decString(buf []byte) (string, []byte, error) {
	n, k := binary.Uvarint(buf)
	if k <= 0 || n > uint64(len(buf)-k) {
		return "", nil, ErrCorrupt
	}
	return string(buf[k : k+int(n)]), buf[k+int(n):], nil
}

// Result appenders: each converts a value computed in an aggregate's
// domain to the builder's type (the AggCall's result type).

func appendInt(b array.Builder, v int64) {
	switch b := b.(type) {
	case *array.Int64Builder:
		b.Append(v)
	case *array.Int32Builder:
		b.Append(int32(v))
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v))
	case *array.DurationBuilder:
		b.Append(arrow.Duration(v))
	case *array.BooleanBuilder:
		b.Append(v != 0)
	case *array.Float64Builder:
		b.Append(float64(v))
	case *array.Float32Builder:
		b.Append(float32(v))
	case *array.Decimal128Builder:
		appendDecimal(b, decimal128.FromI64(v), 0)
	default:
		panic(fmt.Sprintf("agg: cannot append an integer to %s", b.Type()))
	}
}

func appendFloat(b array.Builder, v float64) {
	switch b := b.(type) {
	case *array.Float64Builder:
		b.Append(v)
	case *array.Float32Builder:
		b.Append(float32(v))
	default:
		panic(fmt.Sprintf("agg: cannot append a float to %s", b.Type()))
	}
}

// appendDecimal appends v, a decimal at scale, rescaled to the builder's
// type.
func appendDecimal(b array.Builder, v decimal128.Num, scale int32) {
	switch b := b.(type) {
	case *array.Decimal128Builder:
		out := b.Type().(*arrow.Decimal128Type).Scale
		switch {
		case out > scale:
			v = v.IncreaseScaleBy(out - scale)
		case out < scale:
			v = v.ReduceScaleBy(scale-out, false)
		}
		b.Append(v)
	case *array.Float64Builder, *array.Float32Builder:
		appendFloat(b, v.ToFloat64(scale))
	default:
		panic(fmt.Sprintf("agg: cannot append a decimal to %s", b.Type()))
	}
}

func appendString(b array.Builder, v string) { b.(*array.StringBuilder).Append(v) }

// decimalAvg divides sum, a decimal at scale, by count and returns the
// quotient as an unscaled decimal at outScale, rounded HALF_UP (ties away
// from zero) as Flink's decimal division is. ok is false when the quotient
// does not fit in outPrec digits: Flink's decimal overflow, which is NULL.
func decimalAvg(sum decimal128.Num, scale int32, count int64, outPrec, outScale int32) (q decimal128.Num, ok bool) {
	n := sum.BigInt()
	d := big.NewInt(count)
	if e := outScale - scale; e > 0 {
		n.Mul(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(e)), nil))
	} else if e < 0 {
		d.Mul(d, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-e)), nil))
	}
	quo, rem := n.QuoRem(n, d, new(big.Int))
	if rem.Abs(rem).Lsh(rem, 1).Cmp(d.Abs(d)) >= 0 {
		if sum.Sign() < 0 {
			quo.Sub(quo, big.NewInt(1))
		} else {
			quo.Add(quo, big.NewInt(1))
		}
	}
	if quo.BitLen() > 127 {
		return decimal128.Num{}, false
	}
	q = decimal128.FromBigInt(quo)
	return q, q.FitsInPrecision(outPrec)
}
