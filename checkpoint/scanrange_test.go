package checkpoint

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestScanRange checks that a range scan of a restored operator sees
// exactly the keys of a full scan that fall in the range, for keys that
// contain 0x00 (which the store escapes), that are prefixes of each other,
// that have older versions and tombstones, and for many random ranges.
func TestScanRange(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, nil)
	keys := []string{"", "\x00", "\x00\x00", "\x00\x01", "\x00\xff", "\x01", "a", "a\x00", "a\x00b", "ab", "b", "\xff", "\xff\xff"}
	var first, second []string
	for i, k := range keys {
		first = append(first, fmt.Sprintf("%s=v1.%d", k, i))
		switch i % 3 {
		case 0:
			second = append(second, "-"+k)
		case 1:
			second = append(second, fmt.Sprintf("%s=v2.%d", k, i))
		}
	}
	commit(t, s, 1, map[string][]string{"op": first, "op\x00x": {"a=other"}, "oq": {"a=other"}})
	commit(t, s, 2, map[string][]string{"op": second})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, nil)
	defer s.Close()
	r := mustRestore(t, s)
	sr := r.Operator("op")
	type kv struct{ k, v string }
	var all []kv
	if err := sr.Scan(func(k, v []byte) error {
		all = append(all, kv{string(k), string(v)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(all) != len(keys)-(len(keys)+2)/3 {
		t.Fatalf("full scan saw %d keys, want %d: %q", len(all), len(keys)-(len(keys)+2)/3, all)
	}
	bounds := append([]string{}, keys...)
	bounds = append(bounds, "\x00\x00\x00", "a\x00a", "a\x00c", "c")
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(lo, hi []byte) {
		t.Helper()
		var want, got, viaHelper []string
		for _, e := range all {
			if bytes.Compare([]byte(e.k), lo) >= 0 && (hi == nil || bytes.Compare([]byte(e.k), hi) < 0) {
				want = append(want, e.k+"="+e.v)
			}
		}
		collect := func(dst *[]string) func(k, v []byte) error {
			return func(k, v []byte) error {
				*dst = append(*dst, string(k)+"="+string(v))
				return nil
			}
		}
		if err := sr.(RangeScanner).ScanRange(lo, hi, collect(&got)); err != nil {
			t.Fatal(err)
		}
		// The helper's fallback for readers without a range scan.
		if err := ScanRange(scanOnly{sr}, lo, hi, collect(&viaHelper)); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, "|") != strings.Join(want, "|") || strings.Join(viaHelper, "|") != strings.Join(want, "|") {
			t.Fatalf("ScanRange(%q, %q) = %q (fallback %q), want %q", lo, hi, got, viaHelper, want)
		}
	}
	check(nil, nil)
	check([]byte("a"), nil)
	check([]byte("b"), []byte("a"))
	for range 300 {
		lo := []byte(bounds[rng.IntN(len(bounds))])
		var hi []byte
		if rng.IntN(5) > 0 {
			hi = []byte(bounds[rng.IntN(len(bounds))])
		}
		check(lo, hi)
	}
}

// scanOnly hides a reader's ScanRange.
type scanOnly struct{ r StateReader }

func (s scanOnly) Scan(fn func(k, v []byte) error) error { return s.r.Scan(fn) }
