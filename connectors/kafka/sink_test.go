package kafka

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/IBM/sarama"
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/exec"
)

func batch(ids ...int64) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, testSchema.Arrow())
	defer b.Release()
	for _, id := range ids {
		b.Field(0).(*array.Int64Builder).Append(id)
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("n%d", id))
	}
	return b.NewRecord()
}

func openSink(t *testing.T, o map[string]string, handle []byte) *sink {
	t.Helper()
	s, err := tryOpenSink(t, o, handle, false)
	must(t, err)
	return s
}

// tryOpenSink opens a sink of job "job"; on an error it is closed.
func tryOpenSink(t *testing.T, o map[string]string, handle []byte, allowRollback bool) (*sink, error) {
	t.Helper()
	if err := (factory{}).Validate(o, testSchema, true); err != nil {
		t.Fatalf("validate: %v", err)
	}
	s, err := newSink(exec.SinkConfig{Table: "out", Schema: testSchema, Options: o, JobName: "job", AllowRollback: allowRollback})
	must(t, err)
	if err := s.Open(context.Background(), handle); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func write(t *testing.T, s *sink, ids ...int64) {
	t.Helper()
	rec := batch(ids...)
	defer rec.Release()
	must(t, s.Write(context.Background(), rec))
}

func readValues(t *testing.T, b *kafkatest.Broker, topic string, uncommitted bool) []string {
	t.Helper()
	recs, err := b.Read(context.Background(), topic, kafkatest.ReadOptions{ReadUncommitted: uncommitted})
	must(t, err)
	v := kafkatest.Values(recs)
	slices.Sort(v)
	return v
}

func ids(ns ...int64) []string {
	var out []string
	for _, n := range ns {
		out = append(out, fmt.Sprintf(`{"id":%d,"name":"n%d"}`, n, n))
	}
	slices.Sort(out)
	return out
}

func TestSinkAtLeastOnce(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"out"}, Partitions: 3})
	s := openSink(t, opts(b, "topic", "out", optKeyFormat, "json", optKeyFields, "id"), nil)
	write(t, s, 1, 2, 3)
	write(t, s, 4)
	h, err := s.PreCommit(context.Background(), 1)
	must(t, err)
	must(t, s.Commit(context.Background(), 1))
	must(t, s.Close())
	if h != nil {
		t.Fatalf("at-least-once handle %q", h)
	}
	recs, err := b.Read(context.Background(), "out", kafkatest.ReadOptions{})
	must(t, err)
	if got := kafkatest.Values(recs); len(got) != 4 {
		t.Fatalf("got %v", got)
	}
	// The key decides the partition, the same for the same key.
	byKey := map[string]int32{}
	for _, r := range recs {
		if !strings.HasPrefix(string(r.Key), `{"id":`) {
			t.Fatalf("key %q", r.Key)
		}
		byKey[string(r.Key)] = r.Partition
	}
	s = openSink(t, opts(b, "topic", "out", optKeyFormat, "json", optKeyFields, "id", optValueFieldsInc, "EXCEPT_KEY"), nil)
	write(t, s, 1, 2, 3)
	_, err = s.PreCommit(context.Background(), 1)
	must(t, err)
	must(t, s.Close())
	recs, err = b.Read(context.Background(), "out", kafkatest.ReadOptions{})
	must(t, err)
	n := 0
	for _, r := range recs {
		if string(r.Value) == `{"name":"n2"}` {
			n++
			if r.Partition != byKey[`{"id":2}`] {
				t.Fatalf("key {\"id\":2} went to partitions %d and %d", r.Partition, byKey[`{"id":2}`])
			}
		}
	}
	if n != 1 {
		t.Fatalf("EXCEPT_KEY value not found in %v", kafkatest.Values(recs))
	}
}

