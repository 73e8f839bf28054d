package exec

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
)

// subtask is one instance of a task, driven by one goroutine (run): it
// reads its source or its input channels, pushes batches through its
// chained nodes (plain function calls, no channel hop inside a task),
// advances event time through them, and snapshots them at barriers.
type subtask struct {
	j      *Job
	t      *task
	index  int
	nodes  []*chained // in chain order: inputs before consumers
	src    *sourceRunner
	inputs []input
	notify chan struct{} // poked by the senders of a multi-input subtask

	valve   *watermarkValve // over inputs
	align   *aligner
	wm      Watermark // event time of the subtask's nodes
	idleOut bool      // the subtask told its consumers it is idle

	// Processing-time timers (see ProcessingTimer): timers is set when a
	// node has them; wake fires while one is pending.
	timers bool
	wake   *time.Timer
	armed  bool

	wmPublic  atomic.Int64 // wm, for Stats
	alignment atomic.Int64 // ns the last completed barrier waited
}

// input is one input channel of a subtask and the index of the plan
// input of the task's first node it carries.
type input struct {
	ch *channel
	in int
}

// chained is one node of a subtask: an operator, a sink, a source (whose
// rows it emits) or a pass-through (an exchange inside a task).
type chained struct {
	s     *subtask
	node  plan.Node
	id    string
	op    Operator
	fin   Finisher
	timer ProcessingTimer
	sink  *sinkRunner
	m     *OperatorMetrics
	meter *state.Meter // the node's, shared by its subtasks
	outs  []link       // chained consumers in the same subtask
	prod  *chained     // the chained producer of input 0 (nil: the task's input)
	delay WatermarkDelayer
	wmIn  Watermark  // the watermark the node last received
	wmOut Watermark  // the watermark the node last passed on
	edges []*outEdge // consumers in other tasks
	// late holds the chained consumers of the rows the operator drops as
	// late (plan.LateRows): they get only those, through lateEmitter, as
	// do the edges marked late.
	late  []link
	ended bool // a Finisher that finished
}

// link is a chained consumer and the input of it a node feeds.
type link struct {
	c  *chained
	in int
}

// node returns the chained node of plan node n.
func (s *subtask) node(n plan.Node) *chained {
	for _, c := range s.nodes {
		if c.node == n {
			return c
		}
	}
	panic(fmt.Sprintf("exec: node %s is not in task %s", n.ID(), s.t.id))
}

// newSubtask builds subtask i of t.
func (j *Job) newSubtask(t *task, i int) (*subtask, error) {
	s := &subtask{j: j, t: t, index: i, wm: MinWatermark}
	s.wmPublic.Store(int64(MinWatermark))
	for k, n := range t.nodes {
		c := &chained{s: s, node: n, id: n.ID(), m: j.metricsOf(n, i), meter: j.meterOf(n), wmIn: MinWatermark, wmOut: MinWatermark}
		s.nodes = append(s.nodes, c) // first, so that Close finds what was built
		switch x := n.(type) {
		case *plan.Source:
			r, err := j.newSourceRunner(x, s)
			if err != nil {
				return s, err
			}
			s.src = r
		case *plan.Sink:
			r, err := j.newSinkRunner(x)
			if err != nil {
				return s, err
			}
			c.sink = r
		case *plan.Exchange, *plan.LateRows:
		default:
			env := OperatorEnv{Alloc: j.opts.Alloc, Clock: j.opts.Clock,
				Logger: j.opts.Logger, Metrics: c.m, Subtask: i, Parallelism: t.parallelism, MaxParallelism: j.opts.MaxParallelism,
				KeyGroups: state.RangeFor(i, t.parallelism, j.opts.MaxParallelism), Connectors: j.opts.Connectors}
			if j.keepsLate[n] {
				env.Late = lateEmitter{c}
			}
			op, err := j.opts.Operators.NewOperator(n, env)
			if err != nil {
				return s, err
			}
			c.op = op
			c.fin, _ = op.(Finisher)
			c.timer, _ = op.(ProcessingTimer)
			c.delay, _ = op.(WatermarkDelayer)
			s.timers = s.timers || c.timer != nil
		}
		if k > 0 {
			in := s.node(n.Inputs()[0])
			if _, ok := n.(*plan.LateRows); ok {
				in.late = append(in.late, link{c: c, in: 0})
			} else {
				in.outs = append(in.outs, link{c: c, in: 0})
			}
			c.prod = in
		}
	}
	return s, nil
}

// Emit implements Emitter: it pushes what node c emits into its
// consumers, chained ones by call, others over channels.
func (c *chained) Emit(ctx context.Context, rec arrow.Record) error {
	for _, o := range c.outs {
		if err := o.c.onBatch(ctx, o.in, rec); err != nil {
			return err
		}
	}
	for _, e := range c.edges {
		if e.late {
			continue
		}
		if err := e.batch(ctx, rec); err != nil {
			return err
		}
	}
	return nil
}

