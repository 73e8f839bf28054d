package exec

import (
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec/expr"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// watermarkGen derives a source's watermark from its rows: per split, the
// maximum of the WATERMARK expression over the rows seen so far; the splits'
// watermarks are combined by a watermarkValve (the minimum over active
// splits; when every split is idle, the maximum among them).
//
// With a SplitReporter source, every reported split counts, so a split
// that has produced nothing yet holds the watermark at its minimum; without
// one, a split counts once it has produced rows. With an idle timeout, a
// split that produced nothing for that long is idle until it produces again
// (so windows close on a quiet partition, and once all partitions are quiet,
// event time advances to the most advanced one). The times given to the
// generator are on the source runner's idleness clock (sourceRunner.idleClock),
// which stands still while the source is held downstream.
type watermarkGen struct {
	eval     expr.Evaluator
	valve    *watermarkValve
	last     []time.Time   // per split: when it last produced rows (zero: never)
	reported int           // splits the source has reported so far
	started  time.Time     // when the generator first looked at the splits
	idle     time.Duration // 0: never idle
}

func newWatermarkGen(w *plan.Watermark, schema types.Schema, alloc memory.Allocator) (*watermarkGen, error) {
	ev, err := expr.Compile(w.Expr, schema, alloc)
	if err != nil {
		return nil, fmt.Errorf("watermark: %w", err)
	}
	return &watermarkGen{eval: ev, valve: newWatermarkValve(0),
		idle: time.Duration(w.IdleTimeout) * time.Millisecond}, nil
}

// grow makes room for n splits, idle ones: a split counts once it has
// produced rows or the source has reported it (see report).
func (g *watermarkGen) grow(n int) {
	if n <= g.valve.inputs() {
		return
	}
	g.valve.grow(n, true)
	for len(g.last) < n {
		g.last = append(g.last, time.Time{})
	}
}

// report accounts for the source's reporting n splits (n <= 0: it does not
// report them): a newly reported split that has produced nothing counts
// from now on, holding the watermark at its minimum until it produces or
// goes idle.
func (g *watermarkGen) report(now time.Time, n int) {
	if g.started.IsZero() {
		g.started = now
	}
	if n <= g.reported {
		return
	}
	g.grow(n)
	for s := g.reported; s < n; s++ {
		if g.last[s].IsZero() {
			g.valve.setActive(s)
		}
	}
	g.reported = n
}

// current recomputes the watermark at now over n splits (n <= 0: the
// splits seen so far) and returns it; it never goes backwards.
func (g *watermarkGen) current(now time.Time, n int) Watermark {
	g.report(now, n)
	if g.idle > 0 {
		for s, last := range g.last {
			if g.valve.isIdle(s) {
				continue
			}
			if last.IsZero() {
				last = g.started
			}
			if now.Sub(last) >= g.idle {
				g.valve.setIdle(s)
			}
		}
	}
	return g.valve.output()
}

// splitWatermarks returns the watermark of every split that has one, for
// a checkpoint.
func (g *watermarkGen) splitWatermarks() map[int]Watermark {
	out := map[int]Watermark{}
	for s, in := range g.valve.in {
		if in.wm != MinWatermark {
			out[s] = in.wm
		}
	}
	return out
}

// restoreSplit restores the watermark of split from a checkpoint, before
// any row is read: the split counts (is active) until it goes idle.
func (g *watermarkGen) restoreSplit(split int, wm Watermark) {
	g.grow(split + 1)
	g.valve.restoreInput(split, wm)
}

// restoreTaken restores the watermarks of splits a source of a job on
// several processes took over (WatermarkRestorer), once the source has
// reported its n splits (the others hold the output at their minimum),
// and returns the output.
func (g *watermarkGen) restoreTaken(now time.Time, n int, wms map[int]Watermark) Watermark {
	g.report(now, n)
	for s, wm := range wms {
		if s >= 0 && s < n {
			g.valve.restoreInput(s, wm)
		}
	}
	return g.valve.recompute()
}

// observe accounts for the rows of rec from split at now, with n splits,
// and returns the source's watermark afterwards.
func (g *watermarkGen) observe(rec arrow.Record, split int, now time.Time, n int) (Watermark, error) {
	a, err := g.eval.Eval(rec)
	if err != nil {
		return g.valve.output(), fmt.Errorf("watermark expression: %w", err)
	}
	defer a.Release()
	hi := MinWatermark
	switch ts := a.(type) {
	case *array.Timestamp:
		vals := ts.TimestampValues()
		if ts.NullN() == 0 {
			for _, v := range vals {
				if Watermark(v) > hi {
					hi = Watermark(v)
				}
			}
		} else {
			for i, v := range vals {
				if ts.IsValid(i) && Watermark(v) > hi {
					hi = Watermark(v)
				}
			}
		}
	default:
		return g.valve.output(), fmt.Errorf("watermark expression returned %s, want a timestamp", a.DataType())
	}
	g.report(now, n)
	g.grow(split + 1)
	g.last[split] = now
	g.valve.inputWatermark(split, hi)
	return g.current(now, n), nil
}
