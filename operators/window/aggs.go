package window

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// accumulator holds the accumulators of one AggCall for every slot of a
// window operator, as dense typed slices indexed by slot (struct of arrays),
// so that a batch folds into them in one tight loop per aggregate.
//
// Slots are allocated by the operator; grow is called before a slot index
// is used; reset clears a slot for reuse. update folds the rows of a batch
// into the slots the operator assigned them: slots[i] is row i's slot, or
// -1 when row i does not count (late, filtered out, or not in this pass's
// window). All methods are called from the operator's goroutine.
type accumulator interface {
	grow(n int)
	reset(s int32)
	update(rec arrow.Record, slots []int32)
	// merge folds slot src into slot dst (session merges); src is reset
	// by the caller afterwards.
	merge(dst, src int32)
	// appendTo appends slot s's result to b, a builder of the AggCall's
	// output type.
	appendTo(b array.Builder, s int32)
	// encode appends slot s's accumulator to buf; decode reads what encode
	// wrote into slot s and returns the rest of buf.
	encode(buf []byte, s int32) []byte
	decode(buf []byte, s int32) ([]byte, error)
}

// errWindowState reports a state value that does not decode.
var errWindowState = errors.New("exec: corrupt window state value")

// accDomain is the Go representation an aggregate computes in.
type accDomain uint8

const (
	accInt     accDomain = iota + 1 // INT, BIGINT, TIMESTAMP*, INTERVAL, BOOLEAN (0/1), NULL: int64
	accFloat                        // FLOAT, DOUBLE: float64
	accDecimal                      // DECIMAL(p, s): decimal128.Num at scale s
	accString                       // STRING: string
)

func accDomainOf(t types.Type) (accDomain, bool) {
	switch t.Kind {
	case types.Int, types.BigInt, types.Timestamp, types.TimestampLTZ, types.Interval, types.Boolean, types.Null:
		return accInt, true
	case types.Float, types.Double:
		return accFloat, true
	case types.Decimal:
		return accDecimal, true
	case types.String:
		return accString, true
	}
	return 0, false
}

// newAccumulator builds the accumulators of c over rows of schema in.
func newAccumulator(c plan.AggCall, in types.Schema) (accumulator, error) {
	if c.Func == plan.CountStar {
		return &countAcc{col: -1}, nil
	}
	if c.Arg < 0 || c.Arg >= in.Len() {
		return nil, fmt.Errorf("exec: %s: argument column #%d out of range", c, c.Arg)
	}
	at := in.Fields[c.Arg].Type
	d, ok := accDomainOf(at)
	if !ok {
		return nil, fmt.Errorf("exec: %s: unsupported argument type %s", c, at)
	}
	numeric := at.IsNumeric() || at.Kind == types.Null
	switch c.Func {
	case plan.Count:
		if c.Distinct {
			return newDistinctAgg(c.Arg, d, distinctCount, int32(at.Scale)), nil
		}
		return &countAcc{col: c.Arg}, nil
	case plan.Sum, plan.Avg:
		if !numeric {
			return nil, fmt.Errorf("exec: %s: cannot sum %s", c, at)
		}
		mode := distinctSum
		if c.Func == plan.Avg {
			mode = distinctAvg
		}
		if c.Distinct {
			return newDistinctAgg(c.Arg, d, mode, int32(at.Scale)), nil
		}
		switch d {
		case accInt:
			if c.Func == plan.Avg {
				return &intAvgAcc{avgAcc: avgAcc[int64]{col: c.Arg, vals: accInt64Values}}, nil
			}
			return &intSumAcc{sumAcc: sumAcc[int64]{col: c.Arg, vals: accInt64Values}}, nil
		case accFloat:
			if c.Func == plan.Avg {
				return &avgAcc[float64]{col: c.Arg, vals: accFloat64Values}, nil
			}
			return &sumAcc[float64]{col: c.Arg, vals: accFloat64Values}, nil
		case accDecimal:
			return &decSumAcc{col: c.Arg, avg: c.Func == plan.Avg, scale: int32(at.Scale)}, nil
		}
	case plan.Min, plan.Max:
		// DISTINCT does not change MIN or MAX.
		max := c.Func == plan.Max
		switch d {
		case accInt:
			return &minMaxAcc[int64]{col: c.Arg, max: max, vals: accInt64Values}, nil
		case accFloat:
			return &minMaxAcc[float64]{col: c.Arg, max: max, vals: accFloat64Values}, nil
		case accDecimal:
			return &decMinMaxAcc{col: c.Arg, max: max, scale: int32(at.Scale)}, nil
		case accString:
			return &strMinMaxAcc{col: c.Arg, max: max}, nil
		}
	}
	return nil, fmt.Errorf("exec: unsupported aggregate %s", c)
}