// lateEmitter is the Emitter of the rows operator c drops as late: it
// pushes them into c's LateRows consumers only.
type lateEmitter struct{ c *chained }

// Emit implements Emitter.
func (l lateEmitter) Emit(ctx context.Context, rec arrow.Record) error {
	for _, o := range l.c.late {
		if err := o.c.onBatch(ctx, o.in, rec); err != nil {
			return err
		}
	}
	for _, e := range l.c.edges {
		if !e.late {
			continue
		}
		if err := e.batch(ctx, rec); err != nil {
			return err
		}
	}
	return nil
}

// onBatch feeds rec into node c on input in.
func (c *chained) onBatch(ctx context.Context, in int, rec arrow.Record) error {
	switch {
	case c.op != nil:
		return c.op.OnBatch(ctx, in, rec, c)
	case c.sink != nil:
		c.m.RecordsIn.Add(rec.NumRows())
		c.sink.rows.Add(rec.NumRows())
		return c.sink.write(ctx, rec)
	}
	c.m.RecordsIn.Add(rec.NumRows())
	c.m.RecordsOut.Add(rec.NumRows())
	return c.Emit(ctx, rec)
}

// broadcast sends a non-data message on every edge leaving the subtask.
func (s *subtask) broadcast(ctx context.Context, m message) error {
	for _, c := range s.nodes {
		for _, e := range c.edges {
			if err := e.broadcast(ctx, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// advance moves the subtask's event time to wm through its nodes in chain
// order, so that what a node emits reaches its consumers before they see
// the watermark; then sends it on. A node sees the watermark its chained
// producer passed on (held back by a WatermarkDelayer), and the first node
// wm itself.
func (s *subtask) advance(ctx context.Context, wm Watermark) error {
	if wm <= s.wm {
		return nil
	}
	s.wm = wm
	s.wmPublic.Store(int64(wm))
	for _, c := range s.nodes {
		in := wm
		if c.prod != nil {
			in = c.prod.wmOut
		}
		if in <= c.wmIn {
			continue // held back above: nothing new for this node
		}
		c.wmIn = in
		if c.op != nil {
			if err := c.op.OnWatermark(ctx, in, c); err != nil {
				return fmt.Errorf("%s: %w", c.id, err)
			}
		}
		out := in
		if c.delay != nil {
			out = c.delay.OutputWatermark(in)
		}
		if out <= c.wmOut {
			continue
		}
		c.wmOut = out
		if c.sink != nil {
			if ws, ok := c.sink.sink.(WatermarkSink); ok {
				if err := ws.Watermark(ctx, int64(out)); err != nil {
					return fmt.Errorf("%s: %w", c.id, err)
				}
			}
		}
		for _, e := range c.edges {
			if err := e.broadcast(ctx, message{kind: msgWatermark, wm: out}); err != nil {
				return err
			}
		}
	}
	return nil
}

// setIdle tells the consumers that the subtask is idle (or active again).
func (s *subtask) setIdle(ctx context.Context, idle bool) error {
	if idle == s.idleOut {
		return nil
	}
	s.idleOut = idle
	for _, c := range s.nodes {
		if c.sink == nil {
			continue
		}
		if is, ok := c.sink.sink.(IdleSink); ok {
			if err := is.Idle(ctx, idle); err != nil {
				return fmt.Errorf("%s: %w", c.id, err)
			}
		}
	}
	kind := msgActive
	if idle {
		kind = msgIdle
	}
	return s.broadcast(ctx, message{kind: kind})
}

// checkFinished reports the Finishers that finished to the coordinator.
func (s *subtask) checkFinished(ctx context.Context) error {
	for _, c := range s.nodes {
		if c.fin != nil && !c.ended && c.fin.Finished() {
			c.ended = true
			if err := s.j.send(ctx, event{kind: evEnded, node: c.node, subtask: s}); err != nil {
				return err
			}
		}
	}
	return nil
}

// run drives the subtask until its final barrier has passed (nil), it
// fails, or ctx ends.
func (s *subtask) run(ctx context.Context) error {
	if err := s.checkFinished(ctx); err != nil {
		return err
	}
	if s.src != nil {
		return s.src.run(ctx)
	}
	if len(s.inputs) == 1 {
		ch := s.inputs[0].ch.ch
		for {
			if err := s.fireTimers(ctx); err != nil {
				return err
			}
			select {
			case m := <-ch:
				if done, err := s.handle(ctx, 0, m); done || err != nil {
					return err
				}
			case <-s.wakeup():
				s.armed = false
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	// Several inputs: take from whichever has something, skipping those
	// held by barrier alignment, and wait for a poke when none has.
	next := 0
	for {
		if err := s.fireTimers(ctx); err != nil {
			return err
		}
		got := false
		for k := range s.inputs {
			i := (next + k) % len(s.inputs)
			if s.align.blocked(i) {
				continue
			}
			select {
			case m := <-s.inputs[i].ch.ch:
				got = true
				next = i + 1
				if done, err := s.handle(ctx, i, m); done || err != nil {
					return err
				}
			default:
				continue
			}
			break
		}
		if got {
			continue
		}
		select {
		case <-s.notify:
		case <-s.wakeup():
			s.armed = false
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// timerPoll bounds how long a subtask waits before looking at its clock
// again while a processing-time timer is pending: an injected clock may
// jump at any moment.
const timerPoll = 50 * time.Millisecond

// fireTimers calls OnTimer on the nodes whose processing-time timer is
// due, in chain order, so that what a node emits reaches its chained
// consumers before their own timers fire.
func (s *subtask) fireTimers(ctx context.Context) error {
	if !s.timers {
		return nil
	}
	var now time.Time
	for _, c := range s.nodes {
		if c.timer == nil || c.op == nil {
			continue
		}
		at, ok := c.timer.NextTimer()
		if !ok {
			continue
		}
		if now.IsZero() {
			now = s.j.opts.Clock.Now()
		}
		if now.Before(at) {
			continue
		}
		if err := c.timer.OnTimer(ctx, now, c); err != nil {
			return fmt.Errorf("%s: %w", c.id, err)
		}
	}
	return s.checkFinished(ctx)
}

// wakeup returns a channel that delivers when the subtask should look at
// its timers again, or nil (never) when no timer is pending.
func (s *subtask) wakeup() <-chan time.Time {
	if !s.timers {
		return nil
	}
	var next time.Time
	for _, c := range s.nodes {
		if c.timer == nil || c.op == nil {
			continue
		}
		if at, ok := c.timer.NextTimer(); ok && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	if next.IsZero() {
		return nil
	}
	if s.armed {
		return s.wake.C
	}
	d := min(max(next.Sub(s.j.opts.Clock.Now()), time.Millisecond), timerPoll)
	if s.wake == nil {
		s.wake = time.NewTimer(d)
	} else {
		s.wake.Reset(d)
	}
	s.armed = true
	return s.wake.C
}

// handle processes message m from input channel i. done is set after the
// final barrier.
func (s *subtask) handle(ctx context.Context, i int, m message) (done bool, err error) {
	switch m.kind {
	case msgBatch:
		err := s.nodes[0].onBatch(ctx, s.inputs[i].in, m.rec)
		m.rec.Release()
		if err != nil {
			return false, err
		}
		return false, s.checkFinished(ctx)
	case msgWatermark:
		if err := s.advance(ctx, s.valve.inputWatermark(i, m.wm)); err != nil {
			return false, err
		}
		return false, s.setIdle(ctx, false)
	case msgIdle:
		wm := s.valve.setIdle(i)
		if err := s.advance(ctx, wm); err != nil {
			return false, err
		}
		return false, s.setIdle(ctx, s.valve.allIdle())
	case msgActive:
		if err := s.advance(ctx, s.valve.setActive(i)); err != nil {
			return false, err
		}
		return false, s.setIdle(ctx, false)
	case msgBarrier:
		complete, took, err := s.align.receive(i, m.cp, s.j.opts.Clock.Now())
		if err != nil || !complete {
			return false, err
		}
		s.alignment.Store(int64(took))
		m.cp.recordAlignment(s, took)
		if err := s.barrier(ctx, m.cp); err != nil {
			return false, err
		}
		return m.cp.final, nil
	}
	return false, fmt.Errorf("exec: unknown message kind %d", m.kind)
}

// barrier snapshots the subtask's nodes at checkpoint cp in chain order
// (what a node emits while snapshotting reaches its consumers before their
// own snapshot), pre-commits its sinks, and forwards the barrier.
func (s *subtask) barrier(ctx context.Context, cp *inflight) error {
	b := cp.barrier()
	for _, c := range s.nodes {
		switch {
		case c.op != nil:
			if cp.cp != nil {
				if err := c.op.OnBarrier(ctx, b, cp.writer(c), c); err != nil {
					return fmt.Errorf("checkpoint %d: %s: %w", cp.id, c.id, err)
				}
			}
		case c.sink != nil:
			if err := c.sink.barrier(ctx, s.j, c.id, cp); err != nil {
				return err
			}
		}
		for _, e := range c.edges {
			if err := e.broadcast(ctx, message{kind: msgBarrier, cp: cp}); err != nil {
				return err
			}
		}
	}
	return nil
}

// close closes the subtask's operators, source and sink.
func (s *subtask) close() error {
	var errs []error
	if s.wake != nil {
		s.wake.Stop()
	}
	for _, c := range s.nodes {
		if c.op != nil {
			errs = append(errs, c.op.Close())
			c.op = nil
		}
		if c.sink != nil {
			errs = append(errs, c.sink.close())
		}
	}
	if s.src != nil {
		errs = append(errs, s.src.close())
	}
	return errors.Join(errs...)
}
