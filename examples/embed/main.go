// Command embed shows StreamSQL embedded in a Go program, without the CLI
// or the server: it opens an engine, defines a table over generated page
// views, runs a windowed query and logs each window's result as the window
// closes.
//
//	go run ./examples/embed                  # unbounded, 1000 views/s, Ctrl-C to stop
//	go run ./examples/embed -rows 20000      # bounded: ends after the last window
//
// It runs the script with Exec and reads the rows as Go values with Rows.
// The query checkpoints into -state-dir; Ctrl-C closes the engine, which
// stops the query with a final checkpoint, and a second run resumes there.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/streamsql/streamsql/engine"
)

// config is what the flags set.
type config struct {
	StateDir string
	Rows     int64  // 0: unbounded
	Rate     string // rows per second, or "unlimited"
	Window   time.Duration
}

func main() {
	var cfg config
	flag.StringVar(&cfg.StateDir, "state-dir", ".streamsql-embed", "directory for checkpoints")
	flag.Int64Var(&cfg.Rows, "rows", 0, "number of page views to generate (0: unbounded)")
	flag.StringVar(&cfg.Rate, "rate", "1000", "page views per second, or 'unlimited'")
	flag.DurationVar(&cfg.Window, "window", 10*time.Second, "window size, in event time")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stderr); err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
}

// run runs the query until its source is exhausted or ctx ends, logging a
// line per (window, page) to out.
func run(ctx context.Context, cfg config, out io.Writer) error {
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{} // stable output
		}
		return a
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{ReplaceAttr: noTime}))
	// The engine's own log: warnings only (restores, checkpoint trouble).
	engLog := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{ReplaceAttr: noTime, Level: slog.LevelWarn}))
	eng := engine.New(engine.Options{StateDir: cfg.StateDir, Logger: engLog, CheckpointInterval: time.Second})
	bound := ""
	if cfg.Rows > 0 {
		bound = fmt.Sprintf("'number-of-rows' = '%d',", cfg.Rows)
	}
	sql := fmt.Sprintf(`
		SET 'pipeline.name' = 'embed-example';
		CREATE TABLE views (page BIGINT, ms BIGINT, ts TIMESTAMP(3),
		                    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
		WITH ('connector' = 'datagen', %s 'rows-per-second' = '%s',
		      'fields.page.min' = '1', 'fields.page.max' = '3',
		      'fields.ms.min' = '10', 'fields.ms.max' = '500', 'fields.ts.step' = '1 ms');
		SELECT window_start, page, COUNT(*) AS views, AVG(ms) AS avg_ms
		FROM TABLE(TUMBLE(TABLE views, DESCRIPTOR(ts), INTERVAL '%d' SECOND))
		GROUP BY window_start, window_end, page;`, bound, cfg.Rate, int64(cfg.Window/time.Second))
	// Ctrl-C (ctx ends): stop the query with a final checkpoint, so that
	// the next run resumes exactly there.
	defer context.AfterFunc(ctx, func() { _ = eng.Close(context.Background()) })()
	results, err := eng.Exec(ctx, sql)
	if err != nil {
		return err
	}
	q := results[len(results)-1].Result.Query
	for row, err := range q.Rows(context.WithoutCancel(ctx)) {
		if err != nil {
			return err
		}
		start := row.Values[0].(time.Time)
		log.Info("window", "start", start.Format("2006-01-02 15:04:05.000"), "page", row.Values[1], "views", row.Values[2], "avg_ms", row.Values[3])
	}
	if err := eng.Close(context.Background()); err != nil {
		return err
	}
	return ctx.Err()
}
