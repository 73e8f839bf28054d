package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/server"
)

// serveReal runs a server as the serve command does: its HTTPServer on
// its Listen over a loopback listener. It returns the address.
func serveReal(t *testing.T, opts server.Options) (string, *server.Server) {
	t.Helper()
	eng := engine.New(engine.Options{StateDir: t.TempDir(), Stdout: io.Discard})
	srv, err := server.New(eng, opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.HTTPServer()
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(srv.Listen(ln)) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		hs.Close()
		<-done
	})
	return ln.Addr().String(), srv
}

// closedWithin reads from conn until the server closes it, or fails after
// limit (a bound far above the configured timeouts, not a measurement).
func closedWithin(t *testing.T, conn net.Conn, limit time.Duration, what string) []byte {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(limit))
	b, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: the server still holds the connection after %v", what, limit)
	}
	return b
}

// TestSlowBody: a client that trickles its body one byte at a time
// (slowloris) is cut off after ReadTimeout instead of holding its
// connection for as long as it likes.
func TestSlowBody(t *testing.T) {
	addr, _ := serveReal(t, server.Options{ReadTimeout: 500 * time.Millisecond})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "SHOW TABLES;" + strings.Repeat(" ", 500)
	if _, err := fmt.Fprintf(conn, "POST /v1/statements HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", addr, len(body)); err != nil {
		t.Fatal(err)
	}
	cut := make(chan struct{})
	go func() {
		defer close(cut)
		for i := range len(body) {
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return // cut off
			}
			time.Sleep(100 * time.Millisecond) // the whole body would take 50 s
		}
	}()
	resp := closedWithin(t, conn, 15*time.Second, "a trickled body")
	if strings.HasPrefix(string(resp), "HTTP/1.1 200") {
		t.Fatalf("the trickled request succeeded: %s", resp)
	}
	conn.Close()
	<-cut
}

// TestIdleConnections: connections that send nothing, and kept-alive ones
// left idle, are closed by the server, even when there are more of them
// than the connection cap; requests get through once they are gone.
func TestIdleConnections(t *testing.T) {
	addr, _ := serveReal(t, server.Options{MaxConns: 2, ReadHeaderTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond})
	var conns []net.Conn
	for range 6 {
		c, err := net.Dial("tcp", addr) // completes in the kernel's backlog beyond the cap
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for i, c := range conns {
		closedWithin(t, c, 15*time.Second, fmt.Sprintf("silent connection %d of 6 (cap 2)", i+1))
	}
	// A kept-alive connection after its request.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	closedWithin(t, c, 15*time.Second, "an idle kept-alive connection")
}

// TestConnectionCap: with the cap reached by two streaming queries, a
// third connection is not served until one of them ends; and a stream
// outlives ReadTimeout (it lifts its deadline).
func TestConnectionCap(t *testing.T) {
	addr, srv := serveReal(t, server.Options{MaxConns: 2, ReadTimeout: 300 * time.Millisecond})
	_ = srv
	base := "http://" + addr
	post := func(sql string) {
		t.Helper()
		resp, err := http.Post(base+"/v1/statements", "text/plain", strings.NewReader(sql))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", sql, resp.StatusCode, b)
		}
	}
	post(`CREATE TABLE slow (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
		WITH ('connector' = 'datagen', 'rows-per-second' = '20')`)
	http.DefaultClient.CloseIdleConnections()

	type stream struct {
		cancel context.CancelFunc
		lines  *bufio.Scanner
		body   io.Closer
	}
	open := func() stream {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		tr := &http.Transport{}
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/query?sql="+urlEscape("SELECT k FROM slow"), nil)
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("GET /v1/query: %d", resp.StatusCode)
		}
		return stream{cancel: func() { cancel(); resp.Body.Close(); tr.CloseIdleConnections() }, lines: bufio.NewScanner(resp.Body), body: resp.Body}
	}
	a, b := open(), open()
	defer a.cancel()
	defer b.cancel()
	// Rows keep coming well past ReadTimeout.
	t0 := time.Now()
	for i := 0; time.Since(t0) < 1500*time.Millisecond; i++ {
		if !a.lines.Scan() {
			t.Fatalf("the stream ended after %d rows, %v: %v", i, time.Since(t0), a.lines.Err())
		}
	}
	third := make(chan int, 1)
	go func() {
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(base + "/healthz")
		if err != nil {
			third <- -1
			return
		}
		resp.Body.Close()
		third <- resp.StatusCode
	}()
	select {
	case code := <-third:
		t.Fatalf("a third connection was served (%d) while the cap of 2 was held", code)
	case <-time.After(time.Second):
	}
	b.cancel()
	select {
	case code := <-third:
		if code != 200 {
			t.Fatalf("the third request, once a slot freed: %d", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the third request was not served after a stream ended")
	}
}
