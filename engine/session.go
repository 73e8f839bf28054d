package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/planner"
)

// Session is one client's context for statements, as a session of Flink's
// SQL Gateway is: its own catalog and its own settings.
//
//   - Tables and views created in a session are visible to that session
//     only (like Flink's default in-memory catalog, which belongs to the
//     session); each session starts with an empty catalog.
//   - SET and RESET change only the session's settings; a query snapshots
//     them when it is planned, so a later SET does not change a job
//     already planned. 'pipeline.name' set in one session never names
//     another session's jobs.
//   - Job names are unique engine-wide: a second query named "q" in any
//     session becomes "q-2". Background jobs (Submit, SHOW JOBS, STOP JOB)
//     and the UDFs registered with Engine.RegisterFunction are engine-wide.
//
// A Session is safe for concurrent use; its statements run one at a time.
type Session struct {
	e *Engine

	mu       sync.Mutex
	catalog  *planner.Catalog
	settings map[string]string
	nfuncs   int      // how many of the engine's functions the catalog has
	set      *openSet // the statement set BEGIN STATEMENT SET opened, until END
}

// NewSession returns a new session with an empty catalog and no settings.
func (e *Engine) NewSession() *Session {
	return &Session{e: e, catalog: planner.NewCatalog(), settings: map[string]string{}}
}

// Engine returns the session's engine.
func (s *Session) Engine() *Engine { return s.e }

