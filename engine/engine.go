// Package engine is StreamSQL's embedding API: open an Engine, execute SQL
// text, and run the continuous queries it defines. The CLI, the REPL and
// the server are thin clients of this package; it wires the parser, the
// planner, the connectors registry and the exec runtime together and owns
// nothing else.
package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/builtin"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/planner"
	"github.com/streamsql/streamsql/types"
)

// Options configure an Engine. The zero value is usable.
type Options struct {
	// StateDir holds checkpoints and savepoints (default ./.streamsql).
	StateDir string
	// Stdout receives the output of the print connector (default os.Stdout).
	Stdout io.Writer
	Logger *slog.Logger
	Clock  exec.Clock
	Alloc  memory.Allocator
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
	// AllowNonRestoredState restores a checkpoint even when some of its
	// operators' state no longer fits the plan, dropping that state.
	AllowNonRestoredState bool
	// FromSavepoint restores jobs from this savepoint directory.
	FromSavepoint string
	// Parallelism is the default number of subtasks of keyed window
	// aggregations, for sessions without SET 'parallelism.default'
	// (default 1). With more than one, output order across keys is not
	// deterministic.
	Parallelism int
	// Registry overrides the connectors (default: the built-in ones).
	Registry *connectors.Registry
}

// Engine executes SQL statements. It is safe for concurrent use.
type Engine struct {
	opts Options
	reg  *connectors.Registry

	mu       sync.Mutex
	catalog  *planner.Catalog
	settings map[string]string
	jobs     map[string]int // job names handed out, for unique names

	jobsMu  sync.Mutex
	running map[string]*Job // background jobs by id
}

