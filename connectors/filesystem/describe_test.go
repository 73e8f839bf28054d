package filesystem

import (
	"encoding/binary"
	"testing"
)

// TestDescribe decodes a source offset and a sink handle as `streamsql
// checkpoints` shows them, instead of hex.
func TestDescribe(t *testing.T) {
	s := &source{files: []string{"/d/a.csv", "/d/b.csv"}, idx: 1, pos: 120, line: 4}
	off, err := s.Offset()
	if err != nil {
		t.Fatal(err)
	}
	got, err := factory{}.DescribeOffset(off)
	if err != nil || got != "file b.csv (#2): 4 lines read, next at line 5 (byte 120)" {
		t.Fatalf("offset: %q, %v", got, err)
	}
	h := []byte{handleVersion}
	h = binary.AppendUvarint(h, uint64(len("part-0.json")))
	h = append(h, "part-0.json"...)
	h = binary.AppendUvarint(h, 5120)
	got, err = factory{}.DescribeHandle(h)
	if err != nil || got != "part file part-0.json committed length 5120 bytes" {
		t.Fatalf("handle: %q, %v", got, err)
	}
	if _, err := (factory{}).DescribeHandle([]byte{9}); err == nil {
		t.Fatal("unknown handle version decoded")
	}
}
