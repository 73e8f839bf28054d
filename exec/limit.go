package exec

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/plan"
)

// limitOp passes on the first n rows of its input and drops the rest;
// when n rows have passed it calls done, and the job ends. The count is
// its state, so a restored job does not pass more than n rows in all.
type limitOp struct {
	id   string
	n    int64
	seen int64
	m    *OperatorMetrics
	done func()
}

var _ Operator = (*limitOp)(nil)

func newLimit(n *plan.Limit, m *OperatorMetrics, done func()) *limitOp {
	return &limitOp{id: n.ID(), n: n.N, m: m, done: done}
}

var limitKey = []byte("seen")

// Open implements Operator.
func (l *limitOp) Open(_ context.Context, st checkpoint.StateReader) error {
	if st == nil {
		return nil
	}
	return st.Scan(func(k, v []byte) error {
		if string(k) != string(limitKey) || len(v) != 8 {
			return fmt.Errorf("%s: unknown state key %q", l.id, k)
		}
		l.seen = int64(binary.BigEndian.Uint64(v))
		if l.seen >= l.n {
			l.done()
		}
		return nil
	})
}

// OnBatch implements Operator.
func (l *limitOp) OnBatch(ctx context.Context, _ int, rec arrow.Record, out Emitter) error {
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
	if err := out.Emit(ctx, rec); err != nil {
		return err
	}
	if l.seen >= l.n {
		l.done()
	}
	return nil
}

// OnWatermark implements Operator.
func (l *limitOp) OnWatermark(context.Context, Watermark, Emitter) error { return nil }

// OnBarrier implements Operator.
func (l *limitOp) OnBarrier(_ context.Context, _ Barrier, w checkpoint.StateWriter, _ Emitter) error {
	return w.Set(limitKey, binary.BigEndian.AppendUint64(nil, uint64(l.seen)))
}

// Close implements Operator.
func (l *limitOp) Close() error { return nil }
