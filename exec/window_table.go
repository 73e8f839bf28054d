package exec

// slotTable maps a (window, group key) pair to the index of its accumulator
// slot. It is an open-addressing hash table with linear probing and
// backward-shift deletion, specialised for the operator's hot path: the key
// is two int64s (a window end, or windowSessionHead for the head of a key's
// session list; and either the group key's value or its interned id) and a
// NULL flag, so a lookup hashes two words and compares them in place,
// without interface calls or allocation.
type slotTable struct {
	entries []slotEntry
	mask    uint64
	n       int // live entries
	grow    int // n at which the table doubles
}

// slotEntry is one cell of a slotTable. used distinguishes empty cells;
// null marks a NULL group key (k is then 0).
type slotEntry struct {
	w, k int64
	slot int32
	used bool
	null bool
}

func newSlotTable(capacity int) *slotTable {
	size := 16
	for size*3/4 < capacity {
		size <<= 1
	}
	return &slotTable{entries: make([]slotEntry, size), mask: uint64(size - 1), grow: size * 3 / 4}
}

// hashWK mixes a window and a key into a table position. The multiply
// spreads sequential keys; the final xor-shift folds the high bits, which
// carry most of the entropy, into the masked low bits.
func hashWK(w, k int64, null bool) uint64 {
	h := uint64(k)*0x9E3779B97F4A7C15 ^ uint64(w)*0xC2B2AE3D27D4EB4F
	if null {
		h ^= 0x165667B19E3779F9
	}
	h ^= h >> 29
	h *= 0xBF58476D1CE4E5B9
	h ^= h >> 32
	return h
}

// get returns the slot of (w, k, null), or -1.
func (t *slotTable) get(w, k int64, null bool) int32 {
	i := hashWK(w, k, null) & t.mask
	for {
		e := &t.entries[i]
		if !e.used {
			return -1
		}
		if e.w == w && e.k == k && e.null == null {
			return e.slot
		}
		i = (i + 1) & t.mask
	}
}

// put sets the slot of (w, k, null), inserting or overwriting.
func (t *slotTable) put(w, k int64, null bool, slot int32) {
	if t.n >= t.grow {
		t.resize()
	}
	i := hashWK(w, k, null) & t.mask
	for {
		e := &t.entries[i]
		if !e.used {
			*e = slotEntry{w: w, k: k, slot: slot, used: true, null: null}
			t.n++
			return
		}
		if e.w == w && e.k == k && e.null == null {
			e.slot = slot
			return
		}
		i = (i + 1) & t.mask
	}
}

// del removes (w, k, null) if present, shifting later cells of its probe
// run back so that no tombstones are needed.
func (t *slotTable) del(w, k int64, null bool) {
	i := hashWK(w, k, null) & t.mask
	for {
		e := &t.entries[i]
		if !e.used {
			return
		}
		if e.w == w && e.k == k && e.null == null {
			break
		}
		i = (i + 1) & t.mask
	}
	// Backward-shift deletion: move each following entry whose home is not
	// in (hole, j] into the hole.
	hole := i
	j := i
	for {
		j = (j + 1) & t.mask
		e := &t.entries[j]
		if !e.used {
			break
		}
		home := hashWK(e.w, e.k, e.null) & t.mask
		// The entry at j may move to hole unless its home lies cyclically
		// in (hole, j].
		if (j > hole && (home <= hole || home > j)) || (j < hole && home <= hole && home > j) {
			t.entries[hole] = *e
			hole = j
		}
	}
	t.entries[hole] = slotEntry{}
	t.n--
}

func (t *slotTable) resize() {
	old := t.entries
	size := len(old) * 2
	t.entries = make([]slotEntry, size)
	t.mask = uint64(size - 1)
	t.grow = size * 3 / 4
	t.n = 0
	for i := range old {
		if e := &old[i]; e.used {
			t.put(e.w, e.k, e.null, e.slot)
		}
	}
}
