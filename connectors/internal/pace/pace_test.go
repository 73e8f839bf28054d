package pace

import "testing"

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
