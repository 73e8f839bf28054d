package server

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// The server runs any SQL it is sent, and SQL can read and write files
// and Kafka topics, so a web page the user happens to visit must not be
// able to talk to it. Three checks stand in the way, before any handler
// runs (see checkOrigin):
//
//   - Host. A page that rebinds its own DNS name to 127.0.0.1 reaches the
//     server as same-origin, but its requests carry its own name in the
//     Host header. Only loopback names and addresses, the host of the
//     served address (any IP address when it is a wildcard address such as
//     0.0.0.0) and Options.AllowedHosts are accepted.
//   - Origin. Browsers send Origin on every cross-origin request that can
//     change state (and on fetches), including the "simple" text/plain
//     POSTs they send without a CORS preflight. A request whose Origin is
//     not the server's own (scheme://Host) nor one of
//     Options.AllowedOrigins is refused, whatever its method.
//   - Fetch metadata. Without Origin, a browser that says the request is
//     cross-site (Sec-Fetch-Site, or a Referer from another origin on a
//     state-changing request) is refused too, except navigations to the
//     web page itself.
//
// Clients that are not browsers (curl, programs) send neither Origin nor
// Sec-Fetch-Site and pass; the bearer token is what authenticates them.
// The token is only accepted in the Authorization header, never from a
// cookie, so a browser never attaches it on its own.

// NewToken returns a random bearer token (128 bits, hex), as the serve
// command uses when none is given.
func NewToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("server: generating a token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// guard holds the parsed allow-lists.
type guard struct {
	// addrHost is the host of the served address, lowercased; wildcard is
	// set when it is an unspecified address (or empty with a port).
	addrHost string
	wildcard bool
	hosts    map[string]bool // Options.AllowedHosts, lowercased
	anyHost  bool
	origins  map[string]bool // Options.AllowedOrigins, normalized
	anyOrig  bool
}

func newGuard(opts Options) (*guard, error) {
	g := &guard{hosts: map[string]bool{}, origins: map[string]bool{}}
	if opts.Addr != "" {
		host, _, err := net.SplitHostPort(opts.Addr)
		if err != nil {
			host = opts.Addr
		}
		host = normHost(host)
		ip := net.ParseIP(host)
		g.addrHost = host
		g.wildcard = host == "" || ip != nil && ip.IsUnspecified()
	}
	for _, h := range opts.AllowedHosts {
		h = strings.TrimSpace(h)
		if h == "*" {
			g.anyHost = true
			continue
		}
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		if h = normHost(h); h == "" {
			return nil, fmt.Errorf("server: empty allowed host")
		}
		g.hosts[h] = true
	}
	for _, o := range opts.AllowedOrigins {
		o = strings.TrimSpace(o)
		if o == "*" {
			g.anyOrig = true
			continue
		}
		n, ok := normOrigin(o)
		if !ok {
			return nil, fmt.Errorf("server: allowed origin %q: expected scheme://host[:port]", o)
		}
		g.origins[n] = true
	}
	return g, nil
}

// normHost lowercases a host name and drops IPv6 brackets and a trailing
// dot.
func normHost(h string) string {
	h = strings.TrimSuffix(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(h)), "["), "]")
	return strings.TrimSuffix(h, ".")
}

// normOrigin returns scheme://host[:port], lowercased, of an origin or
// URL, and whether it has both a scheme and a host.
func normOrigin(o string) (string, bool) {
	u, err := url.Parse(o)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", false
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host), true
}

// hostOK reports whether a Host header names this server.
func (g *guard) hostOK(hostport string) bool {
	if g.anyHost {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = normHost(host)
	if host == "" {
		return false
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true // resolved to loopback by browsers, never by DNS
	}
	if ip := net.ParseIP(host); ip != nil {
		// An address cannot be rebound; any one the server listens on is
		// fine.
		return ip.IsLoopback() || g.wildcard || host == g.addrHost
	}
	return host == g.addrHost || g.hosts[host]
}

// originOK reports whether origin (an Origin header, or a Referer) is the
// server's own or an allowed one.
func (g *guard) originOK(origin string, r *http.Request) bool {
	if g.anyOrig {
		return true
	}
	n, ok := normOrigin(origin)
	if !ok {
		return false // includes "null": sandboxed frames, file: pages
	}
	if g.origins[n] {
		return true
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return n == scheme+"://"+strings.ToLower(r.Host)
}

// check returns why r must be refused, or "".
func (g *guard) check(r *http.Request) string {
	if !g.hostOK(r.Host) {
		return fmt.Sprintf("Host %q is not this server's (allow it with --allow-host)", r.Host)
	}
	page := r.Method == http.MethodGet && r.URL.Path == "/"
	if origin := r.Header.Get("Origin"); origin != "" {
		if page {
			return "" // the page itself is public; its API calls are checked
		}
		if !g.originOK(origin, r) {
			return fmt.Sprintf("cross-origin request from %q refused (allow it with --allow-origin)", origin)
		}
		return ""
	}
	if page {
		return ""
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return "cross-site request refused (allow its origin with --allow-origin)"
	}
	if changesState(r.Method) {
		if ref := r.Header.Get("Referer"); ref != "" && !g.originOK(ref, r) {
			return "cross-origin request refused: its Referer is another site (allow it with --allow-origin)"
		}
	}
	return ""
}

func changesState(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}
