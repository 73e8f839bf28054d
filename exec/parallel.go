package exec

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/exec/expr"
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
// barrier (aligned, as EXACTLY_ONCE needs) without buffering. Each
// subtask's state keys are prefixed with its index; a checkpoint taken
// with one parallelism cannot be restored with another.
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
	for i := 0; i < parallelism; i++ {
		sm := &OperatorMetrics{}
		op, err := NewWindowAgg(n, sm, alloc)
		if err != nil {
			return nil, err
		}
		p.subs = append(p.subs, &subtask{op: op, m: sm, in: make(chan subMsg, 8)})
		p.masks = append(p.masks, array.NewBooleanBuilder(alloc))
	}
	return p, nil
}

// Open implements Operator: it restores each subtask's state from its
// prefix of st and starts the subtasks.
func (p *parallelOp) Open(ctx context.Context, st checkpoint.StateReader) error {
	parts := make([]*memState, len(p.subs))
	if st != nil {
		for i := range parts {
			parts[i] = &memState{}
		}
		var restoredN int64 = -1
		err := st.Scan(func(k, v []byte) error {
			if len(k) == 1 && k[0] == parallelMetaKey {
				if len(v) != 9 || v[0] != parallelStateVersion {
					return fmt.Errorf("%w: the checkpoint was taken by a window operator running as one task; this job runs it as %d subtasks (parallelism): run with parallelism 1, or start fresh", ErrWindowStateLayout, len(p.subs))
				}
				restoredN = int64(binary.BigEndian.Uint64(v[1:]))
				return nil
			}
			if len(k) == 0 || k[0] == 0 || int(k[0]) > len(parts) {
				return fmt.Errorf("%w: state of subtask %d, but the operator has %d (parallelism changed): start fresh", ErrWindowStateLayout, int(k[0])-1, len(parts))
			}
			parts[k[0]-1].add(k[1:], v)
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s: %w", p.id, err)
		}
		if restoredN != int64(len(p.subs)) {
			return fmt.Errorf("%s: the checkpoint was taken with parallelism %d, the job now has %d; rescaling window state is not supported yet: run with the old parallelism, or start fresh", p.id, restoredN, len(p.subs))
		}
	}
	for i, s := range p.subs {
		var r checkpoint.StateReader
		if parts[i] != nil {
			r = parts[i]
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

// The parallel operator's state: its metadata under parallelMetaKey (the
// window operator's own metadata key, so that it sorts first and a window
// operator running as one task reads it as a foreign version), then each
// subtask's state under the prefix byte subtask+1.
const (
	parallelMetaKey      = windowTagMeta
	parallelStateVersion = 0xFE
)

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
// answer, passing output on meanwhile. With a barrier, subtask i writes
// its state to w under the key prefix i.
func (p *parallelOp) sync(ctx context.Context, b *Barrier, w checkpoint.StateWriter, out Emitter) error {
	for i := range p.subs {
		done := make(chan error, 1)
		msg := subMsg{barrier: b, done: done}
		if b != nil {
			msg.w = prefixWriter{w: w, prefix: byte(i + 1)}
		}
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
// its group key hashes to.
func (p *parallelOp) OnBatch(ctx context.Context, _ int, rec arrow.Record, out Emitter) error {
	n := int(rec.NumRows())
	if cap(p.hashes) < n {
		p.hashes = make([]uint64, n)
	}
	h := p.hashes[:n]
	for i := range h {
		h[i] = 0
	}
	for _, k := range p.node.Keys {
		hashColumn(rec.Column(k), h)
	}
	parts := uint64(len(p.subs))
	for _, b := range p.masks {
		b.Reserve(n)
	}
	for _, x := range h {
		t := int(x % parts)
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
	if err := p.sync(ctx, &b, w, out); err != nil {
		return err
	}
	return w.Set([]byte{parallelMetaKey}, binary.BigEndian.AppendUint64([]byte{parallelStateVersion}, uint64(len(p.subs))))
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

// prefixWriter writes a subtask's state under its key prefix.
type prefixWriter struct {
	w      checkpoint.StateWriter
	prefix byte
}

func (pw prefixWriter) Set(k, v []byte) error {
	return pw.w.Set(append([]byte{pw.prefix}, k...), v)
}

func (pw prefixWriter) Delete(k []byte) error {
	return pw.w.Delete(append([]byte{pw.prefix}, k...))
}

// memState is a subtask's restored state, in key order.
type memState struct {
	keys, vals [][]byte
}

func (m *memState) add(k, v []byte) {
	m.keys = append(m.keys, append([]byte(nil), k...))
	m.vals = append(m.vals, append([]byte(nil), v...))
}

// Scan implements checkpoint.StateReader.
func (m *memState) Scan(fn func(k, v []byte) error) error {
	for i := range m.keys {
		if err := fn(m.keys[i], m.vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// hashColumn mixes the values of col into h, row by row. The hash is a
// fixed function of the values (no per-process seed): a restored subtask
// must get the rows of the groups whose state it holds. Values the window
// operator groups together hash alike (-0 and 0; every NaN).
func hashColumn(col arrow.Array, h []uint64) {
	mix := func(i int, v uint64) {
		x := h[i] ^ (v + 0x9e3779b97f4a7c15 + h[i]<<6 + h[i]>>2)
		x ^= x >> 30
		x *= 0xbf58476d1ce4e5b9
		x ^= x >> 27
		h[i] = x
	}
	float := func(f float64) uint64 {
		switch {
		case f == 0:
			return 0
		case f != f:
			return 0x7ff8000000000001
		}
		return math.Float64bits(f)
	}
	for i := range h {
		if col.IsNull(i) {
			mix(i, 0x5bd1e995)
			continue
		}
		switch c := col.(type) {
		case *array.Int64:
			mix(i, uint64(c.Value(i)))
		case *array.Int32:
			mix(i, uint64(c.Value(i)))
		case *array.Timestamp:
			mix(i, uint64(c.Value(i)))
		case *array.Boolean:
			if c.Value(i) {
				mix(i, 1)
			} else {
				mix(i, 2)
			}
		case *array.Float64:
			mix(i, float(c.Value(i)))
		case *array.Float32:
			mix(i, float(float64(c.Value(i))))
		case *array.String:
			mix(i, fnv64(c.Value(i)))
		default:
			mix(i, fnv64(col.ValueStr(i)))
		}
	}
}

// fnv64 is the 64-bit FNV-1a hash of s.
func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
