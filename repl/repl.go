package repl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/parser"
)

// Config configures a shell.
type Config struct {
	// Engine executes the statements. Required.
	Engine *engine.Engine
	// In, Out and Err are the shell's input and outputs. Rows, tables and
	// messages go to Out; errors and (without a terminal) query summaries
	// go to Err.
	In       io.Reader
	Out, Err io.Writer
	// Interactive runs the readline loop: prompts, history, completion,
	// INSERTs as background jobs, Ctrl-C cancelling the running query.
	// In must then be a terminal. Otherwise In is read as a script.
	Interactive bool
	// HistoryFile keeps the interactive history ("" for none).
	HistoryFile string
	// Init is run before the first prompt (the --init file), or "".
	Init string
	// Filename names In in error positions of a script ("" for none).
	Filename string
	// KeepJobs makes the shell, on exit, wait for its background jobs to
	// end instead of stopping them with a savepoint. An interrupt while
	// waiting stops them with a savepoint after all.
	KeepJobs bool
	// Background are the writers given to the engine for what background
	// jobs print (engine.Options.Stdout, the logger's writer): on a
	// terminal the shell prints their lines above the prompt instead of
	// over the line being typed.
	Background []*Output
	// Interrupts delivers Ctrl-C (SIGINT) to an interactive shell while a
	// query runs; it cancels that query. Nil: Ctrl-C is only seen at the
	// prompt.
	Interrupts <-chan os.Signal
}

// errQuit ends the loop on QUIT or EXIT.
var errQuit = errors.New("repl: quit")

// errReported marks an error already printed.
type errReported struct{ err error }

func (e errReported) Error() string { return e.err.Error() }
func (e errReported) Unwrap() error { return e.err }

// Run runs the shell until its input ends, QUIT, or ctx is done. A script
// (Interactive false) stops at its first error, which Run prints to Err
// and returns; an interactive shell prints errors and goes on, and returns
// nil. Either way, on return no job of the shell is left running: an
// interactive shell stops them with savepoints (or waits, with KeepJobs),
// a script has run its INSERTs in the foreground.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Engine == nil {
		return errors.New("repl: Config.Engine is required")
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Err == nil {
		cfg.Err = io.Discard
	}
	s := &shell{cfg: cfg, eng: cfg.Engine, out: cfg.Out, errw: cfg.Err, interactive: cfg.Interactive}
	if cfg.Interactive {
		return s.interactiveLoop(ctx)
	}
	if cfg.Init != "" {
		if err := s.source(ctx, cfg.Init); err != nil {
			return unreported(err)
		}
	}
	err := s.runScript(ctx, cfg.In, cfg.Filename)
	if errors.Is(err, errQuit) {
		err = nil
	}
	if err == nil && ctx.Err() == nil {
		if cerr := s.eng.CheckSetClosed(); cerr != nil {
			err = s.report(cerr, "")
		}
	}
	return unreported(err)
}

// unreported strips the errReported marker for Run's caller.
func unreported(err error) error {
	var r errReported
	if errors.As(err, &r) {
		return r.err
	}
	return err
}

// shell is one session.
type shell struct {
	cfg         Config
	eng         *engine.Engine
	out, errw   io.Writer
	interactive bool
	depth       int // nesting of SOURCE

	// notify receives notices about background jobs that end on their
	// own (readline's writer, which redraws the prompt), until the shell
	// closes it at exit.
	notifyMu sync.Mutex
	notify   io.Writer

	// st keeps the catalog and the jobs for later sessions (interactive
	// shells only; nil otherwise).
	st *store

	// toldNoTerminal is set once the shell said that table mode prints
	// its table at the end, the output not being a terminal.
	toldNoTerminal bool
}

// notice prints a notice about a background job, unless the shell is
// exiting.
func (s *shell) notice(format string, args ...any) {
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	if s.notify != nil {
		fmt.Fprintf(s.notify, format, args...)
	}
}

// watch tells the user when a background job fails or finishes on its
// own; stopping and cancelling are the user's doing and need no notice.
func (s *shell) watch(j *engine.Job) {
	<-j.Done()
	status := j.Status()
	if s.st != nil {
		var err error
		if status == engine.Finished { // nothing left to resume
			err = s.st.deleteJob(j.ID())
		} else {
			err = s.st.updateJob(j.ID(), func(r *jobRecord) {
				r.Status = string(status)
				if sp := j.LastSavepoint(); sp != "" {
					r.Savepoint = sp
				}
			})
		}
		if err != nil {
			s.notice("warning: job %s: %v\n", j.ID(), err)
		}
	}
	switch status {
	case engine.Failed:
		s.notice("job %s failed: %v\n", j.ID(), j.Err())
	case engine.Finished:
		st := j.Stats()
		s.notice("job %s finished: %d rows read, %d rows written\n", j.ID(), st.RecordsIn, st.RecordsOut)
	}
}