// Column views. They return the values of a as a Go slice without copying
// when the Arrow windowLayout already is one, converting into *scratch otherwise.
// Values under NULL slots are unspecified.

func accInt64Values(a arrow.Array, scratch *[]int64) []int64 {
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
	s := growAccInt64(scratch, n)
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
		panic(fmt.Sprintf("exec: accInt64Values of %s", a.DataType()))
	}
	return s
}

func accFloat64Values(a arrow.Array, scratch *[]float64) []float64 {
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
	panic(fmt.Sprintf("exec: accFloat64Values of %s", a.DataType()))
}

func growAccInt64(scratch *[]int64, n int) []int64 {
	if cap(*scratch) < n {
		*scratch = make([]int64, n)
	}
	return (*scratch)[:n]
}

func growAccSlice[T any](s []T, n int) []T {
	if len(s) >= n {
		return s
	}
	return append(s, make([]T, n-len(s))...)
}

// countAcc is COUNT(*) (col -1) and COUNT(x).
type countAcc struct {
	col    int
	counts []int64
}

func (a *countAcc) grow(n int)       { a.counts = growAccSlice(a.counts, n) }
func (a *countAcc) reset(s int32)    { a.counts[s] = 0 }
func (a *countAcc) merge(d, s int32) { a.counts[d] += a.counts[s] }

func (a *countAcc) update(rec arrow.Record, slots []int32) {
	counts := a.counts
	if a.col < 0 || rec.Column(a.col).NullN() == 0 {
		for _, s := range slots {
			if s >= 0 {
				counts[s]++
			}
		}
		return
	}
	arr := rec.Column(a.col)
	for i, s := range slots {
		if s >= 0 && arr.IsValid(i) {
			counts[s]++
		}
	}
}

func (a *countAcc) appendTo(b array.Builder, s int32) { appendAccInt(b, a.counts[s]) }

func (a *countAcc) encode(buf []byte, s int32) []byte {
	return binary.AppendUvarint(buf, uint64(a.counts[s]))
}

func (a *countAcc) decode(buf []byte, s int32) ([]byte, error) {
	v, n := binary.Uvarint(buf)
	if n <= 0 {
		return nil, errWindowState
	}
	a.counts[s] = int64(v)
	return buf[n:], nil
}

// accNumber is the domain of the generic numeric accumulators.
type accNumber interface{ int64 | float64 }

// sumAcc is SUM over floats; intSumAcc embeds it for integers, adding
// the overflow check.
type sumAcc[T accNumber] struct {
	col     int
	vals    func(arrow.Array, *[]T) []T
	scratch []T
	sums    []T
	has     []bool // a non-NULL value was seen
}

func (a *sumAcc[T]) grow(n int)    { a.sums = growAccSlice(a.sums, n); a.has = growAccSlice(a.has, n) }
func (a *sumAcc[T]) reset(s int32) { a.sums[s] = 0; a.has[s] = false }

func (a *sumAcc[T]) merge(d, s int32) {
	if a.has[s] {
		a.sums[d] += a.sums[s]
		a.has[d] = true
	}
}

