package exec

import (
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/plan"
)

// NewWindowAssign returns the operator of a window TVF consumed without
// aggregation (see plan.WindowAssign), for the operator registry until
// the window operators move to a package of their own.
func NewWindowAssign(n *plan.WindowAssign, m *OperatorMetrics, alloc memory.Allocator) (Operator, error) {
	op, err := newWindowAssign(n, m, alloc)
	if err != nil {
		return nil, err
	}
	return op, nil
}
