package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/streamsql/streamsql/exec"
)

// Close stops every query of the engine that is running (background jobs
// and queries run with Run, Results or Rows): each takes a final
// checkpoint at its next batch boundary and stops, so that a later engine
// on the same state directory resumes each job exactly from there. A
// stopped background job's status is Stopped; Run returns exec.ErrStopped.
// Without checkpointing a query just stops.
//
// Close waits until every query has ended. When ctx ends first, the
// queries still running are cancelled instead (they resume from their
// last completed checkpoint) and Close returns ctx's error once they have
// ended. After Close, Execute, Plan, Submit and Run return ErrClosed;
// closing again does nothing.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	live := make([]*ContinuousQuery, 0, len(e.live))
	for q := range e.live {
		live = append(live, q)
	}
	e.mu.Unlock()

	type stopped struct {
		q   *ContinuousQuery
		res <-chan exec.SavepointResult
	}
	stops := make([]stopped, len(live))
	for i, q := range live {
		stops[i] = stopped{q, q.execJob().StopWithCheckpoint()}
	}
	var errs []error
	for _, s := range stops {
		q := s.q
		q.mu.Lock()
		ended, cancel := q.ended, q.cancel
		q.mu.Unlock()
		select {
		case res := <-s.res:
			if res.Err != nil {
				errs = append(errs, fmt.Errorf("job %q: final checkpoint: %w", q.name, res.Err))
			}
		case <-ended:
		case <-ctx.Done():
		}
		select {
		case <-ended:
		case <-ctx.Done():
			cancel()
			<-ended
		}
	}
	// Background jobs record their status after Run returns.
	for _, j := range e.Jobs() {
		<-j.done
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, fmt.Errorf("engine: close: %w; the queries still running were cancelled", err))
	}
	return errors.Join(errs...)
}

// track registers a running query for Close; it fails after Close.
func (e *Engine) track(q *ContinuousQuery) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	e.live[q] = struct{}{}
	return nil
}

func (e *Engine) untrack(q *ContinuousQuery) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.live, q)
}
