package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/IBM/sarama"
)

// handleVersion is the first byte of an encoded sink handle. Version 1
// handles (before the checkpoint id was recorded) are still read.
const handleVersion = 2

// txnHandle names the transaction an exactly-once sink pre-committed at a
// checkpoint: enough to commit it after a crash without the producer that
// opened it.
type txnHandle struct {
	txnID      string
	pid        int64
	epoch      int16
	topic      string
	partitions []int32 // written in the transaction; none: nothing to commit
	checkpoint int64   // the checkpoint the transaction belongs to; 0: unknown (version 1)
}

// encode writes the handle as
//
//	version byte (1)
//	uvarint len(txnID), txnID
//	varint producer id, varint epoch
//	uvarint len(topic), topic
//	uvarint count, count × varint partition
//	varint checkpoint id (not in version 1)
func (h txnHandle) encode() []byte {
	b := []byte{handleVersion}
	b = binary.AppendUvarint(b, uint64(len(h.txnID)))
	b = append(b, h.txnID...)
	b = binary.AppendVarint(b, h.pid)
	b = binary.AppendVarint(b, int64(h.epoch))
	b = binary.AppendUvarint(b, uint64(len(h.topic)))
	b = append(b, h.topic...)
	b = binary.AppendUvarint(b, uint64(len(h.partitions)))
	for _, p := range h.partitions {
		b = binary.AppendVarint(b, int64(p))
	}
	return binary.AppendVarint(b, h.checkpoint)
}

func decodeHandle(b []byte) (txnHandle, error) {
	var h txnHandle
	if len(b) == 0 || (b[0] != 1 && b[0] != handleVersion) {
		return h, errors.New("unknown handle version")
	}
	r := reader{b: b[1:]}
	h.txnID = r.str()
	h.pid = r.varint()
	h.epoch = int16(r.varint())
	h.topic = r.str()
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) {
		r.err = errors.New("truncated")
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		h.partitions = append(h.partitions, int32(r.varint()))
	}
	if b[0] >= 2 {
		h.checkpoint = r.varint()
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errors.New("trailing bytes")
	}
	return h, r.err
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bytes reads a uvarint length and that many bytes (a copy).
func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errors.New("truncated")
		return nil
	}
	v := append([]byte{}, r.b[:n]...)
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errors.New("truncated")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// resumeCommit completes the commit of the transaction h names, with an
// EndTxn request under its producer id and epoch, as the producer that
// opened it would have. Outcomes:
//
//   - committed now, or found committed already (a retried commit): done;
//   - PRODUCER_FENCED / INVALID_PRODUCER_EPOCH: the epoch moved on, which
//     the sink does only after committing this transaction (every
//     transaction has its own epoch): done;
//   - INVALID_TXN_STATE or an unknown producer id: the transaction was
//     aborted (it outlived 'sink.transaction-timeout' while the job was
//     down) or expired: its rows are lost, which is an error;
//   - coordinator moving or busy, network errors: retried with backoff.
func resumeCommit(ctx context.Context, client sarama.Client, h txnHandle, log *slog.Logger) error {
	if len(h.partitions) == 0 {
		return nil
	}
	backoff := 100 * time.Millisecond
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := endTxn(client, h)
		if err == nil {
			return nil
		}
		var kerr sarama.KError
		if errors.As(err, &kerr) {
			switch kerr {
			case sarama.ErrProducerFenced, sarama.ErrInvalidProducerEpoch:
				log.Info("kafka: transaction of the restored checkpoint was committed before", "txn", h.txnID, "producer", h.pid, "epoch", h.epoch)
				return nil
			case sarama.ErrInvalidTxnState, sarama.ErrInvalidProducerIDMapping, sarama.ErrUnknownProducerID:
				return fmt.Errorf("the pre-committed transaction %q (producer %d, epoch %d) of the restored checkpoint can no longer be committed (%v): it was aborted, probably because the job was down longer than 'sink.transaction-timeout'; its rows are lost", h.txnID, h.pid, h.epoch, kerr)
			}
		}
		if time.Now().Add(backoff).After(deadline) {
			return fmt.Errorf("commit of pre-committed transaction %q: %w", h.txnID, err)
		}
		log.Warn("kafka: committing the restored transaction failed, retrying", "txn", h.txnID, "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func endTxn(client sarama.Client, h txnHandle) error {
	coord, err := client.TransactionCoordinator(h.txnID)
	if err != nil {
		return err
	}
	resp, err := coord.EndTxn(&sarama.EndTxnRequest{
		Version: 3, TransactionalID: h.txnID, ProducerID: h.pid, ProducerEpoch: h.epoch, TransactionResult: true,
	})
	if err != nil {
		_ = client.RefreshTransactionCoordinator(h.txnID)
		return err
	}
	switch resp.Err {
	case sarama.ErrNoError:
		return nil
	case sarama.ErrNotCoordinatorForConsumer, sarama.ErrConsumerCoordinatorNotAvailable:
		_ = client.RefreshTransactionCoordinator(h.txnID)
	}
	return resp.Err
}

// loggerOf returns l, or the default logger when the runtime gave none.
func loggerOf(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}
