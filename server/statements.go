package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/parser"
)

// statementResult is the outcome of one statement of POST /v1/statements.
type statementResult struct {
	Statement string `json:"statement"`
	// Kind is "message", "table" or "job".
	Kind    string     `json:"kind"`
	Message string     `json:"message,omitempty"`
	Header  []string   `json:"header,omitempty"`
	Rows    [][]string `json:"rows,omitempty"`
	// Job is the id of the job an INSERT submitted.
	Job string `json:"job,omitempty"`
}

// selectHint is the error for a SELECT sent to /v1/statements.
const selectHint = "SELECT returns rows to a client: stream them with GET /v1/query?sql=... (or POST /v1/query), or INSERT INTO a table to run the query as a job"

// handleStatements is POST /v1/statements.
func (s *Server) handleStatements(w http.ResponseWriter, r *http.Request) {
	sql, ok := readSQL(w, r)
	if !ok {
		return
	}
	stmts, err := parser.Parse("", sql)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	// Refuse the whole request before running any of it.
	for i, st := range stmts {
		if _, ok := st.(*parser.QueryStmt); ok {
			body := errorBody(&parser.Error{Pos: st.Position(), Msg: selectHint})
			body.Statement = i + 1
			writeJSON(w, http.StatusBadRequest, body)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	results := []statementResult{}
	for i, st := range stmts {
		res, code, err := s.execute(r.Context(), st)
		if err != nil {
			body := errorBody(err)
			body.Statement = i + 1
			body.Results = results
			writeJSON(w, code, body)
			return
		}
		results = append(results, res)
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// execute runs one statement of the session. Called with s.mu held.
func (s *Server) execute(ctx context.Context, st parser.Statement) (statementResult, int, error) {
	out := statementResult{Statement: st.String()}
	if ins, ok := st.(*parser.InsertStmt); ok {
		q, err := s.eng.Plan(ctx, ins, engine.QueryOptions{})
		if err != nil {
			return out, http.StatusBadRequest, err
		}
		job, err := s.eng.Submit(q, nil)
		if err != nil {
			return out, http.StatusConflict, err
		}
		err = s.journal.append(entry{Kind: kindJob, SQL: st.String(), Job: job.ID(), Status: engine.Running, Submitted: time.Now().UTC()})
		if err != nil {
			job.Cancel()
			<-job.Done()
			return out, http.StatusInternalServerError, fmt.Errorf("job %s not submitted: %w", job.ID(), err)
		}
		s.watch(job)
		out.Kind, out.Job, out.Message = "job", job.ID(), fmt.Sprintf("job %s submitted", job.ID())
		return out, 0, nil
	}
	res, err := s.eng.Execute(ctx, st)
	if err != nil {
		var pe *parser.Error
		if _, stop := st.(*parser.StopJobStmt); stop && !errors.As(err, &pe) {
			return out, http.StatusConflict, err
		}
		return out, http.StatusBadRequest, err
	}
	if changesSession(st) {
		if err := s.journal.append(entry{Kind: kindSession, SQL: st.String()}); err != nil {
			return out, http.StatusInternalServerError, fmt.Errorf("the statement took effect but was not recorded: %w", err)
		}
	}
	switch res.Kind {
	case engine.Message:
		out.Kind, out.Message = "message", res.Message
	case engine.Table:
		out.Kind, out.Header, out.Rows = "table", res.Header, res.Rows
	default:
		// Not reached: SELECT and INSERT are handled above.
		return out, http.StatusBadRequest, &parser.Error{Pos: st.Position(), Msg: selectHint}
	}
	return out, 0, nil
}

// changesSession reports whether st changes the catalog or the settings,
// and so belongs in the job log.
func changesSession(st parser.Statement) bool {
	switch st := st.(type) {
	case *parser.CreateTableStmt, *parser.CreateViewStmt, *parser.DropStmt, *parser.ResetStmt:
		return true
	case *parser.SetStmt:
		return st.Key != ""
	}
	return false
}

// savepointName names a savepoint directory uniquely enough for requests
// that come faster than once a second.
func savepointName() string {
	return strings.ReplaceAll(time.Now().UTC().Format("20060102-150405.000000"), ".", "-")
}
