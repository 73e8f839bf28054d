// Package engine is StreamSQL's embedding API: open an Engine, execute SQL
// text, and run the continuous queries it defines. The CLI, the REPL and
// the server are thin clients of this package; it wires the parser, the
// planner, the connectors registry and the exec runtime together and owns
// nothing else.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/checkpoint/objstore"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/builtin"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/operators"
	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// Options configure an Engine. The zero value is usable.
type Options struct {
	// StateDir holds checkpoints and savepoints (default ./.streamsql).
	StateDir string
	// Stdout receives the output of the print connector (default os.Stdout).
	Stdout io.Writer
	// Logger receives the engine's log (default: discarded).
	Logger *slog.Logger
	// BatchSize is the preferred number of rows per batch (default 4096).
	BatchSize int
	// DefaultJobName names jobs whose session has no SET 'pipeline.name'
	// (default "query").
	DefaultJobName string
	// CheckpointInterval is the default time between checkpoints, for
	// sessions without SET 'execution.checkpointing.interval' (default
	// 10s). Negative disables checkpointing.
	CheckpointInterval time.Duration
	// Fresh discards existing checkpoints of a job instead of restoring.
	Fresh bool
	// AllowRollback restores a job whose store lost its newest checkpoints
	// (Pebble's log truncated or deleted: the newest checkpoint the job
	// completed is not in the store), from the newest one left, with a
	// loud warning: the output committed after it is repeated. Without it
	// such a job refuses to start (checkpoint.ErrRollback).
	AllowRollback bool
	// AllowNonRestoredState restores a checkpoint even when some of its
	// operators' state no longer fits the plan, dropping that state.
	AllowNonRestoredState bool
	// FromSavepoint restores jobs from this savepoint: a directory or an
	// "s3://bucket/prefix" location.
	FromSavepoint string
	// CheckpointDir is the default of SET 'execution.checkpointing.dir':
	// a location ("s3://bucket/prefix" or a directory) where every
	// checkpoint is also made durable. Empty: the state directory only.
	CheckpointDir string
	// SavepointDir is the default of SET
	// 'execution.checkpointing.savepoint-dir': where savepoints taken
	// without a target go. Empty: the state directory's savepoints/.
	SavepointDir string
	// ObjectStore holds the defaults of the s3.* settings; the standard
	// AWS environment (read through Getenv) fills what both leave empty.
	ObjectStore objstore.Config
	// Getenv reads the environment for the S3 credentials and endpoint
	// (objstore.Config.FromEnv); nil means os.Getenv.
	Getenv func(string) string
	// Parallelism is the default number of subtasks of keyed window
	// aggregations, for sessions without SET 'parallelism.default'
	// (default 1). With more than one, output order across keys is not
	// deterministic.
	Parallelism int
	// PathPolicy, when set, is asked about every local path a table's
	// options name (the filesystem connector's 'path', as a source or a
	// sink) when a query is planned; an error refuses the query, naming
	// the table and the option. See connectors.PathFactory.
	PathPolicy func(path string) error
	// BaseDir, when set, is the directory against which a relative path
	// in a source table's options (the filesystem connector's 'path') is
	// resolved; `streamsql run FILE` sets it to FILE's directory. Relative
	// sink paths, and all paths when it is unset, are relative to the
	// working directory. See connectors.Registry.WithBaseDir.
	BaseDir string
	// InstanceID is this process's identity among the processes that run
	// one job together (SET 'execution.distributed' = 'true'): its static
	// member id in the job's consumer group and the suffix of its
	// transactional ids. Each process needs its own, the same across its
	// restarts (default: the host name and the state directory).
	InstanceID string
}

// Engine executes SQL statements. It is safe for concurrent use.
//
// Statements run in a Session: each has its own catalog (tables, views)
// and its own settings (SET/RESET). The Engine's own Execute, Plan,
// Setting, Settings, TableNames, … use a default session created by New.
// Job names, background jobs, UDFs registered with RegisterFunction and
// the state directory are engine-wide.
type Engine struct {
	opts  Options
	reg   *connectors.Registry
	clock exec.Clock
	alloc memory.Allocator

	def *Session // the default session, for Engine.Execute and friends

	mu     sync.Mutex
	jobs   map[string]int // job names handed out engine-wide, for unique names
	funcs  []Function     // engine-wide UDFs, registered in every session
	closed bool
	live   map[*ContinuousQuery]struct{} // queries whose Run is running

	jobsMu  sync.Mutex
	running map[string]*Job // background jobs by id
}

