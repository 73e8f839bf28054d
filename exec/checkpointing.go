package exec

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/exec/state"
)

// CheckpointStats describes the last completed checkpoint of a job.
type CheckpointStats struct {
	ID       uint64
	Duration time.Duration
	Bytes    int64
	Time     time.Time
	// Alignment is the longest time a task's barrier waited for all its
	// inputs; Tasks has it per task (tasks with one input align at once).
	Alignment time.Duration
	Tasks     []TaskAlignment
	// Uploaded is the bytes the checkpoint uploaded to the checkpoint dir
	// (checkpoint.Options.CheckpointDir), UploadDuration how long that
	// took; both zero when checkpoints are local only.
	Uploaded       int64
	UploadDuration time.Duration
}

// TaskAlignment is how long one task's barrier waited for all its inputs
// (the longest over its subtasks).
type TaskAlignment struct {
	Task      string
	Alignment time.Duration
}

// restore reads the newest valid checkpoint of the job's store, checks
// that it fits the plan, and opens sources, operators and sinks from it.
// Without a store, or without a checkpoint, everything opens fresh.
func (j *Job) restore(ctx context.Context) error {
	var r *checkpoint.Restored
	if j.opts.Store != nil {
		var err error
		if r, err = j.opts.Store.Restore(); err != nil {
			return err
		}
		j.nextID = j.opts.Store.NextID()
	}
	if r != nil {
		if err := j.checkCompatible(r); err != nil {
			return err
		}
		j.opts.Logger.Info("restoring checkpoint", "job", j.opts.Name, "checkpoint", r.ID())
		j.restoredFrom.Store(r.ID())
	}
	if j.opts.Member != nil {
		// A member's sinks open first: a restarted process's transactional
		// sink fences (aborts) the transaction its previous run left open,
		// which may hold input offsets its sources (or another process's)
		// would otherwise wait for until the broker's transaction timeout.
		if err := j.openSinks(ctx, r); err != nil {
			return err
		}
	}
	for _, src := range j.sources {
		var offsets map[string][]byte
		if r != nil {
			offsets = r.SourceOffsets(src.node.ID())
			if err := src.restoreWatermarks(r.Operator(src.node.ID())); err != nil {
				return err
			}
		}
		if err := src.open(ctx, offsets); err != nil {
			return err
		}
		if j.opts.Member != nil {
			src.restoreTaken()
		}
	}
	metered := map[*state.Meter]bool{}
	for _, t := range j.tasks {
		for _, s := range t.subs {
			for _, c := range s.nodes {
				if c.op == nil {
					continue
				}
				if r != nil && !metered[c.meter] {
					// Once per node: its subtasks share the meter.
					metered[c.meter] = true
					if err := c.meter.Restore(r.Operator(c.id)); err != nil {
						return fmt.Errorf("restoring checkpoint %d: %s: state size: %w", r.ID(), c.id, err)
					}
				}
				var st checkpoint.StateReader
				if r != nil {
					var err error
					if st, err = j.subtaskState(r, t, s, c); err != nil {
						return err
					}
				}
				if err := c.op.Open(ctx, st); err != nil {
					if st != nil {
						return fmt.Errorf("restoring checkpoint %d: %w; if the query changed, start fresh with --fresh", j.restoredFrom.Load(), err)
					}
					return fmt.Errorf("%s: %w", c.id, err)
				}
			}
		}
	}
	if j.opts.Member == nil {
		return j.openSinks(ctx, r)
	}
	return nil
}

// openSinks opens the sinks from checkpoint r (nil: fresh).
func (j *Job) openSinks(ctx context.Context, r *checkpoint.Restored) error {
	for _, sk := range j.sinks {
		var handle []byte
		if r != nil {
			handle = r.SinkHandle(sk.node.ID())
		}
		if err := sk.sink.Open(ctx, handle); err != nil {
			return fmt.Errorf("sink: %w", err)
		}
	}
	return nil
}

