package window

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

// Overflow of SUM and AVG. SQL's SUM of an integer type is a BIGINT (the
// planner's sumType) and of DECIMAL(p, s) a DECIMAL(38, s): a sum that
// does not fit is an error, never a wrapped number. The integer
// accumulators add with wrapping arithmetic and OR together a branch-free
// overflow test of every add ((x^r)&(v^r) < 0); only when a batch
// overflowed somewhere do they undo the batch (wrapping subtraction
// inverts wrapping addition exactly) and redo it with a checked add to
// find the first slot that overflowed. Overflow is sticky: a running sum
// that overflows and later comes back into range still overflowed.

// overflowReporter is implemented by the accumulators whose sums can
// overflow. overflowed reports the first slot whose sum overflowed since
// the last call and clears the report.
type overflowReporter interface {
	overflowed() (slot int32, ok bool)
}

// ovfState records the first overflowing slot.
type ovfState struct {
	slot int32
	set  bool
}

func (o *ovfState) note(s int32) {
	if !o.set {
		o.slot, o.set = s, true
	}
}

func (o *ovfState) overflowed() (int32, bool) {
	s, ok := o.slot, o.set
	o.set = false
	return s, ok
}

// addOverflows reports whether x+v overflows int64.
func addOverflows(x, v int64) bool {
	r := x + v
	return (x^r)&(v^r) < 0
}

// sumInt64s folds v into sums at slots (rows with a negative slot or, when
// valid is not nil, a NULL value skip) and returns the first slot whose
// sum overflowed. Either has (SUM: marks the slots that saw a value) or
// counts (AVG: counts the rows folded) is not nil.
func sumInt64s(sums []int64, v []int64, slots []int32, valid arrow.Array, has []bool, counts []int64) (int32, bool) {
	var of int64
	switch {
	case has != nil && valid == nil:
		for i, s := range slots {
			if s >= 0 {
				x, y := sums[s], v[i]
				r := x + y
				of |= (x ^ r) & (y ^ r)
				sums[s] = r
				has[s] = true
			}
		}
	case has != nil:
		for i, s := range slots {
			if s >= 0 && valid.IsValid(i) {
				x, y := sums[s], v[i]
				r := x + y
				of |= (x ^ r) & (y ^ r)
				sums[s] = r
				has[s] = true
			}
		}
	default:
		for i, s := range slots {
			if s >= 0 && (valid == nil || valid.IsValid(i)) {
				x, y := sums[s], v[i]
				r := x + y
				of |= (x ^ r) & (y ^ r)
				sums[s] = r
				counts[s]++
			}
		}
	}
	if of >= 0 {
		return 0, false
	}
	// Slow path: undo the batch (has stays set: the redo sets it again),
	// then redo it checking each add.
	for i, s := range slots {
		if s >= 0 && (valid == nil || valid.IsValid(i)) {
			sums[s] -= v[i]
			if counts != nil {
				counts[s]--
			}
		}
	}
	first, found := int32(0), false
	for i, s := range slots {
		if s >= 0 && (valid == nil || valid.IsValid(i)) {
			if !found && addOverflows(sums[s], v[i]) {
				first, found = s, true
			}
			sums[s] += v[i]
			if counts != nil {
				counts[s]++
			}
		}
	}
	return first, found
}

// intSumAcc is SUM over integers: a BIGINT sum that must not overflow.
type intSumAcc struct {
	sumAcc[int64]
	ovf ovfState
}

func (a *intSumAcc) overflowed() (int32, bool) { return a.ovf.overflowed() }

func (a *intSumAcc) merge(d, s int32) {
	if a.has[s] {
		if addOverflows(a.sums[d], a.sums[s]) {
			a.ovf.note(d)
		}
		a.sums[d] += a.sums[s]
		a.has[d] = true
	}
}

func (a *intSumAcc) update(rec arrow.Record, slots []int32) {
	arr := rec.Column(a.col)
	v := a.vals(arr, &a.scratch)[:len(slots)]
	var valid arrow.Array
	if arr.NullN() > 0 {
		valid = arr
	}
	if s, ok := sumInt64s(a.sums, v, slots, valid, a.has, nil); ok {
		a.ovf.note(s)
	}
}

// intAvgAcc is AVG over integers; its internal BIGINT sum must not
// overflow.
type intAvgAcc struct {
	avgAcc[int64]
	ovf ovfState
}

func (a *intAvgAcc) overflowed() (int32, bool) { return a.ovf.overflowed() }

func (a *intAvgAcc) merge(d, s int32) {
	if addOverflows(a.sums[d], a.sums[s]) {
		a.ovf.note(d)
	}
	a.sums[d] += a.sums[s]
	a.counts[d] += a.counts[s]
}

func (a *intAvgAcc) update(rec arrow.Record, slots []int32) {
	arr := rec.Column(a.col)
	v := a.vals(arr, &a.scratch)[:len(slots)]
	var valid arrow.Array
	if arr.NullN() > 0 {
		valid = arr
	}
	if s, ok := sumInt64s(a.sums, v, slots, valid, nil, a.counts); ok {
		a.ovf.note(s)
	}
}

// maxDecimal38 is 10^38 - 1, the largest unscaled DECIMAL(38, s).
var maxDecimal38 = decimal128.GetMaxValue(38)

// decAddOverflows reports whether x+y, both DECIMAL(38) values, does not
// fit 38 digits (r is the wrapped 128-bit sum).
func decAddOverflows(x, y, r decimal128.Num) bool {
	// Both below 10^38 in magnitude: the 128-bit add wraps only when the
	// signs agree and the result's differs.
	if x.Sign() == y.Sign() && x.Sign() != 0 && r.Sign() != x.Sign() {
		return true
	}
	return r.Greater(maxDecimal38) || r.Less(maxDecimal38.Negate())
}
