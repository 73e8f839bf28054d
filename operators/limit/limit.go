// Package limit is the operator of plan.Limit: it passes on the first N
// rows of its input (row kinds included) and then reports itself finished
// (exec.Finisher), which ends its branch of the job. Its count is its
// state, so a restored job passes no more than N rows in all.
package limit

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/plan"
)

// limitOp passes on the first n rows of its input and drops the rest.
type limitOp struct {
	id   string
	n    int64
	seen int64
	m    *exec.OperatorMetrics
}

var (
	_ exec.Operator = (*limitOp)(nil)
	_ exec.Finisher = (*limitOp)(nil)
)

// New returns the operator of n.
func New(n *plan.Limit, env exec.OperatorEnv) (exec.Operator, error) {
	m := env.Metrics
	if m == nil {
		m = &exec.OperatorMetrics{}
	}
	return &limitOp{id: n.ID(), n: n.N, m: m}, nil
}

var limitKey = []byte("seen")

// Open implements exec.Operator.
func (l *limitOp) Open(_ context.Context, st checkpoint.StateReader) error {
	if st == nil {
		return nil
	}
	return st.Scan(func(k, v []byte) error {
		if string(k) != string(limitKey) || len(v) != 8 {
			return fmt.Errorf("%s: unknown state key %q", l.id, k)
		}
		l.seen = int64(binary.BigEndian.Uint64(v))
		return nil
	})
}

// Finished implements exec.Finisher.
func (l *limitOp) Finished() bool { return l.seen >= l.n }

// OnBatch implements exec.Operator.
func (l *limitOp) OnBatch(ctx context.Context, _ int, rec arrow.Record, out exec.Emitter) error {
	l.m.RecordsIn.Add(rec.NumRows())
	left := l.n - l.seen
	if left <= 0 {
		return nil
	}
	if rec.NumRows() > left {
		rec = rec.NewSlice(0, left)
		defer rec.Release()
	}
	l.seen += rec.NumRows()
	l.m.RecordsOut.Add(rec.NumRows())
	return out.Emit(ctx, rec)
}

// OnWatermark implements exec.Operator.
func (l *limitOp) OnWatermark(context.Context, exec.Watermark, exec.Emitter) error { return nil }

// OnBarrier implements exec.Operator.
func (l *limitOp) OnBarrier(_ context.Context, _ exec.Barrier, w checkpoint.StateWriter, _ exec.Emitter) error {
	return w.Set(limitKey, binary.BigEndian.AppendUint64(nil, uint64(l.seen)))
}

// Close implements exec.Operator.
func (l *limitOp) Close() error { return nil }
