package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/internal/pgtest"
)

// The SIGKILL proofs of issue 16: the real binary writes into PostgreSQL
// through the exactly-once jdbc sink (a transaction per checkpoint,
// prepared at the barrier, committed once the checkpoint is durable) and
// is killed at random moments at least minKills times; every completed
// cycle's table must equal an uninterrupted run's, and no prepared
// transaction of the job may be left behind. %[5]s is the server's JDBC
// url; each cycle writes a table of its own, "agg_<run name>".

// jdbcWindowCrashQuery: a tumbling-window aggregate (append-only) into a
// table with a PRIMARY KEY.
const jdbcWindowCrashQuery = `
SET 'execution.checkpointing.interval' = '50 ms';
SET 'pipeline.name' = 'jdbc-window-crash';

CREATE TABLE ev (k INT, v BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH ('connector' = 'filesystem', 'path' = '%[1]s', 'format' = 'csv');

CREATE TABLE agg (k INT, window_start TIMESTAMP(3), window_end TIMESTAMP(3), n BIGINT, total BIGINT, top BIGINT,
  PRIMARY KEY (k, window_start) NOT ENFORCED)
WITH ('connector' = 'jdbc', 'url' = '%[5]s', 'table-name' = '"agg_%[4]s"',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.buffer-flush.max-rows' = '500');

INSERT INTO agg
SELECT k, window_start, window_end, COUNT(*), SUM(v), MAX(v)
FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '5' SECOND))
GROUP BY window_start, window_end, k;
`

const jdbcWindowTable = `(k integer, window_start timestamp, window_end timestamp, n bigint, total bigint, top bigint, PRIMARY KEY (k, window_start))`

// jdbcUpdatingCrashQuery: a non-windowed GROUP BY (updates and, as
// HAVING drops groups, deletes) upserted by its key. Mini-batch keeps the
// reference run short (without it the aggregate emits an update pair per
// input row: ~17 s for the 600,000 events into blackhole here).
const jdbcUpdatingCrashQuery = `
SET 'execution.checkpointing.interval' = '50 ms';
SET 'pipeline.name' = 'jdbc-updating-crash';
SET 'table.exec.mini-batch.enabled' = 'true';

CREATE TABLE ev (k INT, v BIGINT, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '%[1]s', 'format' = 'csv');

CREATE TABLE agg (k INT, b BIGINT, n BIGINT, total BIGINT, PRIMARY KEY (k, b) NOT ENFORCED)
WITH ('connector' = 'jdbc', 'url' = '%[5]s', 'table-name' = '"agg_%[4]s"',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.buffer-flush.max-rows' = '0', 'sink.buffer-flush.interval' = '0');

INSERT INTO agg
SELECT k, v / 100 AS b, COUNT(*), SUM(v) FROM ev GROUP BY k, v / 100 HAVING COUNT(*) < 190;
`

const jdbcUpdatingTable = `(k integer, b bigint, n bigint, total bigint, PRIMARY KEY (k, b))`

// TestJDBCCrashRecovery: issue 16's SIGKILL proofs, a windowed and a
// non-windowed updating aggregate into PostgreSQL exactly-once.
func TestJDBCCrashRecovery(t *testing.T) {
	t.Parallel() // waits on processes and checkpoints more than it computes
	if testing.Short() {
		t.Skip("crash test is long; run without -short")
	}
	srv := pgtest.Start(t)
	for _, tc := range []struct{ name, query, table string }{
		{"window", jdbcWindowCrashQuery, jdbcWindowTable},
		{"updating", jdbcUpdatingCrashQuery, jdbcUpdatingTable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			query := strings.ReplaceAll(tc.query, "%[5]s", srv.JDBCURL("postgres"))
			sigkillProof(t, query, 1, nil, func(name string) (func(), func() []byte) {
				table := `"agg_` + name + `"`
				return func() { srv.Exec(t, "DROP TABLE IF EXISTS "+table+"; CREATE TABLE "+table+" "+tc.table) },
					func() []byte {
						rows := srv.Rows(t, "SELECT * FROM "+table)
						sort.Strings(rows)
						if left := srv.Rows(t, "SELECT gid FROM pg_prepared_xacts"); len(left) > 0 {
							t.Errorf("%s: prepared transactions left behind: %v", name, left)
						}
						return []byte(strings.Join(rows, "\n") + "\n")
					}
			})
		})
	}
}

