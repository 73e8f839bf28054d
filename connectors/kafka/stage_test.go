package kafka

import (
	"strings"
	"testing"

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
