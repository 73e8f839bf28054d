package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/server"
)

func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8081", "address to listen on (loopback by default; the API can run any connector, so expose it only behind --auth-token)")
	stateDir := fs.String("state-dir", ".streamsql", "directory for checkpoints, savepoints and the server's job log")
	token := fs.String("auth-token", "", "require 'Authorization: Bearer TOKEN' on the API (default: $STREAMSQL_AUTH_TOKEN, else a random token printed on start)")
	noAuth := fs.Bool("no-auth", false, "serve the API without a token (anyone who can reach the address can run any SQL)")
	var allowOrigins, allowHosts listFlag
	fs.Var(&allowOrigins, "allow-origin", "an origin (scheme://host[:port]) whose web pages may call the API, besides the server's own (repeatable)")
	fs.Var(&allowHosts, "allow-host", "a host name accepted in the Host header, besides loopback names and the --addr host, e.g. a reverse proxy's (repeatable)")
	maxBody := fs.String("max-body", "1MiB", "largest request body accepted (bytes, or with a KiB/MiB/GiB suffix)")
	dataDir := fs.String("data-dir", ".", "directory that filesystem tables may read and write (sources and sinks elsewhere are refused)")
	var allowPaths listFlag
	fs.Var(&allowPaths, "allow-path", "another directory that filesystem tables may use (repeatable)")
	maxConns := fs.Int("max-conns", server.DefaultMaxConns, "most connections open at once (more wait until one closes)")
	interval := fs.Duration("checkpoint-interval", 10*time.Second, "default time between checkpoints (SET 'execution.checkpointing.interval' overrides; 0 disables)")
	verbose := fs.Bool("v", false, "log job events and checkpoints to stderr")
	instanceID := fs.String("instance-id", "", "this process's identity among the processes that run one job with SET 'execution.distributed' = 'true' (default: the host name and the state directory)")
	remote := addRemoteFlags(fs, true)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: streamsql serve [flags]

Serves the REST API: POST /v1/statements runs SQL (an INSERT becomes a
background job), /v1/jobs lists and controls jobs, /v1/query streams the
rows of a SELECT, /metrics exports Prometheus metrics, / shows a web page.
It prints an API token (random unless --auth-token is given) and the web
page's URL with it; requests from other origins or naming another Host are
refused. Jobs submitted to the server resume from their checkpoints when it
is started again on the same state directory. Ctrl-C or SIGTERM stops the
server; its running jobs resume on the next start.

Flags:
`)
		fs.PrintDefaults()
	}
	if done, err := parseFlags(fs, args); done {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	limit, err := parseSize(*maxBody)
	if err != nil {
		return fmt.Errorf("--max-body: %v", err)
	}
	if *token == "" {
		*token = os.Getenv("STREAMSQL_AUTH_TOKEN")
	}
	switch {
	case *noAuth && *token != "":
		return fmt.Errorf("--no-auth and --auth-token (or $STREAMSQL_AUTH_TOKEN) contradict each other")
	case !*noAuth && *token == "":
		if *token, err = server.NewToken(); err != nil {
			return err
		}
	}
	if *interval == 0 {
		*interval = -1
	}
	if err := checkRemoteFlags(remote, ""); err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	policy, err := server.PathPolicy(append([]string{*dataDir}, allowPaths...)...)
	if err != nil {
		return err
	}
	eng := engine.New(engine.Options{StateDir: *stateDir, Stdout: stdout, Logger: logger, CheckpointInterval: *interval, PathPolicy: policy, InstanceID: *instanceID,
		CheckpointDir: *remote.checkpointDir, SavepointDir: *remote.savepointDir, ObjectStore: remote.config()})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv, err := server.New(eng, server.Options{
		AuthToken: *token, MaxBody: limit, MaxConns: *maxConns, Logger: logger,
		Addr: *addr, AllowedOrigins: allowOrigins, AllowedHosts: allowHosts,
	})
	if err != nil {
		ln.Close()
		return err
	}
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); *token == "" && !net.ParseIP(host).IsLoopback() {
		logger.Warn("serving the API without a token (--no-auth) on a non-loopback address", "addr", ln.Addr().String())
	}
	fmt.Fprintf(stderr, "streamsql: serving on http://%s (state dir %s, data dir %s)\n", ln.Addr(), *stateDir, *dataDir)
	if *token != "" {
		fmt.Fprintf(stderr, "streamsql: API token: %s (send \"Authorization: Bearer %s\")\n", *token, *token)
		fmt.Fprintf(stderr, "streamsql: web page: http://%s/?token=%s\n", ln.Addr(), url.QueryEscape(*token))
	} else {
		fmt.Fprintf(stderr, "streamsql: web page: http://%s/ (no token: --no-auth)\n", ln.Addr())
	}
	hs := srv.HTTPServer()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(srv.Listen(ln)) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	// Cancel the jobs (they resume on the next start) and end streaming
	// queries, then let the other requests finish.
	cerr := srv.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := hs.Shutdown(sctx); err == nil || errors.Is(err, http.ErrServerClosed) {
		err = serr
	}
	return errors.Join(err, cerr)
}

// parseSize reads "1048576", "512KiB", "1MiB", "1GiB" (also KB/MB/GB,
// taken as powers of 1024).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("expected a positive size like 1MiB, got %q", s)
	}
	return n * mult, nil
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set implements flag.Value.
func (l *listFlag) Set(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("expected a value")
	}
	*l = append(*l, v)
	return nil
}
