package exec

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/exec/expr"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
)

// parallelOp runs a window aggregation as n subtasks, each a WindowAgg in
// its own goroutine owning the groups whose key hashes to it: the job's
// goroutine partitions each batch by a hash of the group keys (the
// exchange), and forwards watermarks to every subtask. Subtasks send what
// they emit back over a channel; the job's goroutine passes it downstream
// whenever it calls the operator (and in Poll between batches), so the
// operators after it and the sink stay single-threaded.
//
// Barriers are synchronous: OnBarrier waits until every subtask has
// processed everything sent before it, snapshotted its state and emitted
// its output, so the checkpoint covers exactly the rows before the
// barrier (aligned, as EXACTLY_ONCE needs) without buffering. Subtask i
// owns the key groups state.RangeFor(i, n, max) and the exchange sends it
// the rows whose key's key group it owns; subtasks write their state under
// the operator's own id (keyed entries carry their key group), so a
// checkpoint taken with one parallelism restores with any other.
//
// Output order across subtasks is not deterministic (within a subtask it
// is the window operator's order).
type parallelOp struct {
	id      string
	node    *plan.WindowAgg
	m       *OperatorMetrics
	alloc   memory.Allocator
	subs    []*subtask
	out     chan arrow.Record
	failed  chan struct{} // closed when a subtask failed; err says why
	once    sync.Once
	err     error
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	hasher  *state.KeyHasher
	maxP    int
	hashes  []uint64
	masks   []*array.BooleanBuilder
	started bool
}

// subtask is one window operator and the goroutine that drives it.
type subtask struct {
	op Operator
	m  *OperatorMetrics
	in chan subMsg
}

// subMsg is one message to a subtask: a batch, a watermark, or a sync
// point (barrier or flush) answered on done.
type subMsg struct {
	rec     arrow.Record
	wm      Watermark
	barrier *Barrier
	w       checkpoint.StateWriter
	done    chan error
}

var _ Operator = (*parallelOp)(nil)

// Poller is implemented by operators that produce output asynchronously;
// the runtime calls Poll between batches (also when the source is idle) so
// that output is passed on without waiting for the next batch.
type Poller interface {
	Poll(ctx context.Context, out Emitter) error
}

func newParallelWindowAgg(n *plan.WindowAgg, parallelism int, m *OperatorMetrics, alloc memory.Allocator) (*parallelOp, error) {
	p := &parallelOp{id: n.ID(), node: n, m: m, alloc: alloc, out: make(chan arrow.Record, 64),
		failed: make(chan struct{})}
	p.maxP = state.DefaultMaxParallelism
	var err error
	if p.hasher, err = state.NewKeyHasher(n.Input.Schema(), n.Keys); err != nil {
		return nil, fmt.Errorf("exec: window aggregation %q: %w", n.ID(), err)
	}
	for i := 0; i < parallelism; i++ {
		sm := &OperatorMetrics{}
		sub, err := state.NewSubtask(i, parallelism, p.maxP)
		if err != nil {
			return nil, fmt.Errorf("exec: window aggregation %q: %w", n.ID(), err)
		}
		op, err := NewWindowAggSubtask(n, sm, alloc, sub)
		if err != nil {
			return nil, err
		}
		p.subs = append(p.subs, &subtask{op: op, m: sm, in: make(chan subMsg, 8)})
		p.masks = append(p.masks, array.NewBooleanBuilder(alloc))
	}
	return p, nil
}

// Open implements Operator: each subtask restores the state of its key
// groups (and the operator's non-keyed state) from st; then it starts the
// subtasks.
func (p *parallelOp) Open(ctx context.Context, st checkpoint.StateReader) error {
	for i, s := range p.subs {
		var r checkpoint.StateReader
		if st != nil {
			r = state.SubtaskReader(st, state.RangeFor(i, len(p.subs), p.maxP))
		}
		if err := s.op.Open(ctx, r); err != nil {
			return err
		}
	}
	ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for _, s := range p.subs {
		p.wg.Add(1)
		go p.run(ctx, s)
	}
	p.started = true
	return nil
}

// run drives one subtask until its input closes or ctx ends.
func (p *parallelOp) run(ctx context.Context, s *subtask) {
	defer p.wg.Done()
	out := chanEmitter{ch: p.out, ctx: ctx}
	for msg := range s.in {
		var err error
		switch {
		case msg.rec != nil:
			err = s.op.OnBatch(ctx, 0, msg.rec, out)
			msg.rec.Release()
		case msg.barrier != nil:
			err = s.op.OnBarrier(ctx, *msg.barrier, msg.w, out)
		case msg.done != nil:
		default:
			err = s.op.OnWatermark(ctx, msg.wm, out)
		}
		if msg.done != nil {
			msg.done <- err
			continue
		}
		if err != nil {
			p.fail(err)
			return
		}
	}
}

// fail records the first subtask failure.
func (p *parallelOp) fail(err error) {
	p.once.Do(func() {
		p.err = fmt.Errorf("%s: %w", p.id, err)
		close(p.failed)
	})
}

// chanEmitter sends a subtask's output to the job's goroutine.
type chanEmitter struct {
	ch  chan arrow.Record
	ctx context.Context
}

