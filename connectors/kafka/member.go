package kafka

// A job on several processes (exec.Member): the source reads only the
// partitions the consumer group assigned to this process, from the
// group's committed offsets, and the exactly-once sink commits the input
// offsets in its transaction under the group generation (EOS-v2), so that
// output and input positions become visible together, and a fenced
// process's transaction cannot commit either.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamsql/streamsql/exec"
)

// stableWait bounds how long a source waits for an open transaction that
// commits one of its partitions' offsets (a process that lost the
// partition, or died, mid-transaction) to end: the broker aborts it at
// the sink's transaction timeout at the latest.
const stableWait = 20 * time.Minute

// memberTxnID is the transactional id of a kafka sink of the process
// with the given instance id in a job on several processes.
func memberTxnID(prefix, job, instance string) string {
	return fmt.Sprintf("%s-%s-%s", prefix, job, instance)
}

// FenceMember ends the transaction that a previous run of this process
// (the same instance id) may have left open on an exactly-once kafka sink
// with options opts, before the process joins the group: it initialises
// the sink's transactional id, which aborts that transaction. A process
// SIGKILLed mid-transaction leaves the input offsets it had added to the
// transaction pending; until the transaction ends, the group's offset
// fetch of those partitions answers UNSTABLE_OFFSET_COMMIT, so the
// consumer group session that would assign them (to this process or any
// other) cannot start, and the sink that would abort the transaction
// opens only in a session: without the fence, the group rejoins in a loop
// until the broker's transaction timeout. Any other sink is left alone.
// A process that is still running with this instance id is fenced too,
// as its own restart would.
func FenceMember(ctx context.Context, opts map[string]string, job, instance string) error {
	var c config
	if opts[optDeliveryGuarantee] != exactlyOnce {
		return nil
	}
	if err := parseSinkConfig(&c, opts); err != nil {
		return err
	}
	b, err := brokers(opts)
	if err != nil {
		return err
	}
	sc, err := saramaConfig(opts, true)
	if err != nil {
		return err
	}
	id := memberTxnID(c.txnPrefix, job, instance)
	transactional(sc, id, c.txnTimeout)
	client, err := newClientRetry(ctx, b, sc)
	if err != nil {
		return fmt.Errorf("kafka: fence transactional id %q: %w", id, err)
	}
	defer client.Close()
	// The producer's InitProducerID is the fence.
	p, err := sarama.NewAsyncProducerFromClient(client)
	if err != nil {
		return fmt.Errorf("kafka: fence transactional id %q: %w", id, err)
	}
	if err := p.Close(); err != nil {
		return fmt.Errorf("kafka: fence transactional id %q: %w", id, err)
	}
	return nil
}

// openMember starts the partitions of current that the member owns, each
// at the group's committed offset, or as the startup mode says when the
// group has none.
func (s *source) openMember(current []topicPartition) error {
	m := s.cfg.Member
	for _, tp := range current {
		if !m.Owns(tp.topic, tp.partition) {
			continue
		}
		off, meta, err := s.stableOffset(tp)
		if err != nil {
			return err
		}
		if off < 0 {
			if off, err = s.startOffset(tp); err != nil {
				return err
			}
		}
		if err := s.startSplit(tp.topic, tp.partition, off); err != nil {
			return err
		}
		if s.stage != nil {
			// The markers seen up to the committed offset came with it.
			if s.splits[len(s.splits)-1].marks, err = decodeMarks(meta); err != nil {
				return fmt.Errorf("kafka: table %q: topic %q partition %d: committed offset metadata: %w", s.cfg.Table, tp.topic, tp.partition, err)
			}
		} else if wm, ok, err := decodeSplitWatermark(meta); err != nil {
			return fmt.Errorf("kafka: table %q: topic %q partition %d: committed offset metadata: %w", s.cfg.Table, tp.topic, tp.partition, err)
		} else if ok {
			// The partition's watermark when its offset was committed.
			if s.taken == nil {
				s.taken = map[int]exec.Watermark{}
			}
			s.taken[len(s.splits)-1] = wm
		}
	}
	s.log.Info("reading the partitions the group assigned", "group", m.Group, "generation", m.Generation, "partitions", len(s.splits))
	return nil
}

