// Package union is the operator of plan.Union (UNION ALL): it emits the
// rows of every input as they come, row kinds ($row_kind) included. It is
// stateless; the runtime gives it the minimum of its inputs' watermarks
// and aligns their barriers.
package union

import (
	"context"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/plan"
)

type unionOp struct {
	exec.Stateless
	m *exec.OperatorMetrics
}

var _ exec.Operator = (*unionOp)(nil)

// New returns the operator of n.
func New(_ *plan.Union, env exec.OperatorEnv) (exec.Operator, error) {
	m := env.Metrics
	if m == nil {
		m = &exec.OperatorMetrics{}
	}
	return &unionOp{m: m}, nil
}

// OnBatch implements exec.Operator: the rows pass unchanged, whichever
// input they came from.
func (u *unionOp) OnBatch(ctx context.Context, _ int, rec arrow.Record, out exec.Emitter) error {
	u.m.RecordsIn.Add(rec.NumRows())
	u.m.RecordsOut.Add(rec.NumRows())
	return out.Emit(ctx, rec)
}