func (e chanEmitter) Emit(_ context.Context, rec arrow.Record) error {
	rec.Retain()
	select {
	case e.ch <- rec:
		return nil
	case <-e.ctx.Done():
		rec.Release()
		return e.ctx.Err()
	}
}

// send delivers msg to subtask i, passing output on while it waits.
func (p *parallelOp) send(ctx context.Context, i int, msg subMsg, out Emitter) error {
	for {
		select {
		case p.subs[i].in <- msg:
			return nil
		case rec := <-p.out:
			if err := p.emitOne(ctx, rec, out); err != nil {
				return err
			}
		case <-p.failed:
			return p.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// sync sends a sync point to every subtask in turn and waits for each to
// answer, passing output on meanwhile. With a barrier, each subtask writes
// its state to w (one at a time: w is used by one goroutine at a time).
func (p *parallelOp) sync(ctx context.Context, b *Barrier, w checkpoint.StateWriter, out Emitter) error {
	for i := range p.subs {
		done := make(chan error, 1)
		msg := subMsg{barrier: b, done: done, w: w}
		if err := p.send(ctx, i, msg, out); err != nil {
			return err
		}
		for waiting := true; waiting; {
			select {
			case err := <-done:
				if err != nil {
					return fmt.Errorf("%s subtask %d: %w", p.id, i, err)
				}
				waiting = false
			case rec := <-p.out:
				if err := p.emitOne(ctx, rec, out); err != nil {
					return err
				}
			case <-p.failed:
				return p.err
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return p.Poll(ctx, out)
}

func (p *parallelOp) emitOne(ctx context.Context, rec arrow.Record, out Emitter) error {
	defer rec.Release()
	p.m.RecordsOut.Add(rec.NumRows())
	return out.Emit(ctx, rec)
}

// Poll implements Poller: it passes on the output that is ready and
// reports a subtask's failure.
func (p *parallelOp) Poll(ctx context.Context, out Emitter) error {
	defer p.gather()
	for {
		select {
		case rec := <-p.out:
			if err := p.emitOne(ctx, rec, out); err != nil {
				return err
			}
		case <-p.failed:
			return p.err
		default:
			return nil
		}
	}
}

// gather sums the subtasks' counters into the operator's.
func (p *parallelOp) gather() {
	var in, late, state int64
	for _, s := range p.subs {
		in += s.m.RecordsIn.Load()
		late += s.m.LateRecords.Load()
		state += s.m.StateEntries.Load()
	}
	p.m.RecordsIn.Store(in)
	p.m.LateRecords.Store(late)
	p.m.StateEntries.Store(state)
}

// OnBatch implements Operator: the exchange. Each row goes to the subtask
// that owns its group key's key group.
func (p *parallelOp) OnBatch(ctx context.Context, _ int, rec arrow.Record, out Emitter) error {
	n := int(rec.NumRows())
	if cap(p.hashes) < n {
		p.hashes = make([]uint64, n)
	}
	h := p.hashes[:n]
	if err := p.hasher.Hash(rec, h); err != nil {
		return fmt.Errorf("%s: %w", p.id, err)
	}
	parts := len(p.subs)
	for _, b := range p.masks {
		b.Reserve(n)
	}
	for _, x := range h {
		t := state.SubtaskOf(state.KeyGroupOf(x, p.maxP), parts, p.maxP)
		for i, b := range p.masks {
			b.UnsafeAppend(i == t)
		}
	}
	for i, b := range p.masks {
		mask := b.NewBooleanArray()
		part, err := expr.Filter(rec, mask, p.alloc)
		mask.Release()
		if err != nil {
			return err
		}
		if part.NumRows() == 0 {
			part.Release()
			continue
		}
		if err := p.send(ctx, i, subMsg{rec: part}, out); err != nil {
			part.Release()
			return err
		}
	}
	return p.Poll(ctx, out)
}

// OnWatermark implements Operator. The final watermark is a sync point:
// every window has fired and its rows are passed on when it returns.
func (p *parallelOp) OnWatermark(ctx context.Context, wm Watermark, out Emitter) error {
	for i := range p.subs {
		if err := p.send(ctx, i, subMsg{wm: wm}, out); err != nil {
			return err
		}
	}
	if wm == MaxWatermark {
		return p.sync(ctx, nil, nil, out)
	}
	return p.Poll(ctx, out)
}

// OnBarrier implements Operator.
func (p *parallelOp) OnBarrier(ctx context.Context, b Barrier, w checkpoint.StateWriter, out Emitter) error {
	return p.sync(ctx, &b, w, out)
}

// Close implements Operator: it stops the subtasks and closes them.
func (p *parallelOp) Close() error {
	if p.started {
		for _, s := range p.subs {
			close(s.in)
		}
		p.cancel()
		go func() {
			for rec := range p.out {
				rec.Release()
			}
		}()
		p.wg.Wait()
		close(p.out)
		p.started = false
	}
	var errs []error
	for _, s := range p.subs {
		errs = append(errs, s.op.Close())
	}
	for _, b := range p.masks {
		b.Release()
	}
	p.masks = nil
	return errors.Join(errs...)
}
