// Package calc is the operator of plan.Calc: it filters and projects
// batches with vectorized expressions (package exec/expr), keeping each
// row's kind ($row_kind) with the rows that pass. It is stateless.
package calc

import (
	"context"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/bufpool"
	"github.com/streamsql/streamsql/exec/expr"
	"github.com/streamsql/streamsql/plan"
)

// calcOp filters and projects: the stateless operator of plan.Calc.
type calcOp struct {
	exec.Stateless
	id     string
	filter expr.Evaluator // nil when every row passes
	exprs  []expr.Evaluator
	shared *expr.Shared // the subexpressions repeated in filter and exprs
	schema *arrow.Schema
	alloc  memory.Allocator // pool
	pool   *bufpool.Pool
	m      *exec.OperatorMetrics
}

var _ exec.Operator = (*calcOp)(nil)

// New compiles the expressions of n.
func New(n *plan.Calc, env exec.OperatorEnv) (exec.Operator, error) {
	in := n.Input.Schema()
	m := env.Metrics
	if m == nil {
		m = &exec.OperatorMetrics{}
	}
	alloc := env.Alloc
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	// The batches the calc emits are released before long (by the sink,
	// or by the next operator of the chain): their buffers serve the next
	// batches, which saves the garbage collector a batch of fresh memory
	// each time. Expressions write only some bytes of some buffers
	// (validity bitmaps, booleans), so recycled ones are cleared.
	pool := bufpool.New(alloc, true)
	op := &calcOp{id: n.ID(), schema: n.Schema().Arrow(), alloc: pool, pool: pool, m: m}
	var opts expr.Options
	if env.Clock != nil {
		opts.Now = env.Clock.Now // PROCTIME()
	}
	op.shared = expr.NewShared(n.Filter, n.Exprs...)
	op.shared.DropUnread(in.Len()) // the filter copies only what the projections read
	opts.Shared = op.shared
	if n.Filter != nil {
		f, err := expr.CompileWith(n.Filter, in, pool, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: filter: %w", n.ID(), err)
		}
		op.filter = f
	}
	for i, e := range n.Exprs {
		ev, err := expr.CompileWith(e, in, pool, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: column %q: %w", n.ID(), n.Schema().Fields[i].Name, err)
		}
		op.exprs = append(op.exprs, ev)
	}
	return op, nil
}

// Close implements exec.Operator: it frees the buffers the pool keeps.
func (c *calcOp) Close() error {
	c.pool.Close()
	return nil
}

// OnBatch implements exec.Operator.
func (c *calcOp) OnBatch(ctx context.Context, _ int, rec arrow.Record, out exec.Emitter) error {
	c.m.RecordsIn.Add(rec.NumRows())
	c.shared.Begin(rec)
	defer c.shared.End()
	if c.filter != nil {
		mask, err := c.filter.Eval(rec)
		if err != nil {
			return fmt.Errorf("%s: WHERE: %w", c.id, err)
		}
		// The filter selects the row-kind column with the data columns,
		// and the values the projections share with the filter.
		filtered, err := c.shared.Filter(rec, mask.(*array.Boolean), c.alloc)
		mask.Release()
		if err != nil {
			return fmt.Errorf("%s: %w", c.id, err)
		}
		defer filtered.Release()
		rec = filtered
	}
	if rec.NumRows() == 0 {
		return nil
	}
	cols := make([]arrow.Array, len(c.exprs))
	for i, e := range c.exprs {
		a, err := e.Eval(rec)
		if err != nil {
			for _, done := range cols[:i] {
				done.Release()
			}
			return fmt.Errorf("%s: column %q: %w", c.id, c.schema.Field(i).Name, err)
		}
		cols[i] = a
	}
	res := expr.Project(c.schema, cols, rec.NumRows())
	defer res.Release()
	if kinds := exec.RowKinds(rec); kinds != nil {
		withKinds := exec.WithRowKinds(res, kinds)
		defer withKinds.Release()
		res = withKinds
	}
	c.m.RecordsOut.Add(res.NumRows())
	return out.Emit(ctx, res)
}
