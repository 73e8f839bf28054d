// Package repl is StreamSQL's interactive shell: the read–eval–print loop
// behind `streamsql` with no command. It reads SQL a line at a time
// (readline, with history, Ctrl-R search and tab completion), gathers lines
// into statements ended by a semicolon, executes them through the engine
// API and prints their results: a growing table for a continuous SELECT,
// a job id for an INSERT, which runs in the background.
//
// The same loop runs scripts without a terminal (`streamsql -e SQL`,
// `streamsql < file.sql`, SOURCE 'file.sql'): no prompts, no readline,
// INSERTs in the foreground, and the first error ends the run.
//
// The package is a thin client of package engine: it parses text into
// statements and hands them to Engine.Execute; planning, execution, jobs,
// checkpoints and savepoints are the engine's. What the shell owns is the
// terminal: input, completion, client commands (HELP, SOURCE, QUIT) and
// client settings ('sql-client.execution.result-mode'), output, Ctrl-C.
package repl
