package kafka

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

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
	if err := (factory{}).Validate(o, testSchema, true); err != nil {
		t.Fatalf("validate: %v", err)
	}
	s, err := newSink(exec.SinkConfig{Table: "out", Schema: testSchema, Options: o, JobName: "job"})
	must(t, err)
	if err := s.Open(context.Background(), handle); err != nil {
		s.Close()
		t.Fatal(err)
	}
	return s
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
	// again from an older handle: nothing is committed twice.
	for _, h := range [][]byte{h3, h3, h1} {
		s3 := openSink(t, o, h)
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
