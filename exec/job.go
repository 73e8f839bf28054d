package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/plan"
)

// Options configure a job.
type Options struct {
	// Name identifies the job (checkpoints, file names, transactional ids).
	Name string
	// Connectors builds sources and sinks.
	Connectors Connectors
	// Collect is the sink of connector "collect": the client of a bare
	// SELECT. Required only for such plans.
	Collect Sink
	Alloc   memory.Allocator // default memory.DefaultAllocator
	Clock   Clock            // default SystemClock
	// BatchSize is the preferred number of rows per source batch (default
	// 4096).
	BatchSize int
	Logger    *slog.Logger // default: discard
	// NoPrefetch reads the source in Run's goroutine even on a machine
	// with several cores (see prefetcher).
	NoPrefetch bool
	// Parallelism is the number of subtasks of each keyed window
	// aggregation (default 1; see parallelOp). Output order across
	// subtasks is not deterministic.
	Parallelism int

	// Store, when set, makes the job checkpointed: Run restores the newest
	// valid checkpoint in it and takes one every CheckpointInterval (and a
	// final one when the sources are exhausted).
	Store *checkpoint.Store
	// CheckpointInterval is the time between checkpoints; <= 0 takes only
	// the final one (and those triggered).
	CheckpointInterval time.Duration
	// AllowNonRestoredState drops checkpointed state of operators that are
	// no longer in the plan instead of refusing to start.
	AllowNonRestoredState bool
	// AllowRollback tells the sink that this run knowingly restores older
	// state than the output it may have committed (see
	// SinkConfig.AllowRollback). A job without a Store always starts over,
	// which its sink is told the same way.
	AllowRollback bool
	// OnCheckpoint, if set, is called from Run after each completed
	// checkpoint.
	OnCheckpoint func(CheckpointStats)
	// OnCheckpointFailed, if set, is called from Run after a checkpoint
	// failed to be written (it is already counted in the store's
	// failures).
	OnCheckpointFailed func(id uint64, err error)
	// TolerableFailedCheckpoints is how many checkpoints in a row may fail
	// to be written (a full disk, an I/O error) before the job fails, as
	// Flink's execution.checkpointing.tolerable-failed-checkpoints: 0, the
	// default, fails the job at the first failed checkpoint. A tolerated
	// failure is logged and counted, and the next checkpoint, one interval
	// later, retries; a final checkpoint is never tolerated.
	TolerableFailedCheckpoints int
}

// Job is one running query: a source, a chain of operators and a sink,
// driven by one goroutine in Run.
type Job struct {
	opts          Options
	srcNode       *plan.Source
	source        Source
	wm            *watermarkGen
	ops           []Operator
	opIDs         []string
	metrics       []*OperatorMetrics
	sinkID        string
	sinkConnector string
	sink          Sink
	emit          []emitter // emit[i] feeds ops[i]; emit[len(ops)] feeds the sink
	pollers       []int     // indexes of ops that are Pollers

	srcMetrics SourceMetrics
	sinkRows   atomic.Int64
	watermark  Watermark
	wmPublic   atomic.Int64 // watermark, for Stats

	pre            *prefetcher   // nil: the source is read in Run's goroutine
	offsets        *splitOffsets // reused by offset when there is no prefetcher
	limitReached   bool          // a LIMIT passed all its rows: the job ends
	coord          *checkpoint.Coordinator
	nextID         uint64
	failedInARow   int // checkpoint writes that failed since the last success
	restoredFrom   atomic.Uint64
	lastCheckpoint atomic.Pointer[CheckpointStats]
	ctl            control
	started        time.Time
}

// emitter pushes batches into operator next of a job (or its sink).
type emitter struct {
	j    *Job
	next int
}

// Emit implements Emitter.
func (e emitter) Emit(ctx context.Context, rec arrow.Record) error {
	return e.j.push(ctx, e.next, rec)
}

func (j *Job) push(ctx context.Context, i int, rec arrow.Record) error {
	if i == len(j.ops) {
		j.sinkRows.Add(rec.NumRows())
		return j.sink.Write(ctx, rec)
	}
	return j.ops[i].OnBatch(ctx, 0, rec, j.emit[i+1])
}