// New returns an engine configured by opts and, rarely needed, by more
// (WithRegistry, WithClock, WithAllocator).
func New(opts Options, more ...Option) *Engine {
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.StateDir == "" {
		opts.StateDir = ".streamsql"
	}
	if opts.DefaultJobName == "" {
		opts.DefaultJobName = "query"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CheckpointInterval == 0 {
		opts.CheckpointInterval = 10 * time.Second
	}
	adv := advanced{clock: exec.SystemClock{}, alloc: memory.DefaultAllocator}
	for _, o := range more {
		o(&adv)
	}
	reg := adv.reg
	if reg == nil {
		reg = builtin.Registry(opts.Stdout)
	}
	if opts.PathPolicy != nil {
		reg = reg.WithPathPolicy(opts.PathPolicy)
	}
	if opts.BaseDir != "" {
		reg = reg.WithBaseDir(opts.BaseDir)
	}
	e := &Engine{opts: opts, reg: reg, clock: adv.clock, alloc: adv.alloc, jobs: map[string]int{}, running: map[string]*Job{}, live: map[*ContinuousQuery]struct{}{},
		funcs: builtinClasses()}
	e.def = e.NewSession()
	return e
}

// Option configures what most embedders never need, passed to New after
// Options: a custom connector registry, an injected clock, an Arrow
// allocator.
type Option func(*advanced)

type advanced struct {
	reg   *connectors.Registry
	clock exec.Clock
	alloc memory.Allocator
}

// WithRegistry replaces the built-in connectors by reg (start from
// builtin.Registry to add to them).
func WithRegistry(reg *connectors.Registry) Option { return func(a *advanced) { a.reg = reg } }

// WithClock makes the engine read time from c (default: the system
// clock), for tests that control processing time and checkpoint times.
func WithClock(c exec.Clock) Option { return func(a *advanced) { a.clock = c } }

// WithAllocator makes queries allocate their Arrow buffers from alloc
// (default: memory.DefaultAllocator), e.g. a checked allocator in tests.
func WithAllocator(alloc memory.Allocator) Option { return func(a *advanced) { a.alloc = alloc } }

// ErrClosed is returned by statements executed after Close.
var ErrClosed = errors.New("engine: closed")

// checkOpen returns ErrClosed after Close.
func (e *Engine) checkOpen() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	return nil
}

// Registry returns the engine's connectors, for completion and help.
func (e *Engine) Registry() *connectors.Registry { return e.reg }

// Parse parses SQL text into statements. filename is used in positions.
func Parse(filename, sql string) ([]parser.Statement, error) {
	return parser.Parse(filename, sql)
}

// ResultKind tells what a statement produced.
type ResultKind uint8

// The result kinds.
const (
	// Message is a one-line outcome of a DDL or SET statement.
	Message ResultKind = iota
	// Table is a small, complete table (SHOW, DESCRIBE, SET).
	Table
	// Query is a continuous query to run: a SELECT (rows for the client)
	// or an INSERT (rows into a table).
	Query
)

// Result is the outcome of one statement.
type Result struct {
	Kind    ResultKind
	Message string
	// Header and Rows hold a Table result.
	Header []string
	Rows   [][]string
	// Query is set for a Query result; run it with Run.
	Query *ContinuousQuery
}

// Execute executes one statement in the engine's default session (see
// Session.Execute).
func (e *Engine) Execute(ctx context.Context, stmt parser.Statement) (*Result, error) {
	return e.def.Execute(ctx, stmt)
}

// Setting returns the value of a SET key in the default session.
func (e *Engine) Setting(key string) (string, bool) { return e.def.Setting(key) }

// ContinuousQuery is a planned SELECT or INSERT, ready to run.
type ContinuousQuery struct {
	e        *Engine
	graph    *plan.Graph
	stmt     parser.Statement
	settings map[string]string
	name     string

	mu        sync.Mutex
	job       *exec.Job          // while running
	cancel    context.CancelFunc // cancels Run's context, while running
	ended     chan struct{}      // closed when Run returns, while running
	started   chan struct{}      // closed once job is set
	startOnce sync.Once
	member    membership // with 'execution.distributed'
	// prior sums the row counters of the jobs this query ran before the
	// current one (a distributed query runs a job per assignment), so
	// that Stats counts the rows of the whole run.
	prior exec.Stats
}