// TestSinkExactlyOnce follows one transaction per checkpoint through a
// crash: rows pre-committed at a completed checkpoint are invisible to
// read_committed until Commit, or until a restarted sink's Open(handle)
// commits them; rows written after the checkpoint are aborted by the
// restart's fence.
func TestSinkExactlyOnce(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"out"}, Partitions: 2})
	ctx := context.Background()
	o := opts(b, "topic", "out", optDeliveryGuarantee, exactlyOnce, optTxnPrefix, "tx", optPartitioner, "round-robin")
	s := openSink(t, o, nil)
	write(t, s, 1, 2)
	h1, err := s.PreCommit(ctx, 1)
	must(t, err)
	if got := readValues(t, b, "out", false); len(got) != 0 {
		t.Fatalf("pre-committed rows visible: %v", got)
	}
	if got := readValues(t, b, "out", true); len(got) != 2 {
		t.Fatalf("read_uncommitted sees %v", got)
	}
	must(t, s.Commit(ctx, 1))
	if got := readValues(t, b, "out", false); !slices.Equal(got, ids(1, 2)) {
		t.Fatalf("after commit: %v", got)
	}
	// Checkpoint 2 becomes durable, but the process dies before Commit.
	write(t, s, 3, 4)
	h2, err := s.PreCommit(ctx, 2)
	must(t, err)
	hd, _ := decodeHandle(h2)
	if hd.txnID != "tx-job-0" || len(hd.partitions) != 2 {
		t.Fatalf("handle %+v", hd)
	}
	must(t, s.Close())
	if got := readValues(t, b, "out", false); !slices.Equal(got, ids(1, 2)) {
		t.Fatalf("before restore: %v", got)
	}
	s2 := openSink(t, o, h2)
	if got := readValues(t, b, "out", false); !slices.Equal(got, ids(1, 2, 3, 4)) {
		t.Fatalf("after restore: %v", got)
	}
	write(t, s2, 6)
	h3, err := s2.PreCommit(ctx, 3)
	must(t, err)
	must(t, s2.Commit(ctx, 3))
	write(t, s2, 7) // after checkpoint 3: must be aborted
	must(t, s2.Close())
	// Restore from checkpoint 3 (already committed: fenced, fine), and
	// again from an older handle, a rollback the run accepts: nothing is
	// committed twice.
	for _, h := range [][]byte{h3, h3, h1} {
		s3, err := tryOpenSink(t, o, h, true)
		must(t, err)
		must(t, s3.Close())
	}
	if got := readValues(t, b, "out", false); !slices.Equal(got, ids(1, 2, 3, 4, 6)) {
		t.Fatalf("after second restore: %v", got)
	}
}

// TestSinkExactlyOnceAbortsAfterCheckpoint: rows written after the last
// completed checkpoint (in the next transaction) are aborted by a
// restore from that checkpoint.
func TestSinkExactlyOnceAbortsAfterCheckpoint(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"out"}, Partitions: 1})
	ctx := context.Background()
	o := opts(b, "topic", "out", optDeliveryGuarantee, exactlyOnce, optTxnPrefix, "tx")
	s := openSink(t, o, nil)
	write(t, s, 1)
	h1, err := s.PreCommit(ctx, 1)
	must(t, err)
	must(t, s.Commit(ctx, 1))
	write(t, s, 2)
	_, err = s.PreCommit(ctx, 2) // checkpoint 2 fails to become durable
	must(t, err)
	must(t, s.Close())
	s2 := openSink(t, o, h1)
	write(t, s2, 3)
	_, err = s2.PreCommit(ctx, 2)
	must(t, err)
	must(t, s2.Commit(ctx, 2))
	must(t, s2.Close())
	if got := readValues(t, b, "out", false); !slices.Equal(got, ids(1, 3)) {
		t.Fatalf("got %v, want rows 1 and 3", got)
	}
}

func TestSinkUnknownTopic(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"out"}})
	s, err := newSink(exec.SinkConfig{Table: "out", Schema: testSchema, Options: opts(b, "topic", "missing")})
	must(t, err)
	err = s.Open(context.Background(), nil)
	s.Close()
	if err == nil || !strings.Contains(err.Error(), `topic "missing" does not exist`) {
		t.Fatalf("got %v", err)
	}
}