// Build builds the operators of a plan whose root is a sink. Only linear
// plans (one source, operators with one input) exist today.
func Build(root *plan.Sink, opts Options) (*Job, error) {
	if opts.Alloc == nil {
		opts.Alloc = memory.DefaultAllocator
	}
	if opts.Clock == nil {
		opts.Clock = SystemClock{}
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	j := &Job{opts: opts, sinkID: root.ID(), sinkConnector: root.Connector, watermark: MinWatermark, nextID: 1}
	j.wmPublic.Store(int64(MinWatermark))
	if opts.Store != nil {
		j.coord = checkpoint.NewCoordinator(opts.CheckpointInterval, opts.Clock)
	}
	// Walk from the sink down to the source, then build source-first.
	var chain []plan.Node
	n := root.Input
	for {
		if s, ok := n.(*plan.Source); ok {
			j.srcNode = s
			break
		}
		ins := n.Inputs()
		if len(ins) != 1 {
			return nil, fmt.Errorf("exec: operator %s has %d inputs; only linear plans are supported", n.ID(), len(ins))
		}
		chain = append(chain, n)
		n = ins[0]
	}
	for i := len(chain) - 1; i >= 0; i-- {
		m := &OperatorMetrics{}
		op, err := j.buildOperator(chain[i], m)
		if err != nil {
			j.closeOps()
			return nil, err
		}
		if _, ok := op.(Poller); ok {
			j.pollers = append(j.pollers, len(j.ops))
		}
		j.ops = append(j.ops, op)
		j.opIDs = append(j.opIDs, chain[i].ID())
		j.metrics = append(j.metrics, m)
	}
	for i := 0; i <= len(j.ops); i++ {
		j.emit = append(j.emit, emitter{j: j, next: i})
	}
	if w := j.srcNode.Watermark; w != nil {
		g, err := newWatermarkGen(w, j.srcNode.Schema(), opts.Alloc)
		if err != nil {
			j.closeOps()
			return nil, fmt.Errorf("exec: %s: %w", j.srcNode.ID(), err)
		}
		j.wm = g
	}
	var et *EventTime
	if w := j.srcNode.Watermark; w != nil && w.TimeCol >= 0 {
		et = &EventTime{Column: w.TimeCol, MaxFuture: time.Duration(w.MaxFuture) * time.Millisecond}
	}
	var err error
	j.source, err = opts.Connectors.NewSource(j.srcNode.Connector, SourceConfig{
		Table: j.srcNode.Table, Schema: j.srcNode.Schema(), Options: j.srcNode.Options, Metadata: j.srcNode.Metadata,
		BatchSize: opts.BatchSize, Alloc: opts.Alloc, Clock: opts.Clock, Metrics: &j.srcMetrics,
		Logger: opts.Logger, EventTime: et,
	})
	if err != nil {
		j.closeOps()
		return nil, fmt.Errorf("exec: source %s: %w", j.srcNode.Table, err)
	}
	if root.Connector == "collect" {
		if opts.Collect == nil {
			j.Close()
			return nil, errors.New("exec: a query for a client needs Options.Collect")
		}
		j.sink = opts.Collect
	} else {
		j.sink, err = opts.Connectors.NewSink(root.Connector, SinkConfig{
			Table: root.Table, Schema: root.Schema(), Options: root.Options, Metadata: root.Metadata,
			Alloc: opts.Alloc, Clock: opts.Clock, JobName: opts.Name, Logger: opts.Logger,
			AllowRollback: opts.AllowRollback || opts.Store == nil,
		})
		if err != nil {
			j.Close()
			return nil, fmt.Errorf("exec: sink %s: %w", root.Table, err)
		}
	}
	return j, nil
}

// buildOperator is the one place that maps plan nodes to operators.
func (j *Job) buildOperator(n plan.Node, m *OperatorMetrics) (Operator, error) {
	opts := j.opts
	switch n := n.(type) {
	case *plan.Limit:
		return newLimit(n, m, func() { j.limitReached = true }), nil
	case *plan.Calc:
		return newCalc(n, m, opts.Alloc)
	case *plan.WindowAssign:
		return newWindowAssign(n, m, opts.Alloc)
	case *plan.WindowAgg:
		if opts.Parallelism > 1 && len(n.Keys) > 0 {
			return newParallelWindowAgg(n, opts.Parallelism, m, opts.Alloc)
		}
		return NewWindowAgg(n, m, opts.Alloc)
	}
	return nil, fmt.Errorf("exec: no operator for plan node %s (%T)", n.ID(), n)
}

// Run runs the job until its bounded sources are exhausted (it returns nil
// after the final watermark fired every window and the sink committed), an
// error occurs, or ctx is cancelled (it returns ctx's error; nothing is
// committed beyond the last checkpoint).
func (j *Job) Run(ctx context.Context) (err error) {
	defer func() {
		if cerr := j.Close(); err == nil {
			err = cerr
		}
		// A cancelled job returns ctx's error itself, whichever operator or
		// checkpoint noticed the cancellation first and wrapped it.
		if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
			err = cerr
		}
	}()
	j.started = j.opts.Clock.Now()
	if err := j.restore(ctx); err != nil {
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if j.coord != nil && j.coord.Due(j.opts.Clock.Now()) {
			if err := j.tolerate(j.checkpoint(ctx, false)); err != nil {
				return err
			}
		}
		if j.limitReached {
			return j.end(ctx)
		}
		if stop, err := j.serveControl(ctx); err != nil || stop {
			if err == nil {
				err = ErrStopped
			}
			return err
		}
		rec, split, err := j.read(ctx)
		if err == io.EOF {
			return j.finish(ctx)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("source %s: %w", j.srcNode.Table, err)
		}
		if err := j.poll(ctx); err != nil {
			return err
		}
		if rec == nil {
			// Nothing to read now: an idle split may release the watermark.
			if j.wm != nil && j.wm.idle > 0 {
				if err := j.advance(ctx, j.wm.current(j.opts.Clock.Now(), j.splits())); err != nil {
					return err
				}
			}
			continue
		}
		err = j.onSourceBatch(ctx, rec, split)
		rec.Release()
		if err != nil {
			return err
		}
	}
}