// Name is the job's name: its identity for checkpoints.
func (q *ContinuousQuery) Name() string { return q.name }

// SQL returns the statement's text.
func (q *ContinuousQuery) SQL() string { return q.stmt.String() }

func (q *ContinuousQuery) execJob() *exec.Job {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.job
}

// Schema is the schema of the rows the query emits (for a SELECT) or
// writes (for an INSERT).
func (q *ContinuousQuery) Schema() types.Schema { return q.graph.Sinks[0].Schema() }

// IsInsert reports whether the query writes into a table rather than
// returning rows.
func (q *ContinuousQuery) IsInsert() bool { return q.graph.Sinks[0].Connector != "collect" }

// Graph returns the physical plan.
func (q *ContinuousQuery) Graph() *plan.Graph { return q.graph }

// Updating reports whether the query's result is a changelog with updates
// (rows of kind -U, +U or -D, see RowFunc), as the planner inferred it;
// false for an append-only result, which holds inserts only.
func (q *ContinuousQuery) Updating() bool {
	for _, s := range q.graph.Sinks {
		if s.Input.Props().Changelog != plan.AppendOnly {
			return true
		}
	}
	return false
}

// Plan returns the physical plan, as EXPLAIN prints it.
func (q *ContinuousQuery) Plan() string { return plan.Explain(q.graph) }

// RowFunc receives the rows of a SELECT, batch by batch, as they are
// emitted. rec is valid only during the call. A batch of an updating query
// whose rows are not all inserts has one more column than the Schema, the
// last, "$row_kind": each row's RowKind (read it with exec.RowKinds, or
// use TypedRows, which does).
type RowFunc func(rec arrow.Record) error

// Run runs the query until its bounded sources are exhausted, an error
// occurs or ctx is cancelled (then it returns ctx's error). For a SELECT,
// fn receives the rows; for an INSERT, fn is not called and may be nil.
//
// With checkpointing on (the default), the job restores the newest valid
// checkpoint of a previous run with the same name that did not finish, and
// takes a checkpoint every interval; a job that finishes is marked so, and
// the next run with its name starts fresh.
func (q *ContinuousQuery) Run(ctx context.Context, fn RowFunc) (err error) {
	if err := q.e.checkOpen(); err != nil {
		return err
	}
	if q.distributed() {
		return q.runDistributed(ctx, fn)
	}
	return q.run(ctx, fn, nil, nil)
}

