package repl

import "strings"

// help is the text of HELP: the statements, the shell's own commands and
// keys, and a windowed query to start from.
const help = `Statements end with ';' and may span lines. Tab completes keywords,
tables, columns, connector options and SET keys; Ctrl-R searches history.

Tables and views
  CREATE TABLE t (col TYPE, …, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
    WITH ('connector' = 'datagen', …);    connectors: {connectors}
  CREATE [TEMPORARY] VIEW v AS SELECT …;   DROP TABLE|VIEW [IF EXISTS] name;
  SHOW TABLES; SHOW VIEWS; SHOW FUNCTIONS; DESCRIBE t; EXPLAIN SELECT …;

Queries and jobs
  SELECT …;                   runs until Ctrl-C (or its sources end); rows
                              appear as windows close
  INSERT INTO t SELECT …;     starts a background job, insert-into-t
  BEGIN STATEMENT SET;        collects the INSERTs that follow; END; starts
  INSERT …; INSERT …; END;    them as one job (one checkpoint, shared sources),
                              statement-set-<tables>; Ctrl-C discards them
  SELECT … UNION ALL SELECT …;  the rows of both queries (same columns)
  SHOW JOBS;                  the jobs, their statements, checkpoints, late
                              rows, savepoints (stopped jobs of earlier shells too)
  STOP JOB 'id' [WITH SAVEPOINT];
  RESUME JOB 'id';            restarts a stopped job from its savepoint
  SHOW CHECKPOINTS FOR 'id';

Settings
  SET 'key' = 'value'; SET; (every key, with its value or default)
  RESET 'key'; RESET;
    'pipeline.name'                      the next job's name (and checkpoint identity)
    'execution.checkpointing.interval'   e.g. '10 s', or 'off'
    'execution.checkpointing.mode'       'EXACTLY_ONCE' or 'AT_LEAST_ONCE'
    'state.checkpoints.num-retained'     checkpoints kept per job
    'execution.savepoint.path'           the next job starts from this savepoint
    'sql-client.execution.result-mode'   'tableau' (default), 'table' or 'changelog'
    'sql-client.display.max-column-width'  widest column (30); longer values end in …
    'sql-client.display.vertical'        'true': each row as a record (\x toggles)

Shell
  HELP; or \h                 this text
  SOURCE 'file.sql'; or \i file.sql    run the statements of a file
  QUIT; EXIT; or Ctrl-D       leave; running jobs are stopped with a savepoint
                              (tables, views and jobs are kept for the next shell)
  Ctrl-C                      cancel the running SELECT, or clear the input

Example: purchases counted per user in 10-second windows
  CREATE TABLE purchases (
    user_id BIGINT, amount BIGINT, ts TIMESTAMP(3),
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
  ) WITH ('connector' = 'datagen', 'rows-per-second' = '1000',
          'fields.user_id.min' = '1', 'fields.user_id.max' = '4',
          'fields.ts.step' = '10 ms');
  SELECT window_start, window_end, user_id, COUNT(*) AS n, SUM(amount) AS total
  FROM TABLE(TUMBLE(TABLE purchases, DESCRIPTOR(ts), INTERVAL '10' SECOND))
  GROUP BY window_start, window_end, user_id;
`

// helpText returns the help text, naming the engine's connectors. (HELP
// takes no topic: the text is short enough to show whole.)
func helpText(connectors []string) string {
	return strings.Replace(help, "{connectors}", strings.Join(connectors, ", "), 1)
}