func (a *sumAcc[T]) update(rec arrow.Record, slots []int32) {
	arr := rec.Column(a.col)
	v := a.vals(arr, &a.scratch)
	v = v[:len(slots)]
	sums, has := a.sums, a.has
	if arr.NullN() == 0 {
		for i, s := range slots {
			if s >= 0 {
				sums[s] += v[i]
				has[s] = true
			}
		}
		return
	}
	for i, s := range slots {
		if s >= 0 && arr.IsValid(i) {
			sums[s] += v[i]
			has[s] = true
		}
	}
}

func (a *sumAcc[T]) appendTo(b array.Builder, s int32) {
	if !a.has[s] {
		b.AppendNull()
		return
	}
	appendAccNumber(b, a.sums[s])
}

func (a *sumAcc[T]) encode(buf []byte, s int32) []byte {
	if !a.has[s] {
		return append(buf, 0)
	}
	return appendAccNumberEnc(append(buf, 1), a.sums[s])
}

func (a *sumAcc[T]) decode(buf []byte, s int32) ([]byte, error) {
	if len(buf) < 1 {
		return nil, errWindowState
	}
	a.has[s] = buf[0] == 1
	a.sums[s] = 0
	if !a.has[s] {
		return buf[1:], nil
	}
	v, rest, err := decodeAccNumber[T](buf[1:])
	a.sums[s] = v
	return rest, err
}

// avgAcc is AVG over integers (the result truncates toward zero, as
// Flink's AVG of an integer type does) or floats.
type avgAcc[T accNumber] struct {
	col     int
	vals    func(arrow.Array, *[]T) []T
	scratch []T
	sums    []T
	counts  []int64
}

func (a *avgAcc[T]) grow(n int) {
	a.sums = growAccSlice(a.sums, n)
	a.counts = growAccSlice(a.counts, n)
}
func (a *avgAcc[T]) reset(s int32) { a.sums[s] = 0; a.counts[s] = 0 }

func (a *avgAcc[T]) merge(d, s int32) {
	a.sums[d] += a.sums[s]
	a.counts[d] += a.counts[s]
}

func (a *avgAcc[T]) update(rec arrow.Record, slots []int32) {
	arr := rec.Column(a.col)
	v := a.vals(arr, &a.scratch)
	v = v[:len(slots)]
	sums, counts := a.sums, a.counts
	for i, s := range slots {
		if s >= 0 && arr.IsValid(i) {
			sums[s] += v[i]
			counts[s]++
		}
	}
}

func (a *avgAcc[T]) appendTo(b array.Builder, s int32) {
	if a.counts[s] == 0 {
		b.AppendNull()
		return
	}
	appendAccNumber(b, a.sums[s]/T(a.counts[s]))
}

func (a *avgAcc[T]) encode(buf []byte, s int32) []byte {
	buf = binary.AppendUvarint(buf, uint64(a.counts[s]))
	return appendAccNumberEnc(buf, a.sums[s])
}

func (a *avgAcc[T]) decode(buf []byte, s int32) ([]byte, error) {
	c, n := binary.Uvarint(buf)
	if n <= 0 {
		return nil, errWindowState
	}
	a.counts[s] = int64(c)
	v, rest, err := decodeAccNumber[T](buf[n:])
	a.sums[s] = v
	return rest, err
}

// minMaxAcc is MIN or MAX over int64 or float64 values.
type minMaxAcc[T accNumber] struct {
	col     int
	max     bool
	vals    func(arrow.Array, *[]T) []T
	scratch []T
	vs      []T
	has     []bool
}

func (a *minMaxAcc[T]) grow(n int)    { a.vs = growAccSlice(a.vs, n); a.has = growAccSlice(a.has, n) }
func (a *minMaxAcc[T]) reset(s int32) { a.vs[s] = 0; a.has[s] = false }

