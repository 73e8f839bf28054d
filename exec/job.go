package exec

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
)

// Options configure a job.
type Options struct {
	// Name identifies the job (checkpoints, file names, transactional ids).
	Name string
	// Connectors builds sources and sinks.
	Connectors Connectors
	// Operators builds the operators of plan nodes (package operators'
	// registry). Required.
	Operators Operators
	// Collect is the sink of connector "collect": the client of a bare
	// SELECT. Required only for such plans.
	Collect Sink
	Alloc   memory.Allocator // default memory.DefaultAllocator
	Clock   Clock            // default SystemClock
	// BatchSize is the preferred number of rows per source batch (default
	// 4096).
	BatchSize int
	Logger    *slog.Logger // default: discard
	// NoPrefetch reads each source in its task's goroutine even on a
	// machine with several cores (see prefetcher).
	NoPrefetch bool
	// MaxParallelism is the number of key groups of keyed state (default
	// state.DefaultMaxParallelism), passed to operators; the hash exchange
	// routes by it.
	MaxParallelism int
	// CheckpointingMode is how tasks with several inputs align barriers
	// (default ExactlyOnce).
	CheckpointingMode CheckpointingMode

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
	// Member, when set, runs the job as one member of a consumer group
	// (package cluster): its sources read only the member's partitions and
	// its sink commits their offsets in its transactions. Such a job needs
	// a Store (checkpoints are its transactions' boundaries) and must not
	// restore from it: the group's committed offsets are the truth.
	Member *Member
}