// New returns an engine.
func New(opts Options) *Engine {
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
	if opts.Clock == nil {
		opts.Clock = exec.SystemClock{}
	}
	if opts.Alloc == nil {
		opts.Alloc = memory.DefaultAllocator
	}
	reg := opts.Registry
	if reg == nil {
		reg = builtin.Registry(opts.Stdout)
	}
	return &Engine{opts: opts, reg: reg, catalog: planner.NewCatalog(), settings: map[string]string{}, jobs: map[string]int{}, running: map[string]*Job{}}
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

// Execute executes one statement. DDL, SET, SHOW, DESCRIBE and EXPLAIN
// complete immediately; SELECT and INSERT return a ContinuousQuery that the
// caller runs.
func (e *Engine) Execute(ctx context.Context, stmt parser.Statement) (*Result, error) {
	if s, ok := stmt.(*parser.StopJobStmt); ok {
		// Not under e.mu: stopping waits for the job, and other
		// statements may run meanwhile.
		return e.stopJob(ctx, s)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := planner.New(e.catalog, e.reg)
	switch s := stmt.(type) {
	case *parser.CreateTableStmt:
		if err := p.CreateTable(s); err != nil {
			return nil, err
		}
		return &Result{Kind: Message, Message: fmt.Sprintf("table %s created", s.Name.Name)}, nil
	case *parser.CreateViewStmt:
		if err := p.CreateView(s); err != nil {
			return nil, err
		}
		return &Result{Kind: Message, Message: fmt.Sprintf("view %s created", s.Name.Name)}, nil
	case *parser.DropStmt:
		if err := p.Drop(s); err != nil {
			return nil, err
		}
		what := "table"
		if s.View {
			what = "view"
		}
		return &Result{Kind: Message, Message: fmt.Sprintf("%s %s dropped", what, s.Name.Name)}, nil
	case *parser.ShowStmt:
		return e.show(s)
	case *parser.DescribeStmt:
		rows, err := p.Describe(s)
		if err != nil {
			return nil, err
		}
		return &Result{Kind: Table, Header: rows[0], Rows: rows[1:]}, nil
	case *parser.ExplainStmt:
		text, err := p.Explain(s)
		if err != nil {
			return nil, err
		}
		return &Result{Kind: Message, Message: strings.TrimRight(text, "\n")}, nil
	case *parser.SetStmt:
		if s.Key == "" {
			res := &Result{Kind: Table, Header: []string{"key", "value"}}
			for _, k := range sortedKeys(e.settings) {
				res.Rows = append(res.Rows, []string{k, e.settings[k]})
			}
			return res, nil
		}
		if err := checkSetting(s.Key, s.Value); err != nil {
			return nil, &parser.Error{Pos: s.Pos, Msg: err.Error()}
		}
		e.settings[s.Key] = s.Value
		return &Result{Kind: Message, Message: fmt.Sprintf("set %s = %s", s.Key, s.Value)}, nil
	case *parser.ResetStmt:
		if s.Key == "" {
			e.settings = map[string]string{}
			return &Result{Kind: Message, Message: "all settings reset"}, nil
		}
		delete(e.settings, s.Key)
		return &Result{Kind: Message, Message: fmt.Sprintf("reset %s", s.Key)}, nil
	case *parser.QueryStmt:
		root, err := p.Query(s)
		if err != nil {
			return nil, err
		}
		return &Result{Kind: Query, Query: e.newQuery(root, s)}, nil
	case *parser.InsertStmt:
		root, err := p.Insert(s)
		if err != nil {
			return nil, err
		}
		return &Result{Kind: Query, Query: e.newQuery(root, s)}, nil
	}
	return nil, &parser.Error{Pos: stmt.Position(), Msg: fmt.Sprintf("statement %T is not supported", stmt)}
}

func (e *Engine) show(s *parser.ShowStmt) (*Result, error) {
	var names []string
	switch s.What {
	case "TABLES":
		names = e.catalog.Tables()
	case "VIEWS":
		names = e.catalog.Views()
	case "FUNCTIONS":
		names = append(planner.ScalarFunctions(), "COUNT", "SUM", "AVG", "MIN", "MAX", "TUMBLE", "HOP", "CUMULATE", "SESSION")
		sort.Strings(names)
	case "JOBS":
		return e.showJobs(), nil
	case "CHECKPOINTS":
		return e.showCheckpoints(s.JobID)
	default:
		return nil, &parser.Error{Pos: s.Pos, Msg: fmt.Sprintf("SHOW %s is not supported", s.What)}
	}
	res := &Result{Kind: Table, Header: []string{strings.ToLower(s.What)}}
	for _, n := range names {
		res.Rows = append(res.Rows, []string{n})
	}
	return res, nil
}

// Setting returns the value of a SET key.
func (e *Engine) Setting(key string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.settings[key]
	return v, ok
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ContinuousQuery is a planned SELECT or INSERT, ready to run.
type ContinuousQuery struct {
	e        *Engine
	root     *plan.Sink
	stmt     parser.Statement
	settings map[string]string
	name     string

	mu        sync.Mutex
	job       *exec.Job     // while running
	started   chan struct{} // closed once job is set
	startOnce sync.Once
}

// newQuery snapshots the session's settings and names the job: SET
// 'pipeline.name', or the engine's default name; the second query of a
// session with the same name gets "-2" appended, and so on, so each has its
// own checkpoints.
func (e *Engine) newQuery(root *plan.Sink, stmt parser.Statement) *ContinuousQuery {
	s := make(map[string]string, len(e.settings))
	for k, v := range e.settings {
		s[k] = v
	}
	name := s["pipeline.name"]
	if name == "" {
		name = e.opts.DefaultJobName
	}
	e.jobs[name]++
	if n := e.jobs[name]; n > 1 {
		name = fmt.Sprintf("%s-%d", name, n)
	}
	return &ContinuousQuery{e: e, root: root, stmt: stmt, settings: s, name: name, started: make(chan struct{})}
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
func (q *ContinuousQuery) Schema() types.Schema { return q.root.Schema() }

// IsInsert reports whether the query writes into a table rather than
// returning rows.
func (q *ContinuousQuery) IsInsert() bool { return q.root.Connector != "collect" }

// Plan returns the physical plan, as EXPLAIN prints it.
func (q *ContinuousQuery) Plan() string { return plan.Explain(q.root) }

// RowFunc receives the rows of a SELECT, batch by batch, as they are
// emitted. rec is valid only during the call.
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
	opts := exec.Options{
		Name: q.name, Connectors: q.e.reg, Alloc: q.e.opts.Alloc, Clock: q.e.opts.Clock,
		BatchSize: q.e.opts.BatchSize, Logger: q.e.opts.Logger,
		AllowNonRestoredState: q.e.opts.AllowNonRestoredState,
		Parallelism:           q.e.opts.Parallelism,
	}
	if v, ok := q.settings["parallelism.default"]; ok {
		opts.Parallelism, _ = strconv.Atoi(v) // checked by SET
	}
	interval, err := q.checkpointInterval()
	if err != nil {
		return err
	}
	if interval >= 0 {
		store, oerr := q.openStore()
		if oerr != nil {
			return oerr
		}
		defer func() {
			if cerr := store.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = markFinished(store.Dir())
			}
		}()
		opts.Store, opts.CheckpointInterval = store, interval
		opts.OnCheckpoint = func(exec.CheckpointStats) {
			if err := writeStatus(store, q.name, true, q.Stats()); err != nil {
				q.e.opts.Logger.Warn("cannot write checkpoint status", "job", q.name, "err", err)
			}
		}
	}
	if !q.IsInsert() {
		if fn == nil {
			fn = func(arrow.Record) error { return nil }
		}
		opts.Collect = &collectSink{fn: fn}
	}
	job, err := exec.Build(q.root, opts)
	if err != nil {
		return err
	}
	q.mu.Lock()
	q.job = job
	q.mu.Unlock()
	q.startOnce.Do(func() { close(q.started) })
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

// Stats returns the running job's counters (zero before Run).
func (q *ContinuousQuery) Stats() exec.Stats {
	q.mu.Lock()
	j := q.job
	q.mu.Unlock()
	if j == nil {
		return exec.Stats{}
	}
	return j.Stats()
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
