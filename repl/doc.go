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
//
// Behaviour worth knowing:
//
//   - Jobs and exit. Background jobs live in the shell's process. On exit
//     (Ctrl-D, QUIT, EXIT, SIGTERM, SIGHUP) each running job is stopped
//     with a savepoint under STATE-DIR/savepoints/. With Config.KeepJobs
//     (streamsql --keep-jobs) exit waits for the jobs to finish instead; an
//     interrupt while waiting stops them with a savepoint after all. Jobs
//     that must outlive the terminal belong in `streamsql serve`: a single
//     process cannot detach them.
//   - Resuming. An interactive shell keeps its catalog (the CREATE TABLE
//     and CREATE VIEW statements, as typed; not TEMPORARY ones) and each
//     INSERT job's statement, settings and last savepoint under
//     STATE-DIR/shell/ (store.go). The next shell restores the catalog
//     after --init, SHOW JOBS lists the stopped jobs, and RESUME JOB 'id'
//     (a client command) plans the statement again and starts it from its
//     savepoint.
//   - Background output. What jobs print and log goes through Outputs
//     (Config.Background), which print whole lines above the prompt.
//   - Scripts (-e, stdin, SOURCE) run INSERTs in the foreground, to the end
//     of their bounded sources or Ctrl-C, as `streamsql run` does, so that
//     a script's exit status means its work is done.
//   - Ctrl-C cancels the running SELECT (its row count and time are
//     printed), or clears the input at the prompt; it never exits and
//     never touches background jobs.
//   - Job names: an INSERT typed at the prompt is insert-into-<table>,
//     -2, -3, … skipping the names of any job or state the state directory
//     holds, so a new job never restores an old one's checkpoints; SET
//     'pipeline.name' names it instead. Other queries are named
//     shell-<date-time>, -2, … (engine.Options.DefaultJobName); a SELECT's
//     state directory is removed when it ends, unless SET 'pipeline.name'
//     named it.
//   - Statement sets: BEGIN STATEMENT SET; opens the set mode (the
//     prompt says so), in which each INSERT is collected ("[INFO] Add SQL
//     update statement to the statement set.") and END; submits them as
//     one background job, statement-set-<tables> (named like an INSERT's).
//     Any other statement, any error and Ctrl-C leave the set mode,
//     discarding what it collected, and say so. EXECUTE STATEMENT SET
//     BEGIN …; END; is the one-statement form.
//   - History: each complete statement is one history line (its lines
//     joined), unless a line comment forces keeping its lines apart.
package repl
