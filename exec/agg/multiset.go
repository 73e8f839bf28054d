package agg

import (
	"cmp"
	"encoding/binary"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/streamsql/streamsql/types"
)

// valueOps are the operations of one value domain that the multiset
// accumulators need.
type valueOps[T comparable] struct {
	vals    func(arrow.Array, *[]T) []T
	cmp     func(x, y T) int
	enc     func([]byte, T) []byte
	dec     func([]byte) (T, []byte, error)
	keep    func(T) T // copies a value that aliases a batch (strings)
	appendV func(b array.Builder, v T)
}

func identity[T any](v T) T { return v }

func intOps() valueOps[int64] {
	return valueOps[int64]{vals: intValues, cmp: cmp.Compare[int64], enc: encInt, dec: decInt, keep: identity[int64], appendV: appendInt}
}

func floatOps() valueOps[float64] {
	return valueOps[float64]{vals: floatValues, cmp: cmp.Compare[float64], enc: encFloat, dec: decFloat, keep: identity[float64], appendV: appendFloat}
}

func decimalOps(scale int32) valueOps[decimal128.Num] {
	return valueOps[decimal128.Num]{vals: decimalValues, cmp: decimal128.Num.Cmp, enc: encDecimal, dec: decDecimal,
		keep: identity[decimal128.Num], appendV: func(b array.Builder, v decimal128.Num) { appendDecimal(b, v, scale) }}
}

func stringOps() valueOps[string] {
	return valueOps[string]{vals: stringValues, cmp: strings.Compare, enc: encString, dec: decString, keep: strings.Clone, appendV: appendString}
}

// multiset is a counted multiset of values per slot: value → number of
// rows holding it (negative after retractions of values never added).
// change is told of every value that becomes present (count > 0) or
// absent.
type multiset[T comparable] struct {
	col     int
	ops     valueOps[T]
	scratch []T
	sets    []map[T]int64
	change  func(s int32, v T, present bool) error
}

func (m *multiset[T]) grow(n int) { m.sets = grow(m.sets, n) }