// checkCompatible refuses a checkpoint whose stateful operators are not
// operators of this plan: the query changed, and its state would be lost
// or misread. AllowNonRestoredState drops such state instead.
func (j *Job) checkCompatible(r *checkpoint.Restored) error {
	ids := j.nodeIDs
	for _, op := range r.Operators() {
		if slices.Contains(ids, op) {
			continue
		}
		if j.opts.AllowNonRestoredState {
			j.opts.Logger.Warn("dropping state of an operator that is no longer in the plan", "operator", op)
			continue
		}
		return fmt.Errorf("checkpoint %d has state for operator %q, which is not in this query's plan (%s): the query changed; start fresh with --fresh or keep the old state with --allow-non-restored-state", r.ID(), op, strings.Join(ids, ", "))
	}
	for _, op := range r.Plan() {
		if !slices.Contains(ids, op) && !j.opts.AllowNonRestoredState {
			return fmt.Errorf("checkpoint %d was taken by a different plan (operator %q is gone; this plan has %s): the query changed; start fresh with --fresh or use --allow-non-restored-state", r.ID(), op, strings.Join(ids, ", "))
		}
	}
	return nil
}

// maxSplits bounds the split index a checkpoint may name.
const maxSplits = 1 << 20

// The source's watermark state: key "wm/<split>" → 8-byte watermark.
func (r *sourceRunner) snapshotWatermarks(w checkpoint.StateWriter) error {
	if r.wm == nil {
		return nil
	}
	for split, wm := range r.wm.splitWatermarks() {
		if err := w.Set([]byte("wm/"+strconv.Itoa(split)), binary.BigEndian.AppendUint64(nil, uint64(wm))); err != nil {
			return err
		}
	}
	return nil
}

func (r *sourceRunner) restoreWatermarks(st checkpoint.StateReader) error {
	if st == nil || r.wm == nil {
		return nil
	}
	return st.Scan(func(k, v []byte) error {
		s, ok := strings.CutPrefix(string(k), "wm/")
		split, err := strconv.Atoi(s)
		if !ok || err != nil || len(v) != 8 {
			return fmt.Errorf("source %s: bad watermark state %q", r.node.ID(), k)
		}
		if split < 0 || split > maxSplits {
			return fmt.Errorf("source %s: bad watermark state %q", r.node.ID(), k)
		}
		r.wm.restoreSplit(split, Watermark(binary.BigEndian.Uint64(v)))
		return nil
	})
}

// commitError is a checkpoint that could not be written to the store.
type commitError struct {
	id    uint64
	final bool
	err   error
}

func (e *commitError) Error() string { return fmt.Sprintf("checkpoint %d failed: %v", e.id, e.err) }

func (e *commitError) Unwrap() error { return e.err }

// tolerate returns nil for a failed checkpoint write within
// TolerableFailedCheckpoints in a row (logging it), else err, explained.
func (j *Job) tolerate(err error) error {
	var ce *commitError
	if !errors.As(err, &ce) {
		return err
	}
	n := j.opts.TolerableFailedCheckpoints
	if errors.Is(ce.err, checkpoint.ErrOutcomeUnknown) {
		// The checkpoint may be restored after all: the sinks must not
		// write past its barrier, so the job stops here.
		return fmt.Errorf("%w; the job stops so that its output stays exactly what the next run resumes from", err)
	}
	if !ce.final && j.failedInARow <= n {
		j.opts.Logger.Error("checkpoint failed; retrying at the next interval", "job", j.opts.Name, "checkpoint", ce.id,
			"failed_in_a_row", j.failedInARow, "tolerable", n, "err", ce.err)
		return nil
	}
	if ce.final {
		return fmt.Errorf("%w (the final checkpoint; the job's output is not committed, and the next run resumes from the last completed checkpoint)", err)
	}
	return fmt.Errorf("%w: %d checkpoint(s) in a row failed, more than execution.checkpointing.tolerable-failed-checkpoints = %d; the next run resumes from the last completed checkpoint", err, j.failedInARow, n)
}

