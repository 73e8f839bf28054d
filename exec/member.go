package exec

import (
	"context"

	"github.com/streamsql/streamsql/plan"
)

// Member is the part of a job one process runs when the job runs on
// several processes as one Kafka consumer group (package cluster): the
// source partitions the group assigned to this process, and the group
// generation its transactions commit the input offsets under, so that a
// process the group has fenced (a zombie of an older generation) cannot
// commit. A job without a Member reads every partition and keeps its input
// offsets in its checkpoints.
type Member struct {
	// Group is the consumer group: the job's name.
	Group string
	// Generation and MemberID are the group generation and this member's
	// id in it, as the coordinator assigned them at the last join.
	Generation int32
	MemberID   string
	// InstanceID is the process's stable identity (static membership,
	// group.instance.id): also the suffix of its sinks' transactional ids.
	InstanceID string
	// Partitions are the source partitions this process owns, by topic,
	// each sorted.
	Partitions map[string][]int32
}

// Owns reports whether the member owns partition p of topic.
func (m *Member) Owns(topic string, p int32) bool {
	for _, q := range m.Partitions[topic] {
		if q == p {
			return true
		}
	}
	return false
}

// OffsetCommitter is implemented by sinks that commit the job's input
// positions atomically with their output: the Kafka exactly-once sink,
// whose transaction then also commits the consumer group's offsets
// (Kafka's AddOffsetsToTxn/TxnOffsetCommit under the Member's generation).
// A job with a Member needs every sink to implement it, and has one sink.
//
// At each checkpoint the runtime calls AddOffsets before PreCommit(id),
// from the goroutine that calls PreCommit, with what every source reported
// at checkpoint id's barrier, by split name (Kafka's "topic/partition");
// the bytes are the sources' encodings, which the connector decodes. The
// offsets become visible exactly when the sink's Commit(id) makes its
// rows visible.
type OffsetCommitter interface {
	AddOffsets(ctx context.Context, id int64, offsets map[string][]byte) error
}

// StateCommitter is implemented by sinks of a job on several processes
// that also commit the state its keyed operators wrote at a checkpoint (to
// a changelog topic, in the same transaction as their output and input
// offsets), so that another process can take the operators' key groups
// over. At each checkpoint the runtime calls AddState after AddOffsets and
// before PreCommit, once per operator upstream of the sink, with a
// function that iterates over what the operator wrote to the checkpoint
// (key, value, and whether it is a delete), in order.
type StateCommitter interface {
	AddState(ctx context.Context, id int64, op string, each func(fn func(key, value []byte, deleted bool) error) error) error
}

// WatermarkCommitter is implemented by OffsetCommitter sinks that commit
// every input split's watermark with its offset (Kafka: in the committed
// offset's metadata), so that the process that takes the split over
// resumes its event time (WatermarkRestorer) rather than hold the job's
// watermark back until the split produces a row, which it may never do.
// At each checkpoint the runtime calls AddWatermarks just before
// AddOffsets, with the watermark every split of a source with a WATERMARK
// declaration had at the barrier, by split name (splits without one are
// left out).
type WatermarkCommitter interface {
	AddWatermarks(ctx context.Context, id int64, watermarks map[string]Watermark) error
}

// WatermarkRestorer is implemented by sources of a job on several
// processes that read back the split watermarks a WatermarkCommitter
// committed with their offsets. After Open, RestoredWatermarks returns
// them by split number; the runtime resumes those splits there (active
// until the table's idle timeout) and emits the source's watermark before
// it reads a row.
type WatermarkRestorer interface {
	RestoredWatermarks() map[int]Watermark
}

// restoreTaken resumes the watermarks of the splits the source took over
// (WatermarkRestorer), to be emitted when the runner starts.
func (r *sourceRunner) restoreTaken() {
	wr, ok := r.source.(WatermarkRestorer)
	if !ok || r.wm == nil {
		return
	}
	wms := wr.RestoredWatermarks()
	if len(wms) == 0 {
		return
	}
	if r.wm.restoreTaken(r.idleClock(), r.splits(), wms) != MinWatermark {
		r.taken = true
	}
}

func (c *inflight) recordWatermarks(r *sourceRunner, wms map[string]Watermark) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wms[r] = wms
}

// splitWatermarks merges the split watermarks the sources of upstream
// (all when nil) recorded at the checkpoint's barrier, by split name.
func (c *inflight) splitWatermarks(upstream map[*plan.Source]bool) map[string]Watermark {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]Watermark{}
	for r, wms := range c.wms {
		if upstream != nil && !upstream[r.node] {
			continue
		}
		for k, v := range wms {
			out[k] = v
		}
	}
	return out
}

// sourceOffsets merges what the sources of upstream (all of them when
// upstream is nil) recorded at the checkpoint's barrier, by split name.
func (c *inflight) sourceOffsets(upstream map[*plan.Source]bool) map[string][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]byte{}
	for r, off := range c.offsets {
		if upstream != nil && !upstream[r.node] {
			continue
		}
		for k, v := range off {
			out[k] = v
		}
	}
	return out
}