func (m *multiset[T]) fold(rec arrow.Record, slots []int32, d int64) error {
	arr := rec.Column(m.col)
	v := m.ops.vals(arr, &m.scratch)[:len(slots)]
	nulls := arr.NullN() > 0
	for i, s := range slots {
		if s < 0 || nulls && arr.IsNull(i) {
			continue
		}
		set := m.sets[s]
		if set == nil {
			set = make(map[T]int64)
			m.sets[s] = set
		}
		x := v[i]
		before, ok := set[x]
		after := before + d
		switch {
		case after == 0:
			delete(set, x)
		case ok:
			set[x] = after
		default:
			set[m.ops.keep(x)] = after
		}
		if (before > 0) != (after > 0) {
			if err := m.change(s, x, after > 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// encode writes the number of distinct values, then each value and its
// count in ascending order of value, so that equal states encode to equal
// bytes.
func (m *multiset[T]) encode(buf []byte, s int32) []byte {
	set := m.sets[s]
	buf = binary.AppendUvarint(buf, uint64(len(set)))
	vs := make([]T, 0, len(set))
	for v := range set {
		vs = append(vs, v)
	}
	slices.SortFunc(vs, m.ops.cmp)
	for _, v := range vs {
		buf = encInt(m.ops.enc(buf, v), set[v])
	}
	return buf
}

// decode reads what encode wrote, telling change of every present value.
func (m *multiset[T]) decode(buf []byte, s int32) ([]byte, error) {
	n, k := binary.Uvarint(buf)
	if k <= 0 || n > uint64(len(buf)) {
		return nil, ErrCorrupt
	}
	buf = buf[k:]
	var set map[T]int64
	if n > 0 {
		set = make(map[T]int64, n)
	}
	m.sets[s] = set
	for range n {
		v, rest, err := m.ops.dec(buf)
		if err != nil {
			return nil, err
		}
		c, rest, err := decInt(rest)
		if err != nil || c == 0 {
			return nil, ErrCorrupt
		}
		set[v] = c
		if c > 0 {
			if err := m.change(s, v, true); err != nil {
				return nil, err
			}
		}
		buf = rest
	}
	return buf, nil
}

// minMaxAcc is MIN or MAX with retraction: a counted multiset per slot and
// its current extreme, found again by a scan of the set only when a
// retraction removed it.
type minMaxAcc[T comparable] struct {
	m     multiset[T]
	max   bool
	best  []T
	has   []bool
	stale []bool // best was retracted: scan the set
}

var _ Accumulator = (*minMaxAcc[int64])(nil)

func newMinMax(col int, d domain, max bool, scale int32) Accumulator {
	switch d {
	case dInt:
		return newMinMaxOf(col, max, intOps())
	case dFloat:
		return newMinMaxOf(col, max, floatOps())
	case dDecimal:
		return newMinMaxOf(col, max, decimalOps(scale))
	}
	return newMinMaxOf(col, max, stringOps())
}

func newMinMaxOf[T comparable](col int, max bool, ops valueOps[T]) *minMaxAcc[T] {
	a := &minMaxAcc[T]{max: max}
	a.m = multiset[T]{col: col, ops: ops, change: a.change}
	return a
}

func (a *minMaxAcc[T]) better(x, y T) bool {
	if a.max {
		return a.m.ops.cmp(x, y) > 0
	}
	return a.m.ops.cmp(x, y) < 0
}

func (a *minMaxAcc[T]) change(s int32, v T, present bool) error {
	switch {
	case a.stale[s]:
	case present && (!a.has[s] || a.better(v, a.best[s])):
		a.best[s], a.has[s] = a.m.ops.keep(v), true
	case !present && a.has[s] && a.m.ops.cmp(v, a.best[s]) == 0:
		a.stale[s] = true
	}
	return nil
}

func (a *minMaxAcc[T]) Grow(n int) {
	a.m.grow(n)
	a.best, a.has, a.stale = grow(a.best, n), grow(a.has, n), grow(a.stale, n)
}

func (a *minMaxAcc[T]) Reset(s int32) {
	var zero T
	a.m.sets[s], a.best[s], a.has[s], a.stale[s] = nil, zero, false, false
}

// Add implements Accumulator.
func (a *minMaxAcc[T]) Add(rec arrow.Record, slots []int32) error { return a.m.fold(rec, slots, 1) }

// Retract implements Accumulator.
func (a *minMaxAcc[T]) Retract(rec arrow.Record, slots []int32) error {
	return a.m.fold(rec, slots, -1)
}

// AppendResult implements Accumulator.
func (a *minMaxAcc[T]) AppendResult(b array.Builder, s int32) {
	if a.stale[s] {
		var zero T
		a.best[s], a.has[s], a.stale[s] = zero, false, false
		for v, c := range a.m.sets[s] {
			if c > 0 && (!a.has[s] || a.better(v, a.best[s])) {
				a.best[s], a.has[s] = v, true
			}
		}
	}
	if !a.has[s] {
		b.AppendNull()
		return
	}
	a.m.ops.appendV(b, a.best[s])
}

// Encode implements Accumulator.
func (a *minMaxAcc[T]) Encode(buf []byte, s int32) []byte { return a.m.encode(buf, s) }

// Decode implements Accumulator.
func (a *minMaxAcc[T]) Decode(buf []byte, s int32) ([]byte, error) {
	a.Reset(s)
	return a.m.decode(buf, s)
}

// distinctAcc is COUNT(DISTINCT x) or SUM(DISTINCT x): a counted multiset
// per slot, the number of values present and, for SUM over integers or
// decimals, their running sum (overflow-checked); a SUM over floats is
// computed from the set, in ascending order, so that it does not depend on
// the order rows came in.
type distinctAcc[T comparable] struct {
	m     multiset[T]
	sum   bool
	avg   bool // AVG(DISTINCT …): the sum divided by the number of values
	scale int32
	n     []int64
	isums []int64
	dsums []decimal128.Num
}

var _ Accumulator = (*distinctAcc[int64])(nil)

func newDistinct(col int, d domain, sum, avg bool, scale int32, t types.Type) Accumulator {
	sum = sum || avg
	switch d {
	case dInt:
		a := &distinctAcc[int64]{sum: sum, avg: avg}
		a.m = multiset[int64]{col: col, ops: intOps(), change: func(s int32, v int64, present bool) error {
			var ok bool
			if present {
				a.n[s]++
				a.isums[s], ok = addInt(a.isums[s], v)
			} else {
				a.n[s]--
				a.isums[s], ok = subInt(a.isums[s], v)
			}
			if !ok && sum {
				return overflow("SUM(DISTINCT …)", types.BigIntType)
			}
			return nil
		}}
		return a
	case dFloat:
		a := &distinctAcc[float64]{sum: sum, avg: avg}
		a.m = multiset[float64]{col: col, ops: floatOps(), change: a.count}
		return a
	case dDecimal:
		a := &distinctAcc[decimal128.Num]{sum: sum, avg: avg, scale: scale}
		a.m = multiset[decimal128.Num]{col: col, ops: decimalOps(scale), change: func(s int32, v decimal128.Num, present bool) error {
			if present {
				a.n[s]++
			} else {
				a.n[s]--
				v = v.Negate()
			}
			var ok bool
			if a.dsums[s], ok = addDec(a.dsums[s], v); !ok && sum {
				return overflow("SUM(DISTINCT …)", types.DecimalType(38, int(scale)))
			}
			return nil
		}}
		return a
	}
	a := &distinctAcc[string]{}
	a.m = multiset[string]{col: col, ops: stringOps(), change: a.count}
	return a
}

func (a *distinctAcc[T]) count(s int32, _ T, present bool) error {
	if present {
		a.n[s]++
	} else {
		a.n[s]--
	}
	return nil
}

func (a *distinctAcc[T]) Grow(n int) {
	a.m.grow(n)
	a.n, a.isums, a.dsums = grow(a.n, n), grow(a.isums, n), grow(a.dsums, n)
}

func (a *distinctAcc[T]) Reset(s int32) {
	a.m.sets[s], a.n[s], a.isums[s], a.dsums[s] = nil, 0, 0, decimal128.Num{}
}

// Add implements Accumulator.
func (a *distinctAcc[T]) Add(rec arrow.Record, slots []int32) error { return a.m.fold(rec, slots, 1) }

// Retract implements Accumulator.
func (a *distinctAcc[T]) Retract(rec arrow.Record, slots []int32) error {
	return a.m.fold(rec, slots, -1)
}

// AppendResult implements Accumulator.
func (a *distinctAcc[T]) AppendResult(b array.Builder, s int32) {
	switch {
	case !a.sum:
		appendInt(b, a.n[s])
	case a.n[s] <= 0:
		b.AppendNull()
	default:
		switch set := any(a.m.sets[s]).(type) {
		case map[int64]int64:
			if a.avg {
				appendInt(b, a.isums[s]/a.n[s]) // truncates toward zero, as AVG does
				return
			}
			appendInt(b, a.isums[s])
		case map[decimal128.Num]int64:
			appendDecSum(b, a.dsums[s], a.scale, a.n[s], a.avg)
		case map[float64]int64:
			vs := make([]float64, 0, len(set))
			for v, c := range set {
				if c > 0 {
					vs = append(vs, v)
				}
			}
			slices.Sort(vs)
			var sum float64
			for _, v := range vs {
				sum += v
			}
			if a.avg {
				sum /= float64(len(vs))
			}
			appendFloat(b, sum)
		}
	}
}

// Encode implements Accumulator.
func (a *distinctAcc[T]) Encode(buf []byte, s int32) []byte { return a.m.encode(buf, s) }

// Decode implements Accumulator.
func (a *distinctAcc[T]) Decode(buf []byte, s int32) ([]byte, error) {
	a.Reset(s)
	return a.m.decode(buf, s)
}