func (a *minMaxAcc[T]) merge(d, s int32) {
	if a.has[s] && (!a.has[d] || a.better(a.vs[s], a.vs[d])) {
		a.vs[d] = a.vs[s]
		a.has[d] = true
	}
}

func (a *minMaxAcc[T]) better(x, y T) bool {
	if a.max {
		return x > y
	}
	return x < y
}

func (a *minMaxAcc[T]) update(rec arrow.Record, slots []int32) {
	arr := rec.Column(a.col)
	v := a.vals(arr, &a.scratch)
	v = v[:len(slots)]
	vs, has := a.vs, a.has
	nulls := arr.NullN() > 0
	// One loop per direction keeps the comparison out of a call.
	if a.max {
		for i, s := range slots {
			if s < 0 || (nulls && arr.IsNull(i)) {
				continue
			}
			if x := v[i]; !has[s] || x > vs[s] {
				vs[s] = x
				has[s] = true
			}
		}
		return
	}
	for i, s := range slots {
		if s < 0 || (nulls && arr.IsNull(i)) {
			continue
		}
		if x := v[i]; !has[s] || x < vs[s] {
			vs[s] = x
			has[s] = true
		}
	}
}

func (a *minMaxAcc[T]) appendTo(b array.Builder, s int32) {
	if !a.has[s] {
		b.AppendNull()
		return
	}
	appendAccNumber(b, a.vs[s])
}

func (a *minMaxAcc[T]) encode(buf []byte, s int32) []byte {
	if !a.has[s] {
		return append(buf, 0)
	}
	return appendAccNumberEnc(append(buf, 1), a.vs[s])
}

func (a *minMaxAcc[T]) decode(buf []byte, s int32) ([]byte, error) {
	if len(buf) < 1 {
		return nil, errWindowState
	}
	a.has[s] = buf[0] == 1
	a.vs[s] = 0
	if !a.has[s] {
		return buf[1:], nil
	}
	v, rest, err := decodeAccNumber[T](buf[1:])
	a.vs[s] = v
	return rest, err
}

// decSumAcc is SUM or AVG over DECIMAL(p, scale); sums stay at the
// argument's scale. AVG's result is DECIMAL(38, max(6, scale)), as in Flink,
// computed exactly and rounded HALF_UP (decimalAvg).
type decSumAcc struct {
	col    int
	avg    bool
	scale  int32
	sums   []decimal128.Num
	counts []int64
	ovf    ovfState // a sum exceeded 38 digits
}

func (a *decSumAcc) overflowed() (int32, bool) { return a.ovf.overflowed() }

func (a *decSumAcc) grow(n int) {
	a.sums = growAccSlice(a.sums, n)
	a.counts = growAccSlice(a.counts, n)
}
func (a *decSumAcc) reset(s int32) { a.sums[s] = decimal128.Num{}; a.counts[s] = 0 }

func (a *decSumAcc) merge(d, s int32) {
	r := a.sums[d].Add(a.sums[s])
	if decAddOverflows(a.sums[d], a.sums[s], r) {
		a.ovf.note(d)
	}
	a.sums[d] = r
	a.counts[d] += a.counts[s]
}

func (a *decSumAcc) update(rec arrow.Record, slots []int32) {
	arr := rec.Column(a.col).(*array.Decimal128)
	v := arr.Values()[:len(slots)]
	for i, s := range slots {
		if s >= 0 && arr.IsValid(i) {
			x := a.sums[s]
			r := x.Add(v[i])
			if decAddOverflows(x, v[i], r) {
				a.ovf.note(s)
			}
			a.sums[s] = r
			a.counts[s]++
		}
	}
}

