// Command streamsql runs streaming SQL: `streamsql run FILE.sql` executes a
// file of statements; other subcommands manage state. Run `streamsql help`
// for the list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// command is one subcommand.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "run the statements of a SQL file", runCmd},
		{"savepoint", "take a savepoint of a job (running or stopped)", savepointCmd},
		{"checkpoints", "list or inspect a job's checkpoints", checkpointsCmd},
		{"serve", "run the REST API server", serveCmd},
		{"dev", "developer tools: a local Kafka-protocol broker (dev kafka)", devCmd},
		{"version", "print the version and the revision it was built from (also --version)", versionCmd},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `streamsql: a streaming SQL engine

Usage:
  streamsql <command> [flags] [args]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'streamsql <command> --help' for a command's flags.\n")
}

// errUsage marks an error already reported with usage text.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Main(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Main runs the command line args and returns the exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-version") {
		args = []string{"version"}
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" {
		return shellCmd(ctx, args, os.Stdin, stdout, stderr) // the SQL shell (repl.go)
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		shellUsage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintf(stderr, "streamsql %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "streamsql: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

// parseFlags parses a command's flags. done reports that the command must
// return err now: nil after --help printed the usage, errUsage after a bad
// flag (the flag package has reported it).
func parseFlags(fs *flag.FlagSet, args []string) (done bool, err error) {
	switch err := parseInterleaved(fs, args); {
	case err == nil:
		return false, nil
	case errors.Is(err, flag.ErrHelp):
		return true, nil
	default:
		return true, errUsage
	}
}

// parseInterleaved parses flags wherever they stand among the positional
// arguments, as users type them ("checkpoints list --state-dir st", "run
// q.sql --fresh"); the flag package alone stops at the first positional
// one. After "--" everything is positional. fs.Args() holds the
// positional arguments, in order.
func parseInterleaved(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}
