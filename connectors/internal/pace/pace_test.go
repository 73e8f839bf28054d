package pace

import (
	"strings"
	"testing"

	"github.com/streamsql/streamsql/exec"
)

func TestOffsets(t *testing.T) {
	for _, n := range []int64{0, 1, 4096, 1 << 40} {
		got, err := DecodeOffset(EncodeOffset(n))
		if err != nil || got != n {
			t.Fatalf("round trip of %d: %d, %v", n, got, err)
		}
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, {2, 0, 0, 0, 0, 0, 0, 0, 1}, {1, 0x80, 0, 0, 0, 0, 0, 0, 0}} {
		if _, err := DecodeOffset(bad); err == nil {
			t.Fatalf("DecodeOffset(%x) succeeded", bad)
		}
	}
}

// TestSplitOffsets checks a generator's one split: reported under Split without
// allocating, restored from it or from a legacy checkpoint's one blob,
// and refused under any other split.
func TestSplitOffsets(t *testing.T) {
	var o Offset
	var got map[string][]byte
	report := func(split string, b []byte) error {
		got = map[string][]byte{split: append([]byte(nil), b...)}
		return nil
	}
	if err := o.Report(42, report); err != nil {
		t.Fatal(err)
	}
	if next, err := Restored(got); err != nil || next != 42 {
		t.Fatalf("Restored(%x) = %d, %v", got, next, err)
	}
	if next, err := Restored(map[string][]byte{exec.LegacySplit: EncodeOffset(7)}); err != nil || next != 7 {
		t.Fatalf("legacy: %d, %v", next, err)
	}
	if next, err := Restored(nil); err != nil || next != 0 {
		t.Fatalf("fresh: %d, %v", next, err)
	}
	for _, bad := range []map[string][]byte{
		{"1": EncodeOffset(1)},
		{Split: EncodeOffset(1), exec.LegacySplit: EncodeOffset(1)},
	} {
		if _, err := Restored(bad); err == nil || !strings.Contains(err.Error(), "a generator has one split") {
			t.Fatalf("Restored(%q): %v", bad, err)
		}
	}
	if _, err := Restored(map[string][]byte{Split: {1, 2}}); err == nil {
		t.Fatal("garbage offset accepted")
	}
	noop := func(string, []byte) error { return nil }
	if n := testing.AllocsPerRun(100, func() { _ = o.Report(42, noop) }); n != 0 {
		t.Fatalf("Report allocates %v times", n)
	}
}
