package exec

import (
	"errors"
	"fmt"
	"sync"

	"github.com/streamsql/streamsql/checkpoint"
)

// ErrStopped is returned by Run when the job stopped on request (Stop),
// after taking the savepoint it was asked for.
var ErrStopped = errors.New("exec: job stopped")

// ErrMemberSavepoint refuses a savepoint of a job that runs on several
// processes (a Member): each process holds only the partitions the group
// assigned it, so its savepoint would be part of a job.
var ErrMemberSavepoint = errors.New("exec: no savepoint of a job on several processes ('execution.distributed'): " +
	"each process runs only the partitions the group assigned it, so its savepoint would hold part of the job; " +
	"stop it without one (STOP JOB 'id'): the job resumes from the group's committed offsets")

// SavepointResult is the outcome of a savepoint request.
type SavepointResult struct {
	Info checkpoint.SavepointInfo
	Err  error
}

// control holds requests from other goroutines, served by Run's
// coordinator: a savepoint is a checkpoint whose barrier has Savepoint
// set, copied into its directory once complete.
type control struct {
	mu         sync.Mutex
	savepoints []savepointReq
	stop       bool
	ended      error // why the coordinator ended; set once it has
}

type savepointReq struct {
	dir  string
	stop bool
	done chan SavepointResult
}

// TriggerSavepoint asks the running job for a savepoint in dir (which must
// not exist): at the next batch boundary it takes a checkpoint and copies
// it there. The channel receives the result. It fails at once for a job
// without a checkpoint store.
func (j *Job) TriggerSavepoint(dir string) <-chan SavepointResult {
	return j.requestSavepoint(dir, false)
}

// StopWithSavepoint is TriggerSavepoint, after which Run returns
// ErrStopped. With dir empty it stops without a savepoint.
func (j *Job) StopWithSavepoint(dir string) <-chan SavepointResult {
	if dir == "" {
		ch := make(chan SavepointResult, 1)
		j.ctl.mu.Lock()
		j.ctl.stop = true
		j.ctl.mu.Unlock()
		j.poke()
		ch <- SavepointResult{}
		return ch
	}
	return j.requestSavepoint(dir, true)
}

// StopWithCheckpoint asks the running job to take a checkpoint at the
// next batch boundary and stop, so that a later run resumes from exactly
// there; Run then returns ErrStopped. The channel receives the
// checkpoint's outcome (Info is empty: no savepoint is copied). A job
// without a checkpoint store just stops.
func (j *Job) StopWithCheckpoint() <-chan SavepointResult {
	if j.opts.Store == nil {
		return j.StopWithSavepoint("")
	}
	return j.requestSavepoint("", true)
}

func (j *Job) requestSavepoint(dir string, stop bool) <-chan SavepointResult {
	ch := make(chan SavepointResult, 1)
	if j.opts.Store == nil {
		ch <- SavepointResult{Err: errors.New("exec: the job has no checkpoint store (checkpointing is off)")}
		return ch
	}
	if dir != "" && j.opts.Member != nil {
		ch <- SavepointResult{Err: ErrMemberSavepoint}
		return ch
	}
	j.ctl.mu.Lock()
	defer j.ctl.mu.Unlock()
	if j.ctl.ended != nil {
		ch <- SavepointResult{Err: j.ctl.ended}
		return ch
	}
	j.ctl.savepoints = append(j.ctl.savepoints, savepointReq{dir: dir, stop: stop, done: ch})
	j.poke()
	return ch
}

// end answers every savepoint request not served, those of the checkpoint
// in flight (inflight) and those still queued, with the reason the job
// ended, and every later request at once: a caller waiting for a savepoint
// of a job that failed (say, when a checkpoint's outcome is unknown) gets
// an error instead of waiting forever.
func (c *control) end(why error, inflight []savepointReq) {
	if why == nil {
		why = errors.New("the job has finished")
	}
	err := fmt.Errorf("exec: no savepoint: %w", why)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended = err
	for _, r := range append(inflight, c.savepoints...) {
		r.done <- SavepointResult{Err: err}
	}
	c.savepoints = nil
}

// take returns the requested savepoints and whether the job must stop.
func (c *control) take() ([]savepointReq, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	reqs := c.savepoints
	c.savepoints = nil
	return reqs, c.stop
}