// Execute executes one statement. DDL, SET, SHOW, DESCRIBE and EXPLAIN
// complete immediately; SELECT, INSERT and a statement set (EXECUTE
// STATEMENT SET, or END after BEGIN STATEMENT SET) return a ContinuousQuery
// that the caller runs. Between BEGIN STATEMENT SET and END an INSERT is
// collected rather than planned (see sets.go).
func (s *Session) Execute(ctx context.Context, stmt parser.Statement) (*Result, error) {
	if err := s.e.checkOpen(); err != nil {
		return nil, err
	}
	e := s.e
	if st, ok := stmt.(*parser.StopJobStmt); ok && !s.InStatementSet() {
		// Not under s.mu: stopping waits for the job, and other
		// statements may run meanwhile.
		return e.stopJob(ctx, st)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncFuncs()
	p := s.planner(nil)
	if s.set != nil {
		return s.inSet(p, stmt)
	}
	switch st := stmt.(type) {
	case *parser.CreateTableStmt:
		if err := p.CreateTable(st); err != nil {
			return nil, err
		}
		return &Result{Kind: Message, Message: fmt.Sprintf("table %s created", st.Name.Name)}, nil
	case *parser.CreateViewStmt:
		if err := p.CreateView(st); err != nil {
			return nil, err
		}
		return &Result{Kind: Message, Message: fmt.Sprintf("view %s created", st.Name.Name)}, nil
	case *parser.CreateFunctionStmt:
		if err := p.CreateFunction(st); err != nil {
			return nil, err
		}
		return &Result{Kind: Message, Message: fmt.Sprintf("function %s created", st.Name.Name)}, nil
	case *parser.DropStmt:
		if err := p.Drop(st); err != nil {
			return nil, err
		}
		what := "table"
		if st.View {
			what = "view"
		}
		return &Result{Kind: Message, Message: fmt.Sprintf("%s %s dropped", what, st.Name.Name)}, nil
	case *parser.ShowStmt:
		if strings.HasPrefix(st.What, "CREATE ") {
			return s.showCreate(p, st)
		}
		return s.show(st)
	case *parser.DescribeStmt:
		rows, err := p.Describe(st)
		if err != nil {
			return nil, err
		}
		if st.Extended {
			rows = s.describeExtended(st.Name.Name, rows)
		}
		return &Result{Kind: Table, Header: rows[0], Rows: rows[1:]}, nil
	case *parser.ExplainStmt:
		text, err := p.Explain(st)
		if err != nil {
			return nil, err
		}
		return &Result{Kind: Message, Message: strings.TrimRight(text, "\n")}, nil
	case *parser.SetStmt:
		if st.Key == "" {
			res := &Result{Kind: Table, Header: []string{"key", "value", "source"}}
			for _, r := range s.settingsTable() {
				res.Rows = append(res.Rows, r[:])
			}
			return res, nil
		}
		if err := checkSetting(st.Key, st.Value); err != nil {
			if IsSecretKey(st.Key) {
				// Not a *parser.Error: a caret would print the line,
				// and the secret with it.
				return nil, fmt.Errorf("%s: %v", parser.FormatPos(st.Pos), err)
			}
			return nil, &parser.Error{Pos: st.Pos, Msg: err.Error()}
		}
		key := CanonicalKey(st.Key)
		s.settings[key] = st.Value
		msg := fmt.Sprintf("set %s = %s", st.Key, redactSetting(key, st.Value))
		if key != st.Key {
			msg += fmt.Sprintf(" (an alias of %s)", key)
		}
		return &Result{Kind: Message, Message: msg}, nil
	case *parser.ResetStmt:
		if st.Key == "" {
			s.settings = map[string]string{}
			return &Result{Kind: Message, Message: "all settings reset"}, nil
		}
		if err := checkKey(st.Key); err != nil {
			return nil, &parser.Error{Pos: st.Pos, Msg: err.Error()}
		}
		delete(s.settings, CanonicalKey(st.Key))
		return &Result{Kind: Message, Message: fmt.Sprintf("reset %s", st.Key)}, nil
	case *parser.QueryStmt:
		root, err := p.Query(st)
		if err != nil {
			return nil, err
		}
		return &Result{Kind: Query, Query: s.newQuery(root, st, nil, "")}, nil
	case *parser.InsertStmt:
		root, err := p.Insert(st)
		if err != nil {
			return nil, err
		}
		return &Result{Kind: Query, Query: s.newQuery(root, st, nil, "")}, nil
	case *parser.StatementSetStmt:
		g, err := planStatementSet(p, st)
		if err != nil {
			return nil, err
		}
		return &Result{Kind: Query, Query: s.newQuery(g, st, nil, "")}, nil
	case *parser.BeginStatementSetStmt:
		s.set = &openSet{begin: st.Pos, set: &parser.StatementSetStmt{Pos: st.Pos}}
		return &Result{Kind: Message, Message: BeganSetMessage}, nil
	case *parser.EndStatementSetStmt:
		return nil, &parser.Error{Pos: st.Pos, Msg: "END without BEGIN STATEMENT SET"}
	}
	return nil, &parser.Error{Pos: stmt.Position(), Msg: fmt.Sprintf("statement %T is not supported", stmt)}
}

func (s *Session) show(st *parser.ShowStmt) (*Result, error) {
	var names []string
	switch st.What {
	case "TABLES":
		names = s.catalog.Tables()
	case "VIEWS":
		names = s.catalog.Views()
	case "FUNCTIONS":
		names = append(planner.ScalarFunctions(), "COUNT", "SUM", "AVG", "MIN", "MAX", "TUMBLE", "HOP", "CUMULATE", "SESSION")
		sort.Strings(names)
	case "JOBS":
		return s.e.showJobs(), nil
	case "CHECKPOINTS":
		return s.e.showCheckpoints(st.JobID)
	default:
		return nil, &parser.Error{Pos: st.Pos, Msg: fmt.Sprintf("SHOW %s is not supported", st.What)}
	}
	res := &Result{Kind: Table, Header: []string{strings.ToLower(st.What)}}
	for _, n := range names {
		res.Rows = append(res.Rows, []string{n})
	}
	return res, nil
}

// Setting returns the value of a SET key in the session.
func (s *Session) Setting(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.settings[CanonicalKey(key)]
	return v, ok
}

// Settings returns a copy of the session's settings (what SET set, under
// the keys' names, not their aliases), secrets included: for replaying
// them; RedactSettings before showing them.
func (s *Session) Settings() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.settings))
	for k, v := range s.settings {
		out[k] = v
	}
	return out
}

