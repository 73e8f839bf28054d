package kafka

import (
	"strings"
	"testing"
)

// TestDescribe decodes an offset and a handle as `streamsql checkpoints`
// shows them, instead of hex.
func TestDescribe(t *testing.T) {
	off := encodeOffsets([]partitionOffset{{"clicks", 0, 1000}, {"clicks", 3, 42}})
	got, err := factory{}.DescribeOffset(off)
	if err != nil || got != "next offsets (topic/partition@offset): clicks/0@1000 clicks/3@42" {
		t.Fatalf("offset: %q, %v", got, err)
	}
	h := txnHandle{txnID: "streamsql-job-0", pid: 7, epoch: 3, topic: "out", partitions: []int32{0, 2}}.encode()
	got, err = factory{}.DescribeHandle(h)
	if err != nil || got != `transaction "streamsql-job-0" producer id 7 epoch 3, topic out partitions [0 2]` {
		t.Fatalf("handle: %q, %v", got, err)
	}
	if _, err := (factory{}).DescribeOffset(off[:len(off)-1]); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("truncated offset: %v", err)
	}
}
