package agg

import (
	"encoding/binary"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/streamsql/streamsql/types"
)

// countAcc is COUNT(*) (col -1) and COUNT(x).
type countAcc struct {
	col int
	n   []int64
}

var _ Accumulator = (*countAcc)(nil)

func (a *countAcc) Grow(n int)    { a.n = grow(a.n, n) }
func (a *countAcc) Reset(s int32) { a.n[s] = 0 }

func (a *countAcc) fold(rec arrow.Record, slots []int32, d int64) {
	n := a.n
	if a.col < 0 || rec.Column(a.col).NullN() == 0 {
		for _, s := range slots {
			if s >= 0 {
				n[s] += d
			}
		}
		return
	}
	arr := rec.Column(a.col)
	for i, s := range slots {
		if s >= 0 && arr.IsValid(i) {
			n[s] += d
		}
	}
}

// Add implements Accumulator.
func (a *countAcc) Add(rec arrow.Record, slots []int32) error { a.fold(rec, slots, 1); return nil }

// Retract implements Accumulator.
func (a *countAcc) Retract(rec arrow.Record, slots []int32) error { a.fold(rec, slots, -1); return nil }

// AppendResult implements Accumulator.
func (a *countAcc) AppendResult(b array.Builder, s int32) { appendInt(b, a.n[s]) }

// Encode implements Accumulator.
func (a *countAcc) Encode(buf []byte, s int32) []byte { return encInt(buf, a.n[s]) }

// Decode implements Accumulator.
func (a *countAcc) Decode(buf []byte, s int32) ([]byte, error) {
	v, rest, err := decInt(buf)
	a.n[s] = v
	return rest, err
}

// intSumAcc is SUM or AVG over integers: the sum (overflow-checked) and
// the number of non-NULL values.
type intSumAcc struct {
	col     int
	avg     bool
	t       types.Type
	scratch []int64
	sums    []int64
	n       []int64
}

var _ Accumulator = (*intSumAcc)(nil)

func (a *intSumAcc) Grow(n int)    { a.sums = grow(a.sums, n); a.n = grow(a.n, n) }
func (a *intSumAcc) Reset(s int32) { a.sums[s], a.n[s] = 0, 0 }

func (a *intSumAcc) fold(rec arrow.Record, slots []int32, retract bool) error {
	arr := rec.Column(a.col)
	v := intValues(arr, &a.scratch)[:len(slots)]
	nulls := arr.NullN() > 0
	sums, n := a.sums, a.n
	for i, s := range slots {
		if s < 0 || nulls && arr.IsNull(i) {
			continue
		}
		var ok bool
		if retract {
			sums[s], ok = subInt(sums[s], v[i])
			n[s]--
		} else {
			sums[s], ok = addInt(sums[s], v[i])
			n[s]++
		}
		if !ok {
			what := "SUM"
			if a.avg {
				what = "the sum of AVG"
			}
			return overflow(what, types.BigIntType)
		}
	}
	return nil
}

// Add implements Accumulator.
func (a *intSumAcc) Add(rec arrow.Record, slots []int32) error { return a.fold(rec, slots, false) }

// Retract implements Accumulator.
func (a *intSumAcc) Retract(rec arrow.Record, slots []int32) error { return a.fold(rec, slots, true) }

// AppendResult implements Accumulator.
func (a *intSumAcc) AppendResult(b array.Builder, s int32) {
	switch {
	case a.n[s] <= 0:
		b.AppendNull()
	case a.avg:
		appendInt(b, a.sums[s]/a.n[s]) // truncates toward zero, as Flink's
	default:
		appendInt(b, a.sums[s])
	}
}

// Encode implements Accumulator.
func (a *intSumAcc) Encode(buf []byte, s int32) []byte {
	return encInt(encInt(buf, a.n[s]), a.sums[s])
}

// Decode implements Accumulator.
func (a *intSumAcc) Decode(buf []byte, s int32) ([]byte, error) {
	n, rest, err := decInt(buf)
	if err != nil {
		return nil, err
	}
	a.n[s] = n
	a.sums[s], rest, err = decInt(rest)
	return rest, err
}

// floatSumAcc is SUM or AVG over floats.
type floatSumAcc struct {
	col     int
	avg     bool
	scratch []float64
	sums    []float64
	n       []int64
}

var _ Accumulator = (*floatSumAcc)(nil)

func (a *floatSumAcc) Grow(n int)    { a.sums = grow(a.sums, n); a.n = grow(a.n, n) }
func (a *floatSumAcc) Reset(s int32) { a.sums[s], a.n[s] = 0, 0 }

