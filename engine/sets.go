package engine

import (
	"fmt"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/planner"
)

// Statement sets: several INSERTs that run as one job, with one name, one
// checkpoint for all of them and one state directory, so that their
// sinks commit together and sources they share are read once.
//
// A session takes them in two forms, as Flink's SQL client does:
//
//	EXECUTE STATEMENT SET BEGIN INSERT …; INSERT …; END;
//
// one statement, planned as one query; and, statement by statement (the
// shell's form, accepted from files and the REST API too):
//
//	BEGIN STATEMENT SET;
//	INSERT …;   -- answered "[INFO] Add SQL update statement to the statement set."
//	INSERT …;
//	END;        -- the statement set, planned as one query
//
// Between BEGIN STATEMENT SET and END the session accepts only INSERTs.
// Any error there (another statement, an INSERT that does not plan, a
// second BEGIN) discards the statement set and says so: the session is out
// of the set mode, and the INSERTs collected so far were not run.

// AddedToSetMessage is the answer to an INSERT collected into a statement
// set, the words of Flink's SQL client.
const AddedToSetMessage = "[INFO] Add SQL update statement to the statement set."

// BeganSetMessage is the answer to BEGIN STATEMENT SET.
const BeganSetMessage = "[INFO] Begin a statement set: INSERT statements are collected until END; submits them as one job."

// openSet is a statement set opened by BEGIN STATEMENT SET.
type openSet struct {
	begin parser.Pos
	set   *parser.StatementSetStmt
}

// setError is an error inside an open statement set, which it discards.
func setError(pos parser.Pos, msg string) error {
	return &parser.Error{Pos: pos, Msg: msg + "; the statement set is discarded (BEGIN STATEMENT SET; starts a new one)"}
}

// inSet executes st while a statement set is open. Called with s.mu held.
func (s *Session) inSet(p *planner.Planner, st parser.Statement) (*Result, error) {
	switch st := st.(type) {
	case *parser.InsertStmt:
		// Plan it alone now, so that a mistake shows at the INSERT rather
		// than at END.
		if _, err := p.Insert(st); err != nil {
			s.set = nil
			return nil, fmt.Errorf("%w (the statement set is discarded; BEGIN STATEMENT SET; starts a new one)", err)
		}
		s.set.set.Inserts = append(s.set.set.Inserts, st)
		return &Result{Kind: Message, Message: AddedToSetMessage}, nil
	case *parser.EndStatementSetStmt:
		set, err := s.endSet(st.Pos)
		if err != nil {
			return nil, err
		}
		g, err := planStatementSet(p, set)
		if err != nil {
			return nil, err
		}
		return &Result{Kind: Query, Query: s.newQuery(g, set, nil, "")}, nil
	case *parser.BeginStatementSetStmt:
		s.set = nil
		return nil, setError(st.Pos, "BEGIN STATEMENT SET inside a statement set")
	}
	s.set = nil
	return nil, setError(st.Position(), fmt.Sprintf("only INSERT statements may appear in a statement set, not %s", statementKind(st)))
}

// endSet closes the open statement set (there is one) and returns it.
// Called with s.mu held.
func (s *Session) endSet(pos parser.Pos) (*parser.StatementSetStmt, error) {
	o := s.set
	s.set = nil
	if len(o.set.Inserts) == 0 {
		return nil, &parser.Error{Pos: pos, Msg: "empty statement set: no INSERT between BEGIN STATEMENT SET and END; nothing was submitted"}
	}
	return o.set, nil
}

// CheckSetClosed is for the end of a script: when a statement set is still
// open it discards it and returns an error at its BEGIN STATEMENT SET.
func (s *Session) CheckSetClosed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == nil {
		return nil
	}
	o := s.set
	s.set = nil
	return &parser.Error{Pos: o.begin, Msg: fmt.Sprintf("BEGIN STATEMENT SET has no END: its %d INSERT statement(s) were not run", len(o.set.Inserts))}
}

