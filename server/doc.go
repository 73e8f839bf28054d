// Package server is StreamSQL's REST API: an http.Handler over one
// engine.Engine, whose session (catalog and SET settings) is the server's
// session. It owns the HTTP surface, the persistence of the jobs submitted
// through it (so they resume after a restart) and the Prometheus
// exposition of their metrics; it never plans or runs queries itself — the
// engine does — and never touches checkpoint files, which the engine
// reads and writes.
//
// Endpoints (JSON unless said otherwise; errors are
// {"error": "...", "line": L, "column": C}, with the position when the
// error is in the SQL):
//
//	POST /v1/statements             SQL text, or {"sql": "..."}; one or more statements
//	GET  /v1/jobs                   every job, with those of earlier runs that ended
//	GET  /v1/jobs/{id}              one job: status, SQL, stats, last checkpoint, savepoint
//	POST /v1/jobs/{id}/stop         {"savepoint": true} stops with a savepoint
//	POST /v1/jobs/{id}/savepoints   takes a savepoint of a running job
//	GET  /v1/jobs/{id}/checkpoints  the job's retained checkpoints and failures
//	GET  /v1/query?sql=...          (or POST) the rows of a SELECT as they are
//	                                emitted: NDJSON, or server-sent events with
//	                                Accept: text/event-stream
//	GET  /metrics                   Prometheus text exposition format
//	GET  /healthz                   liveness (no authentication)
//	GET  /                          a small web page over the API
//
// Trust. Every request's Host must name the server and a request from a
// browser must come from its own origin (or Options.AllowedOrigins), so
// that no other web page can use the API; Options.AuthToken, when set, is
// required as a bearer token. See guard.go.
//
// In /v1/statements, DDL, SET, RESET, SHOW, DESCRIBE, EXPLAIN and STOP JOB
// run as in the REPL; an INSERT is submitted as a background job and its
// id returned; a SELECT is refused (400) with a pointer to /v1/query,
// since its rows need a client that reads them: run it through /v1/query,
// or INSERT INTO a table to run it as a job.
//
// Persistence. The server records, in STATE-DIR/.server/jobs.json
// (written atomically), the session's statements that change it (CREATE,
// DROP, SET, RESET) and each submitted INSERT with its job id and status,
// in order. New replays that log: the catalog and settings come back, and
// every job that was running when the previous server stopped is
// submitted again under the same id, so the engine restores it from its
// newest checkpoint. Jobs that finished, failed or were stopped are not
// resubmitted. Close cancels the running jobs without marking them ended,
// which is what lets them resume.
package server
