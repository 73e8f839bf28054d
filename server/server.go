package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/parser"
)

// DefaultMaxBody is the default limit on request bodies.
const DefaultMaxBody = 1 << 20

// Options configure a Server. The zero value is usable.
type Options struct {
	// AuthToken, when set, is required as "Authorization: Bearer <token>"
	// on every endpoint but /healthz and the static web page. It is never
	// read from a cookie or the URL. Empty: no authentication.
	AuthToken string
	// Addr is the address the server is reached at (host:port, as given to
	// net.Listen). Requests must name it, a loopback host or one of
	// AllowedHosts in their Host header; a wildcard host (0.0.0.0, ::, "")
	// admits any IP address. See the Host and Origin checks in guard.go.
	Addr string
	// AllowedHosts are more host names accepted in the Host header
	// (e.g. the name of a reverse proxy); "*" accepts any.
	AllowedHosts []string
	// AllowedOrigins are more origins (scheme://host[:port]) whose web
	// pages may call the API; "*" accepts any. The server's own origin is
	// always accepted.
	AllowedOrigins []string
	// MaxBody limits request bodies in bytes (default DefaultMaxBody).
	MaxBody int64
	// ReadHeaderTimeout, ReadTimeout, IdleTimeout and MaxHeaderBytes
	// configure the http.Server of HTTPServer; MaxConns caps the open
	// connections of Listen. Zero means the Default value of each.
	ReadHeaderTimeout, ReadTimeout, IdleTimeout time.Duration
	MaxHeaderBytes, MaxConns                    int
	Logger                                      *slog.Logger
	// StopTimeout bounds how long Close waits for each job to end after
	// cancelling it (default 30s).
	StopTimeout time.Duration
	// SessionIdleTimeout closes a session unused for that long (default
	// DefaultSessionIdleTimeout); MaxSessions caps the open sessions
	// (default DefaultMaxSessions).
	SessionIdleTimeout time.Duration
	MaxSessions        int
}

// Server is the REST API over one engine. Create it with New; it is an
// http.Handler. Safe for concurrent use.
type Server struct {
	eng   *engine.Engine
	opts  Options
	log   *slog.Logger
	mux   *http.ServeMux
	guard *guard

	// mu serializes statements (of every session) and the job log.
	mu      sync.Mutex
	journal *journal
	// shared is the default session: its catalog is the server's shared
	// catalog, built by sharedDDL (in order); its settings last one
	// request. Guarded by mu.
	shared    *engine.Session
	sharedDDL []string
	sessions  *sessionTable

	ctx    context.Context // ends streaming queries on Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // job watchers
	seq    atomic.Int64   // names of ad-hoc queries
}