// InStatementSet reports whether a BEGIN STATEMENT SET of the session
// awaits its END.
func (s *Session) InStatementSet() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.set != nil
}

// DiscardStatementSet leaves the set mode, dropping the INSERTs collected
// since BEGIN STATEMENT SET, and returns how many there were; false when
// no statement set was open.
func (s *Session) DiscardStatementSet() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == nil {
		return 0, false
	}
	n := len(s.set.set.Inserts)
	s.set = nil
	return n, true
}

// EndStatementSet is END for a client that plans and names the job itself
// (the shell): it closes the open statement set and returns it, for Plan.
func (s *Session) EndStatementSet(pos parser.Pos) (*parser.StatementSetStmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == nil {
		return nil, &parser.Error{Pos: pos, Msg: "END without BEGIN STATEMENT SET"}
	}
	return s.endSet(pos)
}

// InStatementSet reports whether the default session is in a statement set
// (see Session.InStatementSet).
func (e *Engine) InStatementSet() bool { return e.def.InStatementSet() }

// DiscardStatementSet leaves the default session's set mode (see
// Session.DiscardStatementSet).
func (e *Engine) DiscardStatementSet() (int, bool) { return e.def.DiscardStatementSet() }

// CheckSetClosed checks that the default session has no open statement set
// (see Session.CheckSetClosed).
func (e *Engine) CheckSetClosed() error { return e.def.CheckSetClosed() }

// EndStatementSet closes the default session's statement set (see
// Session.EndStatementSet).
func (e *Engine) EndStatementSet(pos parser.Pos) (*parser.StatementSetStmt, error) {
	return e.def.EndStatementSet(pos)
}

// planStatementSet plans a statement set into one graph: one job.
//
// Two INSERTs into one table are refused: their sinks would be two writers
// of one output (two filesystem sinks would write the same part files), so
// the error says to combine them with UNION ALL into one INSERT.
func planStatementSet(p *planner.Planner, st *parser.StatementSetStmt) (*plan.Graph, error) {
	g, err := p.StatementSet(st)
	if err != nil {
		return nil, err
	}
	first := map[string]int{}
	for i, sink := range g.Sinks {
		if i >= len(st.Inserts) {
			break
		}
		if j, dup := first[sink.Table]; dup {
			in := st.Inserts[i]
			return nil, &parser.Error{Pos: in.Pos, Msg: fmt.Sprintf(
				"the statement set writes into table %s twice (also its INSERT %d, at line %d, column %d): combine them into one INSERT INTO %s SELECT … UNION ALL SELECT …",
				sink.Table, j+1, st.Inserts[j].Pos.Line, st.Inserts[j].Pos.Column, in.Table)}
		}
		first[sink.Table] = i
	}
	return g, nil
}

// statementKind names a statement for an error.
func statementKind(st parser.Statement) string {
	switch st := st.(type) {
	case *parser.CreateTableStmt:
		return "CREATE TABLE"
	case *parser.CreateViewStmt:
		return "CREATE VIEW"
	case *parser.CreateFunctionStmt:
		return "CREATE FUNCTION"
	case *parser.DropStmt:
		if st.View {
			return "DROP VIEW"
		}
		return "DROP TABLE"
	case *parser.ShowStmt:
		return "SHOW " + st.What
	case *parser.DescribeStmt:
		return "DESCRIBE"
	case *parser.ExplainStmt:
		return "EXPLAIN"
	case *parser.SetStmt:
		return "SET"
	case *parser.ResetStmt:
		return "RESET"
	case *parser.QueryStmt:
		return "a query (SELECT); use INSERT INTO <table> SELECT …"
	case *parser.StopJobStmt:
		return "STOP JOB"
	case *parser.StatementSetStmt:
		return "EXECUTE STATEMENT SET"
	}
	return fmt.Sprintf("%T", st)
}
