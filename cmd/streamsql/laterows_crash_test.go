package main

import "testing"

// lateCrashQuery: a windowed aggregate over a source whose late rows are
// kept in a late-rows table (watermark delay 500 ms, rows out of order by
// up to 1.5 s: many are late), both sinks exactly-once files.
const lateCrashQuery = `
SET 'execution.checkpointing.interval' = '50 ms';
SET 'pipeline.name' = 'late-crash';

CREATE TABLE ev (k INT, v BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '500' MILLISECOND
) WITH ('connector' = 'filesystem', 'path' = '%[1]s', 'format' = 'csv', 'scan.late-rows.table' = 'late_ev');

CREATE TABLE agg (k INT, window_start TIMESTAMP(3), window_end TIMESTAMP(3), n BIGINT, total BIGINT)
WITH ('connector' = 'filesystem', 'path' = '%[3]s/agg', 'format' = 'json');
CREATE TABLE late_ev (k INT, v BIGINT, ts TIMESTAMP(3))
WITH ('connector' = 'filesystem', 'path' = '%[3]s/late', 'format' = 'csv');

INSERT INTO agg
SELECT k, window_start, window_end, COUNT(*), SUM(v)
FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY window_start, window_end, k;
`

// TestLateRowsCrashRecovery: the late rows are written exactly once over
// SIGKILLs and restores, as the aggregate's rows are: the late-rows
// table's sink commits with the job's checkpoints (the rows that are late
// do not depend on where the runs were killed: batches and watermarks
// follow the file's offsets).
func TestLateRowsCrashRecovery(t *testing.T) {
	t.Parallel() // waits on processes and checkpoints more than it computes
	if testing.Short() {
		t.Skip("crash test is long; run without -short")
	}
	sigkillProof(t, lateCrashQuery, 1, []string{"agg/part-0.json", "late/part-0.csv"}, nil)
}
