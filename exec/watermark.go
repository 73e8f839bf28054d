package exec

import (
	"fmt"

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
type watermarkGen struct {
	eval   expr.Evaluator
	splits map[int]Watermark
	wm     Watermark
}

func newWatermarkGen(w *plan.Watermark, schema types.Schema, alloc memory.Allocator) (*watermarkGen, error) {
	ev, err := expr.Compile(w.Expr, schema, alloc)
	if err != nil {
		return nil, fmt.Errorf("watermark: %w", err)
	}
	return &watermarkGen{eval: ev, splits: map[int]Watermark{}, wm: MinWatermark}, nil
}

// observe accounts for the rows of rec from split and returns the
// source's watermark afterwards.
func (g *watermarkGen) observe(rec arrow.Record, split int) (Watermark, error) {
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
	lo := MaxWatermark
	for _, w := range g.splits {
		lo = min(lo, w)
	}
	g.wm = max(g.wm, lo)
	return g.wm, nil
}