// jdbcFaultsQuery: a GROUP BY over generated rows (40,000 a second for
// 5 s), upserted into PostgreSQL exactly-once. %[1]s: the run's name,
// %[2]s: the url.
const jdbcFaultsQuery = `
SET 'execution.checkpointing.interval' = '100 ms';
SET 'pipeline.name' = 'jdbc-faults-%[1]s';

CREATE TABLE ev (k INT, v BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '40000', 'number-of-rows' = '200000',
  'seed' = '16', 'fields.k.min' = '0', 'fields.k.max' = '299', 'fields.v.min' = '0', 'fields.v.max' = '999');

CREATE TABLE agg (k INT, b BIGINT, n BIGINT, total BIGINT, PRIMARY KEY (k, b) NOT ENFORCED)
WITH ('connector' = 'jdbc', 'url' = '%[2]s', 'table-name' = '"agg_%[1]s"',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.buffer-flush.max-rows' = '500');

INSERT INTO agg
SELECT k, v / 100 AS b, COUNT(*), SUM(v) FROM ev GROUP BY k, v / 100 HAVING COUNT(*) < 60;
`

// TestJDBCConnectionFaults: while the binary writes an updating aggregate
// into PostgreSQL exactly-once, the sink's connections are terminated
// again and again (pg_terminate_backend, in the middle of its
// transactions) and the server is restarted once: the job retries,
// resumes and ends with the table of an uninterrupted run.
func TestJDBCConnectionFaults(t *testing.T) {
	t.Parallel() // waits on processes and checkpoints more than it computes
	if testing.Short() {
		t.Skip("fault test is long; run without -short")
	}
	bin := binary(t)
	srv := pgtest.Start(t)
	dir := t.TempDir()
	run := func(name string, faults bool) []string {
		table := `"agg_` + name + `"`
		srv.Exec(t, "CREATE TABLE "+table+" "+jdbcUpdatingTable)
		// A paced source, so that the faults land while the job runs.
		sql := filepath.Join(dir, name+".sql")
		if err := os.WriteFile(sql, []byte(fmt.Sprintf(jdbcFaultsQuery, name, srv.JDBCURL("postgres"))), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "run", "-v", "--state-dir", filepath.Join(dir, name, "state"), sql)
		stderr := &syncBuffer{}
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		terminated, restarted := 0, false
		// Each fault waits for a checkpoint completed after the last one,
		// so that every fault hits a job that recovered from the one
		// before (on a loaded machine, faults every tick could outpace
		// sink.max-retries, which is not what this test is about).
		checkpoints := 0
		start := time.Now()
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%s: the job failed: %v\n%s", name, err, stderr)
				}
				if faults {
					t.Logf("%d backends terminated, server restarted: %v, in %v", terminated, restarted, time.Since(start))
					if terminated < 3 || !restarted {
						t.Fatalf("the job ended before the faults: %d terminations, restarted %v", terminated, restarted)
					}
					if !strings.Contains(stderr.String(), "retrying after a failure") {
						t.Fatalf("the sink never retried:\n%s", stderr)
					}
				}
				rows := srv.Rows(t, "SELECT * FROM "+table)
				sort.Strings(rows)
				if left := srv.Rows(t, "SELECT gid FROM pg_prepared_xacts"); len(left) > 0 {
					t.Fatalf("prepared transactions left behind: %v", left)
				}
				return rows
			case <-tick.C:
				n := strings.Count(stderr.String(), "checkpoint complete")
				if !faults || n <= checkpoints {
					continue
				}
				checkpoints = n
				if terminated >= 4 && !restarted {
					if err := srv.Restart(); err != nil {
						t.Fatal(err)
					}
					restarted = true
					continue
				}
				if terminated < 8 {
					got := srv.Rows(t, "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'streamsql' AND pid <> pg_backend_pid()) x")
					if got[0] != "0" {
						terminated++
					}
				}
			}
		}
	}
	want := run("reference", false)
	if len(want) < 500 {
		t.Fatalf("reference table too small: %d rows", len(want))
	}
	got := run("faults", true)
	compareOutput(t, []byte(strings.Join(got, "\n")), []byte(strings.Join(want, "\n")))
}
