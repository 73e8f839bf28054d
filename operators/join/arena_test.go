package join

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestArena adds and retracts random rows of a few keys (some keys with
// many rows, so that their buckets are indexed; some keys short enough
// for their bucket to hold, some not) on a side, with barriers
// (dropped rows released) and compactions of its slab between them, and
// compares what it holds with a map of counts; then again with hashes of
// 8 bits, which keys and rows share (every chain of a hash in byKey and
// byRow, and every fingerprint, 0, compared).
func TestArena(t *testing.T) {
	t.Run("hash=64", func(t *testing.T) { testArena(t, ^uint64(0)) })
	t.Run("hash=8", func(t *testing.T) { testArena(t, 0xFF) })
}

func testArena(t *testing.T, hmask uint64) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := newSide("left", false)
	s.hmask = hmask
	type kr struct{ key, row string }
	model := map[kr]int64{}
	compacted := 0
	for op := 0; op < 100_000; op++ {
		v := rng.IntN(10) * rng.IntN(3)
		k := fmt.Sprintf("k%d%0*d", v, 16*(v%2), 0) // odd keys too long for their bucket to hold
		r := kr{k, fmt.Sprintf("row-%d-%0*d", rng.IntN(6), 16*rng.IntN(12), 7)}
		b := []byte(r.key + r.row)
		if rng.IntN(2) == 0 {
			s.add(b, len(r.key), 0, int64(op))
			model[r]++
		} else {
			s.retract(b, len(r.key), int64(op))
			if model[r] > 0 {
				model[r]--
			}
			if model[r] == 0 {
				delete(model, r)
			}
		}
		if op%700 == 0 { // a barrier
			for _, i := range s.dirty {
				e := s.ent(i)
				if e.flags&fDirty == 0 {
					continue // stale
				}
				e.flags &^= fDirty
				if e.count <= 0 {
					s.release(i)
				} else {
					e.flags |= fPersisted
				}
			}
			s.dirty = s.dirty[:0]
			if s.slab.wasteful() {
				compacted++
			}
			s.compactSlab()
		}
		s.compactDirty()
		if op%5000 != 4999 {
			continue
		}
		if s.live != len(model) {
			t.Fatalf("op %d: %d rows held, want %d", op, s.live, len(model))
		}
		byKey := map[string][]string{}
		for r, n := range model {
			_, i := s.lookup([]byte(r.key+r.row), len(r.key))
			if i < 0 || s.ent(i).count != n {
				t.Fatalf("op %d: %q %q: entry %d, want count %d", op, r.key, r.row, i, n)
			}
			byKey[r.key] = append(byKey[r.key], r.row)
		}
		for k, want := range byKey {
			b := s.bucketOf([]byte(k))
			if b < 0 {
				t.Fatalf("op %d: no bucket of %q", op, k)
			}
			var got []string
			for i := s.bkts[b].head; i >= 0; i = s.ent(i).next {
				got = append(got, string(s.row(i)))
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) || int(s.bkts[b].n) != len(want) {
				t.Fatalf("op %d: bucket %q holds %q (n %d), want %q", op, k, got, s.bkts[b].n, want)
			}
		}
		if s.byKey.size() != len(byKey) && (hmask == ^uint64(0) || s.byKey.size() > len(byKey)) {
			t.Fatalf("op %d: %d keys indexed, want %d", op, s.byKey.size(), len(byKey))
		}
	}
	if compacted == 0 {
		t.Error("the slab was never compacted")
	}
	if s.byRow.size() == 0 {
		t.Error("no bucket was indexed")
	}
}

// TestHtab sets, overwrites and deletes random hashes in an htab and
// compares it with a map after every operation: hashes drawn from few
// home slots (long runs that wrap around the table's end, and deletions
// that must shift slots back), and from a wide range (growth).
func TestHtab(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, spread := range []uint64{200, 1 << 40} {
		var tab htab
		model := map[uint64]int32{}
		for op := 0; op < 20_000; op++ {
			// the low bits pick the home slot: few distinct ones when
			// spread is small, near the table's end (wrap-around)
			h := rng.Uint64N(spread)<<20 | (1<<20 - 1 - rng.Uint64N(4))
			if spread > 1000 {
				h = rng.Uint64N(spread)
			}
			switch rng.IntN(3) {
			case 0, 1:
				v := rng.Int32N(1 << 30)
				tab.set(h, v)
				model[h] = v
			default:
				tab.del(h)
				delete(model, h)
			}
			if tab.size() != len(model) {
				t.Fatalf("spread %d op %d: %d hashes, want %d", spread, op, tab.size(), len(model))
			}
			if op%499 != 0 {
				continue
			}
			for h, want := range model {
				if v, ok := tab.get(h); !ok || v != want {
					t.Fatalf("spread %d op %d: %x → %d, %v; want %d", spread, op, h, v, ok, want)
				}
			}
			if _, ok := tab.get(1<<63 | 5); ok {
				t.Fatalf("spread %d op %d: a hash never set is found", spread, op)
			}
		}
		if len(model) < 100 {
			t.Fatalf("spread %d: only %d hashes at the end", spread, len(model))
		}
	}
}
