package jdbc

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The exactly-once sink records, in each transaction that writes output,
// the checkpoint the transaction belongs to: a row (sink, checkpoint) of
// the table streamsql_checkpoints, in the schema of the sink's table (sink
// names the job, the table and the database table it writes, so that a
// job pointed at another database table starts clean),
// inserted just before PREPARE TRANSACTION. It commits atomically with
// the output, so the greatest committed checkpoint of the sink is the
// newest whose output is visible. Open compares it with the checkpoint
// being restored: a newer one means the job's state (its directory) was
// lost or replaced by an older copy, and restoring would write the output
// committed since a second time (an upsert table would go back in time
// and forward again; an append-only one would hold rows twice). Open
// then refuses unless exec.SinkConfig.AllowRollback is set, as the Kafka
// sink does.
//
// One row per checkpoint, never an update of one row per sink: a
// checkpoint that failed leaves its transaction prepared (holding its
// locks) until a later checkpoint completes, and an update of a shared
// row would wait for it. Rows older than the newest committed one are
// deleted after each commit, outside the transactions. Transactions that
// write nothing record nothing: restoring a checkpoint at or after the
// newest one that wrote output repeats nothing.

// checkpointTable is the name of the bookkeeping table.
const checkpointTable = "streamsql_checkpoints"

// recordKey names the sink in the bookkeeping table.
func (s *sink) recordKey() string { return s.gidPrefix + s.ident }

// recordTable is the bookkeeping table's quoted name, beside the sink's.
func (s *sink) recordTable() string {
	return pgx.Identifier{s.table[0], checkpointTable}.Sanitize()
}

// ensureRecordTable creates the bookkeeping table when it is missing.
func (s *sink) ensureRecordTable(ctx context.Context) error {
	_, err := s.conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+s.recordTable()+
		" (sink text NOT NULL, checkpoint bigint NOT NULL, job text NOT NULL, table_name text NOT NULL,"+
		" committed timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (sink, checkpoint))")
	if err != nil {
		// Two jobs creating it at once: one fails on the catalog's unique
		// index, and the table exists.
		var exists bool
		if qerr := s.conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", s.recordTable()).Scan(&exists); qerr == nil && exists {
			return nil
		}
		return fmt.Errorf("create the exactly-once sink's bookkeeping table %s (the sink's user needs CREATE on the schema, or create it beforehand): %w", s.recordTable(), err)
	}
	return nil
}

// recordCheckpoint inserts the row recording checkpoint id into the open
// transaction.
func (s *sink) recordCheckpoint(ctx context.Context, id int64) error {
	_, err := s.conn.Exec(ctx, "INSERT INTO "+s.recordTable()+" (sink, checkpoint, job, table_name) VALUES ($1, $2, $3, $4)",
		s.recordKey(), id, s.job(), s.cfg.Table)
	return err
}

// recordedCheckpoint returns the newest checkpoint whose transaction the
// sink committed (0: none).
func (s *sink) recordedCheckpoint(ctx context.Context) (int64, error) {
	var id *int64
	err := s.conn.QueryRow(ctx, "SELECT max(checkpoint) FROM "+s.recordTable()+" WHERE sink = $1", s.recordKey()).Scan(&id)
	if err != nil || id == nil {
		return 0, err
	}
	return *id, nil
}

// trimRecords deletes the records older than checkpoint id, whose
// transaction committed.
func (s *sink) trimRecords(ctx context.Context, id int64) error {
	_, err := s.conn.Exec(ctx, "DELETE FROM "+s.recordTable()+" WHERE sink = $1 AND checkpoint < $2", s.recordKey(), id)
	return err
}

// errRollback is the refusal of checkRollback.
var errRollback = errors.New("rollback refused")

// checkRollback refuses to open from checkpoint restored (0: a fresh
// start) when the sink committed the output of a newer one, unless the run
// accepts a rollback; then it forgets the newer records, whose checkpoint
// ids the run will use again.
func (s *sink) checkRollback(ctx context.Context, restored int64) error {
	recorded, err := s.recordedCheckpoint(ctx)
	if err != nil {
		return fmt.Errorf("read the sink's checkpoint record in %s: %w", s.recordTable(), err)
	}
	if recorded <= restored {
		return nil
	}
	what := fmt.Sprintf("this run restores checkpoint %d", restored)
	if restored == 0 {
		what = "this run starts without a checkpoint"
	}
	if !s.cfg.AllowRollback {
		return fmt.Errorf("%w: the exactly-once sink committed the output of checkpoint %d (recorded in %s), but %s: the job's state directory was lost or replaced by an older copy. Restoring would write the output committed since checkpoint %d again; accept that with --allow-rollback, start over with --fresh, or restore the state that holds checkpoint %d",
			errRollback, recorded, s.recordTable(), what, restored, recorded)
	}
	s.log.Error("jdbc: ROLLBACK ACCEPTED: the sink committed the output of checkpoint "+fmt.Sprint(recorded)+" but "+what+"; the output committed since will be written again",
		"job", s.job(), "checkpoint", restored, "committed", recorded)
	_, err = s.conn.Exec(ctx, "DELETE FROM "+s.recordTable()+" WHERE sink = $1 AND checkpoint > $2", s.recordKey(), restored)
	return err
}

// job is the job name in the transactions' ids.
func (s *sink) job() string {
	if s.cfg.JobName == "" {
		return s.cfg.Table
	}
	return s.cfg.JobName
}