func (a *floatSumAcc) fold(rec arrow.Record, slots []int32, d float64) {
	arr := rec.Column(a.col)
	v := floatValues(arr, &a.scratch)[:len(slots)]
	nulls := arr.NullN() > 0
	sums, n := a.sums, a.n
	for i, s := range slots {
		if s < 0 || nulls && arr.IsNull(i) {
			continue
		}
		sums[s] += d * v[i]
		n[s] += int64(d)
	}
}

// Add implements Accumulator.
func (a *floatSumAcc) Add(rec arrow.Record, slots []int32) error { a.fold(rec, slots, 1); return nil }

// Retract implements Accumulator.
func (a *floatSumAcc) Retract(rec arrow.Record, slots []int32) error {
	a.fold(rec, slots, -1)
	return nil
}

// AppendResult implements Accumulator.
func (a *floatSumAcc) AppendResult(b array.Builder, s int32) {
	switch {
	case a.n[s] <= 0:
		b.AppendNull()
	case a.avg:
		appendFloat(b, a.sums[s]/float64(a.n[s]))
	default:
		appendFloat(b, a.sums[s])
	}
}

// Encode implements Accumulator.
func (a *floatSumAcc) Encode(buf []byte, s int32) []byte {
	return encFloat(encInt(buf, a.n[s]), a.sums[s])
}

// Decode implements Accumulator.
func (a *floatSumAcc) Decode(buf []byte, s int32) ([]byte, error) {
	n, rest, err := decInt(buf)
	if err != nil {
		return nil, err
	}
	a.n[s] = n
	a.sums[s], rest, err = decFloat(rest)
	return rest, err
}

// decSumAcc is SUM or AVG over DECIMAL(p, scale); sums stay at the
// argument's scale and must fit DECIMAL(38).
type decSumAcc struct {
	col   int
	avg   bool
	scale int32
	t     types.Type
	sums  []decimal128.Num
	n     []int64
}

var _ Accumulator = (*decSumAcc)(nil)

func (a *decSumAcc) Grow(n int)    { a.sums = grow(a.sums, n); a.n = grow(a.n, n) }
func (a *decSumAcc) Reset(s int32) { a.sums[s], a.n[s] = decimal128.Num{}, 0 }

func (a *decSumAcc) fold(rec arrow.Record, slots []int32, retract bool) error {
	arr := rec.Column(a.col).(*array.Decimal128)
	v := arr.Values()[:len(slots)]
	nulls := arr.NullN() > 0
	for i, s := range slots {
		if s < 0 || nulls && arr.IsNull(i) {
			continue
		}
		x := v[i]
		if retract {
			x = x.Negate()
			a.n[s]--
		} else {
			a.n[s]++
		}
		var ok bool
		if a.sums[s], ok = addDec(a.sums[s], x); !ok {
			what := "SUM"
			if a.avg {
				what = "the sum of AVG"
			}
			return overflow(what, types.DecimalType(38, int(a.scale)))
		}
	}
	return nil
}

// Add implements Accumulator.
func (a *decSumAcc) Add(rec arrow.Record, slots []int32) error { return a.fold(rec, slots, false) }

// Retract implements Accumulator.
func (a *decSumAcc) Retract(rec arrow.Record, slots []int32) error { return a.fold(rec, slots, true) }

// AppendResult implements Accumulator.
func (a *decSumAcc) AppendResult(b array.Builder, s int32) {
	appendDecSum(b, a.sums[s], a.scale, a.n[s], a.avg)
}

// appendDecSum appends the SUM (or with avg the AVG) of n decimals whose
// sum at scale is sum.
func appendDecSum(b array.Builder, sum decimal128.Num, scale int32, n int64, avg bool) {
	if n <= 0 {
		b.AppendNull()
		return
	}
	if !avg {
		appendDecimal(b, sum, scale)
		return
	}
	db, ok := b.(*array.Decimal128Builder)
	if !ok {
		appendFloat(b, sum.ToFloat64(scale)/float64(n))
		return
	}
	t := db.Type().(*arrow.Decimal128Type)
	q, ok := decimalAvg(sum, scale, n, t.Precision, t.Scale)
	if !ok {
		db.AppendNull()
		return
	}
	db.Append(q)
}

// Encode implements Accumulator.
func (a *decSumAcc) Encode(buf []byte, s int32) []byte {
	return encDecimal(binary.AppendVarint(buf, a.n[s]), a.sums[s])
}

// Decode implements Accumulator.
func (a *decSumAcc) Decode(buf []byte, s int32) ([]byte, error) {
	n, rest, err := decInt(buf)
	if err != nil {
		return nil, err
	}
	a.n[s] = n
	a.sums[s], rest, err = decDecimal(rest)
	return rest, err
}
