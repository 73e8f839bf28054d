package agg

import (
	"encoding/binary"
	"errors"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

// ErrRetractAppendOnly is the error of a retraction fed to an accumulator
// built for an append-only input (NewCallsAppendOnly).
var ErrRetractAppendOnly = errors.New("agg: a retraction reached MIN, MAX or COUNT(DISTINCT …) over an input the plan says is append-only")

// extremeAcc is MIN or MAX over an append-only input: the running extreme
// alone, without minMaxAcc's multiset, which only a retraction needs. Its
// state is encoded as minMaxAcc's (a multiset holding the extreme once),
// and it decodes minMaxAcc's (keeping the extreme of the values present),
// so a checkpoint of either restores into the other under the same layout.
type extremeAcc[T comparable] struct {
	col     int
	ops     valueOps[T]
	max     bool
	scratch []T
	best    []T
	has     []bool
}

var _ Accumulator = (*extremeAcc[int64])(nil)

func newExtreme(col int, d domain, max bool, scale int32) Accumulator {
	switch d {
	case dInt:
		return &extremeAcc[int64]{col: col, ops: intOps(), max: max}
	case dFloat:
		return &extremeAcc[float64]{col: col, ops: floatOps(), max: max}
	case dDecimal:
		return &extremeAcc[decimal128.Num]{col: col, ops: decimalOps(scale), max: max}
	}
	return &extremeAcc[string]{col: col, ops: stringOps(), max: max}
}

func (a *extremeAcc[T]) better(x, y T) bool {
	if a.max {
		return a.ops.cmp(x, y) > 0
	}
	return a.ops.cmp(x, y) < 0
}

// Grow implements Accumulator.
func (a *extremeAcc[T]) Grow(n int) { a.best, a.has = grow(a.best, n), grow(a.has, n) }

// Reset implements Accumulator.
func (a *extremeAcc[T]) Reset(s int32) {
	var zero T
	a.best[s], a.has[s] = zero, false
}

// Add implements Accumulator.
func (a *extremeAcc[T]) Add(rec arrow.Record, slots []int32) error {
	arr := rec.Column(a.col)
	v := a.ops.vals(arr, &a.scratch)[:len(slots)]
	nulls := arr.NullN() > 0
	best, has := a.best, a.has
	for i, s := range slots {
		if s < 0 || nulls && arr.IsNull(i) {
			continue
		}
		if !has[s] || a.better(v[i], best[s]) {
			best[s], has[s] = a.ops.keep(v[i]), true
		}
	}
	return nil
}

// Retract implements Accumulator: the input is append-only, so a
// retraction is a planner bug, reported rather than ignored.
func (a *extremeAcc[T]) Retract(_ arrow.Record, slots []int32) error {
	for _, s := range slots {
		if s >= 0 {
			return ErrRetractAppendOnly
		}
	}
	return nil
}

// AppendResult implements Accumulator.
func (a *extremeAcc[T]) AppendResult(b array.Builder, s int32) {
	if !a.has[s] {
		b.AppendNull()
		return
	}
	a.ops.appendV(b, a.best[s])
}

// Encode implements Accumulator: minMaxAcc's encoding of a multiset that
// holds the extreme once.
func (a *extremeAcc[T]) Encode(buf []byte, s int32) []byte {
	if !a.has[s] {
		return binary.AppendUvarint(buf, 0)
	}
	buf = binary.AppendUvarint(buf, 1)
	return encInt(a.ops.enc(buf, a.best[s]), 1)
}

// Decode implements Accumulator: reads minMaxAcc's encoding, keeping the
// extreme of the values present (count > 0).
func (a *extremeAcc[T]) Decode(buf []byte, s int32) ([]byte, error) {
	a.Reset(s)
	n, k := binary.Uvarint(buf)
	if k <= 0 || n > uint64(len(buf)) {
		return nil, ErrCorrupt
	}
	buf = buf[k:]
	for range n {
		v, rest, err := a.ops.dec(buf)
		if err != nil {
			return nil, err
		}
		c, rest, err := decInt(rest)
		if err != nil || c == 0 {
			return nil, ErrCorrupt
		}
		if c > 0 && (!a.has[s] || a.better(v, a.best[s])) {
			a.best[s], a.has[s] = v, true
		}
		buf = rest
	}
	return buf, nil
}
