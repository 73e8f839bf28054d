package window

import (
	"context"
	"math"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/exec"
)

// procAgg is the window aggregation over a processing-time attribute
// (plan.Window.ProcTime): the same operator, with processing time in place
// of event time.
//
//   - A row belongs to the windows of the operator's clock when OnBatch
//     sees it (Flink's processing-time window assigner), not to those of
//     the PROCTIME() value an upstream Calc gave it, so no row is late
//     even when an exchange delayed it.
//   - A window fires when the clock reaches its end (OnTimer with now >=
//     window_end); watermarks are ignored, but the final one of a bounded
//     input (exec.MaxWatermark) fires every open window.
//   - The operator's "watermark" is now - 1ms of its last timer; it is
//     checkpointed like an event-time watermark. A restored job fires the
//     windows whose end passed while it was down at its first timer.
//
// Results depend on when rows arrive and when the timers run: they are
// not replayable, and a restored job's windows differ from an
// uninterrupted run's (its source offsets stay exactly-once).
type procAgg struct {
	*windowAggOp
	clock exec.Clock
}

var (
	_ exec.Operator        = (*procAgg)(nil)
	_ exec.ProcessingTimer = (*procAgg)(nil)
)

// OnBatch implements exec.Operator: every row gets the clock's time.
func (p *procAgg) OnBatch(ctx context.Context, in int, rec arrow.Record, out exec.Emitter) error {
	p.procTime = p.clock.Now().UnixMilli()
	return p.windowAggOp.OnBatch(ctx, in, rec, out)
}

// OnWatermark implements exec.Operator: only the final watermark counts.
func (p *procAgg) OnWatermark(ctx context.Context, wm exec.Watermark, out exec.Emitter) error {
	if wm != exec.MaxWatermark {
		return nil
	}
	return p.windowAggOp.OnWatermark(ctx, wm, out)
}

// NextTimer implements exec.ProcessingTimer: the end of the window that
// ends first.
func (p *procAgg) NextTimer() (time.Time, bool) {
	o := p.windowAggOp
	if o.wm == exec.MaxWatermark {
		return time.Time{}, false
	}
	end := int64(math.MaxInt64)
	if len(o.winEnds) > 0 {
		end = o.utc(o.winEnds[0])
	}
	if o.nlive > 0 {
		end = min(end, o.minEnd)
	}
	if end == math.MaxInt64 {
		return time.Time{}, false
	}
	return time.UnixMilli(end), true
}

// OnTimer implements exec.ProcessingTimer: fires the windows that end at
// or before now.
func (p *procAgg) OnTimer(ctx context.Context, now time.Time, out exec.Emitter) error {
	wm := exec.Watermark(now.UnixMilli() - 1)
	if wm <= p.wm {
		return nil
	}
	return p.windowAggOp.OnWatermark(ctx, wm, out)
}
