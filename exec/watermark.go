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
// maximum of the WATERMARK expression over the rows seen so far; the
// source's watermark is the minimum over its splits that have produced
// rows (a split that has not produced any does not hold event time back).
//
// With a SplitReporter source, every reported split counts, so a split
// that has produced nothing yet holds the watermark at its minimum; with an
// idle timeout, a split that produced nothing for that long is skipped
// until it produces again (so windows close on a quiet partition).
type watermarkGen struct {
	eval   expr.Evaluator
	splits map[int]Watermark
	active map[int]time.Time // when each split last produced rows
	wm     Watermark
	idle   time.Duration // 0: never idle
}

func newWatermarkGen(w *plan.Watermark, schema types.Schema, alloc memory.Allocator) (*watermarkGen, error) {
	ev, err := expr.Compile(w.Expr, schema, alloc)
	if err != nil {
		return nil, fmt.Errorf("watermark: %w", err)
	}
	return &watermarkGen{eval: ev, splits: map[int]Watermark{}, active: map[int]time.Time{},
		wm: MinWatermark, idle: time.Duration(w.IdleTimeout) * time.Millisecond}, nil
}

// current recomputes the watermark at now over n splits (n <= 0: the
// splits seen so far) and returns it; it never goes backwards.
func (g *watermarkGen) current(now time.Time, n int) Watermark {
	lo, any := MaxWatermark, false
	consider := func(split int) {
		if g.idle > 0 {
			last, ok := g.active[split]
			if !ok {
				last = g.start(now)
			}
			if now.Sub(last) >= g.idle {
				return
			}
		}
		w, ok := g.splits[split]
		if !ok {
			w = MinWatermark
		}
		lo, any = min(lo, w), true
	}
	if n > 0 {
		for s := 0; s < n; s++ {
			consider(s)
		}
	} else {
		for s := range g.splits {
			consider(s)
		}
	}
	if any {
		g.wm = max(g.wm, lo)
	}
	return g.wm
}

// start is when the generator first looked at the splits: a split that
// never produced a row counts as active since then.
func (g *watermarkGen) start(now time.Time) time.Time {
	if t, ok := g.active[-1]; ok {
		return t
	}
	g.active[-1] = now
	return now
}

// observe accounts for the rows of rec from split at now, with n splits,
// and returns the source's watermark afterwards.
func (g *watermarkGen) observe(rec arrow.Record, split int, now time.Time, n int) (Watermark, error) {
	a, err := g.eval.Eval(rec)
	if err != nil {
		return g.wm, fmt.Errorf("watermark expression: %w", err)
	}
	defer a.Release()
	prev, ok := g.splits[split]
	if !ok {
		prev = MinWatermark
	}
	hi := prev
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
		return g.wm, fmt.Errorf("watermark expression returned %s, want a timestamp", a.DataType())
	}
	g.splits[split] = hi
	g.active[split] = now
	return g.current(now, n), nil
}
