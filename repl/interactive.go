package repl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chzyer/readline"
	"github.com/streamsql/streamsql/engine"
)

const (
	prompt         = "streamsql> "
	continuePrompt = "        -> "
	// setPrompt is the prompt between BEGIN STATEMENT SET and END.
	setPrompt = "streamsql (statement set)> "
)

// lineCompleter adapts the completer to readline, which passes only the
// current line: the statement's earlier lines come from the shell.
type lineCompleter struct {
	c completer

	mu      sync.Mutex
	pending string // earlier lines of the statement, each ending in "\n"
}

func (l *lineCompleter) setPending(s string) {
	l.mu.Lock()
	l.pending = s
	l.mu.Unlock()
}

// Do implements readline.AutoCompleter.
func (l *lineCompleter) Do(line []rune, pos int) ([][]rune, int) {
	l.mu.Lock()
	pending := l.pending
	l.mu.Unlock()
	return l.c.do(pending, line, pos)
}

// interactiveLoop is the shell on a terminal.
func (s *shell) interactiveLoop(ctx context.Context) error {
	if s.cfg.HistoryFile != "" {
		if err := os.MkdirAll(filepath.Dir(s.cfg.HistoryFile), 0o755); err != nil {
			fmt.Fprintf(s.errw, "warning: no history: %v\n", err)
			s.cfg.HistoryFile = ""
		}
	}
	comp := &lineCompleter{c: completer{eng: s.eng, stored: s.storedJobIDs}}
	rcfg := &readline.Config{
		Prompt:                 prompt,
		HistoryFile:            s.cfg.HistoryFile,
		HistoryLimit:           5000,
		DisableAutoSaveHistory: true,
		HistorySearchFold:      true,
		AutoComplete:           comp,
		InterruptPrompt:        "^C",
		EOFPrompt:              "",
		Stdout:                 s.out,
		Stderr:                 s.errw,
	}
	if s.cfg.In != nil && s.cfg.In != os.Stdin {
		rc, ok := s.cfg.In.(io.ReadCloser)
		if !ok {
			rc = io.NopCloser(s.cfg.In)
		}
		rcfg.Stdin = rc
	}
	rl, err := readline.NewEx(rcfg)
	if err != nil {
		return err
	}
	s.notifyMu.Lock()
	s.notify = rl.Stdout()
	s.notifyMu.Unlock()
	var restores []func()
	for _, o := range s.cfg.Background {
		via := rl.Stdout()
		if o.w == s.errw {
			via = rl.Stderr()
		}
		restores = append(restores, o.route(via))
	}
	closeOnce := sync.OnceFunc(func() {
		s.notifyMu.Lock()
		s.notify = nil
		s.notifyMu.Unlock()
		for _, restore := range restores {
			restore()
		}
		rl.Close()
	})
	defer closeOnce()
	stop := context.AfterFunc(ctx, closeOnce) // SIGTERM, SIGHUP: leave the prompt
	defer stop()

	fmt.Fprintf(s.out, "StreamSQL shell. Statements end with ';'. HELP; for help, Tab completes, Ctrl-D exits.\n")
	s.st = newStore(s.eng.StateDir())
	kept := s.loadCatalog()
	if s.cfg.Init != "" {
		if err := s.source(ctx, s.cfg.Init); err != nil {
			s.report(err, "")
		}
	}
	s.restoreCatalog(ctx, kept)
	var buf buffer
	n := 0
	for ctx.Err() == nil {
		if buf.empty() {
			if s.eng.InStatementSet() {
				rl.SetPrompt(setPrompt)
			} else {
				rl.SetPrompt(prompt)
			}
			comp.setPending("")
		} else {
			rl.SetPrompt(continuePrompt)
			comp.setPending(buf.text() + "\n")
		}
		line, err := rl.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			// Ctrl-C at the prompt clears the input, never exits; in a
			// statement set it leaves the set mode.
			if n, ok := s.eng.DiscardStatementSet(); ok {
				fmt.Fprintln(s.out, discardedSet(n))
			} else if buf.empty() && strings.TrimSpace(line) == "" {
				fmt.Fprintln(s.out, "(Ctrl-D or QUIT; leaves the shell)")
			}
			buf = buffer{}
			continue
		}
		if err != nil { // io.EOF: Ctrl-D; or the terminal went away
			fmt.Fprintln(s.out)
			break
		}
		n++
		if buf.empty() {
			if c, ok := clientCommand(line); ok && (strings.HasPrefix(strings.TrimSpace(line), `\`) || c.name == "quit" || c.name == "help") {
				_ = rl.SaveHistory(strings.TrimSpace(line))
				buf = buffer{}
				if err := s.command(ctx, c); errors.Is(err, errQuit) {
					break
				} else if err != nil {
					s.report(err, "")
				}
				continue
			}
		}
		if !buf.add(line, n) {
			continue
		}
		for _, h := range maskHistory(historyEntry(buf.lines)) {
			_ = rl.SaveHistory(h)
		}
		// Line numbers in errors are those of the statement as typed.
		buf.start = 1
		if err := s.runText(ctx, buf.take(), ""); errors.Is(err, errQuit) {
			break
		}
	}
	closeOnce()
	if n, ok := s.eng.DiscardStatementSet(); ok {
		fmt.Fprintln(s.out, discardedSet(n))
	}
	return s.endJobs()
}

// endJobs ends the shell's running background jobs as the shell exits:
// stopped with a savepoint each (printing where, and how to resume), or,
// with KeepJobs, waited for until they end or an interrupt stops them.
func (s *shell) endJobs() error {
	running := func() []*engine.Job {
		var out []*engine.Job
		for _, j := range s.eng.Jobs() {
			if j.Status() == engine.Running {
				out = append(out, j)
			}
		}
		return out
	}
	jobs := running()
	if len(jobs) == 0 {
		return nil
	}
	if s.cfg.KeepJobs {
		fmt.Fprintf(s.out, "waiting for %d running job(s) to finish (Ctrl-C stops them with a savepoint)\n", len(jobs))
		for _, j := range jobs {
			select {
			case <-j.Done():
				fmt.Fprintf(s.out, "job %s %s\n", j.ID(), strings.ToLower(string(j.Status())))
				continue
			case <-s.cfg.Interrupts:
			}
			break
		}
		if jobs = running(); len(jobs) == 0 {
			return nil
		}
	}
	for _, j := range jobs {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		res, err := j.Stop(ctx, j.SavepointTarget(""))
		cancel()
		if err != nil {
			// No savepoint (checkpointing off?): it resumes from its last
			// checkpoint, if any.
			j.Cancel()
			fmt.Fprintf(s.errw, "job %s cancelled without a savepoint: %v\n", j.ID(), err)
			continue
		}
		s.stopped(j)
		fmt.Fprintf(s.out, "job %s stopped with savepoint %s\n%s\n", j.ID(), res.Info.Path, s.resumeHint(j.ID()))
	}
	return nil
}
