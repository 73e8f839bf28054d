package kafka

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/IBM/sarama"

	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/exec"
)

// TestEnsureTopic: an internal topic is created once, found again with
// the same partition count, and refused with another.
func TestEnsureTopic(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	opts := map[string]string{"properties.bootstrap.servers": b.Addr()}
	for i := 0; i < 2; i++ {
		if err := EnsureTopic(opts, "job-op-changelog", 3, true); err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if n, err := PartitionCount(opts, "job-op-changelog"); err != nil || n != 3 {
		t.Fatalf("partitions: %d, %v", n, err)
	}
	err := EnsureTopic(opts, "job-op-changelog", 4, true)
	if err == nil || !strings.Contains(err.Error(), "exists with 3 partitions, not 4") {
		t.Fatalf("another partition count: %v", err)
	}
}

// TestMarksMetadata: the markers a repartition partition's offset carries
// survive the committed offset's metadata; other metadata gives none, bad
// metadata an error.
func TestMarksMetadata(t *testing.T) {
	marks := map[string]exec.Watermark{"events/0": 1000, "events/7": -5, "other/2": exec.MinWatermark}
	got, err := decodeMarks(encodeMarks(marksState(marks)))
	if err != nil || len(got) != len(marks) {
		t.Fatalf("decode: %v, %v", got, err)
	}
	for k, v := range marks {
		if got[k] != v {
			t.Fatalf("%s: %d, want %d", k, got[k], v)
		}
	}
	if m, err := decodeMarks(""); err != nil || m != nil {
		t.Fatalf("no metadata: %v, %v", m, err)
	}
	if _, err := decodeMarks(marksPrefix + "events/0=zz"); err == nil {
		t.Fatal("bad metadata accepted")
	}
	// A source partition's own watermark.
	for _, wm := range []exec.Watermark{0, -5, 1 << 40, exec.MinWatermark} {
		if got, ok, err := decodeSplitWatermark(encodeSplitWatermark(wm)); err != nil || !ok || got != wm {
			t.Fatalf("partition watermark %d: %d, %v, %v", wm, got, ok, err)
		}
	}
	if _, ok, err := decodeSplitWatermark(encodeMarks(marksState(marks))); ok || err != nil {
		t.Fatalf("markers read as a partition watermark: %v, %v", ok, err)
	}
	if _, _, err := decodeSplitWatermark(splitWatermarkPrefix + "12"); err == nil {
		t.Fatal("bad partition watermark accepted")
	}
}

// TestCurrentPositions: a changelog partition's end and the group's
// committed offset of its repartition partition (none, then the one a
// transaction committed).
func TestCurrentPositions(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	for topic, n := range map[string]int{"r": 2, "c": 2} {
		if err := b.CreateTopic(topic, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.ProduceJSON("c", 1, `{"a":1}`, `{"a":2}`, `{"a":3}`); err != nil {
		t.Fatal(err)
	}
	opts := map[string]string{"properties.bootstrap.servers": b.Addr()}
	ctx := context.Background()
	got, err := CurrentPositions(ctx, opts, "g", "r", "c", []int32{0, 1})
	if want := map[int32]ChangelogPosition{0: {End: 0, Offset: -1}, 1: {End: 3, Offset: -1}}; err != nil || !maps.Equal(got, want) {
		t.Fatalf("positions: %v, %v; want %v", got, err, want)
	}
	c := kafkatest.Config()
	c.Producer.Idempotent = true
	c.Producer.Transaction.ID = "positions-test"
	c.Net.MaxOpenRequests = 1
	p, err := sarama.NewAsyncProducer(b.Addrs, c)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	offsets := func(off int64) {
		t.Helper()
		if err := p.BeginTxn(); err != nil {
			t.Fatal(err)
		}
		if err := p.AddOffsetsToTxn(map[string][]*sarama.PartitionOffsetMetadata{"r": {{Partition: 0, Offset: off, LeaderEpoch: -1}}}, "g"); err != nil {
			t.Fatal(err)
		}
	}
	offsets(3)
	if err := p.CommitTxn(); err != nil {
		t.Fatal(err)
	}
	got, err = CurrentPositions(ctx, opts, "g", "r", "c", []int32{0})
	if want := map[int32]ChangelogPosition{0: {End: 0, Offset: 3}}; err != nil || !maps.Equal(got, want) {
		t.Fatalf("positions after a commit: %v, %v; want %v", got, err, want)
	}
}