func (a *decSumAcc) appendTo(b array.Builder, s int32) {
	if a.counts[s] == 0 {
		b.AppendNull()
		return
	}
	if !a.avg {
		appendAccDecimal(b, a.sums[s], a.scale)
		return
	}
	if db, ok := b.(*array.Decimal128Builder); ok {
		t := db.Type().(*arrow.Decimal128Type)
		q, ok := decimalAvg(a.sums[s], a.scale, a.counts[s], t.Precision, t.Scale)
		if !ok {
			db.AppendNull()
			return
		}
		db.Append(q)
		return
	}
	appendAccFloat(b, a.sums[s].ToFloat64(a.scale)/float64(a.counts[s]))
}

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
	// |rem| / d >= 1/2: round away from zero.
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

func (a *decSumAcc) encode(buf []byte, s int32) []byte {
	buf = binary.AppendUvarint(buf, uint64(a.counts[s]))
	return appendAccDecimalEnc(buf, a.sums[s])
}

func (a *decSumAcc) decode(buf []byte, s int32) ([]byte, error) {
	c, n := binary.Uvarint(buf)
	if n <= 0 {
		return nil, errWindowState
	}
	a.counts[s] = int64(c)
	v, rest, err := decodeAccDecimal(buf[n:])
	a.sums[s] = v
	return rest, err
}

// decMinMaxAcc is MIN or MAX over DECIMAL(p, scale).
type decMinMaxAcc struct {
	col   int
	max   bool
	scale int32
	vs    []decimal128.Num
	has   []bool
}

func (a *decMinMaxAcc) grow(n int)    { a.vs = growAccSlice(a.vs, n); a.has = growAccSlice(a.has, n) }
func (a *decMinMaxAcc) reset(s int32) { a.vs[s] = decimal128.Num{}; a.has[s] = false }

func (a *decMinMaxAcc) better(x, y decimal128.Num) bool {
	if a.max {
		return x.Greater(y)
	}
	return x.Less(y)
}

func (a *decMinMaxAcc) merge(d, s int32) {
	if a.has[s] && (!a.has[d] || a.better(a.vs[s], a.vs[d])) {
		a.vs[d], a.has[d] = a.vs[s], true
	}
}

func (a *decMinMaxAcc) update(rec arrow.Record, slots []int32) {
	arr := rec.Column(a.col).(*array.Decimal128)
	v := arr.Values()[:len(slots)]
	for i, s := range slots {
		if s >= 0 && arr.IsValid(i) && (!a.has[s] || a.better(v[i], a.vs[s])) {
			a.vs[s], a.has[s] = v[i], true
		}
	}
}

func (a *decMinMaxAcc) appendTo(b array.Builder, s int32) {
	if !a.has[s] {
		b.AppendNull()
		return
	}
	appendAccDecimal(b, a.vs[s], a.scale)
}

func (a *decMinMaxAcc) encode(buf []byte, s int32) []byte {
	if !a.has[s] {
		return append(buf, 0)
	}
	return appendAccDecimalEnc(append(buf, 1), a.vs[s])
}

func (a *decMinMaxAcc) decode(buf []byte, s int32) ([]byte, error) {
	if len(buf) < 1 {
		return nil, errWindowState
	}
	a.has[s] = buf[0] == 1
	a.vs[s] = decimal128.Num{}
	if !a.has[s] {
		return buf[1:], nil
	}
	v, rest, err := decodeAccDecimal(buf[1:])
	a.vs[s] = v
	return rest, err
}

// strMinMaxAcc is MIN or MAX over STRING, comparing bytes.
type strMinMaxAcc struct {
	col int
	max bool
	vs  []string
	has []bool
}

func (a *strMinMaxAcc) grow(n int)    { a.vs = growAccSlice(a.vs, n); a.has = growAccSlice(a.has, n) }
func (a *strMinMaxAcc) reset(s int32) { a.vs[s] = ""; a.has[s] = false }

func (a *strMinMaxAcc) better(x, y string) bool {
	if a.max {
		return x > y
	}
	return x < y
}

func (a *strMinMaxAcc) merge(d, s int32) {
	if a.has[s] && (!a.has[d] || a.better(a.vs[s], a.vs[d])) {
		a.vs[d], a.has[d] = a.vs[s], true
	}
}

