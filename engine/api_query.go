package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/parser"
)

// QueryOptions adjust how Plan names and configures one query, for
// clients that manage jobs themselves (the REST server).
type QueryOptions struct {
	// Name is the job's name, its identity for checkpoints. Empty: the
	// session's naming, as Execute does (SET 'pipeline.name' or the
	// default name, with "-2", "-3", … for later queries of that name).
	//
	// A query given a name reserves it: later queries named by the
	// session skip it (a name "q-3" reserves the suffixes up to 3 of "q").
	Name string
	// Settings override the session's settings for this query only, as if
	// SET before it and RESET after (e.g. 'execution.checkpointing.interval'
	// = 'off' for an ad-hoc query that should leave no state behind). They
	// are validated as SET validates them.
	Settings map[string]string
}

// Plan plans a SELECT or INSERT statement in the default session (see
// Session.Plan).
func (e *Engine) Plan(ctx context.Context, stmt parser.Statement, opts QueryOptions) (*ContinuousQuery, error) {
	return e.def.Plan(ctx, stmt, opts)
}

// reserveName makes the engine's naming skip name. Called with e.mu held.
func (e *Engine) reserveName(name string) {
	base, n := name, 1
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if k, err := strconv.Atoi(name[i+1:]); err == nil && k > 1 {
			base, n = name[:i], k
		}
	}
	if e.jobs[base] < n {
		e.jobs[base] = n
	}
}

// Settings returns a copy of the default session's settings (what SET
// set).
func (e *Engine) Settings() map[string]string { return e.def.Settings() }

// StateDir returns the engine's state directory.
func (e *Engine) StateDir() string { return e.opts.StateDir }

// ReadStatusFile returns the status a job last wrote into its checkpoint
// directory (after each checkpoint, and when it ended), without opening
// its checkpoint store: unlike ReadStatus it never takes the store's lock,
// so it is safe to call often while the job may be starting. A job that
// has not written a status yet has an empty one.
func ReadStatusFile(stateDir, job string) (Status, error) {
	dir, err := checkpoint.JobDir(stateDir, job)
	if err != nil {
		return Status{}, err
	}
	b, err := os.ReadFile(filepath.Join(dir, statusFile))
	if os.IsNotExist(err) {
		return Status{Job: job}, nil
	}
	if err != nil {
		return Status{}, err
	}
	var st Status
	if err := json.Unmarshal(b, &st); err != nil {
		return Status{}, fmt.Errorf("engine: %s: %v", filepath.Join(dir, statusFile), err)
	}
	return st, nil
}

// ReserveJobName makes the engine's naming of later queries skip name,
// as a query planned with QueryOptions.Name does: for clients that keep
// job names across restarts (the server reserves the names of stopped jobs
// it does not resubmit).
func (e *Engine) ReserveJobName(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reserveName(name)
}

// LastSavepoint returns the path of the last savepoint taken of the job
// (by Stop or Savepoint), or "".
func (j *Job) LastSavepoint() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.savepoint
}

// Ended returns when the job ended (zero while it runs).
func (j *Job) Ended() time.Time {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.ended
}

// AwaitStarted waits until the job's dataflow is built, which Stop and
// Savepoint need: right after Submit they fail with "not running" until
// it is. It returns an error if the job ended first or ctx ended.
func (j *Job) AwaitStarted(ctx context.Context) error {
	select {
	case <-j.q.started:
		return nil
	case <-j.done:
		return fmt.Errorf("job %q is not running (%s)", j.ID(), j.Status())
	case <-ctx.Done():
		return ctx.Err()
	}
}