// New returns a server over eng, after replaying the job log in eng's
// state directory: the session's statements run again and the jobs that
// were running are resubmitted (each restores from its checkpoints).
// Statements of the log that now fail are logged and skipped.
func New(eng *engine.Engine, opts Options) (*Server, error) {
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ReadHeaderTimeout <= 0 {
		opts.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = DefaultReadTimeout
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.MaxHeaderBytes <= 0 {
		opts.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.SessionIdleTimeout <= 0 {
		opts.SessionIdleTimeout = DefaultSessionIdleTimeout
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 30 * time.Second
	}
	g, err := newGuard(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{eng: eng, opts: opts, log: opts.Logger, mux: http.NewServeMux(), guard: g, ctx: ctx, cancel: cancel,
		shared: eng.NewSession(), sessions: &sessionTable{m: map[string]*session{}, idle: opts.SessionIdleTimeout, max: opts.MaxSessions}}
	j, err := openJournal(eng.StateDir())
	if err != nil {
		cancel()
		return nil, err
	}
	s.journal = j
	if err := s.replay(); err != nil {
		cancel()
		return nil, err
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	api := func(pattern string, h http.HandlerFunc) { s.mux.Handle(pattern, s.authed(h)) }
	api("POST /v1/statements", s.handleStatements)
	api("POST /v1/sessions", s.handleOpenSession)
	api("GET /v1/sessions/{id}", s.handleGetSession)
	api("POST /v1/sessions/{id}/statements", s.handleSessionStatements)
	api("DELETE /v1/sessions/{id}", s.handleCloseSession)
	api("GET /v1/jobs", s.handleJobs)
	api("GET /v1/jobs/{id}", s.handleJob)
	api("POST /v1/jobs/{id}/stop", s.handleStop)
	api("POST /v1/jobs/{id}/savepoints", s.handleSavepoint)
	api("GET /v1/jobs/{id}/savepoints", s.handleListSavepoints)
	api("GET /v1/jobs/{id}/checkpoints", s.handleCheckpoints)
	api("GET /v1/query", s.handleQuery)
	api("POST /v1/query", s.handleQuery)
	api("GET /metrics", s.handleMetrics)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /{$}", s.handleIndex)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if why := s.guard.check(r); why != "" {
		s.log.Warn("server: request refused", "method", r.Method, "path", r.URL.Path, "host", r.Host, "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr, "why", why)
		writeError(w, http.StatusForbidden, errors.New(why))
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBody)
	}
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		// No route: answer the mux's 404 or 405 (with its Allow header)
		// in JSON, like every other error.
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if allow := rec.Header().Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		writeError(w, rec.Code, fmt.Errorf("no endpoint %s %s", r.Method, r.URL.Path))
		return
	}
	s.mux.ServeHTTP(w, r) // sets the path values
}

// Close ends streaming queries and cancels the running jobs without
// marking them ended in the job log, so that a server started later on the
// same state directory resumes them from their checkpoints. It waits for
// the jobs to end. The engine stays usable.
func (s *Server) Close() error {
	s.mu.Lock()
	s.journal.closed = true // job watchers no longer record endings
	s.mu.Unlock()
	s.cancel()
	var errs []error
	for _, j := range s.eng.Jobs() {
		if j.Status() != engine.Running {
			continue
		}
		j.Cancel()
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.StopTimeout)
		select {
		case <-j.Done():
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("server: job %q did not end within %v", j.ID(), s.opts.StopTimeout))
		}
		cancel()
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// authed checks the bearer token, in constant time.
func (s *Server) authed(h http.HandlerFunc) http.Handler {
	if s.opts.AuthToken == "" {
		return h
	}
	want := []byte("Bearer " + s.opts.AuthToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="streamsql"`)
			writeError(w, http.StatusUnauthorized, errors.New("missing or wrong bearer token"))
			return
		}
		h(w, r)
	})
}

// apiError is the JSON body of every error.
type apiError struct {
	Error  string `json:"error"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	// Statement is the 1-based index of the failing statement of a
	// request with several, or 0.
	Statement int `json:"statement,omitempty"`
	// Results are those of the statements before the failing one, which
	// took effect.
	Results []statementResult `json:"results,omitempty"`
}

func errorBody(err error) apiError {
	var pe *parser.Error
	if errors.As(err, &pe) {
		return apiError{Error: pe.Msg, Line: pe.Pos.Line, Column: pe.Pos.Column}
	}
	return apiError{Error: err.Error()}
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, errorBody(err))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error": "cannot encode the response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// bodyError maps an error reading the body to its status code.
func bodyError(w http.ResponseWriter, err error) {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("request body larger than %d bytes", mb.Limit))
		return
	}
	writeError(w, http.StatusBadRequest, fmt.Errorf("reading the request body: %v", err))
}

// readSQL reads SQL from a request body: the text itself, or a JSON
// object {"sql": "..."} (with Content-Type application/json, or a body
// starting with '{').
func readSQL(w http.ResponseWriter, r *http.Request) (string, bool) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		bodyError(w, err)
		return "", false
	}
	text := string(body)
	trimmed := strings.TrimSpace(text)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || strings.HasPrefix(trimmed, "{") {
		var req struct {
			SQL string `json:"sql"`
		}
		if err := json.Unmarshal([]byte(trimmed), &req); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("expected SQL text or a JSON object {\"sql\": \"...\"}: %v", err))
			return "", false
		}
		text = req.SQL
	}
	if strings.TrimSpace(text) == "" {
		writeError(w, http.StatusBadRequest, errors.New("expected SQL in the request body"))
		return "", false
	}
	return text, true
}

// readJSON decodes an optional JSON body into v; an empty body leaves v
// as it is.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			bodyError(w, err)
			return false
		}
		writeError(w, http.StatusBadRequest, fmt.Errorf("bad JSON body: %v", err))
		return false
	}
	return true
}