func (a *strMinMaxAcc) update(rec arrow.Record, slots []int32) {
	arr := rec.Column(a.col).(*array.String)
	for i, s := range slots {
		if s < 0 || arr.IsNull(i) {
			continue
		}
		if x := arr.Value(i); !a.has[s] || a.better(x, a.vs[s]) {
			// Value aliases the batch's buffer: keep a copy.
			a.vs[s], a.has[s] = strings.Clone(x), true
		}
	}
}

func (a *strMinMaxAcc) appendTo(b array.Builder, s int32) {
	if !a.has[s] {
		b.AppendNull()
		return
	}
	b.(*array.StringBuilder).Append(a.vs[s])
}

func (a *strMinMaxAcc) encode(buf []byte, s int32) []byte {
	if !a.has[s] {
		return append(buf, 0)
	}
	return appendAccStringEnc(append(buf, 1), a.vs[s])
}

func (a *strMinMaxAcc) decode(buf []byte, s int32) ([]byte, error) {
	if len(buf) < 1 {
		return nil, errWindowState
	}
	a.has[s] = buf[0] == 1
	a.vs[s] = ""
	if !a.has[s] {
		return buf[1:], nil
	}
	v, rest, err := decodeAccString(buf[1:])
	a.vs[s] = v
	return rest, err
}

// distinctMode is what a DISTINCT aggregate computes from its value set.
type distinctMode uint8

const (
	distinctCount distinctMode = iota + 1
	distinctSum
	distinctAvg
)

// distinctAcc is COUNT, SUM or AVG over DISTINCT values: it keeps the set
// of distinct non-NULL values of each slot and computes the result when
// the window fires.
type distinctAcc[T comparable] struct {
	col    int
	mode   distinctMode
	get    func(a arrow.Array, i int) T
	enc    func([]byte, T) []byte
	dec    func([]byte) (T, []byte, error)
	cmp    func(x, y T) int // orders values in an encoding
	result func(b array.Builder, set map[T]struct{}, mode distinctMode)
	sets   []map[T]struct{}
}

func newDistinctAgg(col int, d accDomain, mode distinctMode, scale int32) accumulator {
	switch d {
	case accInt:
		return &distinctAcc[int64]{col: col, mode: mode,
			get: func(a arrow.Array, i int) int64 {
				switch a := a.(type) {
				case *array.Int64:
					return a.Value(i)
				case *array.Int32:
					return int64(a.Value(i))
				case *array.Timestamp:
					return int64(a.Value(i))
				case *array.Duration:
					return int64(a.Value(i))
				case *array.Boolean:
					if a.Value(i) {
						return 1
					}
				}
				return 0
			},
			enc: binary.AppendVarint, dec: decodeAccNumber[int64], cmp: cmp.Compare[int64],
			result: func(b array.Builder, set map[int64]struct{}, mode distinctMode) {
				var sum int64
				for v := range set {
					sum += v
				}
				distinctNumResult(b, sum, len(set), mode)
			}}
	case accFloat:
		return &distinctAcc[float64]{col: col, mode: mode,
			get: func(a arrow.Array, i int) float64 {
				if a, ok := a.(*array.Float32); ok {
					return float64(a.Value(i))
				}
				return a.(*array.Float64).Value(i)
			},
			enc: appendAccNumberEnc[float64], dec: decodeAccNumber[float64], cmp: cmp.Compare[float64],
			result: func(b array.Builder, set map[float64]struct{}, mode distinctMode) {
				// Sum in sorted order so the result does not depend on map
				// iteration order.
				vs := make([]float64, 0, len(set))
				for v := range set {
					vs = append(vs, v)
				}
				slices.Sort(vs)
				var sum float64
				for _, v := range vs {
					sum += v
				}
				distinctNumResult(b, sum, len(set), mode)
			}}
	case accDecimal:
		return &distinctAcc[decimal128.Num]{col: col, mode: mode,
			get: func(a arrow.Array, i int) decimal128.Num { return a.(*array.Decimal128).Value(i) },
			enc: appendAccDecimalEnc, dec: decodeAccDecimal, cmp: decimal128.Num.Cmp,
			result: func(b array.Builder, set map[decimal128.Num]struct{}, mode distinctMode) {
				var sum decimal128.Num
				for v := range set {
					sum = sum.Add(v)
				}
				switch {
				case mode == distinctCount:
					appendAccInt(b, int64(len(set)))
				case len(set) == 0:
					b.AppendNull()
				case mode == distinctSum:
					appendAccDecimal(b, sum, scale)
				default:
					tmp := decSumAcc{avg: true, scale: scale, sums: []decimal128.Num{sum}, counts: []int64{int64(len(set))}}
					tmp.appendTo(b, 0)
				}
			}}
	default: // accString; only COUNT reaches here
		return &distinctAcc[string]{col: col, mode: mode,
			get: func(a arrow.Array, i int) string { return a.(*array.String).Value(i) },
			enc: appendAccStringEnc, dec: decodeAccString, cmp: strings.Compare,
			result: func(b array.Builder, set map[string]struct{}, mode distinctMode) {
				appendAccInt(b, int64(len(set)))
			}}
	}
}

