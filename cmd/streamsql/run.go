package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/internal/render"
	"github.com/streamsql/streamsql/parser"
)

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "table", "how SELECT rows are printed: table or json")
	stateDir := fs.String("state-dir", ".streamsql", "directory for checkpoints and savepoints")
	verbose := fs.Bool("v", false, "print the outcome of every statement and checkpoint events to stderr")
	fresh := fs.Bool("fresh", false, "discard the job's checkpoints and start from scratch")
	allowNonRestored := fs.Bool("allow-non-restored-state", false, "restore even if some checkpointed state no longer fits the query, dropping it")
	allowRollback := fs.Bool("allow-rollback", false, "restore the newest checkpoint left when the store lost newer ones the job completed (its output since is repeated)")
	fromSavepoint := fs.String("from-savepoint", "", "restore the job from this savepoint: a directory or s3://bucket/prefix")
	savepointOnStop := fs.Bool("savepoint-on-stop", false, "on SIGTERM or Ctrl-C, take a savepoint (in the savepoint dir, default STATE-DIR/savepoints/) before stopping")
	instanceID := fs.String("instance-id", "", "this process's identity among the processes that run one job with SET 'execution.distributed' = 'true' (default: the host name and the state directory)")
	remote := addRemoteFlags(fs, true)
	interval := fs.Duration("checkpoint-interval", 10*time.Second, "default time between checkpoints (SET 'execution.checkpointing.interval' overrides; 0 disables)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: streamsql run [flags] FILE.sql

Executes the statements of FILE.sql in order. A SELECT prints its rows as
they are emitted (windows appear as they close); an INSERT INTO runs the
query into its table. The command ends when every query's bounded sources
are exhausted, or on Ctrl-C.

Flags:
`)
		fs.PrintDefaults()
	}
	if done, err := parseFlags(fs, args); done {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	path := fs.Arg(0)
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	stmts, err := parser.Parse(path, string(src))
	if err != nil {
		return withCaret(err, string(src))
	}
	// The job's identity is SET 'pipeline.name', or the file's name.
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	if *interval == 0 {
		*interval = -1
	}
	if err := checkRemoteFlags(remote, *fromSavepoint); err != nil {
		return err
	}
	// On a terminal an INSERT shows a live status line; log lines print
	// above it.
	status := newStatusLine(stderr)
	logTo := stderr
	if status != nil {
		logTo = status
	}
	// A relative input path in the file is relative to the file.
	baseDir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return err
	}
	eng := engine.New(engine.Options{
		StateDir: *stateDir, Stdout: stdout, BaseDir: baseDir,
		DefaultJobName:        strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)),
		Logger:                slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: level})),
		CheckpointInterval:    *interval,
		Fresh:                 *fresh,
		AllowNonRestoredState: *allowNonRestored,
		AllowRollback:         *allowRollback,
		FromSavepoint:         *fromSavepoint,
		CheckpointDir:         *remote.checkpointDir,
		SavepointDir:          *remote.savepointDir,
		ObjectStore:           remote.config(),
		InstanceID:            *instanceID,
	})
	for _, st := range stmts {
		res, err := eng.Execute(ctx, st)
		if err != nil {
			return withCaret(err, string(src))
		}
		switch res.Kind {
		case engine.Message:
			if _, isExplain := st.(*parser.ExplainStmt); isExplain {
				fmt.Fprintln(stdout, res.Message)
			} else if *verbose {
				fmt.Fprintln(stderr, res.Message)
			}
		case engine.Table:
			printTable(stdout, res.Header, res.Rows)
		case engine.Query:
			if err := runQuery(ctx, res.Query, *format, *savepointOnStop, *stateDir, status, stdout, stderr); err != nil {
				if ctx.Err() != nil {
					fmt.Fprintln(stderr, "streamsql: interrupted")
					return nil
				}
				return err
			}
			if ctx.Err() != nil {
				fmt.Fprintln(stderr, "streamsql: interrupted")
				return nil
			}
		}
	}
	return withCaret(eng.CheckSetClosed(), string(src))
}

// runQuery runs one query to its end; status, when not nil, shows an
// INSERT's progress.
func runQuery(ctx context.Context, q *engine.ContinuousQuery, format string, savepointOnStop bool, stateDir string, status *statusLine, stdout, stderr io.Writer) error {
	start := time.Now()
	msgs := stderr // messages while the query runs: above the status line
	if status != nil {
		msgs = status
	}
	if savepointOnStop {
		// The query outlives the signal long enough to take its savepoint.
		parent := ctx
		qctx, cancel := context.WithCancel(context.WithoutCancel(parent))
		defer cancel()
		go func() {
			select {
			case <-parent.Done():
			case <-qctx.Done():
				return
			}
			res, err := q.StopWithSavepoint(q.SavepointTarget(""))
			if err != nil {
				fmt.Fprintf(msgs, "streamsql: savepoint on stop failed: %v\n", err)
				cancel()
				return
			}
			fmt.Fprintf(msgs, "streamsql: stopped job %s with savepoint %s (checkpoint %d)\nrestore it with: streamsql run --from-savepoint %s FILE.sql\n", q.Name(), res.Info.Path, res.Info.CheckpointID, res.Info.Path)
		}()
		ctx = qctx
	}
	defer func() { printSummary(stderr, q, start) }()
	if q.IsInsert() {
		if status != nil {
			defer status.follow(q, time.Second)()
		}
		err := q.Run(ctx, nil)
		if errors.Is(err, exec.ErrStopped) {
			return nil
		}
		return err
	}
	w, err := render.New(format, stdout, q.Schema(), q.Updating())
	if err != nil {
		return err
	}
	if err := w.Begin(); err != nil {
		return err
	}
	err = q.Run(ctx, func(rec arrow.Record) error { return w.Record(rec) })
	if errors.Is(err, exec.ErrStopped) {
		err = nil
	}
	if endErr := w.End(); err == nil {
		err = endErr
	}
	return err
}

// printSummary reports on stderr what a query did: rows, time, and the
// records it dropped or skipped, so that no loss is silent.
func printSummary(w io.Writer, q *engine.ContinuousQuery, start time.Time) {
	st := q.Stats()
	fmt.Fprintf(w, "%s: %d rows in, %d rows out in %.2fs", q.Name(), st.RecordsIn, st.RecordsOut, time.Since(start).Seconds())
	if st.LateRecords > 0 {
		fmt.Fprintf(w, ", %d late rows dropped", st.LateRecords)
	}
	if st.Malformed > 0 {
		fmt.Fprintf(w, ", %d malformed records skipped", st.Malformed)
	}
	if st.RestoredFrom > 0 {
		fmt.Fprintf(w, ", restored from checkpoint %d", st.RestoredFrom)
	}
	if c := st.LastCheckpoint; c != nil {
		fmt.Fprintf(w, ", last checkpoint %d", c.ID)
	}
	fmt.Fprintln(w)
	if st.LateRecords > 0 {
		fmt.Fprintf(w, "warning: %s rows were dropped as late (their windows had already fired): the WATERMARK delay is too short, or a row dated far ahead moved event time on ('scan.watermark.max-future' rejects such rows)\n", thousands(st.LateRecords))
	}
}

// thousands formats n with commas between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// printTable prints a small result table.
func printTable(w io.Writer, header []string, rows [][]string) {
	_ = render.PrintTable(w, header, rows)
}

// withCaret adds the source line and a caret under a positioned error.
func withCaret(err error, src string) error {
	var pe *parser.Error
	if errors.As(err, &pe) {
		return fmt.Errorf("%w\n%s", err, parser.Caret(src, pe.Pos))
	}
	return err
}
