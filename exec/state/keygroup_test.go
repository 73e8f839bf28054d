package state

import (
	"math/rand/v2"
	"testing"
)

// TestRangeForMatchesFlink checks RangeFor and SubtaskOf against Flink's
// formulas written out independently (inclusive end), and that the
// ranges of one parallelism partition every key group exactly once.
func TestRangeForMatchesFlink(t *testing.T) {
	for _, maxP := range []int{1, 2, 7, 128, 129, 1000, MaxMaxParallelism} {
		for _, p := range []int{1, 2, 3, 5, 7, 16, 127, 128} {
			if p > maxP {
				continue
			}
			next := 0
			for i := 0; i < p; i++ {
				r := RangeFor(i, p, maxP)
				// Flink: start = ceil(i*max/p); inclusive end = ceil((i+1)*max/p) - 1.
				flinkStart := (i*maxP + p - 1) / p
				flinkEnd := ((i+1)*maxP - 1) / p
				if r.Start != flinkStart || r.End != flinkEnd+1 {
					t.Fatalf("RangeFor(%d, %d, %d) = %v, Flink gives [%d, %d]", i, p, maxP, r, flinkStart, flinkEnd)
				}
				if r.Start != next {
					t.Fatalf("RangeFor(%d, %d, %d) = %v does not start where the previous ended (%d)", i, p, maxP, r, next)
				}
				next = r.End
				for kg := r.Start; kg < r.End; kg++ {
					if got := SubtaskOf(kg, p, maxP); got != i {
						t.Fatalf("SubtaskOf(%d, %d, %d) = %d, want %d (range %v)", kg, p, maxP, got, i, r)
					}
				}
			}
			if next != maxP {
				t.Fatalf("ranges of parallelism %d cover [0, %d), want [0, %d)", p, next, maxP)
			}
		}
	}
	// Flink's documented example: max 128, parallelism 3.
	want := []KeyGroupRange{{0, 43}, {43, 86}, {86, 128}}
	for i, w := range want {
		if got := RangeFor(i, 3, 128); got != w {
			t.Errorf("RangeFor(%d, 3, 128) = %v, want %v", i, got, w)
		}
	}
}

func TestCheckMaxParallelism(t *testing.T) {
	for _, c := range []struct {
		n, p int
		ok   bool
	}{{128, 1, true}, {128, 128, true}, {1, 1, true}, {MaxMaxParallelism, 4, true},
		{0, 1, false}, {MaxMaxParallelism + 1, 1, false}, {4, 5, false}} {
		if err := CheckMaxParallelism(c.n, c.p); (err == nil) != c.ok {
			t.Errorf("CheckMaxParallelism(%d, %d) = %v, want ok=%v", c.n, c.p, err, c.ok)
		}
	}
}

func TestKeyGroupPrefix(t *testing.T) {
	for _, kg := range []int{0, 1, 255, 256, MaxMaxParallelism - 1} {
		k := AppendKeyGroup(nil, kg)
		if len(k) != KeyGroupPrefixLen {
			t.Fatalf("prefix of %d has %d bytes", kg, len(k))
		}
		if got, ok := KeyGroupPrefix(append(k, 9, 9)); !ok || got != kg {
			t.Fatalf("KeyGroupPrefix(AppendKeyGroup(%d)) = %d, %v", kg, got, ok)
		}
	}
	// Big endian: key groups sort as their prefixes do.
	if a, b := AppendKeyGroup(nil, 255), AppendKeyGroup(nil, 256); string(a) >= string(b) {
		t.Fatalf("prefix of 255 %x does not sort before 256 %x", a, b)
	}
	if _, ok := KeyGroupPrefix([]byte{1}); ok {
		t.Fatal("a 1-byte key has no key group")
	}
}

// TestKeyGroupOfIsTheModulo: a key's group is its hash modulo the number
// of key groups, also where KeyGroupOf masks instead of dividing (a power
// of two), since checkpoints store keys under it.
func TestKeyGroupOfIsTheModulo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, maxP := range []int{1, 2, 7, 100, 128, 1000, 1 << 15, 32768 - 1} {
		for range 10000 {
			h := rng.Uint64()
			if got, want := KeyGroupOf(h, maxP), int(h%uint64(maxP)); got != want {
				t.Fatalf("KeyGroupOf(%#x, %d) = %d, want %d", h, maxP, got, want)
			}
		}
	}
}
