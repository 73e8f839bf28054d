// Package agg owns the aggregate functions' accumulators with retraction,
// the ones shared by group and over aggregation (the next operators): for
// each plan.AggCall an Accumulator that adds rows (+I, +U) and retracts
// them (-U, -D), gives the current result, and encodes itself for state.
//
// Accumulators hold one state per slot, in dense typed slices indexed by
// slot (struct of arrays), as the window operator's do: the operator maps
// each row to a slot (a group) and folds a whole batch in one loop per
// aggregate. MIN, MAX and the DISTINCT aggregates keep counted multisets
// (value → number of rows holding it), so that retracting the current
// minimum finds the next one, and retracting one of two equal values keeps
// the other.
//
// Semantics are those of the window operator's append-only accumulators
// (exec/window_aggs.go), and Flink's: a NULL argument is not counted
// (COUNT(x), SUM, AVG, MIN, MAX skip it; COUNT(*) counts the row), and an
// aggregate over no non-NULL value is NULL (COUNT is 0). SUM of integers is
// BIGINT, of floats DOUBLE, of DECIMAL(p, s) DECIMAL(38, s); AVG keeps an
// integer argument's type (truncating toward zero), is DOUBLE over floats
// and DECIMAL(38, max(6, s)) over decimals (rounded half up; NULL when it
// does not fit, Flink's decimal overflow). A SUM that leaves BIGINT or 38
// digits is an error wrapping expr.ErrOverflow. Floating-point sums with
// retraction are exact only up to rounding: x + y - y need not be x, as in
// Flink.
//
// A retraction of a value that was never added (a changelog that starts
// mid-stream) is kept as a negative count, as Flink's retracting
// accumulators do, and is not part of any result until an addition of the
// same value cancels it.
package agg

import (
	"errors"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/streamsql/streamsql/exec/expr"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// Accumulator is the state of one aggregate call for every slot.
//
// Contract: Grow(n) is called before a slot below n is used; slots start
// empty (as after Reset). Add folds the rows of rec into the slots the
// operator assigned them: slots[i] is row i's slot, or -1 when row i does
// not count (filtered out by FILTER, or not the operator's); Retract takes
// rows away likewise. Both read the aggregate's argument column of rec
// (rec has the input schema of the aggregation, data columns first, as in
// exec/rowkind.go) and fail only on overflow, with the slots then in an
// unspecified state (the job fails). AppendResult appends slot s's current
// result to b, a builder of the AggCall's result type T. Encode appends
// slot s's state to buf; Decode reads what Encode wrote into slot s and
// returns the rest of buf, or ErrCorrupt. An Accumulator is used from one
// goroutine.
type Accumulator interface {
	Grow(n int)
	Reset(s int32)
	Add(rec arrow.Record, slots []int32) error
	Retract(rec arrow.Record, slots []int32) error
	AppendResult(b array.Builder, s int32)
	Encode(buf []byte, s int32) []byte
	Decode(buf []byte, s int32) ([]byte, error)
}

// ErrCorrupt reports an accumulator state that does not decode.
var ErrCorrupt = errors.New("agg: corrupt accumulator state")

// domain is the Go representation an aggregate computes in.
type domain uint8

const (
	dInt     domain = iota + 1 // INT, BIGINT, TIMESTAMP*, INTERVAL, BOOLEAN (0/1), NULL: int64
	dFloat                     // FLOAT, DOUBLE: float64
	dDecimal                   // DECIMAL(p, s): decimal128.Num at scale s
	dString                    // STRING: string
)

func domainOf(t types.Type) (domain, bool) {
	switch t.Kind {
	case types.Int, types.BigInt, types.Timestamp, types.TimestampLTZ, types.Interval, types.Boolean, types.Null:
		return dInt, true
	case types.Float, types.Double:
		return dFloat, true
	case types.Decimal:
		return dDecimal, true
	case types.String:
		return dString, true
	}
	return 0, false
}

// New returns the accumulator of c over rows of schema in. c.T is the
// result type (see package doc); DISTINCT is supported for COUNT, SUM and AVG,
// and ignored by MIN and MAX, which it does not change.
func New(c plan.AggCall, in types.Schema) (Accumulator, error) {
	if c.Func == plan.CountStar {
		return &countAcc{col: -1}, nil
	}
	if c.Arg < 0 || c.Arg >= in.Len() {
		return nil, fmt.Errorf("agg: %s: argument column #%d out of range", c, c.Arg)
	}
	at := in.Fields[c.Arg].Type
	d, ok := domainOf(at)
	if !ok {
		return nil, fmt.Errorf("agg: %s: unsupported argument type %s", c, at)
	}
	numeric := at.IsNumeric() || at.Kind == types.Null
	scale := int32(at.Scale)
	switch c.Func {
	case plan.Count:
		if c.Distinct {
			return newDistinct(c.Arg, d, false, false, scale, c.T), nil
		}
		return &countAcc{col: c.Arg}, nil
	case plan.Sum, plan.Avg:
		if !numeric {
			return nil, fmt.Errorf("agg: %s: cannot sum %s", c, at)
		}
		avg := c.Func == plan.Avg
		if c.Distinct {
			return newDistinct(c.Arg, d, !avg, avg, scale, c.T), nil
		}
		switch d {
		case dInt:
			return &intSumAcc{col: c.Arg, avg: avg, t: c.T}, nil
		case dFloat:
			return &floatSumAcc{col: c.Arg, avg: avg}, nil
		case dDecimal:
			return &decSumAcc{col: c.Arg, avg: avg, scale: scale, t: c.T}, nil
		}
	case plan.Min, plan.Max:
		return newMinMax(c.Arg, d, c.Func == plan.Max, scale), nil
	}
	return nil, fmt.Errorf("agg: unsupported aggregate %s", c)
}

// Update adds the rows of rec whose kind (kinds, exec.RowKinds of the
// batch; nil: all inserts) is +I or +U, and retracts those whose kind is
// -U or -D. scratch is reused between calls.
func Update(a Accumulator, rec arrow.Record, slots []int32, kinds *array.Int8, scratch *[]int32) error {
	if kinds == nil {
		return a.Add(rec, slots)
	}
	n := len(slots)
	if cap(*scratch) < 2*n {
		*scratch = make([]int32, 2*n)
	}
	add, ret := (*scratch)[:n], (*scratch)[n:2*n]
	anyRet := false
	for i, s := range slots {
		if types.RowKind(kinds.Value(i)).IsRetraction() {
			add[i], ret[i] = -1, s
			anyRet = anyRet || s >= 0
		} else {
			add[i], ret[i] = s, -1
		}
	}
	if err := a.Add(rec, add); err != nil {
		return err
	}
	if !anyRet {
		return nil
	}
	return a.Retract(rec, ret)
}

func overflow(what string, t types.Type) error {
	return fmt.Errorf("%w: %s does not fit %s", expr.ErrOverflow, what, t.Nullable())
}

func grow[T any](s []T, n int) []T {
	if len(s) >= n {
		return s
	}
	return append(s, make([]T, n-len(s))...)
}