func distinctNumResult[T accNumber](b array.Builder, sum T, n int, mode distinctMode) {
	switch {
	case mode == distinctCount:
		appendAccInt(b, int64(n))
	case n == 0:
		b.AppendNull()
	case mode == distinctSum:
		appendAccNumber(b, sum)
	default:
		appendAccNumber(b, sum/T(n))
	}
}

func (a *distinctAcc[T]) grow(n int)    { a.sets = growAccSlice(a.sets, n) }
func (a *distinctAcc[T]) reset(s int32) { a.sets[s] = nil }

func (a *distinctAcc[T]) merge(d, s int32) {
	if len(a.sets[s]) > len(a.sets[d]) {
		a.sets[d], a.sets[s] = a.sets[s], a.sets[d]
	}
	for v := range a.sets[s] {
		a.add(d, v)
	}
}

// mergeKeep is merge leaving src unchanged (keepingMerger).
func (a *distinctAcc[T]) mergeKeep(d, s int32) {
	for v := range a.sets[s] {
		a.add(d, v)
	}
}

func (a *distinctAcc[T]) add(s int32, v T) {
	set := a.sets[s]
	if set == nil {
		set = make(map[T]struct{})
		a.sets[s] = set
	}
	set[v] = struct{}{}
}

func (a *distinctAcc[T]) update(rec arrow.Record, slots []int32) {
	arr := rec.Column(a.col)
	_, isStr := arr.(*array.String)
	for i, s := range slots {
		if s < 0 || arr.IsNull(i) {
			continue
		}
		v := a.get(arr, i)
		if isStr {
			// A string from the batch aliases its buffer; copy it only
			// when it is new to the set.
			if _, ok := a.sets[s][v]; ok {
				continue
			}
			v = any(strings.Clone(any(v).(string))).(T)
		}
		a.add(s, v)
	}
}

func (a *distinctAcc[T]) appendTo(b array.Builder, s int32) { a.result(b, a.sets[s], a.mode) }

// encode writes the set's size, then its values in ascending order, so
// that equal sets encode to equal bytes.
func (a *distinctAcc[T]) encode(buf []byte, s int32) []byte {
	set := a.sets[s]
	buf = binary.AppendUvarint(buf, uint64(len(set)))
	vs := make([]T, 0, len(set))
	for v := range set {
		vs = append(vs, v)
	}
	slices.SortFunc(vs, a.cmp)
	for _, v := range vs {
		buf = a.enc(buf, v)
	}
	return buf
}