// TestSinkRefusesRollback: each transaction that writes output records its
// checkpoint id in the sink's checkpoint group, atomically with the
// output; opening from an older checkpoint, or fresh, fails naming both
// ids and the options that accept it, unless the run accepts the
// rollback. The restored checkpoint's own pending transaction (committed
// by Open) is not a rollback, nor is a checkpoint whose transaction wrote
// nothing.
func TestSinkRefusesRollback(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"out"}, Partitions: 2})
	ctx := context.Background()
	o := opts(b, "topic", "out", optDeliveryGuarantee, exactlyOnce, optTxnPrefix, "tx")
	s := openSink(t, o, nil)
	var hs [][]byte
	for id := int64(1); id <= 3; id++ {
		write(t, s, id)
		h, err := s.PreCommit(ctx, id)
		must(t, err)
		hs = append(hs, h)
		must(t, s.Commit(ctx, id))
	}
	// Checkpoint 4 wrote nothing; 5 is pre-committed, durable, and the
	// process dies before Commit.
	h4, err := s.PreCommit(ctx, 4)
	must(t, err)
	must(t, s.Commit(ctx, 4))
	write(t, s, 5)
	h5, err := s.PreCommit(ctx, 5)
	must(t, err)
	must(t, s.Close())
	if rec, meta, err := openRecorded(t, o); err != nil || rec != 3 || meta != "checkpoint 3 of job job" {
		t.Fatalf("recorded %d %q %v, want 3", rec, meta, err)
	}
	// Restoring 5 commits its transaction and with it the record.
	s = openSink(t, o, h5)
	must(t, s.Close())
	if rec, _, _ := openRecorded(t, o); rec != 5 {
		t.Fatalf("recorded %d after restoring 5", rec)
	}
	for _, c := range []struct {
		handle []byte
		want   string
	}{
		{hs[0], "checkpoint 5 (\"checkpoint 5 of job job\", recorded in consumer group \"tx-job-0-checkpoints\"), but this run restores checkpoint 1"},
		{h4, "but this run restores checkpoint 4"},
		{nil, "but this run starts without a checkpoint"},
	} {
		_, err := tryOpenSink(t, o, c.handle, false)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "--allow-rollback") || !strings.Contains(err.Error(), "--fresh") {
			t.Fatalf("got %v, want an error containing %q", err, c.want)
		}
	}
	if got := readValues(t, b, "out", false); !slices.Equal(got, ids(1, 2, 3, 5)) {
		t.Fatalf("refused opens changed the output: %v", got)
	}
	// Accepted: the job goes on from checkpoint 1 and records its own ids.
	s, err = tryOpenSink(t, o, hs[0], true)
	must(t, err)
	write(t, s, 20)
	_, err = s.PreCommit(ctx, 2)
	must(t, err)
	must(t, s.Commit(ctx, 2))
	must(t, s.Close())
	if rec, _, _ := openRecorded(t, o); rec != 2 {
		t.Fatalf("recorded %d after the accepted rollback", rec)
	}
	if got := readValues(t, b, "out", false); !slices.Equal(got, ids(1, 2, 3, 5, 20)) {
		t.Fatalf("got %v", got)
	}
}

// openRecorded reads the sink's checkpoint record without opening a sink.
func openRecorded(t *testing.T, o map[string]string) (int64, string, error) {
	t.Helper()
	s, err := newSink(exec.SinkConfig{Table: "out", Schema: testSchema, Options: o, JobName: "job"})
	must(t, err)
	defer s.Close()
	if s.client, err = newClientRetry(context.Background(), s.conf.brokers, s.sconf); err != nil {
		return 0, "", err
	}
	must(t, s.client.RefreshMetadata(s.topic))
	if s.admin, err = sarama.NewClusterAdminFromClient(s.client); err != nil {
		return 0, "", err
	}
	return s.recordedCheckpoint()
}

// TestHandleVersion1: handles of checkpoints taken before the checkpoint id
// was recorded still decode (id unknown).
func TestHandleVersion1(t *testing.T) {
	h := txnHandle{txnID: "tx", pid: 7, epoch: 2, topic: "out", partitions: []int32{0, 3}, checkpoint: 9}
	b := h.encode()
	got, err := decodeHandle(b)
	must(t, err)
	if got.checkpoint != 9 || got.pid != 7 || len(got.partitions) != 2 {
		t.Fatalf("round trip %+v", got)
	}
	v1 := append([]byte{1}, b[1:len(b)-1]...) // version 1: no trailing id
	got, err = decodeHandle(v1)
	must(t, err)
	if got.checkpoint != 0 || got.txnID != "tx" || got.epoch != 2 || !slices.Equal(got.partitions, []int32{0, 3}) {
		t.Fatalf("version 1: %+v", got)
	}
}
