package exec

import (
	"context"
	"math"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/checkpoint"
)

// Watermark is an event-time watermark in milliseconds since the epoch: a
// promise that no more rows with an event time at or below it will arrive
// (rows that do are late).
type Watermark int64

// Watermark bounds. MaxWatermark is the final watermark of a bounded
// input: every window fires.
const (
	MinWatermark Watermark = math.MinInt64
	MaxWatermark Watermark = math.MaxInt64
)

// Barrier marks a checkpoint in the stream: every row before it is covered
// by checkpoint ID, every row after it is not.
type Barrier struct {
	CheckpointID int64
	// Savepoint is set when the checkpoint was asked for as a savepoint.
	Savepoint bool
}

// Emitter receives the record batches an operator emits. Emit does not
// retain rec beyond the call: the caller keeps ownership and releases it
// after Emit returns.
type Emitter interface {
	Emit(ctx context.Context, rec arrow.Record) error
}

// Operator is one node of a running dataflow.
//
// Contract: the runtime calls Open once, first; then any sequence of
// OnBatch, OnWatermark and OnBarrier; then Close once, also after a failure
// of any other call. All calls come from one goroutine. A batch passed to
// OnBatch is valid only during the call unless the operator retains it.
// Watermarks arrive in non-decreasing order; after the operator's
// OnWatermark returns, the runtime forwards the watermark downstream, so
// rows emitted during OnWatermark precede it. After OnBarrier returns, the
// runtime forwards the barrier; the state written to w must reflect exactly
// the rows received before the barrier. Operators must not mutate live
// state while snapshotting beyond clearing their own dirty-tracking, and
// never commit anything themselves.
type Operator interface {
	// Open prepares the operator. st holds its state from the restored
	// checkpoint, or is nil on a fresh start.
	Open(ctx context.Context, st checkpoint.StateReader) error
	// OnBatch processes the rows of rec arriving on input in.
	OnBatch(ctx context.Context, in int, rec arrow.Record, out Emitter) error
	// OnWatermark advances event time to wm, emitting what it completes.
	OnWatermark(ctx context.Context, wm Watermark, out Emitter) error
	// OnBarrier writes the operator's state changes since the previous
	// barrier to w.
	OnBarrier(ctx context.Context, b Barrier, w checkpoint.StateWriter, out Emitter) error
	// Close releases the operator's resources.
	Close() error
}

// Stateless supplies no-op watermark, barrier, open and close hooks for
// operators without state; embed it.
type Stateless struct{}

// Open implements Operator.
func (Stateless) Open(context.Context, checkpoint.StateReader) error { return nil }

// OnWatermark implements Operator.
func (Stateless) OnWatermark(context.Context, Watermark, Emitter) error { return nil }

// OnBarrier implements Operator.
func (Stateless) OnBarrier(context.Context, Barrier, checkpoint.StateWriter, Emitter) error {
	return nil
}

// Close implements Operator.
func (Stateless) Close() error { return nil }

// OperatorMetrics counts what one operator did. The runtime creates one per
// operator and passes it to the operator's constructor; fields are updated
// by the operator's goroutine and may be read concurrently.
type OperatorMetrics struct {
	RecordsIn  atomic.Int64
	RecordsOut atomic.Int64
	// LateRecords counts rows dropped because the windows they belonged to
	// had already fired.
	LateRecords atomic.Int64
	// StateEntries is the number of live state entries (open (window, key)
	// accumulators), updated after each batch and watermark.
	StateEntries atomic.Int64
}
