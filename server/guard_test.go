package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/server"
)

// raw sends a request with exactly the given headers (Host included) and
// no token unless one is among them.
func (ts *testServer) raw(method, path, body string, hdr ...string) (int, apiError) {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.http.URL+path, strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e apiError
	if resp.StatusCode != http.StatusOK {
		if err := json.Unmarshal(b, &e); err != nil {
			ts.t.Errorf("%s %s: status %d with a body that is not JSON: %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, e
}

func (ts *testServer) port() string {
	u, _ := url.Parse(ts.http.URL)
	return u.Port()
}

// TestHostileHost: a page that rebinds its DNS name to the server's
// address reaches it with its own name in Host, and is refused, on every
// endpoint; loopback names, the served host and allowed hosts pass.
func TestHostileHost(t *testing.T) {
	ts := start(t, t.TempDir(), server.Options{Addr: "streams.lan:8081", AllowedHosts: []string{"proxy.example.com"}})
	p := ts.port()
	for _, host := range []string{"evil.example:" + p, "evil.example", "127.0.0.1.evil.example:" + p, "localhost.evil.example", "streams.lan.evil.example", "10.1.2.3:" + p} {
		for _, path := range []string{"/v1/jobs", "/healthz", "/metrics", "/", "/nowhere"} {
			code, e := ts.raw("GET", path, "", "Host", host)
			if code != http.StatusForbidden || !strings.Contains(e.Error, "Host") {
				t.Errorf("GET %s with Host %q: status %d %+v, want 403 naming the Host", path, host, code, e)
			}
		}
		code, _ := ts.raw("POST", "/v1/statements", "CREATE TABLE pwned (a INT) WITH ('connector' = 'blackhole')", "Host", host, "Content-Type", "text/plain")
		if code != http.StatusForbidden {
			t.Errorf("POST with Host %q: status %d, want 403", host, code)
		}
	}
	for _, host := range []string{"127.0.0.1:" + p, "localhost:" + p, "LOCALHOST:" + p, "app.localhost:" + p, "[::1]:" + p, "127.0.0.1", "streams.lan:8081", "Streams.LAN.", "proxy.example.com"} {
		if code, e := ts.raw("GET", "/v1/jobs", "", "Host", host); code != http.StatusOK {
			t.Errorf("GET /v1/jobs with Host %q: %d %+v, want 200", host, code, e)
		}
	}
	var res []result
	ts.json("POST", "/v1/statements", "SHOW TABLES", http.StatusOK, &struct{ Results *[]result }{&res})
	if len(res) != 1 || len(res[0].Rows) != 0 {
		t.Errorf("a refused statement took effect: %+v", res)
	}

	// A wildcard address accepts any IP address, not names.
	wild := start(t, t.TempDir(), server.Options{Addr: "0.0.0.0:8081"})
	if code, _ := wild.raw("GET", "/v1/jobs", "", "Host", "10.1.2.3:8081"); code != http.StatusOK {
		t.Errorf("wildcard address, Host 10.1.2.3: %d", code)
	}
	if code, _ := wild.raw("GET", "/v1/jobs", "", "Host", "evil.example"); code != http.StatusForbidden {
		t.Errorf("wildcard address, Host evil.example: %d", code)
	}
}

// TestCrossOrigin: a page on another origin cannot run SQL — not with the
// "simple" text/plain or form POSTs a browser sends without a preflight,
// not with a valid token, not from a sandboxed frame (Origin: null) — and
// cannot read the API with GETs either. The server's own page and
// allowed origins can.
func TestCrossOrigin(t *testing.T) {
	ts := start(t, t.TempDir(), server.Options{AuthToken: "tok", AllowedOrigins: []string{"https://dash.example.com"}})
	self := ts.http.URL
	ddl := "CREATE TABLE pwned (a INT) WITH ('connector' = 'blackhole')"
	auth := "Bearer tok"
	for _, c := range []struct{ origin, ctype string }{
		{"http://evil.example", "text/plain"},
		{"http://evil.example", "application/x-www-form-urlencoded"},
		{"http://evil.example", "multipart/form-data; boundary=x"},
		{"http://evil.example", ""},
		{"http://evil.example", "application/json"},
		{"null", "text/plain"},
		{"http://localhost:1", "text/plain"}, // another local port is another origin
		{"https://dash.example.com.evil.example", "text/plain"},
		{strings.Replace(self, "http://", "https://", 1), "text/plain"},
	} {
		for _, tok := range []string{"", auth} {
			code, e := ts.raw("POST", "/v1/statements", ddl, "Origin", c.origin, "Content-Type", c.ctype, "Authorization", tok)
			if code != http.StatusForbidden || !strings.Contains(e.Error, "cross-origin") {
				t.Errorf("POST from Origin %q (%s, auth %q): %d %+v, want 403", c.origin, c.ctype, tok, code, e)
			}
		}
		code, _ := ts.raw("GET", "/v1/query?sql="+url.QueryEscape("SELECT 1"), "", "Origin", c.origin, "Authorization", auth)
		if code != http.StatusForbidden {
			t.Errorf("GET /v1/query from Origin %q: %d, want 403", c.origin, code)
		}
	}
	// Without Origin, browsers' fetch metadata or Referer give them away.
	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Referer", "http://evil.example/page.html"},
	} {
		code, e := ts.raw("POST", "/v1/statements", ddl, "Content-Type", "text/plain", "Authorization", auth, hdr[0], hdr[1])
		if code != http.StatusForbidden {
			t.Errorf("POST with %s %q: %d %+v, want 403", hdr[0], hdr[1], code, e)
		}
	}
	if code, _ := ts.raw("GET", "/v1/jobs", "", "Sec-Fetch-Site", "cross-site", "Authorization", auth); code != http.StatusForbidden {
		t.Errorf("cross-site GET /v1/jobs: %d, want 403", code)
	}
	var tables struct{ Results []result }
	ts.json("POST", "/v1/statements", "SHOW TABLES", http.StatusOK, &tables)
	if len(tables.Results) != 1 || len(tables.Results[0].Rows) != 0 {
		t.Fatalf("a refused statement took effect: %+v", tables.Results)
	}

	// The page itself opens from anywhere (a link, a bookmark).
	if code, _ := ts.raw("GET", "/", "", "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"); code != http.StatusOK {
		t.Errorf("navigation to the page: %d", code)
	}
	// The page's own calls, an allowed origin, and curl pass.
	for _, hdr := range [][]string{
		{"Origin", self, "Sec-Fetch-Site", "same-origin", "Referer", self + "/"},
		{"Origin", "https://dash.example.com"},
		{"Origin", "HTTPS://DASH.EXAMPLE.COM"},
		{"Sec-Fetch-Site", "none"},
		{},
	} {
		h := append([]string{"Content-Type", "text/plain;charset=UTF-8", "Authorization", auth}, hdr...)
		if code, e := ts.raw("POST", "/v1/statements", "SHOW TABLES", h...); code != http.StatusOK {
			t.Errorf("POST with %q: %d %+v, want 200", hdr, code, e)
		}
	}
	// Allowed origins still need the token.
	if code, _ := ts.raw("POST", "/v1/statements", "SHOW TABLES", "Origin", "https://dash.example.com"); code != http.StatusUnauthorized {
		t.Errorf("allowed origin without a token: %d, want 401", code)
	}
}

func TestNewToken(t *testing.T) {
	a, err := server.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := server.NewToken()
	if len(a) != 32 || a == b {
		t.Errorf("tokens %q, %q: want 32 random hex digits each", a, b)
	}
}