// inflight is one checkpoint on its way through the graph: the barrier
// messages carry it, so every subtask writes into the same Pending. Its
// counters belong to the coordinator; the rest is guarded by mu or set
// before decided is closed.
type inflight struct {
	j         *Job
	id        uint64
	final     bool
	savepoint bool
	reqs      []savepointReq
	cp        *checkpoint.Pending // nil without a store (the final commit only)
	start     time.Time

	sinks, pre, done int // coordinator: sink subtasks, pre-committed, done

	decided chan struct{} // closed once the checkpoint is durable or failed
	ok      bool          // durable: the sinks commit
	err     error         // why not

	mu      sync.Mutex
	align   map[string]time.Duration
	offsets map[*sourceRunner]map[string][]byte
	// wms are the split watermarks every source had at the barrier, by
	// split name, for a job on several processes (WatermarkCommitter).
	wms   map[*sourceRunner]map[string]Watermark
	locks map[string]*sync.Mutex // per parallel node: its subtasks share one writer
}

// barrier is the barrier operators see.
func (c *inflight) barrier() Barrier {
	return Barrier{CheckpointID: int64(c.id), Savepoint: c.savepoint}
}

func (c *inflight) recordAlignment(s *subtask, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.align[s.t.id] = max(c.align[s.t.id], d)
}

func (c *inflight) recordOffset(r *sourceRunner, off map[string][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offsets[r] = off
}

// startCheckpoint asks every source to inject the barrier of a new
// checkpoint: the next id, or, without a store, the final commit.
func (j *Job) startCheckpoint(final bool, reqs []savepointReq) *inflight {
	c := &inflight{j: j, final: final, reqs: reqs, start: j.opts.Clock.Now(), decided: make(chan struct{}),
		align: map[string]time.Duration{}, offsets: map[*sourceRunner]map[string][]byte{}, wms: map[*sourceRunner]map[string]Watermark{}, locks: map[string]*sync.Mutex{}}
	for _, r := range reqs {
		c.savepoint = c.savepoint || r.dir != ""
	}
	if j.opts.Store != nil {
		c.id = j.nextID
		c.cp = j.opts.Store.Begin(c.id)
	}
	for _, t := range j.tasks {
		if t.parallelism > 1 {
			for _, n := range t.nodes {
				c.locks[n.ID()] = &sync.Mutex{}
			}
		}
	}
	c.sinks = len(j.sinks)
	for _, r := range j.sources {
		r.barriers <- c // one checkpoint in flight: never full
	}
	return c
}

// preCommitted counts a sink's pre-commit; after the last one it commits
// the checkpoint in one synced batch and lets the sinks commit. The error
// is the job's failure (a failed write beyond the tolerated ones).
func (c *inflight) preCommitted(ctx context.Context) error {
	c.pre++
	if c.pre < c.sinks {
		return nil
	}
	j := c.j
	unknown := false
	defer func() {
		// A checkpoint whose outcome is unknown may be restored after
		// all: its sinks stay blocked at its barrier until the job is
		// cancelled, so that nothing past it enters their transactions.
		if !unknown {
			close(c.decided)
		}
	}()
	if c.cp == nil {
		c.ok = true
		return nil
	}
	var tasks []TaskAlignment
	var longest time.Duration
	c.mu.Lock()
	for _, t := range j.tasks {
		if d, ok := c.align[t.id]; ok {
			tasks = append(tasks, TaskAlignment{Task: t.id, Alignment: d})
			longest = max(longest, d)
		}
	}
	c.mu.Unlock()
	c.cp.SetAlignment(longest)
	info, err := c.cp.Commit(ctx)
	// Ids are never reused, even by a failed checkpoint: its write may
	// have reached the disk after all.
	j.nextID++
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		j.failedInARow++
		if rerr := j.opts.Store.RecordFailure(c.id, err); rerr != nil {
			j.opts.Logger.Warn("cannot record the checkpoint failure", "job", j.opts.Name, "checkpoint", c.id, "err", rerr)
		}
		if j.opts.OnCheckpointFailed != nil {
			j.opts.OnCheckpointFailed(c.id, err)
		}
		c.err = &commitError{id: c.id, final: c.final, err: err}
		if errors.Is(err, checkpoint.ErrOutcomeUnknown) {
			unknown = true
			return j.tolerate(c.err)
		}
		if len(c.reqs) > 0 {
			return nil // the savepoint's requester is told
		}
		return j.tolerate(c.err)
	}
	c.ok = true
	j.failedInARow = 0
	stats := &CheckpointStats{ID: c.id, Duration: j.opts.Clock.Now().Sub(c.start), Bytes: info.Bytes, Time: info.Time,
		Alignment: longest, Tasks: tasks, Uploaded: info.Uploaded, UploadDuration: info.UploadDuration}
	if j.opts.OnCheckpoint != nil {
		j.opts.OnCheckpoint(*stats)
	}
	// Published after the callback, so that whoever sees the checkpoint in
	// Stats also finds what the callback recorded.
	j.lastCheckpoint.Store(stats)
	return nil
}

