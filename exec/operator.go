package exec

import (
	"context"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
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
// of any other call. All calls come from one goroutine (its task's:
// operators never see channels, other subtasks or barrier alignment; the
// input of a multi-input operator is the index of the plan input the rows
// came from, and its watermark is the runtime's minimum over its inputs).
// A batch passed to
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

// OperatorEnv is what the runtime gives an operator's constructor: the
// allocator, clock and logger of the job, the operator's metrics, and
// which subtask of how many the operator is.
type OperatorEnv struct {
	Alloc   memory.Allocator
	Clock   Clock
	Logger  *slog.Logger
	Metrics *OperatorMetrics
	// Subtask is the index of this instance among the node's Parallelism
	// subtasks; MaxParallelism is the number of key groups of keyed state.
	Subtask, Parallelism, MaxParallelism int
	// KeyGroups is the range of key groups the subtask owns (its keyed
	// state, and the rows a hash exchange sends it).
	KeyGroups state.KeyGroupRange
	// Connectors is the job's connectors (Options.Connectors), for
	// operators that read a table themselves (a lookup join's table).
	Connectors Connectors
	// Late, when not nil, takes the rows the operator drops as late (with
	// the schema of its input), for the late-rows table of the job (a
	// plan.LateRows consumer of the node); nil when nothing keeps them.
	// The operator emits them during the call that drops them, so that
	// they precede the next barrier as its regular output does.
	Late Emitter
}

// StateSubtask is the part of its node's keyed state the subtask env
// describes owns: subtask Subtask of max(1, Parallelism) over
// MaxParallelism key groups (state.DefaultMaxParallelism when unset, as
// for one task built outside a job).
func (env OperatorEnv) StateSubtask() (state.Subtask, error) {
	maxP := env.MaxParallelism
	if maxP == 0 {
		maxP = state.DefaultMaxParallelism
	}
	return state.NewSubtask(env.Subtask, max(1, env.Parallelism), maxP)
}

// WithDefaults returns env with what it leaves unset filled in: fresh
// metrics, memory.DefaultAllocator and the system clock.
func (env OperatorEnv) WithDefaults() OperatorEnv {
	if env.Metrics == nil {
		env.Metrics = &OperatorMetrics{}
	}
	if env.Alloc == nil {
		env.Alloc = memory.DefaultAllocator
	}
	if env.Clock == nil {
		env.Clock = SystemClock{}
	}
	return env
}

// Operators builds the operator of a plan node. The operator registry
// (package operators) implements it; exec never imports an operator
// package, as it never imports a connector. Sources, sinks and exchanges
// are the runtime's own and never asked for.
type Operators interface {
	NewOperator(n plan.Node, env OperatorEnv) (Operator, error)
}

// Finisher is implemented by operators that may be done before their
// input is (a LIMIT that passed its rows). After each batch, and after
// Open, the runtime asks Finished; once it returns true the operator will
// emit nothing more, whatever it is fed, and its branch of the graph has
// ended: a job ends when every sink's branch has (see Job.Run).
type Finisher interface {
	Finished() bool
}

// ProcessingTimer is implemented by operators that act on processing time
// (windows over a PROCTIME() attribute, early firing): the runtime asks
// NextTimer after every call into the operator and calls OnTimer, from the
// operator's goroutine and between other calls, once the job's Clock has
// reached the time NextTimer returned. Time comes only from the Clock, so
// a test that injects one drives the timers; the runtime checks the clock
// at least every timerPoll while a timer is pending. What OnTimer emits
// reaches the consumers before anything the operator's next input causes.
// Processing-time results depend on when rows arrive: they are not
// replayable.
type ProcessingTimer interface {
	// NextTimer returns the earliest processing time at which the
	// operator wants OnTimer; ok is false when it wants none.
	NextTimer() (at time.Time, ok bool)
	// OnTimer advances processing time to now, emitting what it completes.
	OnTimer(ctx context.Context, now time.Time, out Emitter) error
}

// WatermarkDelayer is implemented by operators whose output rows may lie
// behind their input's watermark (an interval join emits a row when the
// later of the two rows it joins arrives, so the earlier one may be up to
// its interval old): after OnWatermark(wm) the runtime passes
// OutputWatermark(wm) to the operator's consumers instead of wm, so that
// the rows it emits are not late for them. OutputWatermark must be at
// most wm, non-decreasing in wm, and return MaxWatermark for MaxWatermark
// (the final watermark still fires everything downstream).
type WatermarkDelayer interface {
	OutputWatermark(wm Watermark) Watermark
}