// run runs the query's job once: the whole job, or, with m set, the part
// the consumer group assigned to this process, until revoked is closed
// (then it stops at a checkpoint and returns exec.ErrStopped).
func (q *ContinuousQuery) run(ctx context.Context, fn RowFunc, m *exec.Member, revoked <-chan struct{}) (err error) {
	// First deferred, so last run: Close waits for ended, after which the
	// job's store is closed and its status written.
	ended := make(chan struct{})
	defer close(ended)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q.mu.Lock()
	q.cancel, q.ended = cancel, ended
	q.mu.Unlock()
	opts := exec.Options{
		Name: q.name, Connectors: q.e.reg, Operators: operators.New(), Alloc: q.e.alloc, Clock: q.e.clock,
		BatchSize: q.e.opts.BatchSize, Logger: q.e.opts.Logger,
		AllowNonRestoredState: q.e.opts.AllowNonRestoredState || settingBool(q.settings, "execution.savepoint.ignore-unclaimed-state"),
		MaxParallelism:        q.e.settingInt(q.settings, "pipeline.max-parallelism"),
		Member:                m,
	}
	if v, ok := q.settings["execution.checkpointing.mode"]; ok {
		opts.CheckpointingMode, _ = exec.ParseCheckpointingMode(v) // checked by SET
	}
	interval, err := q.checkpointInterval()
	if err != nil {
		return err
	}
	var local *localState
	if q.member.split != nil && m != nil && interval >= 0 {
		// Before the store is reset for the assignment.
		if local, err = q.readLocalState(ctx, m); err != nil {
			return err
		}
	}
	if interval >= 0 {
		store, rollbackOK, oerr := q.openStore(ctx)
		if oerr != nil {
			return oerr
		}
		opts.AllowRollback = rollbackOK
		defer func() {
			if cerr := store.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = markFinished(store.Dir())
			}
			if err == nil && q.checkpointDir() != "" {
				err = q.markFinishedRemote(ctx)
			}
		}()
		opts.Store, opts.CheckpointInterval = store, interval
		opts.OnCheckpoint = func(exec.CheckpointStats) {
			if err := writeStatus(store, q.name, true, q.Stats()); err != nil {
				q.e.opts.Logger.Warn("cannot write checkpoint status", "job", q.name, "err", err)
			}
		}
		opts.OnCheckpointFailed = func(uint64, error) {
			if err := writeStatus(store, q.name, true, q.Stats()); err != nil {
				q.e.opts.Logger.Warn("cannot write checkpoint status", "job", q.name, "err", err)
			}
		}
		if v, ok := q.settings[tolerableFailuresKey]; ok {
			opts.TolerableFailedCheckpoints, _ = strconv.Atoi(v) // checked by SET
		}
	}
	if !q.IsInsert() {
		if fn == nil {
			fn = func(arrow.Record) error { return nil }
		}
		opts.Collect = &collectSink{fn: fn}
	}
	graph := q.graph
	if q.member.split != nil && m != nil {
		if graph, err = q.restoreStages(ctx, opts.Store, m, local); err != nil {
			return err
		}
	}
	job, err := exec.Build(graph, opts)
	if err != nil {
		return err
	}
	q.mu.Lock()
	if q.job != nil {
		addCounters(&q.prior, q.job.Stats())
	}
	q.job = job
	q.mu.Unlock()
	if err := q.e.track(q); err != nil {
		return errors.Join(err, job.Close())
	}
	defer q.e.untrack(q)
	q.startOnce.Do(func() { close(q.started) })
	if revoked != nil {
		sctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			select {
			case <-revoked:
				<-job.StopWithCheckpoint()
			case <-sctx.Done():
			}
		}()
	}
	if opts.Store != nil {
		sctx, stop := context.WithCancel(ctx)
		defer stop()
		go serveRequests(sctx, opts.Store.Dir(), job, 200*time.Millisecond)
		defer func() { _ = writeStatus(opts.Store, q.name, false, job.Stats()) }()
	}
	return job.Run(ctx)
}

// StopWithSavepoint asks the running query to take a savepoint in dir and
// stop; Run then returns exec.ErrStopped. With dir empty it stops without
// a savepoint.
func (q *ContinuousQuery) StopWithSavepoint(dir string) (exec.SavepointResult, error) {
	q.mu.Lock()
	j := q.job
	q.mu.Unlock()
	if j == nil {
		return exec.SavepointResult{}, fmt.Errorf("job %q is not running", q.name)
	}
	res := <-j.StopWithSavepoint(dir)
	return res, res.Err
}

// Stats returns the running job's counters (zero before Run). The row
// counters (in, out, malformed, late) cover every job the query ran: a
// distributed query starts a new job at each rebalance.
func (q *ContinuousQuery) Stats() exec.Stats {
	q.mu.Lock()
	j, prior := q.job, q.prior
	q.mu.Unlock()
	if j == nil {
		return exec.Stats{}
	}
	st := j.Stats()
	addCounters(&st, prior)
	return st
}

// addCounters adds the row counters of from to st.
func addCounters(st *exec.Stats, from exec.Stats) {
	st.RecordsIn += from.RecordsIn
	st.RecordsOut += from.RecordsOut
	st.Malformed += from.Malformed
	st.LateRecords += from.LateRecords
}

// collectSink hands a SELECT's batches to the client. Rows are delivered
// as they are emitted: at-least-once across restarts.
type collectSink struct {
	fn RowFunc
}

func (c *collectSink) Open(context.Context, []byte) error               { return nil }
func (c *collectSink) Write(_ context.Context, rec arrow.Record) error  { return c.fn(rec) }
func (c *collectSink) PreCommit(context.Context, int64) ([]byte, error) { return nil, nil }
func (c *collectSink) Commit(context.Context, int64) error              { return nil }
func (c *collectSink) Close() error                                     { return nil }
