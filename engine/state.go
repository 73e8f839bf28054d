package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/checkpoint/objstore"
)

// finishedMarker is written into a job's checkpoint directory when the job
// completed: its checkpoints are of no use to a later run, which starts
// fresh instead of restoring an exhausted source. A job with a checkpoint
// dir also writes it there, as <dir>/<job>/FINISHED, so that a run on
// another machine (an empty state directory) starts fresh too.
const finishedMarker = "FINISHED"

func markFinished(dir string) error {
	return os.WriteFile(filepath.Join(dir, finishedMarker), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644)
}

// remoteJob returns the job's prefix in the checkpoint dir location, as
// the checkpoint store names it (<location>/<path-escaped job>).
func remoteJob(ctx context.Context, location, job string, cfg objstore.Config) (objstore.Bucket, error) {
	b, err := objstore.Open(ctx, location, cfg)
	if err != nil {
		return nil, err
	}
	return objstore.Sub(b, url.PathEscape(job)), nil
}

// markFinishedRemote writes the finished marker into the job's prefix of
// the checkpoint dir.
func (q *ContinuousQuery) markFinishedRemote(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, q.uploadTimeout())
	defer cancel()
	b, err := remoteJob(ctx, q.checkpointDir(), q.name, q.e.ObjectStoreConfig(q.settings))
	if err != nil {
		return err
	}
	stamp := []byte(time.Now().UTC().Format(time.RFC3339) + "\n")
	if err := b.Put(ctx, finishedMarker, bytes.NewReader(stamp), int64(len(stamp))); err != nil {
		return fmt.Errorf("job %q finished, but its mark in %s was not written (the next run may resume its exhausted sources): %w", q.name, b, err)
	}
	return nil
}

// remoteFinished reports whether the job's prefix in the checkpoint dir
// holds the finished marker, and removes it when remove is set.
func remoteFinished(ctx context.Context, b objstore.Bucket, remove bool) (bool, error) {
	if _, err := b.Stat(ctx, finishedMarker); errors.Is(err, objstore.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if remove {
		return true, b.Delete(ctx, finishedMarker)
	}
	return true, nil
}

// openStore opens the job's checkpoint store in the state directory, with
// the job's checkpoint dir when it has one. rollbackOK tells whether this
// run knowingly starts from older state than the output a sink may have
// committed already: --allow-rollback, --fresh, a finished job started
// over, or a savepoint (see exec.SinkConfig).
func (q *ContinuousQuery) openStore(ctx context.Context) (_ *checkpoint.Store, rollbackOK bool, _ error) {
	dir, err := checkpoint.JobDir(q.e.opts.StateDir, q.name)
	if err != nil {
		return nil, false, err
	}
	// A process of a job on several starts every assignment fresh: the
	// group's committed offsets say where it resumes.
	fresh := q.e.opts.Fresh || q.distributed()
	if _, err := os.Stat(filepath.Join(dir, finishedMarker)); err == nil {
		fresh = true
		if err := os.Remove(filepath.Join(dir, finishedMarker)); err != nil {
			return nil, false, err
		}
	}
	remoteDir := q.checkpointDir()
	cfg := q.e.ObjectStoreConfig(q.settings)
	var remote objstore.Bucket
	if remoteDir != "" {
		if remote, err = remoteJob(ctx, remoteDir, q.name, cfg); err != nil {
			return nil, false, fmt.Errorf("job %q: checkpoint dir: %w", q.name, err)
		}
		if !fresh {
			// A finished job starts fresh wherever it runs next. Not
			// reachable now: the store's open retries, and says so.
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			done, err := remoteFinished(sctx, remote, false)
			cancel()
			if err != nil {
				q.e.opts.Logger.Warn("cannot read the job's finished mark in its checkpoint dir", "job", q.name, "location", remote.String(), "err", err)
			}
			fresh = done
		}
	}
	retained := 0
	if v, ok := q.settings["state.checkpoints.num-retained"]; ok {
		retained, _ = strconv.Atoi(v)
	}
	from := q.e.opts.FromSavepoint
	if v, ok := q.settings["execution.savepoint.path"]; ok && from == "" {
		from = v
	}
	s, err := checkpoint.OpenContext(ctx, q.e.opts.StateDir, checkpoint.Options{
		JobName: q.name, Logger: q.e.opts.Logger, NumRetained: retained,
		Clock: q.e.clock, Fresh: fresh, FromSavepoint: from, AllowRollback: q.e.opts.AllowRollback,
		CheckpointDir: remoteDir, ObjectStore: cfg, UploadTimeout: q.uploadTimeout(),
	})
	if errors.Is(err, checkpoint.ErrLocked) {
		return nil, false, fmt.Errorf("job %q is already running in another process (state dir %s)", q.name, dir)
	}
	if err == nil && fresh && remote != nil {
		// Fresh discarded the remote checkpoints; the mark goes too, or
		// the next run would start fresh again.
		if _, derr := remoteFinished(ctx, remote, true); derr != nil {
			s.Close()
			return nil, false, fmt.Errorf("job %q: removing its finished mark from %s: %w", q.name, remote, derr)
		}
	}
	return s, q.e.opts.AllowRollback || fresh || from != "", err
}

// checkpointInterval returns the session's checkpoint interval; negative
// means no checkpoints.
func (q *ContinuousQuery) checkpointInterval() (time.Duration, error) {
	v, ok := q.settings["execution.checkpointing.interval"]
	if !ok {
		return q.e.opts.CheckpointInterval, nil
	}
	return parseDuration(v)
}

// tolerableFailuresKey is Flink's name for the number of checkpoints in a
// row that may fail (to be written: a full disk) before the job fails;
// the default is Flink's, 0.
const tolerableFailuresKey = "execution.checkpointing.tolerable-failed-checkpoints"
