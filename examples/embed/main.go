// Command embed shows StreamSQL embedded in a Go program, without the CLI
// or the server: it opens an engine, defines a table over generated page
// views, runs a windowed query and logs each window's result as the window
// closes.
//
//	go run ./examples/embed                  # unbounded, 1000 views/s, Ctrl-C to stop
//	go run ./examples/embed -rows 20000      # bounded: ends after the last window
//
// The query checkpoints into -state-dir; run it again after Ctrl-C and it
// resumes where it stopped (rows of a SELECT are at-least-once: a window
// logged after the last checkpoint may be logged again).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
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
	stmts, err := engine.Parse("embed.sql", sql)
	if err != nil {
		return err
	}
	var q *engine.ContinuousQuery
	for _, st := range stmts {
		res, err := eng.Execute(ctx, st)
		if err != nil {
			return err
		}
		if res.Kind == engine.Query {
			q = res.Query
		}
	}
	it := q.Results(ctx)
	defer it.Close()
	for it.Next() {
		for _, row := range engine.Rows(it.Record()) {
			views, _ := strconv.ParseInt(*row[2], 10, 64)
			log.Info("window", "start", *row[0], "page", *row[1], "views", views, "avg_ms", *row[3])
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	return ctx.Err()
}
