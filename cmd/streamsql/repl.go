package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/chzyer/readline"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/repl"
)

// shellUsage is the part of `streamsql --help` about the shell.
func shellUsage(w io.Writer) {
	fmt.Fprint(w, `
Shell:
  streamsql [--state-dir DIR] [--init FILE] [--keep-jobs] [-e SQL]

With no command, streamsql opens an interactive SQL shell (HELP; inside
lists its statements). Without a terminal on stdin it runs the statements
read from stdin instead, as -e runs SQL: in order, INSERTs in the
foreground, no prompts; the first error ends it with exit status 1.
On exit the shell stops its running jobs with a savepoint and says how to
resume them; with --keep-jobs it waits for them to finish instead (jobs
that outlive the terminal need 'streamsql serve').
`)
}

// shellCmd runs the SQL shell: interactive on a terminal, else a script
// from -e or stdin.
func shellCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("streamsql", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateDir := fs.String("state-dir", ".streamsql", "directory for checkpoints, savepoints and the shell's history")
	sql := fs.String("e", "", "execute these SQL statements and exit")
	initFile := fs.String("init", "", "execute this SQL file first (table definitions, SETs)")
	keepJobs := fs.Bool("keep-jobs", false, "on exit, wait for background jobs to finish instead of stopping them with a savepoint")
	verbose := fs.Bool("v", false, "log checkpoint events to stderr")
	fromSavepoint := fs.String("from-savepoint", "", "restore the jobs from this savepoint: a directory or s3://bucket/prefix (as SET 'execution.savepoint.path')")
	remote := addRemoteFlags(fs, true)
	fs.Usage = func() {
		shellUsage(stderr)
		fmt.Fprintf(stderr, "\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "streamsql: unknown command %q\n", fs.Arg(0))
		usage(stderr)
		return 2
	}
	if err := checkRemoteFlags(remote, *fromSavepoint); err != nil {
		fmt.Fprintf(stderr, "streamsql: %v\n", err)
		return 2
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	// Each shell session names its jobs afresh (shell-<time>, -2, -3, …)
	// so that an ad-hoc SELECT never restores the checkpoints of another
	// session's query; SET 'pipeline.name' names a job to resume.
	// What jobs print and log goes through the shell, which prints it
	// above the prompt rather than over the line being typed.
	jobOut, jobLog := repl.NewOutput(stdout), repl.NewOutput(stderr)
	eng := engine.New(engine.Options{
		StateDir:       *stateDir,
		Stdout:         jobOut,
		DefaultJobName: "shell-" + time.Now().Format("0102-150405"),
		FromSavepoint:  *fromSavepoint,
		CheckpointDir:  *remote.checkpointDir,
		SavepointDir:   *remote.savepointDir,
		ObjectStore:    remote.config(),
		Logger:         slog.New(slog.NewTextHandler(jobLog, &slog.HandlerOptions{Level: level})),
	})
	cfg := repl.Config{Engine: eng, In: stdin, Out: stdout, Err: stderr, Init: *initFile, KeepJobs: *keepJobs,
		Background: []*repl.Output{jobOut, jobLog}}
	interactive := false
	if f, ok := stdin.(*os.File); ok && *sql == "" && readline.IsTerminal(int(f.Fd())) {
		interactive = true
	}
	var err error
	switch {
	case *sql != "":
		cfg.In = strings.NewReader(*sql)
		err = repl.Run(ctx, cfg)
	case !interactive:
		cfg.Filename = "stdin"
		err = repl.Run(ctx, cfg)
	default:
		cfg.Interactive = true
		cfg.HistoryFile = filepath.Join(*stateDir, "history")
		// Ctrl-C cancels the running query, never the shell: the shell
		// takes interrupts itself, and ends on SIGTERM or SIGHUP only.
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt)
		defer signal.Stop(sigs)
		cfg.Interrupts = sigs
		sctx, stop := signal.NotifyContext(context.WithoutCancel(ctx), syscall.SIGTERM, syscall.SIGHUP)
		defer stop()
		err = repl.Run(sctx, cfg)
	}
	if err != nil {
		return 1 // Run has printed it
	}
	return 0
}