// stableOffset returns the group's committed offset of tp (-1: none),
// waiting while a transaction that commits one is open: it may commit, and
// reading from the older offset would repeat its rows.
func (s *source) stableOffset(tp topicPartition) (int64, string, error) {
	deadline := time.Now().Add(stableWait)
	backoff := 50 * time.Millisecond
	logged := false
	for {
		off, meta, err := s.fetchOffsetMeta(tp, true)
		var kerr sarama.KError
		if err == nil || !errors.As(err, &kerr) || time.Now().After(deadline) {
			return off, meta, err
		}
		if !logged && kerr == sarama.ErrUnstableOffsetCommit {
			s.log.Info("waiting for an open transaction on the partition's offsets to end", "topic", tp.topic, "partition", tp.partition)
			logged = true
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
}

// AddOffsets implements exec.OffsetCommitter: the offsets of the member's
// partitions go into the open transaction, committed with it under the
// member's generation.
func (s *sink) AddOffsets(_ context.Context, _ int64, offsets map[string][]byte) error {
	m := s.cfg.Member
	if m == nil {
		return nil
	}
	if s.producer == nil {
		return errors.New("kafka: sink not open")
	}
	byTopic := map[string][]*sarama.PartitionOffsetMetadata{}
	for name, b := range offsets {
		topic, p, err := parseSplitName(name)
		if err != nil {
			return fmt.Errorf("kafka: table %q: %w", s.cfg.Table, err)
		}
		if !m.Owns(topic, p) {
			continue
		}
		_, next, marks, _, err := decodeSplitOffset(b, true)
		if err != nil {
			return fmt.Errorf("kafka: table %q: split %s: %w", s.cfg.Table, name, err)
		}
		s.st.addOffset(topic, p, next)
		po := &sarama.PartitionOffsetMetadata{Partition: p, Offset: next, LeaderEpoch: -1}
		if len(marks) > 0 {
			// A repartition topic's watermark markers up to the offset.
			md := encodeMarks(marks)
			po.Metadata = &md
		} else if wm, ok := s.splitWM[name]; ok {
			// The partition's watermark, for the process that takes it
			// over.
			md := encodeSplitWatermark(wm)
			po.Metadata = &md
		}
		byTopic[topic] = append(byTopic[topic], po)
	}
	if len(byTopic) == 0 {
		return nil
	}
	for _, ps := range byTopic {
		slices.SortFunc(ps, func(a, b *sarama.PartitionOffsetMetadata) int { return int(a.Partition - b.Partition) })
	}
	meta := &sarama.ConsumerGroupMetadata{GroupID: m.Group, GenerationID: m.Generation, MemberID: m.MemberID}
	if m.InstanceID != "" {
		id := m.InstanceID
		meta.GroupInstanceID = &id
	}
	if err := s.producer.AddOffsetsToTxnWithGroupMetadata(byTopic, meta); err != nil {
		return fmt.Errorf("kafka: table %q: add the input offsets to transaction %q: %w", s.cfg.Table, s.txnID, err)
	}
	return nil
}

// AddWatermarks implements exec.WatermarkCommitter: the input splits'
// watermarks go into the metadata of the offsets AddOffsets commits next.
func (s *sink) AddWatermarks(_ context.Context, _ int64, watermarks map[string]exec.Watermark) error {
	s.splitWM = watermarks
	return nil
}

// RestoredWatermarks implements exec.WatermarkRestorer: the watermarks
// committed with the offsets of the partitions the member took over.
func (s *source) RestoredWatermarks() map[int]exec.Watermark { return s.taken }

var (
	_ exec.OffsetCommitter    = (*sink)(nil)
	_ exec.WatermarkCommitter = (*sink)(nil)
	_ exec.WatermarkRestorer  = (*source)(nil)
)
