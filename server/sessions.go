package server

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/parser"
)

// Sessions, as in Flink's SQL Gateway. A client opens one with
// POST /v1/sessions and sends statements to POST
// /v1/sessions/{id}/statements. A session has its own settings (SET,
// RESET: 'pipeline.name' set in one session never names another's jobs)
// and its own catalog, which starts as a copy of the server's shared
// catalog (the tables created through POST /v1/statements); tables it
// creates or drops stay in the session. Jobs it submits are the engine's:
// they outlive the session (DELETE /v1/sessions/{id} closes it; jobs keep
// running) and, like every job, resume after a restart, with the catalog
// and settings they were planned with. Sessions themselves do not survive
// a restart, and one unused for Options.SessionIdleTimeout is closed.
//
// A bare POST /v1/statements runs in the default session: its DDL changes
// the shared catalog (kept in the job log), its SETs last one request.

// defaultSession names the default session in logs and the job log.
const defaultSession = "default"

// DefaultSessionIdleTimeout and DefaultMaxSessions are the defaults of
// Options.SessionIdleTimeout and Options.MaxSessions.
const (
	DefaultSessionIdleTimeout = 10 * time.Minute
	DefaultMaxSessions        = 256
)

// session is one open session.
type session struct {
	id string
	es *engine.Session
	// ddl are the catalog statements that built the session's catalog,
	// in order: the shared catalog's when it opened, then its own. Read
	// and written with Server.mu held.
	ddl      []string
	lastUsed time.Time // guarded by sessionTable.mu
	created  time.Time
}

// sessionTable holds the open sessions.
type sessionTable struct {
	mu   sync.Mutex
	m    map[string]*session
	idle time.Duration
	max  int
}

// expireLocked closes the sessions unused for longer than the idle
// timeout.
func (t *sessionTable) expireLocked(now time.Time) {
	for id, s := range t.m {
		if now.Sub(s.lastUsed) > t.idle {
			delete(t.m, id)
		}
	}
}

// get returns the open session id.
func (t *sessionTable) get(id string) (*session, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	t.expireLocked(now)
	s, ok := t.m[id]
	if ok {
		s.lastUsed = now
	}
	return s, ok
}

// touch marks s used, and reports whether it is still open.
func (t *sessionTable) touch(s *session) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m[s.id] != s {
		return false
	}
	s.lastUsed = time.Now()
	return true
}

type sessionView struct {
	Session  string            `json:"session"`
	Created  time.Time         `json:"created"`
	Settings map[string]string `json:"settings"`
	Tables   []string          `json:"tables"`
}

func viewSession(s *session) sessionView {
	tables := s.es.TableNames()
	sort.Strings(tables)
	return sessionView{Session: s.id, Created: s.created.UTC(), Settings: engine.RedactSettings(s.es.Settings()), Tables: tables}
}

// handleOpenSession is POST /v1/sessions.
func (s *Server) handleOpenSession(w http.ResponseWriter, r *http.Request) {
	id, err := NewToken()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	now := time.Now()
	sess := &session{id: id, es: s.eng.NewSession(), lastUsed: now, created: now}
	s.mu.Lock()
	for _, sql := range s.sharedDDL {
		if err := execSQL(sess.es, sql); err != nil {
			s.log.Warn("server: a statement of the shared catalog failed in a new session", "sql", sql, "err", err)
			continue
		}
		sess.ddl = append(sess.ddl, sql)
	}
	s.mu.Unlock()
	t := s.sessions
	t.mu.Lock()
	t.expireLocked(now)
	if len(t.m) >= t.max {
		t.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("too many open sessions (%d): close one with DELETE /v1/sessions/{id}", t.max))
		return
	}
	t.m[id] = sess
	t.mu.Unlock()
	s.log.Info("server: session opened", "session", id)
	writeJSON(w, http.StatusOK, viewSession(sess))
}

// session returns the open session named by the path, or answers 404.
func (s *Server) session(w http.ResponseWriter, r *http.Request) (*session, bool) {
	id := r.PathValue("id")
	sess, ok := s.sessions.get(id)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Errorf("no open session %q (sessions end on DELETE, after %v unused, and when the server restarts; open one with POST /v1/sessions)", id, s.sessions.idle))
	}
	return sess, ok
}

// handleGetSession is GET /v1/sessions/{id}: its settings and tables.
func (s *Server) handleGetSession(w http.ResponseWriter, r *http.Request) {
	if sess, ok := s.session(w, r); ok {
		writeJSON(w, http.StatusOK, viewSession(sess))
	}
}

// handleSessionStatements is POST /v1/sessions/{id}/statements.
func (s *Server) handleSessionStatements(w http.ResponseWriter, r *http.Request) {
	if sess, ok := s.session(w, r); ok {
		s.runStatements(w, r, sess)
	}
}

// handleCloseSession is DELETE /v1/sessions/{id}. The session's jobs keep
// running.
func (s *Server) handleCloseSession(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.session(w, r)
	if !ok {
		return
	}
	s.sessions.mu.Lock()
	delete(s.sessions.m, sess.id)
	s.sessions.mu.Unlock()
	s.log.Info("server: session closed", "session", sess.id)
	writeJSON(w, http.StatusOK, map[string]any{"session": sess.id, "closed": true})
}

// execSQL runs one statement of SQL text (DDL or SET) in es.
func execSQL(es *engine.Session, sql string) error {
	stmts, err := parser.Parse(journalFile, sql)
	if err != nil {
		return err
	}
	if len(stmts) != 1 {
		return fmt.Errorf("expected one statement, got %d", len(stmts))
	}
	_, err = es.Execute(context.Background(), stmts[0])
	return err
}
