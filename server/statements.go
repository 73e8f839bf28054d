package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
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

// handleStatements is POST /v1/statements: the statements of the request
// run in the server's default session, whose catalog is shared (and kept
// in the job log) and whose settings are the request's own: a SET applies
// to the statements after it in the same request, then is forgotten.
func (s *Server) handleStatements(w http.ResponseWriter, r *http.Request) {
	s.runStatements(w, r, nil)
}

// runStatements runs the SQL of a request's body in sess, or in the
// default session when sess is nil.
func (s *Server) runStatements(w http.ResponseWriter, r *http.Request, sess *session) {
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
	if sess == nil {
		// The default session's settings last one request.
		defer func() {
			if _, err := s.shared.Execute(context.Background(), &parser.ResetStmt{}); err != nil {
				s.log.Error("server: cannot reset the default session's settings", "err", err)
			}
		}()
	} else if !s.sessions.touch(sess) {
		writeError(w, http.StatusNotFound, fmt.Errorf("session %s was closed", sess.id))
		return
	}
	results := []statementResult{}
	for i, st := range stmts {
		res, code, err := s.execute(r.Context(), sess, st)
		if err != nil {
			if sess == nil {
				s.shared.DiscardStatementSet()
			}
			body := errorBody(err)
			body.Statement = i + 1
			body.Results = results
			writeJSON(w, code, body)
			return
		}
		results = append(results, res)
	}
	if sess == nil {
		// The default session lasts one request: a statement set it
		// opened must end in it.
		if err := s.shared.CheckSetClosed(); err != nil {
			body := errorBody(err)
			body.Results = results
			writeJSON(w, http.StatusBadRequest, body)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// execute runs one statement in sess (nil: the default session). Called
// with s.mu held.
func (s *Server) execute(ctx context.Context, sess *session, st parser.Statement) (statementResult, int, error) {
	out := statementResult{Statement: engine.StatementText(st)}
	es, sid := s.shared, defaultSession
	if sess != nil {
		es, sid = sess.es, sess.id
	}
	// An INSERT, a statement set and the END of BEGIN STATEMENT SET start
	// a job; an INSERT inside BEGIN STATEMENT SET is collected by Execute.
	var jobStmt parser.Statement
	switch st := st.(type) {
	case *parser.InsertStmt:
		if !es.InStatementSet() {
			jobStmt = st
		}
	case *parser.StatementSetStmt:
		jobStmt = st
	case *parser.EndStatementSetStmt:
		set, err := es.EndStatementSet(st.Pos)
		if err != nil {
			return out, http.StatusBadRequest, err
		}
		jobStmt = set
	}
	if jobStmt != nil {
		q, err := es.Plan(ctx, jobStmt, engine.QueryOptions{})
		if err != nil {
			return out, http.StatusBadRequest, err
		}
		job, err := s.eng.Submit(q, nil)
		if err != nil {
			return out, http.StatusConflict, err
		}
		e := entry{Kind: kindJob, SQL: q.SQL(), Job: job.ID(), Status: engine.Running, Submitted: time.Now().UTC(),
			Session: sid, Settings: es.Settings()}
		if sess != nil {
			// The session's catalog goes with the job, which resumes
			// after a restart without it.
			e.Catalog = slices.Clone(sess.ddl)
		}
		if err := s.journal.append(e); err != nil {
			job.Cancel()
			<-job.Done()
			return out, http.StatusInternalServerError, fmt.Errorf("job %s not submitted: %w", job.ID(), err)
		}
		s.log.Info("server: job submitted", "job", job.ID(), "session", sid, "sql", q.SQL())
		s.watch(job)
		out.Kind, out.Job, out.Message = "job", job.ID(), fmt.Sprintf("job %s submitted", job.ID())
		return out, 0, nil
	}
	res, err := es.Execute(ctx, st)
	if err != nil {
		var pe *parser.Error
		if _, stop := st.(*parser.StopJobStmt); stop && !errors.As(err, &pe) {
			return out, http.StatusConflict, err
		}
		return out, http.StatusBadRequest, err
	}
	if changesCatalog(st) {
		if sess != nil {
			sess.ddl = append(sess.ddl, st.String())
		} else {
			if err := s.journal.append(entry{Kind: kindSession, SQL: st.String()}); err != nil {
				return out, http.StatusInternalServerError, fmt.Errorf("the statement took effect but was not recorded: %w", err)
			}
			s.sharedDDL = append(s.sharedDDL, st.String())
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

// changesCatalog reports whether st changes the catalog, and so belongs
// in the job log (for the default session) or in the session's history.
func changesCatalog(st parser.Statement) bool {
	switch st.(type) {
	case *parser.CreateTableStmt, *parser.CreateViewStmt, *parser.DropStmt:
		return true
	}
	return false
}

// savepointName names a savepoint directory uniquely enough for requests
// that come faster than once a second.
func savepointName() string {
	return strings.ReplaceAll(time.Now().UTC().Format("20060102-150405.000000"), ".", "-")
}
