package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// sourceRunner drives one source in its subtask: it reads batches (a
// batch ahead, in a prefetcher, on several cores), pushes them into the
// nodes chained to the source, derives the source's watermark per split,
// and injects the barriers the coordinator asks for between batches. An
// exhausted source stays, sending nothing but barriers, until the final
// barrier passes, so that every checkpoint (the final one included) is
// aligned over all of a job's sources.
type sourceRunner struct {
	s         *subtask
	node      *plan.Source
	source    Source
	wm        *watermarkGen
	metrics   SourceMetrics
	pre       *prefetcher
	offsets   *splitOffsets // reused by offset when there is no prefetcher
	exhausted bool
	// taken: the watermarks of splits taken over from another process
	// were restored (restoreTaken) and are yet to be emitted.
	taken bool
	// waited is the time the runner has spent waiting in read: the source's
	// own clock for idleness (see idleClock).
	waited time.Duration

	barriers chan *inflight // from the coordinator; one in flight
	complete chan completed // checkpoints to report to a CheckpointListener
}

func (j *Job) newSourceRunner(n *plan.Source, s *subtask) (*sourceRunner, error) {
	r := &sourceRunner{s: s, node: n, barriers: make(chan *inflight, 1), complete: make(chan completed, 16)}
	if w := n.Watermark; w != nil {
		g, err := newWatermarkGen(w, n.Schema(), j.opts.Alloc)
		if err != nil {
			return nil, fmt.Errorf("exec: %s: %w", n.ID(), err)
		}
		r.wm = g
	}
	var et *EventTime
	if w := n.Watermark; w != nil && w.TimeCol >= 0 {
		et = &EventTime{Column: w.TimeCol, MaxFuture: time.Duration(w.MaxFuture) * time.Millisecond}
	}
	src, err := j.opts.Connectors.NewSource(n.Connector, SourceConfig{
		Table: n.Table, Schema: n.Schema(), Options: n.Options, Metadata: n.Metadata, Columns: n.Columns,
		BatchSize: j.opts.BatchSize, Alloc: j.opts.Alloc, Clock: j.opts.Clock, Metrics: &r.metrics,
		Logger: j.opts.Logger, EventTime: et, Member: j.opts.Member, Zone: n.Zone,
	})
	if err != nil {
		return nil, fmt.Errorf("exec: source %s: %w", n.Table, err)
	}
	r.source = src
	j.sources = append(j.sources, r)
	return r, nil
}

// open opens the source at offsets (empty: fresh) and starts its
// prefetcher.
func (r *sourceRunner) open(ctx context.Context, offsets map[string][]byte) error {
	if err := r.source.Open(ctx, offsets); err != nil {
		return fmt.Errorf("source %s: %w", r.node.Table, err)
	}
	if !r.s.j.opts.NoPrefetch && runtime.GOMAXPROCS(0) > 1 && prefetchable(r.source) {
		p, err := startPrefetch(ctx, r.source, 2, r.s.j.opts.Logger)
		if err != nil {
			return fmt.Errorf("source %s: %w", r.node.Table, err)
		}
		r.pre = p
	}
	return nil
}

// read reads the next batch, from the prefetcher when there is one, and
// adds the time it took to the idleness clock.
func (r *sourceRunner) read(ctx context.Context) (arrow.Record, int, error) {
	clock := r.s.j.opts.Clock
	start := clock.Now()
	defer func() { r.waited += clock.Now().Sub(start) }()
	if r.pre != nil {
		return r.pre.read(ctx)
	}
	return r.source.Read(ctx)
}

// idleClock is the time on which split idleness is measured: not the wall
// clock but the time the runner has spent waiting for the source (as
// Flink's idleness timer pauses while its source is backpressured). While
// the runner is held downstream (a slow sink, a checkpoint upload the sinks
// wait for, a full channel) the clock stands still, so a stall longer than
// the idle timeout does not mark every split idle and advance the
// watermark past rows still waiting in the source, which the operators
// would then drop as late. When the runner waits in read, the source is
// the bottleneck (with a prefetcher, it has nothing buffered), and the
// clock runs at the wall clock's pace.
func (r *sourceRunner) idleClock() time.Time {
	// From any fixed, non-zero time: watermarkGen takes the zero time for
	// "never".
	return time.Unix(0, 0).Add(r.waited)
}