// committed counts a sink that is done with the checkpoint; it reports
// whether all are. Then the sources hear of the durable checkpoint.
func (c *inflight) committed(context.Context) (bool, error) {
	c.done++
	if c.done < c.sinks {
		return false, nil
	}
	if c.ok && c.cp != nil {
		c.mu.Lock()
		for r, off := range c.offsets {
			select {
			case r.complete <- completed{id: int64(c.id), offsets: off}:
			default:
				// The source is far behind; a later checkpoint's report
				// covers this one (offsets only move forward).
			}
		}
		c.mu.Unlock()
		c.j.opts.Logger.Info("checkpoint complete", "job", c.j.opts.Name, "checkpoint", c.id, "final", c.final)
	}
	return true, nil
}

// finish serves the savepoint requests of a completed checkpoint and
// reports whether the job must stop.
func (c *inflight) finish(ctx context.Context) (stop bool, err error) {
	for _, r := range c.reqs {
		res := SavepointResult{Err: c.err}
		if c.err == nil && r.dir != "" { // no dir: StopWithCheckpoint
			res.Info, res.Err = c.j.opts.Store.Savepoint(ctx, r.dir)
			if res.Err != nil {
				res.Err = fmt.Errorf("savepoint %s: %w", r.dir, res.Err)
			}
		}
		r.done <- res
		stop = stop || r.stop && res.Err == nil
	}
	return stop, nil
}

// writer is the state writer of node n of a subtask at this checkpoint.
// The subtasks of a parallel node share the node's writer (keyed entries
// carry their key group, so a checkpoint restores at any parallelism), one
// write at a time.
// The node's state meter sees every write the checkpoint accepts.
func (c *inflight) writer(n *chained) checkpoint.StateWriter {
	w := n.meter.Writer(c.cp.Operator(n.id))
	mu := c.locks[n.id]
	if mu == nil {
		return w
	}
	return &sharedWriter{w: w, mu: mu}
}

// sharedWriter serializes the writes of a node's subtasks into the node's
// one writer.
type sharedWriter struct {
	w  checkpoint.StateWriter
	mu *sync.Mutex
}

func (sw *sharedWriter) Set(k, v []byte) error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return sw.w.Set(k, v)
}

func (sw *sharedWriter) Delete(k []byte) error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return sw.w.Delete(k)
}

// subtaskState returns the restored state of node c of subtask s: all of
// the node's state at parallelism 1, else the part of the key groups the
// subtask owns (and the non-keyed state, which the operator redistributes).
func (j *Job) subtaskState(r *checkpoint.Restored, t *task, s *subtask, c *chained) (checkpoint.StateReader, error) {
	st := r.Operator(c.id)
	if st == nil || t.parallelism == 1 {
		return st, nil
	}
	return state.SubtaskReader(st, state.RangeFor(s.index, t.parallelism, j.opts.MaxParallelism)), nil
}
