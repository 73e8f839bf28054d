package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/parser"
)

// handleQuery is GET /v1/query?sql=... and POST /v1/query: it runs one
// SELECT and streams its rows as they are emitted, one JSON object per row
// (column name → value; numbers as JSON numbers, timestamps as SQL
// prints them, NULL as null): newline-delimited, or as server-sent events
// (one "data:" event per row, then "event: end") when the client accepts
// text/event-stream. The X-Streamsql-Columns header lists the columns in
// order, for clients that need it before the first row. An error after the
// response began ends the stream with
// {"error": "..."} (an "error" event in SSE). The query stops when the
// client disconnects.
//
// Ad-hoc queries take no checkpoints and leave no state behind; they are
// not jobs (GET /v1/jobs does not list them).
func (s *Server) handleQuery(w http.ResponseWriter, r *http.Request) {
	var sql string
	if r.Method == http.MethodPost {
		var ok bool
		if sql, ok = readSQL(w, r); !ok {
			return
		}
	} else if sql = r.URL.Query().Get("sql"); strings.TrimSpace(sql) == "" {
		writeError(w, http.StatusBadRequest, errors.New("expected a SELECT in the query parameter sql"))
		return
	}
	stmts, err := parser.Parse("", sql)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if len(stmts) != 1 {
		writeError(w, http.StatusBadRequest, fmt.Errorf("expected one SELECT statement, got %d statements", len(stmts)))
		return
	}
	if _, ok := stmts[0].(*parser.QueryStmt); !ok {
		writeError(w, http.StatusBadRequest, &parser.Error{Pos: stmts[0].Position(),
			Msg: "expected a SELECT statement (run other statements with POST /v1/statements)"})
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stopOnClose := context.AfterFunc(s.ctx, cancel)
	defer stopOnClose()
	es := s.shared
	if id := r.URL.Query().Get("session"); id != "" {
		sess, ok := s.sessions.get(id)
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Errorf("no open session %q", id))
			return
		}
		es = sess.es
	}
	s.mu.Lock() // the default session's settings are a request's own
	q, err := es.Plan(ctx, stmts[0], engine.QueryOptions{
		Name:     fmt.Sprintf("_query-%d", s.seq.Add(1)),
		Settings: map[string]string{"execution.checkpointing.interval": "off"},
	})
	s.mu.Unlock()
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	enc, err := format.NewEncoder(format.JSON, q.Schema(), nil)
	if err == nil {
		// {"op":"-U",…}: every row of an updating result carries its
		// kind, an append-only result's rows none.
		err = enc.WriteRowKinds(q.Updating())
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	sse := strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	if sse {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Accel-Buffering", "no")
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
	}
	cols := make([]string, len(q.Schema().Fields))
	for i, f := range q.Schema().Fields {
		cols[i] = f.Name
	}
	w.Header().Set("X-Streamsql-Columns", strings.Join(cols, ","))
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()

	it := q.Results(ctx)
	defer it.Close()
	var buf, out []byte
	for it.Next() {
		buf, err = enc.AppendRecord(buf[:0], it.Record())
		if err != nil {
			break
		}
		out = out[:0]
		if sse {
			for line := range strings.SplitSeq(strings.TrimSuffix(string(buf), "\n"), "\n") {
				out = append(out, "data: "...)
				out = append(out, line...)
				out = append(out, '\n', '\n')
			}
		} else {
			out = append(out, buf...)
		}
		if _, werr := w.Write(out); werr != nil {
			return // the client is gone: Close stops the query
		}
		if rc.Flush() != nil {
			return
		}
	}
	if err == nil {
		err = it.Err()
	}
	if ctx.Err() != nil {
		return
	}
	switch {
	case err != nil:
		b, _ := json.Marshal(errorBody(err))
		if sse {
			fmt.Fprintf(w, "event: error\ndata: %s\n\n", b)
		} else {
			fmt.Fprintf(w, "%s\n", b)
		}
	case sse:
		fmt.Fprint(w, "event: end\ndata: {}\n\n")
	}
	_ = rc.Flush()
}
