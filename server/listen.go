package server

import (
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// Defaults of the HTTP limits (Options.ReadHeaderTimeout and the rest).
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultMaxConns          = 128
)

// HTTPServer returns an http.Server serving s with the timeouts and
// limits of its Options. A request must send its headers within
// ReadHeaderTimeout and its whole body within ReadTimeout; a kept-alive
// connection idle for IdleTimeout is closed. There is no write timeout:
// the streaming responses of /v1/query last as long as their query (the
// read deadline does not end them: net/http lifts it once the request
// body has been read), and the other responses are small; the connection
// cap of Listen bounds what slow readers can hold.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    s.opts.MaxHeaderBytes,
	}
}

// Listen wraps ln so that at most Options.MaxConns connections are open
// at once: beyond that, new connections wait in the listen backlog until
// one closes (and every open one is bounded by the timeouts of
// HTTPServer, so none is held forever by an idle client).
func (s *Server) Listen(ln net.Listener) net.Listener {
	return netutil.LimitListener(ln, s.opts.MaxConns)
}
