package engine

import (
	"context"

	"github.com/streamsql/streamsql/parser"
)

// StatementResult is the outcome of one statement of a script run by
// Exec.
type StatementResult struct {
	// Statement is the statement as parsed (its String() prints it back).
	Statement parser.Statement
	// Result is what Execute returned. For a SELECT, Result.Query is
	// planned but not running: run it with Rows, Results or Run.
	Result *Result
	// Job is the background job an INSERT started, else nil.
	Job *Job
}

// Exec runs a script in the engine's default session (see Session.Exec).
func (e *Engine) Exec(ctx context.Context, sql string) ([]StatementResult, error) {
	return e.def.Exec(ctx, sql)
}

// Exec parses sql (one or more statements separated by ';') and executes
// the statements in order, as a script does in Flink's SQL client:
// CREATE, DROP, SET, RESET, SHOW, DESCRIBE and EXPLAIN take effect at once;
// each INSERT, and each statement set (EXECUTE STATEMENT SET, or END after
// BEGIN STATEMENT SET), is submitted as a background job (see Submit), which Exec
// does not wait for (use the Job's Wait, or Close); a SELECT is planned and
// returned for the caller to run.
//
// It stops at the first statement that fails and returns the results of
// the statements before it, which stay in effect (their jobs keep
// running), with the error: a *parser.Error whose position gives the line
// and column of the fault in sql ("3:8: unknown column …"). A script that
// does not parse executes nothing.
func (s *Session) Exec(ctx context.Context, sql string) ([]StatementResult, error) {
	stmts, err := parser.Parse("", sql)
	if err != nil {
		return nil, err
	}
	var out []StatementResult
	for _, st := range stmts {
		res, err := s.Execute(ctx, st)
		if err != nil {
			return out, err
		}
		r := StatementResult{Statement: st, Result: res}
		if res.Kind == Query && res.Query.IsInsert() {
			if r.Job, err = s.e.Submit(res.Query, nil); err != nil {
				return out, &parser.Error{Pos: st.Position(), Msg: err.Error()}
			}
		}
		out = append(out, r)
	}
	return out, s.CheckSetClosed()
}