func (j *Job) onSourceBatch(ctx context.Context, rec arrow.Record, split int) error {
	if rec.NumRows() == 0 {
		return nil
	}
	if err := j.push(ctx, 0, rec); err != nil {
		return err
	}
	if j.wm == nil {
		return nil
	}
	wm, err := j.wm.observe(rec, split, j.opts.Clock.Now(), j.splits())
	if err != nil {
		return fmt.Errorf("source %s: %w", j.srcNode.Table, err)
	}
	return j.advance(ctx, wm)
}

// poll passes on the output of operators that produce it asynchronously.
func (j *Job) poll(ctx context.Context) error {
	for _, i := range j.pollers {
		if err := j.ops[i].(Poller).Poll(ctx, j.emit[i+1]); err != nil {
			return fmt.Errorf("%s: %w", j.opIDs[i], err)
		}
	}
	return nil
}

// read reads the next batch, from the prefetcher when there is one.
func (j *Job) read(ctx context.Context) (arrow.Record, int, error) {
	if j.pre != nil {
		return j.pre.read(ctx)
	}
	return j.source.Read(ctx)
}

// offset is the source's position after the last batch the job consumed,
// per split; valid until the next read.
func (j *Job) offset() (*splitOffsets, error) {
	if j.pre != nil {
		return j.pre.offset, nil
	}
	if j.offsets == nil {
		j.offsets = newSplitOffsets()
	}
	return j.offsets, j.offsets.capture(j.source)
}

// splits is the number of splits of the source, 0 when it does not say.
func (j *Job) splits() int {
	if j.pre != nil {
		return j.pre.splits
	}
	return splitsOf(j.source)
}

