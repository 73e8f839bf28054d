package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/types"
)

// JobStatus is the state of a background job.
type JobStatus string

// The job states.
const (
	Running  JobStatus = "RUNNING"
	Finished JobStatus = "FINISHED" // its bounded sources were exhausted
	Failed   JobStatus = "FAILED"
	Canceled JobStatus = "CANCELED" // cancelled without a savepoint
	Stopped  JobStatus = "STOPPED"  // stopped on request, with or without a savepoint
)

// Job is a continuous query running in the background, started by Submit.
// Its id is the query's name, which is also its identity for checkpoints.
// Safe for concurrent use.
type Job struct {
	q       *ContinuousQuery
	sql     string
	started time.Time
	cancel  context.CancelFunc
	done    chan struct{}

	mu        sync.Mutex
	status    JobStatus
	err       error
	ended     time.Time
	savepoint string // the last savepoint taken
}

// Submit starts q in the background and returns its job. For a SELECT,
// fn receives the rows (it may be nil to discard them). The job runs until
// it finishes, fails, or is stopped or cancelled; it does not end with ctx
// (use Cancel or Stop).
func (e *Engine) Submit(q *ContinuousQuery, fn RowFunc) (*Job, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	e.jobsMu.Lock()
	defer e.jobsMu.Unlock()
	if old, ok := e.running[q.name]; ok && old.Status() == Running {
		return nil, fmt.Errorf("job %q is already running", q.name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	j := &Job{q: q, sql: q.SQL(), started: time.Now(), cancel: cancel, done: make(chan struct{}), status: Running}
	e.running[q.name] = j
	go func() {
		defer close(j.done)
		err := q.Run(ctx, fn)
		j.mu.Lock()
		defer j.mu.Unlock()
		j.ended = time.Now()
		switch {
		case err == nil:
			j.status = Finished
		case errors.Is(err, exec.ErrStopped):
			j.status = Stopped
		case ctx.Err() != nil:
			j.status = Canceled
		default:
			j.status, j.err = Failed, err
		}
	}()
	return j, nil
}

// ID returns the job's id (its name).
func (j *Job) ID() string { return j.q.name }

// SQL returns the statement the job runs.
func (j *Job) SQL() string { return j.sql }

// Query returns the job's query.
func (j *Job) Query() *ContinuousQuery { return j.q }

// Started returns when the job was submitted.
func (j *Job) Started() time.Time { return j.started }

// Status returns the job's state and, for a failed job, its error.
func (j *Job) Status() JobStatus {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.status
}

// Err returns why a failed job failed.
func (j *Job) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// Stats returns the job's counters.
func (j *Job) Stats() exec.Stats { return j.q.Stats() }

// Done is closed when the job has ended.
func (j *Job) Done() <-chan struct{} { return j.done }

// Wait waits for the job to end and returns its error (nil when it
// finished or was stopped).
func (j *Job) Wait(ctx context.Context) error {
	select {
	case <-j.done:
		return j.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Cancel stops the job without a savepoint: it resumes from its last
// checkpoint if run again.
func (j *Job) Cancel() { j.cancel() }

// Stop stops the job; with a savepoint directory it takes a savepoint
// there first and returns it. It waits until the job has ended.
func (j *Job) Stop(ctx context.Context, savepointDir string) (exec.SavepointResult, error) {
	if j.Status() != Running {
		return exec.SavepointResult{}, fmt.Errorf("job %q is not running (%s)", j.ID(), j.Status())
	}
	if err := j.AwaitStarted(ctx); err != nil {
		return exec.SavepointResult{}, err
	}
	res, err := j.q.StopWithSavepoint(savepointDir)
	if err != nil {
		return res, err
	}
	if res.Info.Path != "" {
		j.mu.Lock()
		j.savepoint = res.Info.Path
		j.mu.Unlock()
	}
	return res, j.Wait(ctx)
}

// Savepoint takes a savepoint of the running job in dir.
func (j *Job) Savepoint(ctx context.Context, dir string) (exec.SavepointResult, error) {
	if err := j.AwaitStarted(ctx); err != nil {
		return exec.SavepointResult{}, err
	}
	ej := j.q.execJob()
	select {
	case res := <-ej.TriggerSavepoint(dir):
		if res.Err == nil {
			j.mu.Lock()
			j.savepoint = res.Info.Path
			j.mu.Unlock()
		}
		return res, res.Err
	case <-j.done:
		return exec.SavepointResult{}, fmt.Errorf("job %q ended before the savepoint", j.ID())
	case <-ctx.Done():
		return exec.SavepointResult{}, ctx.Err()
	}
}

// TriggerCheckpoint asks the running job for a checkpoint now.
func (j *Job) TriggerCheckpoint() {
	if ej := j.q.execJob(); ej != nil {
		ej.TriggerCheckpoint()
	}
}

// Jobs returns the engine's background jobs, oldest first.
func (e *Engine) Jobs() []*Job {
	e.jobsMu.Lock()
	defer e.jobsMu.Unlock()
	out := make([]*Job, 0, len(e.running))
	for _, j := range e.running {
		out = append(out, j)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].started.Before(out[b].started) })
	return out
}

// Job returns the background job with id.
func (e *Engine) Job(id string) (*Job, bool) {
	e.jobsMu.Lock()
	defer e.jobsMu.Unlock()
	j, ok := e.running[id]
	return j, ok
}

// stopJob is STOP JOB 'id' [WITH SAVEPOINT].
func (e *Engine) stopJob(ctx context.Context, s *parser.StopJobStmt) (*Result, error) {
	j, ok := e.Job(s.JobID)
	if !ok {
		return nil, &parser.Error{Pos: s.Pos, Msg: fmt.Sprintf("unknown job %q (SHOW JOBS lists them)", s.JobID)}
	}
	dir := ""
	if s.WithSavepoint {
		dir = j.SavepointTarget("")
	}
	res, err := j.Stop(ctx, dir)
	if err != nil {
		return nil, err
	}
	msg := fmt.Sprintf("job %s stopped", j.ID())
	if res.Info.Path != "" {
		msg += fmt.Sprintf(" with savepoint %s (checkpoint %d)", res.Info.Path, res.Info.CheckpointID)
	}
	return &Result{Kind: Message, Message: msg}, nil
}

// showJobs is SHOW JOBS.
func (e *Engine) showJobs() *Result {
	res := &Result{Kind: Table, Header: []string{"id", "status", "started", "last checkpoint", "records in", "records out", "late", "malformed", "lag", "watermark", "member", "savepoint", "statement"}}
	for _, j := range e.Jobs() {
		st := j.Stats()
		last := "-"
		if c := st.LastCheckpoint; c != nil {
			last = fmt.Sprintf("%d (%s ago)", c.ID, time.Since(c.Time).Round(time.Second))
		}
		status := string(j.Status())
		if err := j.Err(); err != nil {
			status += ": " + err.Error()
		}
		wm := "-"
		if st.Watermark > exec.MinWatermark {
			wm = types.FormatTimestamp(int64(st.Watermark))
			if st.Watermark == exec.MaxWatermark {
				wm = "+inf"
			}
		}
		lag := "-"
		if st.SourceLag != nil {
			total := int64(0)
			for _, l := range st.SourceLag {
				total += l
			}
			lag = strconv.FormatInt(total, 10)
		}
		res.Rows = append(res.Rows, []string{j.ID(), status, j.started.Format("15:04:05"), last,
			strconv.FormatInt(st.RecordsIn, 10), strconv.FormatInt(st.RecordsOut, 10),
			strconv.FormatInt(st.LateRecords, 10), strconv.FormatInt(st.Malformed, 10), lag, wm,
			j.q.Membership().String(), cmp.Or(j.LastSavepoint(), "-"), oneLine(j.SQL())})
	}
	return res
}

// oneLine collapses the white space of a statement's text onto one line.
func oneLine(sql string) string { return strings.Join(strings.Fields(sql), " ") }

// showCheckpoints is SHOW CHECKPOINTS FOR 'id'.
func (e *Engine) showCheckpoints(id string) (*Result, error) {
	st, err := ReadStatus(e.opts.StateDir, id)
	if err != nil {
		return nil, err
	}
	res := &Result{Kind: Table, Header: []string{"id", "time", "duration", "bytes", "alignment"}}
	// A job with a checkpoint dir also shows each checkpoint's upload.
	remote := slices.ContainsFunc(st.Checkpoints, func(c checkpoint.CheckpointInfo) bool { return c.UploadDuration > 0 })
	if remote {
		res.Header = append(res.Header, "uploaded", "upload")
	}
	for _, c := range st.Checkpoints {
		row := []string{strconv.FormatUint(c.ID, 10), c.Time.Format("2006-01-02 15:04:05.000"),
			c.Duration.Round(time.Microsecond).String(), strconv.FormatInt(c.Bytes, 10), c.Alignment.String()}
		if remote {
			row = append(row, strconv.FormatInt(c.Uploaded, 10), c.UploadDuration.Round(time.Microsecond).String())
		}
		res.Rows = append(res.Rows, row)
	}
	return res, nil
}

// TextRow is one row of a query's result, its values in their SQL text
// form (nil for NULL).
type TextRow []*string

// Rows converts a record batch to rows of text values, a convenience over
// reading the Arrow arrays; TypedRows gives Go values.
func Rows(rec arrow.Record) []TextRow {
	out := make([]TextRow, rec.NumRows())
	for r := range out {
		row := make(TextRow, rec.NumCols())
		for c := range row {
			if v, ok := format.FormatValue(rec.Column(c), r); ok {
				row[c] = &v
			}
		}
		out[r] = row
	}
	return out
}

// Results iterates over the batches of a running SELECT. Create it with
// ContinuousQuery.Results; call Next until it returns false, then Err.
type Results struct {
	ch     chan arrow.Record
	cur    arrow.Record
	cancel context.CancelFunc
	done   chan struct{}
	err    error
	schema types.Schema
}

// Results runs the query in the background and returns an iterator over
// its batches. Close it to stop the query early.
func (q *ContinuousQuery) Results(ctx context.Context) *Results {
	ctx, cancel := context.WithCancel(ctx)
	r := &Results{ch: make(chan arrow.Record, 16), cancel: cancel, done: make(chan struct{}), schema: q.Schema()}
	go func() {
		defer close(r.ch)
		err := q.Run(ctx, func(rec arrow.Record) error {
			rec.Retain()
			select {
			case r.ch <- rec:
				return nil
			case <-ctx.Done():
				rec.Release()
				return ctx.Err()
			}
		})
		if err != nil && ctx.Err() == nil {
			r.err = err
		}
		close(r.done)
	}()
	return r
}

// Schema is the schema of the batches.
func (r *Results) Schema() types.Schema { return r.schema }

// Next advances to the next batch, blocking until one is emitted; false
// when the query ended (see Err).
func (r *Results) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	rec, ok := <-r.ch
	if !ok {
		<-r.done
		return false
	}
	r.cur = rec
	return true
}

// Record returns the current batch, valid until the next call to Next.
func (r *Results) Record() arrow.Record { return r.cur }

// Err returns the error that ended the query, if any.
func (r *Results) Err() error { return r.err }

// Close stops the query and releases the iterator.
func (r *Results) Close() {
	r.cancel()
	for rec := range r.ch {
		rec.Release()
	}
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	<-r.done
}
