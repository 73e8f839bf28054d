// Package server is StreamSQL's REST API: an http.Handler over one
// engine.Engine, with sessions as Flink's SQL Gateway has them (see
// sessions.go). It owns the HTTP surface, the persistence of the jobs submitted
// through it (so they resume after a restart) and the Prometheus
// exposition of their metrics; it never plans or runs queries itself — the
// engine does — and never touches checkpoint files, which the engine
// reads and writes.
//
// Endpoints (JSON unless said otherwise; errors are
// {"error": "...", "line": L, "column": C}, with the position when the
// error is in the SQL):
//
//	POST /v1/statements             SQL text, or {"sql": "..."}; one or more statements,
//	                                in the default session (shared catalog, SET per request)
//	POST /v1/sessions               opens a session: {"session": "<handle>", ...}
//	GET  /v1/sessions/{id}          its settings and tables
//	POST /v1/sessions/{id}/statements  statements in the session
//	DELETE /v1/sessions/{id}        closes it (its jobs keep running)
//	GET  /v1/jobs                   every job, with those of earlier runs that ended
//	GET  /v1/jobs/{id}              one job: status, SQL, stats, last checkpoint, savepoint
//	POST /v1/jobs/{id}/stop         {"savepoint": true} or {"name": "n"} stops with a savepoint
//	POST /v1/jobs/{id}/savepoints   takes a savepoint of a running job ({"name": "n"} optional)
//	GET  /v1/jobs/{id}/savepoints   the job's savepoints in STATE-DIR/savepoints
//	GET  /v1/jobs/{id}/checkpoints  the job's retained checkpoints and failures
//	GET  /v1/query?sql=...[&session=ID]  (or POST) the rows of a SELECT as they are
//	                                emitted: NDJSON, or server-sent events with
//	                                Accept: text/event-stream; a row that is not
//	                                an insert has a first field "op" ("-U", "+U", "-D")
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
// (written atomically), the statements that change the shared catalog
// (CREATE, DROP) and each submitted INSERT with its job id, status,
// session, settings (and, for a job of a session, the statements of that
// session's catalog), in order. New replays that log: the shared catalog
// comes back, and every job that was running when the previous server
// stopped is submitted again under the same id, planned as it was, so the
// engine restores it from its newest checkpoint. Sessions do not come
// back. Jobs that finished, failed or were stopped are not
// resubmitted. Close cancels the running jobs without marking them ended,
// which is what lets them resume.
package server
