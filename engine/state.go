package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/streamsql/streamsql/checkpoint"
)

// finishedMarker is written into a job's checkpoint directory when the job
// completed: its checkpoints are of no use to a later run, which starts
// fresh instead of restoring an exhausted source.
const finishedMarker = "FINISHED"

func markFinished(dir string) error {
	return os.WriteFile(filepath.Join(dir, finishedMarker), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644)
}

// openStore opens the job's checkpoint store in the state directory.
// rollbackOK tells whether this run knowingly starts from older state than
// the output a sink may have committed already: --allow-rollback, --fresh,
// a finished job started over, or a savepoint (see exec.SinkConfig).
func (q *ContinuousQuery) openStore() (_ *checkpoint.Store, rollbackOK bool, _ error) {
	dir, err := checkpoint.JobDir(q.e.opts.StateDir, q.name)
	if err != nil {
		return nil, false, err
	}
	fresh := q.e.opts.Fresh
	if _, err := os.Stat(filepath.Join(dir, finishedMarker)); err == nil {
		fresh = true
		if err := os.Remove(filepath.Join(dir, finishedMarker)); err != nil {
			return nil, false, err
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
	s, err := checkpoint.Open(q.e.opts.StateDir, checkpoint.Options{
		JobName: q.name, Logger: q.e.opts.Logger, NumRetained: retained,
		Clock: q.e.clock, Fresh: fresh, FromSavepoint: from, AllowRollback: q.e.opts.AllowRollback,
	})
	if errors.Is(err, checkpoint.ErrLocked) {
		return nil, false, fmt.Errorf("job %q is already running in another process (state dir %s)", q.name, dir)
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
