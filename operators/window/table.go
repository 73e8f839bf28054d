package window

// slotTable maps a (window, group key) pair to the index of its accumulator
// slot. It is an open-addressing hash table with linear probing and
// backward-shift deletion, specialised for the operator's hot path: the key
// is two int64s (a window end, or windowSessionHead for the head of a key's
// session list; and either the group key's value or its interned id) and a
// NULL flag.
//
// A cell holds only the slot and 32 bits of the key's hash (8 bytes): the
// key itself is read from the operator's per-slot arrays (slotEnd, slotKey,
// slotNull), which hold it anyway. So the table costs about 8 bytes per
// cell instead of 24, which keeps an open (window, key) accumulator under
// 100 bytes. It follows that a slot's key must be in those arrays for as
// long as the table refers to the slot: the operator sets them before put
// and removes the slot from the table before reusing it.
type slotTable struct {
	cells []slotCell
	mask  uint64
	n     int // live cells
	grow  int // n at which the table doubles
	op    *windowAggOp
}

// slotCell is one cell of a slotTable: slot+1 (0 marks an empty cell) and
// the key's hash, whose top bit marks a session-list head.
type slotCell struct {
	slot1 int32
	hash  uint32
}

const headBit = 1 << 31

func newSlotTable(op *windowAggOp, capacity int) *slotTable {
	size := 16
	for size*3/4 < capacity {
		size <<= 1
	}
	return &slotTable{cells: make([]slotCell, size), mask: uint64(size - 1), grow: size * 3 / 4, op: op}
}

// hashWK mixes a window and a key into 31 bits of table position, with the
// head bit set for session-list heads. The multiply spreads sequential
// keys; the final xor-shift folds the high bits, which carry most of the
// entropy, into the low bits.
func hashWK(w, k int64, null bool) uint32 {
	h := uint64(k)*0x9E3779B97F4A7C15 ^ uint64(w)*0xC2B2AE3D27D4EB4F
	if null {
		h ^= 0x165667B19E3779F9
	}
	h ^= h >> 29
	h *= 0xBF58476D1CE4E5B9
	h ^= h >> 32
	v := uint32(h) &^ headBit
	if w == windowSessionHead {
		v |= headBit
	}
	return v
}

// matches reports whether cell c holds (w, k, null) with hash h.
func (t *slotTable) matches(c slotCell, h uint32, w, k int64, null bool) bool {
	if c.hash != h {
		return false
	}
	s := c.slot1 - 1
	o := t.op
	return o.slotKey[s] == k && o.slotNull[s] == null && (h&headBit != 0 || o.slotEnd[s] == w)
}

// get returns the slot of (w, k, null), or -1.
func (t *slotTable) get(w, k int64, null bool) int32 {
	h := hashWK(w, k, null)
	i := uint64(h) & t.mask
	for {
		c := t.cells[i]
		if c.slot1 == 0 {
			return -1
		}
		if t.matches(c, h, w, k, null) {
			return c.slot1 - 1
		}
		i = (i + 1) & t.mask
	}
}

// put sets the slot of (w, k, null), inserting or overwriting. The slot's
// key must already be in the operator's arrays.
func (t *slotTable) put(w, k int64, null bool, slot int32) {
	if slot < 0 {
		t.del(w, k, null)
		return
	}
	if t.n >= t.grow {
		t.resize()
	}
	h := hashWK(w, k, null)
	i := uint64(h) & t.mask
	for {
		c := &t.cells[i]
		if c.slot1 == 0 {
			*c = slotCell{slot1: slot + 1, hash: h}
			t.n++
			return
		}
		if t.matches(*c, h, w, k, null) {
			c.slot1 = slot + 1
			return
		}
		i = (i + 1) & t.mask
	}
}

// del removes (w, k, null) if present, shifting later cells of its probe
// run back so that no tombstones are needed.
func (t *slotTable) del(w, k int64, null bool) {
	h := hashWK(w, k, null)
	i := uint64(h) & t.mask
	for {
		c := t.cells[i]
		if c.slot1 == 0 {
			return
		}
		if t.matches(c, h, w, k, null) {
			break
		}
		i = (i + 1) & t.mask
	}
	// Backward-shift deletion: move each following cell whose home is not
	// in (hole, j] into the hole.
	hole := i
	j := i
	for {
		j = (j + 1) & t.mask
		c := t.cells[j]
		if c.slot1 == 0 {
			break
		}
		home := uint64(c.hash) & t.mask
		// The cell at j may move to hole unless its home lies cyclically
		// in (hole, j].
		if (j > hole && (home <= hole || home > j)) || (j < hole && home <= hole && home > j) {
			t.cells[hole] = c
			hole = j
		}
	}
	t.cells[hole] = slotCell{}
	t.n--
}

func (t *slotTable) resize() {
	old := t.cells
	size := len(old) * 2
	t.cells = make([]slotCell, size)
	t.mask = uint64(size - 1)
	t.grow = size * 3 / 4
	for _, c := range old {
		if c.slot1 == 0 {
			continue
		}
		i := uint64(c.hash) & t.mask
		for t.cells[i].slot1 != 0 {
			i = (i + 1) & t.mask
		}
		t.cells[i] = c
	}
}