// advance moves event time forward to wm through every operator in order.
func (j *Job) advance(ctx context.Context, wm Watermark) error {
	if wm <= j.watermark {
		return nil
	}
	j.watermark = wm
	j.wmPublic.Store(int64(wm))
	for i, op := range j.ops {
		if err := op.OnWatermark(ctx, wm, j.emit[i+1]); err != nil {
			return fmt.Errorf("%s: %w", j.opIDs[i], err)
		}
	}
	return nil
}

// finish ends a job whose source is exhausted: the final watermark fires
// every window, then the sink commits what it was given.
func (j *Job) finish(ctx context.Context) error {
	if err := j.advance(ctx, MaxWatermark); err != nil {
		return err
	}
	return j.end(ctx)
}

// end ends a job whose output is complete: a final checkpoint (or, without
// a store, the sink's commit).
func (j *Job) end(ctx context.Context) error {
	if j.opts.Store != nil {
		return j.tolerate(j.checkpoint(ctx, true))
	}
	if _, err := j.sink.PreCommit(ctx, 0); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	if err := j.sink.Commit(ctx, 0); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	return nil
}

func (j *Job) closeOps() error {
	var errs []error
	for _, op := range j.ops {
		errs = append(errs, op.Close())
	}
	j.ops = nil
	return errors.Join(errs...)
}

// Close releases the job's resources. Run calls it; call it yourself only
// for a job that was built but never run.
func (j *Job) Close() error {
	errs := []error{j.closeOps()}
	if j.pre != nil {
		j.pre.stop()
		j.pre = nil
	}
	if j.source != nil {
		errs = append(errs, j.source.Close())
		j.source = nil
	}
	if j.sink != nil {
		errs = append(errs, j.sink.Close())
		j.sink = nil
	}
	return errors.Join(errs...)
}

// Stats is a snapshot of a job's counters.
type Stats struct {
	RecordsIn   int64 // rows read by the source
	Malformed   int64 // source records skipped as malformed
	RecordsOut  int64 // rows written to the sink
	LateRecords int64 // rows dropped as late, over all operators
	// StateEntries counts open (window, key) accumulators.
	StateEntries int64
	Watermark    Watermark
	// RestoredFrom is the checkpoint the job started from (0: fresh).
	RestoredFrom   uint64
	LastCheckpoint *CheckpointStats // nil before the first
	// SourceLag is the records not yet read per source split, for sources
	// that know it (Kafka partitions); nil otherwise.
	SourceLag map[string]int64
	// Operators has the counters of each operator between the source and
	// the sink, in plan order (sources first).
	Operators []OperatorStats
}

// OperatorStats are one operator's counters.
type OperatorStats struct {
	ID           string // the plan node id, e.g. "3-window-agg"
	RecordsIn    int64
	RecordsOut   int64
	LateRecords  int64
	StateEntries int64
}

// Stats returns the job's counters. Safe to call from any goroutine.
func (j *Job) Stats() Stats {
	s := Stats{
		RecordsIn:      j.srcMetrics.Records.Load(),
		Malformed:      j.srcMetrics.Malformed.Load(),
		RecordsOut:     j.sinkRows.Load(),
		Watermark:      Watermark(j.wmPublic.Load()),
		RestoredFrom:   j.restoredFrom.Load(),
		LastCheckpoint: j.lastCheckpoint.Load(),
		SourceLag:      j.srcMetrics.Lag(),
	}
	s.Operators = make([]OperatorStats, len(j.metrics))
	for i, m := range j.metrics {
		s.LateRecords += m.LateRecords.Load()
		s.StateEntries += m.StateEntries.Load()
		s.Operators[i] = OperatorStats{ID: j.opIDs[i], RecordsIn: m.RecordsIn.Load(), RecordsOut: m.RecordsOut.Load(),
			LateRecords: m.LateRecords.Load(), StateEntries: m.StateEntries.Load()}
	}
	return s
}

// TriggerCheckpoint asks for a checkpoint at the next batch boundary. It
// is a no-op for a job without a store.
func (j *Job) TriggerCheckpoint() {
	if c := j.coord; c != nil {
		c.Trigger()
	}
}
