package kafka

import (
	"slices"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/exec"
)

// TestDescribe decodes an offset and a handle as `streamsql checkpoints`
// shows them, instead of hex.
func TestDescribe(t *testing.T) {
	off := encodeOffsets([]partitionOffset{{"clicks", 0, 1000}, {"clicks", 3, 42}})
	got, err := factory{}.DescribeOffset(off)
	if err != nil || got != "next offsets (topic/partition@offset): clicks/0@1000 clicks/3@42" {
		t.Fatalf("offset: %q, %v", got, err)
	}
	if got, err := (factory{}).DescribeOffset(appendSplitOffset(nil, 3, 42)); err != nil || got != "next offset 42 (split #3)" {
		t.Fatalf("split offset: %q, %v", got, err)
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

// TestRestoredOffsets checks the decoding of the offsets a source is
// opened with: the restored partitions keep their split numbers, whatever
// their names' order; a bad record is refused, naming it.
func TestRestoredOffsets(t *testing.T) {
	pos, err := restoredOffsets(map[string][]byte{
		"b/0": appendSplitOffset(nil, 0, 5), "a/1": appendSplitOffset(nil, 2, 7), "a/0": appendSplitOffset(nil, 1, 6)})
	if err != nil {
		t.Fatal(err)
	}
	want := []partitionOffset{{"b", 0, 5}, {"a", 0, 6}, {"a", 1, 7}}
	if !slices.Equal(pos, want) {
		t.Fatalf("got %v, want %v", pos, want)
	}
	legacy, err := restoredOffsets(map[string][]byte{exec.LegacySplit: encodeOffsets(want)})
	if err != nil || !slices.Equal(legacy, want) {
		t.Fatalf("legacy: %v, %v", legacy, err)
	}
	for _, tc := range []struct {
		offsets map[string][]byte
		err     string
	}{
		{map[string][]byte{"t": appendSplitOffset(nil, 0, 1)}, `split "t" is not topic/partition`},
		{map[string][]byte{"t/x": appendSplitOffset(nil, 0, 1)}, `split "t/x" is not topic/partition`},
		{map[string][]byte{"t/0": {2, 0}}, `split "t/0": truncated offset`},
		{map[string][]byte{"t/0": append(appendSplitOffset(nil, 0, 1), 0)}, `split "t/0": 1 trailing bytes`},
		{map[string][]byte{"t/0": appendSplitOffset(nil, 1, 1)}, `split "t/0" has number 1, want 0`},
		{map[string][]byte{"t/0": appendSplitOffset(nil, 0, 1), exec.LegacySplit: encodeOffsets(want)}, "next to 1 others"},
	} {
		if _, err := restoredOffsets(tc.offsets); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: got %v, want %q", tc.offsets, err, tc.err)
		}
	}
	if got := splitName("clicks", 12); got != "clicks/12" {
		t.Fatalf("splitName = %q", got)
	}
}