// Plan plans a SELECT, INSERT or statement set into a ContinuousQuery, as
// Execute does, but named and configured by opts. Any other statement is
// an error. Execute it with Run, Results or Submit.
func (s *Session) Plan(ctx context.Context, stmt parser.Statement, opts QueryOptions) (*ContinuousQuery, error) {
	if err := s.e.checkOpen(); err != nil {
		return nil, err
	}
	for k, v := range opts.Settings {
		if err := checkSetting(k, v); err != nil {
			return nil, &parser.Error{Pos: stmt.Position(), Msg: err.Error()}
		}
	}
	if opts.Name != "" {
		if _, err := checkpoint.JobDir(".", opts.Name); err != nil {
			return nil, fmt.Errorf("job name %q: %v", opts.Name, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncFuncs()
	p := s.planner(opts.Settings)
	var root *plan.Graph
	var err error
	switch st := stmt.(type) {
	case *parser.QueryStmt:
		root, err = p.Query(st)
	case *parser.InsertStmt:
		root, err = p.Insert(st)
	case *parser.StatementSetStmt:
		root, err = planStatementSet(p, st)
	default:
		return nil, &parser.Error{Pos: stmt.Position(), Msg: "expected a SELECT, INSERT or statement set"}
	}
	if err != nil {
		return nil, err
	}
	return s.newQuery(root, stmt, opts.Settings, opts.Name), nil
}

// planner returns a planner over the session's catalog whose parallelism
// and max parallelism are the settings in effect (extra over the
// session's). Called with s.mu held.
func (s *Session) planner(extra map[string]string) *planner.Planner {
	settings := s.settings
	if len(extra) > 0 {
		settings = make(map[string]string, len(s.settings)+len(extra))
		for k, v := range s.settings {
			settings[k] = v
		}
		for k, v := range extra {
			settings[CanonicalKey(k)] = v
		}
	}
	p := planner.New(s.catalog, s.e.reg)
	p.Parallelism = s.e.settingInt(settings, "parallelism.default")
	p.MaxParallelism = s.e.settingInt(settings, "pipeline.max-parallelism")
	p.Updating = s.e.updatingOptions(settings)
	p.Distributed = settingBool(settings, distributedKey)
	p.TimeZone = timeZone(settings)
	return p
}

// newQuery snapshots the session's settings (with extra on top) and names
// the job: name if given (reserving it), else SET 'pipeline.name' or the
// engine's default name; the second query of the engine with the same
// name gets "-2" appended, and so on, so each has its own checkpoints.
// Called with s.mu held.
func (s *Session) newQuery(root *plan.Graph, stmt parser.Statement, extra map[string]string, name string) *ContinuousQuery {
	settings := make(map[string]string, len(s.settings)+len(extra))
	for k, v := range s.settings {
		settings[k] = v
	}
	for k, v := range extra {
		settings[CanonicalKey(k)] = v
	}
	e := s.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if name != "" {
		e.reserveName(name)
	} else {
		name = settings["pipeline.name"]
		if name == "" {
			name = e.opts.DefaultJobName
		}
		e.jobs[name]++
		if n := e.jobs[name]; n > 1 {
			name = fmt.Sprintf("%s-%d", name, n)
		}
	}
	return &ContinuousQuery{e: e, graph: root, stmt: stmt, settings: settings, name: name, started: make(chan struct{})}
}

// RegisterFunction makes f callable from SQL in this session only, in
// statements planned afterwards. The name is case-insensitive and must not
// be a built-in function's.
func (s *Session) RegisterFunction(f Function) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncFuncs()
	return s.catalog.RegisterFunction(f)
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