// runScript executes the statements read from r in order, stopping at the
// first error (printed, and returned as errReported).
func (s *shell) runScript(ctx context.Context, r io.Reader, filename string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	var buf buffer
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if buf.empty() {
			if c, ok := clientCommand(line); ok && strings.HasPrefix(strings.TrimSpace(line), `\`) {
				buf = buffer{}
				if err := s.command(ctx, c); err != nil {
					return s.report(err, "")
				}
				continue
			}
		}
		if buf.add(line, n) {
			if err := s.runText(ctx, buf.take(), filename); err != nil {
				return err
			}
		}
		if ctx.Err() != nil {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return s.report(err, "")
	}
	if !buf.empty() { // a last statement without a semicolon
		return s.runText(ctx, buf.take(), filename)
	}
	return nil
}

// runText executes the statements of src (complete statements, with
// positions relative to the source it came from), stopping at the first
// error, which it prints and returns as errReported.
func (s *shell) runText(ctx context.Context, src, filename string) error {
	for _, p := range splitScript(src) {
		if c, ok := clientCommand(p.text); ok {
			if err := s.command(ctx, c); err != nil {
				return s.report(err, src)
			}
			continue
		}
		stmts, err := parser.Parse(filename, p.padded())
		if err != nil {
			return s.report(err, src)
		}
		for _, st := range stmts {
			text := p.text
			if len(stmts) > 1 {
				text = st.String()
			}
			if err := s.execute(ctx, st, text); err != nil {
				return s.report(err, src)
			}
			if ctx.Err() != nil {
				return nil
			}
		}
	}
	return nil
}

// report prints err, with the offending line of src and a caret under the
// fault when it has a position, and returns it marked as reported.
func (s *shell) report(err error, src string) error {
	var r errReported
	if errors.Is(err, errQuit) || errors.As(err, &r) {
		return err
	}
	fmt.Fprintf(s.errw, "error: %v\n", err)
	var pe *parser.Error
	if errors.As(err, &pe) && src != "" && pe.Pos.Line > 0 {
		fmt.Fprintln(s.errw, parser.Caret(src, pe.Pos))
	}
	// An error leaves the set mode (the engine's own errors there have
	// discarded the set already, and said so).
	if n, ok := s.eng.DiscardStatementSet(); ok {
		fmt.Fprintf(s.errw, "%s\n", discardedSet(n))
	}
	return errReported{err}
}

// command runs a client command.
func (s *shell) command(ctx context.Context, c command) error {
	switch c.name {
	case "help":
		io.WriteString(s.out, helpText(s.eng.Registry().Names()))
		return nil
	case "quit":
		return errQuit
	case "resume":
		return s.resume(c.arg)
	case "vertical":
		return s.toggleVertical(ctx)
	case "source":
		if c.arg == "" {
			return errors.New(`SOURCE needs a file: SOURCE 'file.sql' or \i file.sql`)
		}
		return s.source(ctx, c.arg)
	}
	return fmt.Errorf("unknown command %q", c.name)
}

// source runs the statements of a file, stopping at its first error.
func (s *shell) source(ctx context.Context, path string) error {
	if s.depth >= 16 {
		return fmt.Errorf("SOURCE %q: files include each other too deeply", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	s.depth++
	defer func() { s.depth-- }()
	return s.runScript(ctx, f, filepath.Clean(path))
}

// execute executes one statement (text is it as typed) through the
// engine and prints its outcome.
func (s *shell) execute(ctx context.Context, st parser.Statement, text string) error {
	if set, ok := st.(*parser.SetStmt); ok && set.Key == resultModeKey {
		if _, err := parseResultMode(set.Value); err != nil {
			return &parser.Error{Pos: set.Pos, Msg: err.Error()}
		}
	}
	if ins, ok := st.(*parser.InsertStmt); ok && s.interactive && !s.eng.InStatementSet() {
		return s.submitInsert(ctx, ins, text)
	}
	if end, ok := st.(*parser.EndStatementSetStmt); ok && s.interactive && s.eng.InStatementSet() {
		return s.submitStatementSet(ctx, end)
	}
	if set, ok := st.(*parser.StatementSetStmt); ok && s.interactive {
		return s.submitSet(ctx, set)
	}
	res, err := s.eng.Execute(ctx, st)
	if err != nil {
		return err
	}
	if s.st != nil {
		if err := s.st.record(st, text); err != nil {
			fmt.Fprintf(s.errw, "warning: the catalog is not kept for the next session: %v\n", err)
		}
		if show, ok := st.(*parser.ShowStmt); ok && show.What == "JOBS" {
			s.addStoredJobs(res)
		}
	}
	switch res.Kind {
	case engine.Message:
		s.message(st, res.Message)
	case engine.Table:
		printTable(s.out, res.Header, res.Rows)
	case engine.Query:
		q := res.Query
		if q.IsInsert() {
			return s.runInsert(ctx, q)
		}
		return s.runSelect(ctx, q)
	}
	return nil
}

// message prints a statement's one-line outcome: always in the shell; in
// a script only EXPLAIN's plan goes to Out (it is the result), the rest to
// Err, so that Out holds only results, as with `streamsql run`.
func (s *shell) message(st parser.Statement, msg string) {
	if stop, ok := st.(*parser.StopJobStmt); ok {
		if j, ok := s.eng.Job(stop.JobID); ok {
			s.stopped(j)
			if stop.WithSavepoint && j.LastSavepoint() != "" {
				msg += "\n" + s.resumeHint(j.ID())
			}
		}
	}
	_, explain := st.(*parser.ExplainStmt)
	if s.interactive || explain {
		fmt.Fprintln(s.out, msg)
		return
	}
	fmt.Fprintln(s.errw, msg)
}

// resumeHint says how to resume a stopped job.
func (s *shell) resumeHint(id string) string {
	return fmt.Sprintf("resume it with: RESUME JOB '%s'; (in this shell, or a later one with --state-dir %s)", id, s.eng.StateDir())
}

// runInsert runs an INSERT in the foreground (scripts): until its bounded
// sources are exhausted or ctx is done.
func (s *shell) runInsert(ctx context.Context, q *engine.ContinuousQuery) error {
	start := time.Now()
	err := q.Run(ctx, nil)
	s.summary(q, start, -1, ctx.Err() != nil)
	if errors.Is(err, exec.ErrStopped) || ctx.Err() != nil {
		return nil
	}
	return err
}

// runSelect runs a SELECT in the foreground, printing its rows as they
// are emitted, until its bounded sources are exhausted, an interrupt
// (Ctrl-C) cancels it, or ctx is done.
func (s *shell) runSelect(ctx context.Context, q *engine.ContinuousQuery) error {
	mode := tableau
	if v, ok := s.eng.Setting(resultModeKey); ok {
		mode, _ = parseResultMode(v)
	}
	if _, named := s.eng.Setting("pipeline.name"); !named {
		// Nothing resumes an ad-hoc SELECT: leave no state behind.
		defer s.removeJobState(q.Name())
	}
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	interrupted := make(chan struct{})
	if s.cfg.Interrupts != nil {
		drain(s.cfg.Interrupts)
		go func() {
			select {
			case <-s.cfg.Interrupts:
				close(interrupted)
				cancel()
			case <-qctx.Done():
			}
		}()
	}
	if q.Updating() && mode == tableau {
		// Flink's tableau mode shows a streaming result's changes with
		// their op column too: the rows of an updating result mean
		// nothing without their kinds.
		mode = changelog
	}
	w := s.newResultWriter(q.Schema(), mode)
	start := time.Now()
	if err := w.Begin(); err != nil {
		return err
	}
	err := q.Run(qctx, func(rec arrow.Record) error { return w.Record(rec) })
	if endErr := w.End(); err == nil {
		err = endErr
	}
	cancelled := qctx.Err() != nil
	select {
	case <-interrupted:
		cancelled = true
	default:
	}
	s.summary(q, start, w.Rows(), cancelled)
	if errors.Is(err, exec.ErrStopped) || cancelled {
		return nil
	}
	return err
}

// drain empties a signal channel of interrupts from before a query.
func drain(ch <-chan os.Signal) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// summary reports what a foreground query did: rows and time, whether it
// was cancelled, and the rows it dropped as late, so that no loss is
// silent. In the shell it goes to Out under the table; in a script to
// Err, like `streamsql run`.
func (s *shell) summary(q *engine.ContinuousQuery, start time.Time, rows int64, cancelled bool) {
	st := q.Stats()
	w := s.errw
	if s.interactive {
		w = s.out
	}
	elapsed := time.Since(start).Seconds()
	if rows < 0 {
		fmt.Fprintf(w, "%s: %d rows read, %d rows written in %.2fs", q.Name(), st.RecordsIn, st.RecordsOut, elapsed)
	} else {
		plural := "s"
		if rows == 1 {
			plural = ""
		}
		fmt.Fprintf(w, "%d row%s in %.2fs (%d rows read)", rows, plural, elapsed, st.RecordsIn)
	}
	if cancelled {
		fmt.Fprint(w, ", cancelled")
	}
	if st.RestoredFrom > 0 {
		fmt.Fprintf(w, ", restored from checkpoint %d", st.RestoredFrom)
	}
	fmt.Fprintln(w)
	if st.LateRecords > 0 {
		fmt.Fprintf(w, "warning: %d late rows were dropped: they arrived after the watermark had closed their window (widen the WATERMARK delay to keep them)\n", st.LateRecords)
	}
	if st.Malformed > 0 {
		fmt.Fprintf(w, "warning: %d malformed source records were skipped\n", st.Malformed)
	}
}
