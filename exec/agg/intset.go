package agg

import "math/bits"

// distinctSet is a shared multiset's index of one slot: value → entry.
type distinctSet[T comparable] interface {
	get(x T) (int32, bool)
	put(x T, e int32) // x is not in the set
	del(x T)
	size() int
	each(fn func(x T, e int32))
}

// mapSet is a distinctSet over a Go map: any comparable value.
type mapSet[T comparable] struct{ m map[T]int32 }

func newMapSet[T comparable]() distinctSet[T] { return &mapSet[T]{m: map[T]int32{}} }

func (s *mapSet[T]) get(x T) (int32, bool) { e, ok := s.m[x]; return e, ok }
func (s *mapSet[T]) put(x T, e int32)      { s.m[x] = e }
func (s *mapSet[T]) del(x T)               { delete(s.m, x) }
func (s *mapSet[T]) size() int             { return len(s.m) }
func (s *mapSet[T]) each(fn func(x T, e int32)) {
	for x, e := range s.m {
		fn(x, e)
	}
}

// intSet is a distinctSet of int64 values: open addressing with linear
// probing over one array of (value, entry) slots, which costs a lookup
// one probe of one cache line in the common case, where a Go map probes
// its control word and then its slot (COUNT(DISTINCT bidder) per day and
// channel in Nexmark q15 and q16 were half of q16's time in the map).
// Deletion shifts the following run back (no tombstones).
type intSet struct {
	slots []intSlot // a power of two, at most 3/4 full
	shift uint8     // 64 - log2(len(slots))
	n     int
}

// intSlot is one slot: e is the entry + 1 (0: empty).
type intSlot struct {
	x int64
	e int32
}

func newIntSet() distinctSet[int64] { return &intSet{} }

// home is x's first slot (Fibonacci hashing: the high bits of x times
// 2^64/φ, which spreads runs of consecutive ids).
func (s *intSet) home(x int64) int {
	return int((uint64(x) * 0x9E3779B97F4A7C15) >> s.shift)
}

func (s *intSet) get(x int64) (int32, bool) {
	if s.n == 0 {
		return 0, false
	}
	mask := len(s.slots) - 1
	for i := s.home(x); ; i = (i + 1) & mask {
		sl := &s.slots[i]
		if sl.e == 0 {
			return 0, false
		}
		if sl.x == x {
			return sl.e - 1, true
		}
	}
}

func (s *intSet) put(x int64, e int32) {
	if 4*(s.n+1) > 3*len(s.slots) {
		s.resize(max(8, 2*len(s.slots)))
	}
	s.insert(x, e+1)
	s.n++
}

// insert stores x with stored entry se in its first empty slot.
func (s *intSet) insert(x int64, se int32) {
	mask := len(s.slots) - 1
	i := s.home(x)
	for s.slots[i].e != 0 {
		i = (i + 1) & mask
	}
	s.slots[i] = intSlot{x: x, e: se}
}

func (s *intSet) resize(n int) {
	old := s.slots
	s.slots = make([]intSlot, n)
	s.shift = uint8(64 - bits.TrailingZeros(uint(n)))
	for _, sl := range old {
		if sl.e != 0 {
			s.insert(sl.x, sl.e)
		}
	}
}

func (s *intSet) del(x int64) {
	if s.n == 0 {
		return
	}
	mask := len(s.slots) - 1
	i := s.home(x)
	for {
		if s.slots[i].e == 0 {
			return
		}
		if s.slots[i].x == x {
			break
		}
		i = (i + 1) & mask
	}
	// Backward shift: move each later slot of the run whose home is not
	// in (i, j] into the hole.
	for j := (i + 1) & mask; s.slots[j].e != 0; j = (j + 1) & mask {
		h := s.home(s.slots[j].x)
		if (j-h)&mask >= (j-i)&mask {
			s.slots[i] = s.slots[j]
			i = j
		}
	}
	s.slots[i] = intSlot{}
	s.n--
}

func (s *intSet) size() int { return s.n }

func (s *intSet) each(fn func(x int64, e int32)) {
	for _, sl := range s.slots {
		if sl.e != 0 {
			fn(sl.x, sl.e-1)
		}
	}
}