// offset is the source's position after the last batch consumed, per
// split; valid until the next read.
func (r *sourceRunner) offset() (*splitOffsets, error) {
	if r.pre != nil {
		return r.pre.offset, nil
	}
	if r.offsets == nil {
		r.offsets = newSplitOffsets()
	}
	return r.offsets, r.offsets.capture(r.source)
}

// splits is the number of splits of the source, 0 when it does not say.
func (r *sourceRunner) splits() int {
	if r.pre != nil {
		return r.pre.splits
	}
	return splitsOf(r.source)
}

// run is the source subtask's loop.
func (r *sourceRunner) run(ctx context.Context) error {
	s := r.s
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		select {
		case cp := <-r.barriers:
			if err := r.barrier(ctx, cp); err != nil || cp.final {
				return err
			}
			continue
		default:
		}
		r.reportCompleted(ctx)
		if r.taken {
			// The splits taken over resume their event time at once, even
			// if no row comes.
			r.taken = false
			if err := s.advance(ctx, r.wm.valve.output()); err != nil {
				return err
			}
		}
		// Read returns within about 100ms when nothing comes, so timers
		// are looked at often enough.
		if err := s.fireTimers(ctx); err != nil {
			return err
		}
		if r.exhausted {
			select {
			case cp := <-r.barriers:
				if err := r.barrier(ctx, cp); err != nil || cp.final {
					return err
				}
			case c := <-r.complete:
				r.notify(ctx, c)
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		rec, split, err := r.read(ctx)
		if err == io.EOF {
			// The final watermark fires every window; the branch of the
			// source has ended.
			r.exhausted = true
			if err := s.setIdle(ctx, false); err != nil {
				return err
			}
			if err := s.advance(ctx, MaxWatermark); err != nil {
				return err
			}
			if err := s.j.send(ctx, event{kind: evEnded, node: r.node, subtask: s}); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("source %s: %w", r.node.Table, err)
		}
		if wr, ok := r.source.(WatermarkReporter); ok && rec == nil && r.wm == nil {
			if wm, ok := wr.Watermark(); ok {
				if err := s.advance(ctx, wm); err != nil {
					return err
				}
			}
		}
		if rec == nil {
			// Nothing to read now: an idle split may release the watermark.
			if r.wm != nil && r.wm.idle > 0 {
				if err := s.advance(ctx, r.wm.current(r.idleClock(), r.splits())); err != nil {
					return err
				}
				if err := s.setIdle(ctx, r.wm.valve.allIdle()); err != nil {
					return err
				}
			}
			continue
		}
		err = r.onBatch(ctx, rec, split)
		rec.Release()
		if err != nil {
			return err
		}
	}
}

func (r *sourceRunner) onBatch(ctx context.Context, rec arrow.Record, split int) error {
	if rec.NumRows() == 0 {
		return nil
	}
	s := r.s
	if err := s.setIdle(ctx, false); err != nil {
		return err
	}
	if err := s.nodes[0].Emit(ctx, rec); err != nil {
		return err
	}
	if err := s.checkFinished(ctx); err != nil {
		return err
	}
	if wr, ok := r.source.(WatermarkReporter); ok && r.wm == nil {
		if wm, ok := wr.Watermark(); ok {
			return s.advance(ctx, wm)
		}
		return nil
	}
	if r.wm == nil {
		return nil
	}
	wm, err := r.wm.observe(rec, split, r.idleClock(), r.splits())
	if err != nil {
		return fmt.Errorf("source %s: %w", r.node.Table, err)
	}
	return s.advance(ctx, wm)
}

// barrier injects checkpoint cp: the source's offset after the last batch
// it pushed is the barrier's position.
func (r *sourceRunner) barrier(ctx context.Context, cp *inflight) error {
	if cp.cp != nil {
		off, err := r.offset()
		if err != nil {
			return fmt.Errorf("checkpoint %d: source %s offsets: %w", cp.id, r.node.Table, err)
		}
		offsets, err := off.toMap()
		if err != nil {
			return fmt.Errorf("checkpoint %d: source %s offsets: %w", cp.id, r.node.Table, err)
		}
		id := r.node.ID()
		for split, o := range offsets {
			cp.cp.SetSourceOffset(id, split, o)
		}
		cp.cp.SetConnector(id, r.node.Connector)
		cp.recordOffset(r, offsets)
		if r.s.j.opts.Member != nil && r.wm != nil {
			cp.recordWatermarks(r, off.watermarks(r.wm.splitWatermarks()))
		}
		if err := r.snapshotWatermarks(cp.cp.Operator(id)); err != nil {
			return fmt.Errorf("checkpoint %d: %w", cp.id, err)
		}
	}
	return r.s.barrier(ctx, cp)
}

// notify tells the source that checkpoint c is durable, from the
// reading goroutine (the prefetcher's, when there is one).
func (r *sourceRunner) notify(ctx context.Context, c completed) {
	if r.pre != nil {
		r.pre.checkpointComplete(c.id, c.offsets)
		return
	}
	if l, ok := r.source.(CheckpointListener); ok {
		if err := l.CheckpointComplete(ctx, c.id, c.offsets); err != nil {
			r.s.j.opts.Logger.Warn("source checkpoint callback failed", "checkpoint", c.id, "err", err)
		}
	}
}

func (r *sourceRunner) reportCompleted(ctx context.Context) {
	for {
		select {
		case c := <-r.complete:
			r.notify(ctx, c)
		default:
			return
		}
	}
}

func (r *sourceRunner) close() error {
	if r.pre != nil {
		r.pre.stop()
		r.pre = nil
	}
	// Completions the subtask did not get to: offsets only move forward,
	// so the last one covers the others.
	var last *completed
	for {
		select {
		case c := <-r.complete:
			last = &c
			continue
		default:
		}
		break
	}
	if last != nil {
		if l, ok := r.source.(CheckpointListener); ok {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := l.CheckpointComplete(ctx, last.id, last.offsets); err != nil {
				r.s.j.opts.Logger.Warn("source checkpoint callback failed", "checkpoint", last.id, "err", err)
			}
			cancel()
		}
	}
	if r.source == nil {
		return nil
	}
	err := r.source.Close()
	r.source = nil
	return err
}

// sinkRunner is a sink in its subtask.
type sinkRunner struct {
	node      *plan.Sink
	sink      Sink
	connector string
	rows      atomic.Int64
	// zoned, when set, is the schema of the batches the sink is given:
	// its TIMESTAMP_LTZ columns are of the session zone's Arrow type
	// (plan.Sink.Zone).
	zoned *arrow.Schema
	// upstream are the sources whose rows reach the sink, and ops the ids
	// of the other nodes upstream of it: a job on several processes
	// commits their offsets and state with the sink's transaction.
	upstream map[*plan.Source]bool
	ops      []string
}

func (j *Job) newSinkRunner(n *plan.Sink) (*sinkRunner, error) {
	r := &sinkRunner{node: n, connector: n.Connector, zoned: zonedSchema(n), upstream: map[*plan.Source]bool{}}
	plan.Walk(n.Input, func(x plan.Node) {
		if src, ok := x.(*plan.Source); ok {
			r.upstream[src] = true
		} else if !slices.Contains(r.ops, x.ID()) {
			r.ops = append(r.ops, x.ID())
		}
	})
	if n.Connector == "collect" {
		if j.opts.Collect == nil {
			return nil, errors.New("exec: a query for a client needs Options.Collect")
		}
		r.sink = j.opts.Collect
	} else {
		s, err := j.opts.Connectors.NewSink(n.Connector, SinkConfig{
			Table: n.Table, Schema: n.Schema(), Options: n.Options, Metadata: n.Metadata,
			Alloc: j.opts.Alloc, Clock: j.opts.Clock, JobName: j.opts.Name, Logger: j.opts.Logger,
			AllowRollback: j.opts.AllowRollback || j.opts.Store == nil, Member: j.opts.Member,
		})
		if err != nil {
			return nil, fmt.Errorf("exec: sink %s: %w", n.Table, err)
		}
		if _, ok := s.(OffsetCommitter); j.opts.Member != nil && !ok {
			s.Close()
			return nil, fmt.Errorf("exec: sink %s: a job on several processes needs a sink that commits the input offsets with its output (a kafka table with 'sink.delivery-guarantee' = 'exactly-once')", n.Table)
		}
		r.sink = s
	}
	j.sinks = append(j.sinks, r)
	return r, nil
}

// barrier pre-commits the sink at cp, records its handle, tells the
// coordinator, and waits for the checkpoint's outcome: the sink commits
// only what a durable checkpoint covers.
func (r *sinkRunner) barrier(ctx context.Context, j *Job, id string, cp *inflight) error {
	if oc, ok := r.sink.(OffsetCommitter); ok && j.opts.Member != nil && cp.cp != nil {
		if wc, ok := r.sink.(WatermarkCommitter); ok {
			if err := wc.AddWatermarks(ctx, int64(cp.id), cp.splitWatermarks(r.upstream)); err != nil {
				return fmt.Errorf("checkpoint %d: sink watermarks: %w", cp.id, err)
			}
		}
		if err := oc.AddOffsets(ctx, int64(cp.id), cp.sourceOffsets(r.upstream)); err != nil {
			return fmt.Errorf("checkpoint %d: sink offsets: %w", cp.id, err)
		}
		if sc, ok := r.sink.(StateCommitter); ok {
			for _, op := range r.ops {
				each := func(fn func(key, value []byte, deleted bool) error) error { return cp.cp.EachWrite(op, fn) }
				if err := sc.AddState(ctx, int64(cp.id), op, each); err != nil {
					return fmt.Errorf("checkpoint %d: sink state of %s: %w", cp.id, op, err)
				}
			}
		}
	}
	handle, err := r.sink.PreCommit(ctx, int64(cp.id))
	if err != nil {
		if cp.cp == nil {
			return fmt.Errorf("sink: %w", err)
		}
		return fmt.Errorf("checkpoint %d: sink pre-commit: %w", cp.id, err)
	}
	if cp.cp != nil {
		cp.cp.Operator(id)
		cp.cp.SetSinkHandle(id, handle)
		cp.cp.SetConnector(id, r.connector)
	}
	if err := j.send(ctx, event{kind: evPreCommitted, cp: cp}); err != nil {
		return err
	}
	select {
	case <-cp.decided:
	case <-ctx.Done():
		return ctx.Err()
	}
	if cp.ok {
		if err := r.sink.Commit(ctx, int64(cp.id)); err != nil {
			if cp.cp == nil {
				return fmt.Errorf("sink: %w", err)
			}
			return fmt.Errorf("checkpoint %d: sink commit: %w", cp.id, err)
		}
	}
	return j.send(ctx, event{kind: evCommitted, cp: cp})
}

func (r *sinkRunner) close() error {
	if r.sink == nil {
		return nil
	}
	err := r.sink.Close()
	r.sink = nil
	return err
}

// zonedSchema returns the Arrow schema of n's batches with its
// TIMESTAMP_LTZ columns of the type that names n's zone, or nil when n
// has no zone or no such column.
func zonedSchema(n *plan.Sink) *arrow.Schema {
	if n.Zone.IsUTC() {
		return nil
	}
	fields := n.Schema().Arrow().Fields()
	has := false
	for i, f := range n.Schema().Fields {
		if f.Type.Kind == types.TimestampLTZ {
			fields[i].Type, has = n.Zone.ArrowLTZ(), true
		}
	}
	if !has {
		return nil
	}
	return arrow.NewSchema(fields, nil)
}

// write gives rec to the sink, its LTZ columns relabelled with the zone's
// type (sharing their buffers) when the sink has one.
func (r *sinkRunner) write(ctx context.Context, rec arrow.Record) error {
	if r.zoned == nil {
		return r.sink.Write(ctx, rec)
	}
	cols := make([]arrow.Array, rec.NumCols())
	for i, c := range rec.Columns() {
		t := r.zoned.Field(i).Type
		if arrow.TypeEqual(c.DataType(), t) {
			c.Retain()
			cols[i] = c
			continue
		}
		d := array.NewData(t, c.Len(), c.Data().Buffers(), nil, c.NullN(), c.Data().Offset())
		cols[i] = array.MakeFromData(d)
		d.Release()
	}
	out := array.NewRecord(r.zoned, cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	defer out.Release()
	return r.sink.Write(ctx, out)
}