func (a *distinctAcc[T]) decode(buf []byte, s int32) ([]byte, error) {
	n, k := binary.Uvarint(buf)
	if k <= 0 || n > uint64(len(buf)) {
		return nil, errWindowState
	}
	buf = buf[k:]
	a.sets[s] = nil
	for range n {
		v, rest, err := a.dec(buf)
		if err != nil {
			return nil, err
		}
		a.add(s, v)
		buf = rest
	}
	return buf, nil
}

// Value encodings of accumulators: integers as zig-zag varints, floats as
// their 8 IEEE bits (little endian), decimals as 16 bytes (high word, low
// word; big endian), strings as a uvarint length and the bytes.

func appendAccNumberEnc[T accNumber](buf []byte, v T) []byte {
	switch x := any(v).(type) {
	case int64:
		return binary.AppendVarint(buf, x)
	case float64:
		return binary.LittleEndian.AppendUint64(buf, math.Float64bits(x))
	}
	panic("unreachable")
}

func decodeAccNumber[T accNumber](buf []byte) (T, []byte, error) {
	var zero T
	switch any(zero).(type) {
	case int64:
		v, n := binary.Varint(buf)
		if n <= 0 {
			return zero, nil, errWindowState
		}
		return T(v), buf[n:], nil
	default:
		if len(buf) < 8 {
			return zero, nil, errWindowState
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(buf))
		return any(f).(T), buf[8:], nil
	}
}

func appendAccDecimalEnc(buf []byte, v decimal128.Num) []byte {
	buf = binary.BigEndian.AppendUint64(buf, uint64(v.HighBits()))
	return binary.BigEndian.AppendUint64(buf, v.LowBits())
}

func decodeAccDecimal(buf []byte) (decimal128.Num, []byte, error) {
	if len(buf) < 16 {
		return decimal128.Num{}, nil, errWindowState
	}
	hi := int64(binary.BigEndian.Uint64(buf))
	lo := binary.BigEndian.Uint64(buf[8:])
	return decimal128.New(hi, lo), buf[16:], nil
}

func appendAccStringEnc(buf []byte, v string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(v)))
	return append(buf, v...)
}

func decodeAccString(buf []byte) (string, []byte, error) {
	n, k := binary.Uvarint(buf)
	if k <= 0 || n > uint64(len(buf)-k) {
		return "", nil, errWindowState
	}
	return string(buf[k : k+int(n)]), buf[k+int(n):], nil
}

// Result appenders. Each converts a value computed in an aggregate's
// domain to the builder's type (the AggCall's output type).

func appendAccNumber[T accNumber](b array.Builder, v T) {
	switch x := any(v).(type) {
	case int64:
		appendAccInt(b, x)
	case float64:
		appendAccFloat(b, x)
	}
}

func appendAccInt(b array.Builder, v int64) {
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
		appendAccDecimal(b, decimal128.FromI64(v), 0)
	default:
		panic(fmt.Sprintf("exec: cannot append an integer to %s", b.Type()))
	}
}

func appendAccFloat(b array.Builder, v float64) {
	switch b := b.(type) {
	case *array.Float64Builder:
		b.Append(v)
	case *array.Float32Builder:
		b.Append(float32(v))
	case *array.Int64Builder:
		b.Append(int64(v))
	case *array.Int32Builder:
		b.Append(int32(v))
	case *array.Decimal128Builder:
		t := b.Type().(*arrow.Decimal128Type)
		n, err := decimal128.FromFloat64(v, t.Precision, t.Scale)
		if err != nil {
			b.AppendNull()
			return
		}
		b.Append(n)
	default:
		panic(fmt.Sprintf("exec: cannot append a float to %s", b.Type()))
	}
}

// appendAccDecimal appends v, a decimal at scale, rescaled to the builder's
// type (truncating when the builder's scale is smaller).
func appendAccDecimal(b array.Builder, v decimal128.Num, scale int32) {
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
		appendAccFloat(b, v.ToFloat64(scale))
	default:
		appendAccInt(b, int64(v.ReduceScaleBy(scale, false).LowBits()))
	}
}