func (o Options) withDefaults() Options {
	if o.Alloc == nil {
		o.Alloc = memory.DefaultAllocator
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxParallelism <= 0 {
		o.MaxParallelism = state.DefaultMaxParallelism
	}
	return o
}

// Job is one running dataflow: tasks of chained nodes, each running as
// subtasks, connected by bounded channels; Run drives it.
type Job struct {
	opts    Options
	graph   *plan.Graph
	tasks   []*task
	taskOf  map[plan.Node]*task
	nodeIDs []string // every node of the plan, inputs first
	// keepsLate marks the nodes with a plan.LateRows consumer, whose
	// operators get OperatorEnv.Late.
	keepsLate map[plan.Node]bool
	sources   []*sourceRunner
	sinks     []*sinkRunner
	// channels are every channel between subtasks, drained by Close.
	channels []*channel

	metricsMu sync.Mutex
	metrics   map[string][]*OperatorMetrics // per node id, per subtask
	// meters keep the encoded state size of each node (its subtasks
	// share one, as they share the node's state writer).
	meters map[string]*state.Meter

	events chan event
	// ended holds the nodes whose branch has ended, endedSubtasks how many
	// subtasks of a node reported so (the coordinator's).
	ended         map[plan.Node]bool
	endedSubtasks map[plan.Node]int

	coord          *checkpoint.Coordinator
	wake           chan struct{}
	nextID         uint64
	failedInARow   int // checkpoint writes that failed since the last success
	restoredFrom   atomic.Uint64
	lastCheckpoint atomic.Pointer[CheckpointStats]
	ctl            control
	started        time.Time
	closed         bool
}

// metricsOf returns the metrics of subtask i of node n.
func (j *Job) metricsOf(n plan.Node, i int) *OperatorMetrics {
	j.metricsMu.Lock()
	defer j.metricsMu.Unlock()
	if j.metrics == nil {
		j.metrics = map[string][]*OperatorMetrics{}
	}
	m := &OperatorMetrics{}
	j.metrics[n.ID()] = append(j.metrics[n.ID()], m)
	return m
}

// meterOf returns the state meter of node n.
func (j *Job) meterOf(n plan.Node) *state.Meter {
	j.metricsMu.Lock()
	defer j.metricsMu.Unlock()
	if j.meters == nil {
		j.meters = map[string]*state.Meter{}
	}
	m := j.meters[n.ID()]
	if m == nil {
		m = state.NewMeter()
		j.meters[n.ID()] = m
	}
	return m
}

func newCoordinator(opts Options) *checkpoint.Coordinator {
	return checkpoint.NewCoordinator(opts.CheckpointInterval, opts.Clock)
}

// eventKind is the kind of an event a subtask tells the coordinator.
type eventKind uint8

const (
	evExit         eventKind = iota // the subtask's goroutine returned err
	evEnded                         // node's branch ended (a source exhausted, a Finisher finished)
	evPreCommitted                  // a sink pre-committed checkpoint cp
	evCommitted                     // a sink is done with checkpoint cp
)

type event struct {
	kind    eventKind
	node    plan.Node
	subtask *subtask
	cp      *inflight
	err     error
}

// send tells the coordinator ev, unless ctx ends first.
func (j *Job) send(ctx context.Context, ev event) error {
	select {
	case j.events <- ev:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run runs the job until its output is complete — every source exhausted,
// or every sink's branch ended (a satisfied LIMIT) — and a final checkpoint
// (without a store: every sink's commit) made it durable; it then returns
// nil. It returns an error when a task fails, ErrStopped after a requested
// stop, and ctx's error when ctx is cancelled (nothing is committed beyond
// the last checkpoint).
//
// Run's goroutine is the coordinator: it starts every subtask's goroutine,
// triggers checkpoints at the sources, commits them once every sink
// pre-committed, and serves savepoint and stop requests. A job of one task
// at parallelism 1 runs in one goroutine besides it (and its source's
// prefetcher), with no channel between its operators.
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
	tctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	running := 0
	for _, t := range j.tasks {
		for _, s := range t.subs {
			running++
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.run(tctx)
				select {
				case j.events <- event{kind: evExit, subtask: s, err: err}:
				case <-tctx.Done():
				}
			}()
		}
	}
	return j.coordinate(ctx, running)
}

// coordinate is Run's loop, until the job ends.
func (j *Job) coordinate(ctx context.Context, running int) (err error) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var cur *inflight // the checkpoint in flight
	defer func() {
		var reqs []savepointReq
		if cur != nil {
			reqs = cur.reqs
		}
		j.ctl.end(err, reqs)
	}()
	final := false // the final checkpoint was started
	var finalErr error
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-j.events:
			switch ev.kind {
			case evExit:
				if ev.err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					return ev.err
				}
				running--
				if running == 0 {
					return finalErr
				}
			case evEnded:
				if j.nodeEnded(ev.node) && !final && cur == nil {
					final = true
					cur = j.startCheckpoint(true, nil)
				}
			case evPreCommitted:
				if err := cur.preCommitted(ctx); err != nil {
					return err
				}
			case evCommitted:
				done, err := cur.committed(ctx)
				if err != nil {
					return err
				}
				if !done {
					continue
				}
				c := cur
				cur = nil
				if c.final {
					finalErr = c.err
					if finalErr != nil {
						return finalErr
					}
					continue
				}
				stop, err := c.finish(ctx)
				if err != nil {
					return err
				}
				if stop {
					return ErrStopped
				}
				if j.allSinksEnded() {
					final = true
					cur = j.startCheckpoint(true, nil)
				}
			}
		case <-tick.C:
		case <-j.wake:
		}
		if cur != nil || final {
			continue
		}
		reqs, stop := j.ctl.take()
		switch {
		case len(reqs) > 0:
			cur = j.startCheckpoint(false, reqs)
		case stop:
			return ErrStopped
		case j.coord != nil && j.coord.Due(j.opts.Clock.Now()):
			cur = j.startCheckpoint(false, nil)
		}
	}
}

// nodeEnded records that node n's branch ended (for a subtask of it; a
// node of several subtasks ends when all did) and propagates: a node ends
// when all its inputs have. It reports whether every sink has ended.
func (j *Job) nodeEnded(n plan.Node) bool {
	j.endedSubtasks[n]++
	if j.endedSubtasks[n] < parallelismOf(n) {
		return j.allSinksEnded()
	}
	j.ended[n] = true
	for _, x := range j.graph.Nodes() {
		if j.ended[x] || len(x.Inputs()) == 0 {
			continue
		}
		all := true
		for _, in := range x.Inputs() {
			all = all && j.ended[in]
		}
		if all {
			j.ended[x] = true
		}
	}
	return j.allSinksEnded()
}

func (j *Job) allSinksEnded() bool {
	for _, s := range j.graph.Sinks {
		if !j.ended[s] {
			return false
		}
	}
	return true
}

// Close releases the job's resources. Run calls it; call it yourself only
// for a job that was built but never run.
func (j *Job) Close() error {
	if j.closed {
		return nil
	}
	j.closed = true
	var errs []error
	for _, t := range j.tasks {
		for _, s := range t.subs {
			errs = append(errs, s.close())
		}
	}
	for _, c := range j.channels {
		c.drain()
	}
	return errors.Join(errs...)
}

