package kafka

import (
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
)

// The exactly-once sink records, in each transaction that writes output,
// the id of the checkpoint the transaction belongs to: an offset commit
// into the consumer group '<transactional id>-checkpoints', for the sink
// topic's partition 0, offset = checkpoint id, metadata naming the
// checkpoint and job. It commits atomically with the output, so the
// group's committed offset is the newest checkpoint whose output is
// visible. Open compares it with the checkpoint being restored: a newer
// one means the job's state (its directory, COMPLETED included) was lost
// or replaced by an older copy, and restoring would repeat committed
// output. Open then refuses unless exec.SinkConfig.AllowRollback is set.
//
// Transactions that write nothing record nothing: restoring a checkpoint
// at or after the newest one that wrote output repeats nothing.

// checkpointGroup is the consumer group that holds the sink's record.
func (s *sink) checkpointGroup() string { return s.txnID + "-checkpoints" }

// recordCheckpoint adds the offset commit recording checkpoint id to the
// open transaction (AddOffsetsToTxn, TxnOffsetCommit under the
// transaction's producer id and epoch), so that it is part of the
// transaction the checkpoint's handle names, whether Commit or a restart's
// resumeCommit ends it.
func (s *sink) recordCheckpoint(id int64) error {
	group := s.checkpointGroup()
	meta := fmt.Sprintf("checkpoint %d of job %s", id, s.job())
	backoff := 100 * time.Millisecond
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := s.tryRecord(group, id, meta)
		if err == nil {
			return nil
		}
		var kerr sarama.KError
		if errors.As(err, &kerr) {
			switch kerr {
			case sarama.ErrProducerFenced, sarama.ErrInvalidProducerEpoch, sarama.ErrInvalidProducerIDMapping,
				sarama.ErrInvalidTxnState, sarama.ErrUnknownProducerID, sarama.ErrGroupAuthorizationFailed,
				sarama.ErrTransactionalIDAuthorizationFailed:
				return fmt.Errorf("kafka: table %q: record checkpoint %d in group %q: %w", s.cfg.Table, id, group, err)
			}
		}
		if time.Now().Add(backoff).After(deadline) {
			return fmt.Errorf("kafka: table %q: record checkpoint %d in group %q: %w", s.cfg.Table, id, group, err)
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (s *sink) tryRecord(group string, id int64, meta string) error {
	coord, err := s.client.TransactionCoordinator(s.txnID)
	if err != nil {
		return err
	}
	aresp, err := coord.AddOffsetsToTxn(&sarama.AddOffsetsToTxnRequest{
		Version: 3, TransactionalID: s.txnID, ProducerID: s.pid, ProducerEpoch: s.epoch, GroupID: group,
	})
	if err != nil {
		_ = s.client.RefreshTransactionCoordinator(s.txnID)
		return err
	}
	if aresp.Err != sarama.ErrNoError {
		if aresp.Err == sarama.ErrNotCoordinatorForConsumer || aresp.Err == sarama.ErrConsumerCoordinatorNotAvailable {
			_ = s.client.RefreshTransactionCoordinator(s.txnID)
		}
		return aresp.Err
	}
	gc, err := s.client.Coordinator(group)
	if err != nil {
		return err
	}
	cresp, err := gc.TxnOffsetCommit(&sarama.TxnOffsetCommitRequest{
		Version: 3, TransactionalID: s.txnID, GroupID: group, ProducerID: s.pid, ProducerEpoch: s.epoch,
		GenerationID: -1,
		Topics: map[string][]*sarama.PartitionOffsetMetadata{
			s.topic: {{Partition: 0, Offset: id, LeaderEpoch: -1, Metadata: &meta}},
		},
	})
	if err != nil {
		_ = s.client.RefreshCoordinator(group)
		return err
	}
	for _, ps := range cresp.Topics {
		for _, p := range ps {
			if p.Err != sarama.ErrNoError {
				if p.Err == sarama.ErrNotCoordinatorForConsumer || p.Err == sarama.ErrConsumerCoordinatorNotAvailable {
					_ = s.client.RefreshCoordinator(group)
				}
				return p.Err
			}
		}
	}
	return nil
}

// recordedCheckpoint returns the newest checkpoint whose transaction the
// sink committed, as its group records it (0: none), and the record's
// metadata. Only committed offsets count (no require_stable): a pending
// transaction's record is not output anyone saw.
func (s *sink) recordedCheckpoint() (int64, string, error) {
	group := s.checkpointGroup()
	resp, err := s.admin.ListConsumerGroupOffsets(group, map[string][]int32{s.topic: {0}})
	if errors.Is(err, sarama.ErrGroupIDNotFound) {
		return 0, "", nil // kfake answers so for a group never committed to
	}
	if err != nil {
		return 0, "", fmt.Errorf("kafka: table %q: fetch the sink's checkpoint record (group %q): %w", s.cfg.Table, group, err)
	}
	blk := resp.GetBlock(s.topic, 0)
	if blk == nil {
		return 0, "", nil
	}
	if blk.Err != sarama.ErrNoError {
		return 0, "", fmt.Errorf("kafka: table %q: fetch the sink's checkpoint record (group %q): %w", s.cfg.Table, group, blk.Err)
	}
	return max(blk.Offset, 0), blk.Metadata, nil
}

// checkRollback refuses to open from checkpoint restored (0: a fresh
// start) when the sink committed the output of a newer one, unless the run
// accepts a rollback.
func (s *sink) checkRollback(restored int64) error {
	recorded, meta, err := s.recordedCheckpoint()
	if err != nil {
		return err
	}
	if recorded <= restored {
		return nil
	}
	what := fmt.Sprintf("this run restores checkpoint %d", restored)
	if restored == 0 {
		what = "this run starts without a checkpoint"
	}
	if s.cfg.AllowRollback {
		loggerOf(s.cfg.Logger).Error("kafka: ROLLBACK ACCEPTED: the sink committed the output of checkpoint "+fmt.Sprint(recorded)+" but "+what+"; the output committed since will be repeated",
			"table", s.cfg.Table, "job", s.job(), "checkpoint", restored, "committed", recorded, "group", s.checkpointGroup())
		return nil
	}
	return fmt.Errorf("kafka: table %q: the exactly-once sink committed the output of checkpoint %d (%q, recorded in consumer group %q), but %s: the job's state directory was lost or replaced by an older copy. Restoring would repeat the output committed since checkpoint %d; accept that with --allow-rollback, start over with --fresh, or restore the state that holds checkpoint %d",
		s.cfg.Table, recorded, meta, s.checkpointGroup(), what, max(restored, 0), recorded)
}

// job is the job name in the transactional id.
func (s *sink) job() string {
	if s.cfg.JobName == "" {
		return s.cfg.Table
	}
	return s.cfg.JobName
}
