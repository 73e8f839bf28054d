package connectors

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// TestAppendLookupKey: the encoding of lookup keys of every value type
// LookupValue returns is fmt's "%T:%v\x00" per value, whether or not the
// type has a path of its own.
func TestAppendLookupKey(t *testing.T) {
	keys := [][]any{
		{int64(0), int64(-1), int64(math.MaxInt64), int64(math.MinInt64)},
		{int32(7), int32(math.MinInt32)},
		{"", "a", "ü\x01", "x:y"},
		{true, 1.5, float32(2.5), time.Duration(3) * time.Millisecond, nil},
		{int64(1), int32(1), "1"},
	}
	for _, key := range keys {
		var want []byte
		for _, v := range key {
			want = fmt.Appendf(want, "%T:%v\x00", v, v)
		}
		if got := appendLookupKey(nil, key); string(got) != string(want) {
			t.Errorf("%v: %q, want %q", key, got, want)
		}
	}
}
