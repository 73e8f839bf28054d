package exec

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/streamsql/streamsql/checkpoint"
)

// CheckpointStats describes the last completed checkpoint of a job.
type CheckpointStats struct {
	ID       uint64
	Duration time.Duration
	Bytes    int64
	Time     time.Time
}

// restore reads the newest valid checkpoint of the job's store, checks
// that it fits the plan, and opens source, operators and sink from it.
// Without a store, or without a checkpoint, everything opens fresh.
func (j *Job) restore(ctx context.Context) error {
	var r *checkpoint.Restored
	if j.opts.Store != nil {
		var err error
		if r, err = j.opts.Store.Restore(); err != nil {
			return err
		}
	}
	if r != nil {
		if err := j.checkCompatible(r); err != nil {
			return err
		}
		j.nextID = r.ID() + 1
		j.opts.Logger.Info("restoring checkpoint", "job", j.opts.Name, "checkpoint", r.ID())
		j.restoredFrom.Store(r.ID())
	}
	var offsets map[string][]byte
	if r != nil {
		offsets = r.SourceOffsets(j.srcNode.ID())
		if err := j.restoreWatermarks(r.Operator(j.srcNode.ID())); err != nil {
			return err
		}
	}
	if err := j.source.Open(ctx, offsets); err != nil {
		return fmt.Errorf("source %s: %w", j.srcNode.Table, err)
	}
	if !j.opts.NoPrefetch && runtime.GOMAXPROCS(0) > 1 {
		p, err := startPrefetch(ctx, j.source, 2, j.opts.Logger)
		if err != nil {
			return fmt.Errorf("source %s: %w", j.srcNode.Table, err)
		}
		j.pre = p
	}
	for i, op := range j.ops {
		var st checkpoint.StateReader
		if r != nil {
			st = r.Operator(j.opIDs[i])
		}
		if err := op.Open(ctx, st); err != nil {
			if st != nil {
				return fmt.Errorf("restoring checkpoint %d: %w; if the query changed, start fresh with --fresh", j.restoredFrom.Load(), err)
			}
			return fmt.Errorf("%s: %w", j.opIDs[i], err)
		}
	}
	var handle []byte
	if r != nil {
		handle = r.SinkHandle(j.sinkID)
	}
	if err := j.sink.Open(ctx, handle); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	return nil
}

// checkCompatible refuses a checkpoint whose stateful operators are not
// operators of this plan: the query changed, and its state would be lost
// or misread. AllowNonRestoredState drops such state instead.
func (j *Job) checkCompatible(r *checkpoint.Restored) error {
	ids := append([]string{j.srcNode.ID(), j.sinkID}, j.opIDs...)
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
func (j *Job) snapshotWatermarks(w checkpoint.StateWriter) error {
	if j.wm == nil {
		return nil
	}
	for split, wm := range j.wm.splitWatermarks() {
		if err := w.Set([]byte("wm/"+strconv.Itoa(split)), binary.BigEndian.AppendUint64(nil, uint64(wm))); err != nil {
			return err
		}
	}
	return nil
}

func (j *Job) restoreWatermarks(st checkpoint.StateReader) error {
	if st == nil || j.wm == nil {
		return nil
	}
	return st.Scan(func(k, v []byte) error {
		s, ok := strings.CutPrefix(string(k), "wm/")
		split, err := strconv.Atoi(s)
		if !ok || err != nil || len(v) != 8 {
			return fmt.Errorf("source %s: bad watermark state %q", j.srcNode.ID(), k)
		}
		if split < 0 || split > maxSplits {
			return fmt.Errorf("source %s: bad watermark state %q", j.srcNode.ID(), k)
		}
		j.wm.restoreSplit(split, Watermark(binary.BigEndian.Uint64(v)))
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

// checkpoint takes checkpoint j.nextID at the current batch boundary: the
// source's offset is the barrier's position; every operator snapshots the
// rows it has seen; the sink pre-commits; all of it is committed in one
// synced batch; then the sink commits.
func (j *Job) checkpoint(ctx context.Context, final bool) error {
	store := j.opts.Store
	id := j.nextID
	start := j.opts.Clock.Now()
	cp := store.Begin(id)
	off, err := j.offset()
	if err != nil {
		return fmt.Errorf("checkpoint %d: source offsets: %w", id, err)
	}
	offsets, err := off.toMap()
	if err != nil {
		return fmt.Errorf("checkpoint %d: source offsets: %w", id, err)
	}
	for split, o := range offsets {
		cp.SetSourceOffset(j.srcNode.ID(), split, o)
	}
	cp.SetConnector(j.srcNode.ID(), j.srcNode.Connector)
	cp.SetConnector(j.sinkID, j.sinkConnector)
	if err := j.snapshotWatermarks(cp.Operator(j.srcNode.ID())); err != nil {
		return fmt.Errorf("checkpoint %d: %w", id, err)
	}
	b := Barrier{CheckpointID: int64(id)}
	for i, op := range j.ops {
		if err := op.OnBarrier(ctx, b, cp.Operator(j.opIDs[i]), j.emit[i+1]); err != nil {
			return fmt.Errorf("checkpoint %d: %s: %w", id, j.opIDs[i], err)
		}
	}
	handle, err := j.sink.PreCommit(ctx, int64(id))
	if err != nil {
		return fmt.Errorf("checkpoint %d: sink pre-commit: %w", id, err)
	}
	cp.Operator(j.sinkID)
	cp.SetSinkHandle(j.sinkID, handle)
	info, err := cp.Commit(ctx)
	// Ids are never reused, even by a failed checkpoint: its write may
	// have reached the disk after all.
	j.nextID++
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		j.failedInARow++
		if rerr := store.RecordFailure(id, err); rerr != nil {
			j.opts.Logger.Warn("cannot record the checkpoint failure", "job", j.opts.Name, "checkpoint", id, "err", rerr)
		}
		if j.opts.OnCheckpointFailed != nil {
			j.opts.OnCheckpointFailed(id, err)
		}
		return &commitError{id: id, final: final, err: err}
	}
	j.failedInARow = 0
	stats := &CheckpointStats{ID: id, Duration: j.opts.Clock.Now().Sub(start), Bytes: info.Bytes, Time: info.Time}
	if j.opts.OnCheckpoint != nil {
		j.opts.OnCheckpoint(*stats)
	}
	// Published after the callback, so that whoever sees the checkpoint in
	// Stats also finds what the callback recorded.
	j.lastCheckpoint.Store(stats)
	if err := j.sink.Commit(ctx, int64(id)); err != nil {
		return fmt.Errorf("checkpoint %d: sink commit: %w", id, err)
	}
	if j.pre != nil {
		j.pre.checkpointComplete(int64(id), offsets)
	} else if l, ok := j.source.(CheckpointListener); ok {
		if err := l.CheckpointComplete(ctx, int64(id), offsets); err != nil {
			j.opts.Logger.Warn("source checkpoint callback failed", "checkpoint", id, "err", err)
		}
	}
	j.opts.Logger.Info("checkpoint complete", "job", j.opts.Name, "checkpoint", id, "final", final)
	return nil
}
