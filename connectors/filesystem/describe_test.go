package filesystem

import (
	"encoding/binary"
	"testing"

	"github.com/streamsql/streamsql/exec"
)

// TestDescribe decodes a source offset and a sink handle as `streamsql
// checkpoints` shows them, instead of hex.
func TestDescribe(t *testing.T) {
	s := &source{files: []string{"/d/a.csv", "/d/b.csv"}, idx: 1, pos: 120, line: 4}
	off, err := exec.SourceOffsets(s)
	if err != nil || len(off) != 1 || off["/d/b.csv"] == nil {
		t.Fatalf("offsets %q, %v", off, err)
	}
	got, err := factory{}.DescribeOffset(off["/d/b.csv"])
	if err != nil || got != "file #2: 4 lines read, next at line 5 (byte 120)" {
		t.Fatalf("offset: %q, %v", got, err)
	}
	s.idx = 2
	off, _ = exec.SourceOffsets(s)
	if got, err := (factory{}).DescribeOffset(off["/d/b.csv"]); err != nil || got != "read to the end, and every file before it (#2)" {
		t.Fatalf("offset at the end: %q, %v", got, err)
	}
	// The one offset of a checkpoint from before offsets were per split.
	legacy := []byte{legacyOffsetVersion, 1, 120, 4, 5}
	legacy = append(legacy, "b.csv"...)
	if got, err := (factory{}).DescribeOffset(legacy); err != nil || got != "file b.csv (#2): 4 lines read, next at line 5 (byte 120)" {
		t.Fatalf("legacy offset: %q, %v", got, err)
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
