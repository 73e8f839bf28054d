package server

import (
	_ "embed"
	"net/http"
)

// indexHTML is the web page at /: the jobs (a failed job's error in
// full), the selected job's plan as a graph, its checkpoint history and a
// live throughput chart, polling the API (vanilla JS, no build step).
//
//go:embed ui/index.html
var indexHTML []byte

// handleIndex serves the web page. It needs no token: the page asks for
// one (or reads it from the URL, ?token=... or #token=..., and keeps it
// in sessionStorage) and sends it with its API calls. It may not be
// framed by another site.
func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(indexHTML)
}