// Stats is a snapshot of a job's counters.
type Stats struct {
	RecordsIn   int64 // rows read by the sources
	Malformed   int64 // source records skipped as malformed
	RecordsOut  int64 // rows written to the sinks
	LateRecords int64 // rows dropped as late, over all operators
	// StateEntries counts open (window, key) accumulators.
	StateEntries int64
	// StateBytes is the encoded size of the operators' state as of their
	// last checkpoint (OperatorStats.StateBytes summed).
	StateBytes int64
	// Watermark is the event time the sinks have reached: the minimum
	// over the tasks that hold a sink.
	Watermark Watermark
	// RestoredFrom is the checkpoint the job started from (0: fresh).
	RestoredFrom   uint64
	LastCheckpoint *CheckpointStats // nil before the first
	// SourceLag is the records not yet read per source split, for sources
	// that know it (Kafka partitions); nil otherwise.
	SourceLag map[string]int64
	// Operators has the counters of each node of the plan between the
	// sources and the sinks, in plan order (inputs first), summed over its
	// subtasks.
	Operators []OperatorStats
	// Tasks describes the job's tasks (see Job.Tasks).
	Tasks []TaskInfo
}

// OperatorStats are one operator's counters.
type OperatorStats struct {
	ID           string // the plan node id, e.g. "3-window-agg"
	RecordsIn    int64
	RecordsOut   int64
	LateRecords  int64
	StateEntries int64
	// StateBytes is the encoded size (keys and values) of the operator's
	// state as of its last checkpoint, over its subtasks: what a restore
	// reads. It is maintained as the operator writes its state (a
	// state.Meter), recomputed once at a restore, and 0 for a job without
	// checkpoints.
	StateBytes int64
}

// Stats returns the job's counters. Safe to call from any goroutine.
func (j *Job) Stats() Stats {
	s := Stats{
		RestoredFrom:   j.restoredFrom.Load(),
		LastCheckpoint: j.lastCheckpoint.Load(),
		Watermark:      MaxWatermark,
		Tasks:          j.Tasks(),
	}
	for _, r := range j.sources {
		s.RecordsIn += r.metrics.Records.Load()
		s.Malformed += r.metrics.Malformed.Load()
		if lag := r.metrics.Lag(); lag != nil {
			if s.SourceLag == nil {
				s.SourceLag = map[string]int64{}
			}
			for k, v := range lag {
				s.SourceLag[k] += v
			}
		}
	}
	for _, r := range j.sinks {
		s.RecordsOut += r.rows.Load()
	}
	sawSink := false
	for _, t := range j.tasks {
		if !slices.ContainsFunc(t.nodes, func(n plan.Node) bool { _, ok := n.(*plan.Sink); return ok }) {
			continue
		}
		for _, st := range t.subs {
			sawSink = true
			s.Watermark = min(s.Watermark, Watermark(st.wmPublic.Load()))
		}
	}
	if !sawSink {
		s.Watermark = MinWatermark
	}
	j.metricsMu.Lock()
	defer j.metricsMu.Unlock()
	for _, n := range j.graph.Nodes() {
		switch n.(type) {
		case *plan.Source, *plan.Sink:
			continue
		}
		o := OperatorStats{ID: n.ID()}
		for _, m := range j.metrics[n.ID()] {
			o.RecordsIn += m.RecordsIn.Load()
			o.RecordsOut += m.RecordsOut.Load()
			o.LateRecords += m.LateRecords.Load()
			o.StateEntries += m.StateEntries.Load()
		}
		if m := j.meters[n.ID()]; m != nil {
			o.StateBytes = m.Bytes()
		}
		s.LateRecords += o.LateRecords
		s.StateEntries += o.StateEntries
		s.StateBytes += o.StateBytes
		s.Operators = append(s.Operators, o)
	}
	return s
}

// TriggerCheckpoint asks for a checkpoint at the next batch boundary. It
// is a no-op for a job without a store.
func (j *Job) TriggerCheckpoint() {
	if c := j.coord; c != nil {
		c.Trigger()
		j.poke()
	}
}

// poke wakes the coordinator.
func (j *Job) poke() {
	select {
	case j.wake <- struct{}{}:
	default:
	}
}
