package agg

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/streamsql/streamsql/types"
)

// maxBitMembers is the most COUNT(DISTINCT x) calls one bitDistinct serves
// (the bits of a word).
const maxBitMembers = 64

// bitDistinct is the k COUNT(DISTINCT x) calls over one integer column of
// an append-only input (NewCallsAppendOnly): per slot, a set of the values
// seen, each with a bitmask of the members (calls, under their FILTERs)
// that saw it, as Flink's distinct aggregates of an insert-only input keep
// a bitmap per value instead of counts. Without retractions a value's
// count only matters in being > 0, so a row costs one probe of its group's
// set for all k members, and no counts are kept: the set's slot holds the
// value and its bits, and the per-group tables are held inline (no pointer
// to chase per row), which matters when rows go to many groups at random
// (Nexmark q16's 10,000 cold channels).
//
// Its state is an unshared COUNT(DISTINCT x)'s encoding with every count
// 1; it decodes that encoding with any positive counts, so a checkpoint of
// the counted multiset of the same calls restores into it.
type bitDistinct struct {
	col     int
	k       int
	scratch []int64
	tabs    []bitTable // per slot
	n       []int64    // n[s*k+m]: member m's distinct values of slot s
	mask    []uint64   // foldAll's scratch: per row, its members
	vals    []int64    // Encode's scratch
}

// bitTable is one slot's set: open addressing with linear probing (see
// intSet), a slot with bits 0 being empty.
type bitTable struct {
	slots []bitSlot // a power of two, at most 3/4 full; nil: empty set
	n     int32
	shift uint8 // 64 - log2(len(slots))
}

type bitSlot struct {
	x    int64
	bits uint64
}

func newBitDistinct(col, k int) (jointFolder, []Accumulator) {
	bd := &bitDistinct{col: col, k: k}
	accs := make([]Accumulator, k)
	for m := range accs {
		accs[m] = &bitMember{bd: bd, m: m}
	}
	return bd, accs
}

func (t *bitTable) home(x int64) int {
	return int((uint64(x) * 0x9E3779B97F4A7C15) >> t.shift)
}

// or sets bits b of x (adding x) and returns its bits before.
func (t *bitTable) or(x int64, b uint64) uint64 {
	if t.slots == nil {
		t.resize(8)
	}
	mask := len(t.slots) - 1
	for i := t.home(x); ; i = (i + 1) & mask {
		sl := &t.slots[i]
		if sl.bits == 0 {
			if 4*(int(t.n)+1) > 3*len(t.slots) {
				t.resize(2 * len(t.slots))
				return t.or(x, b)
			}
			*sl = bitSlot{x: x, bits: b}
			t.n++
			return 0
		}
		if sl.x == x {
			old := sl.bits
			sl.bits |= b
			return old
		}
	}
}

func (t *bitTable) resize(n int) {
	old := t.slots
	t.slots = make([]bitSlot, n)
	t.shift = uint8(64 - bits.TrailingZeros(uint(n)))
	mask := n - 1
	for _, sl := range old {
		if sl.bits != 0 {
			i := t.home(sl.x)
			for t.slots[i].bits != 0 {
				i = (i + 1) & mask
			}
			t.slots[i] = sl
		}
	}
}

func (bd *bitDistinct) grow(n int) {
	bd.tabs = grow(bd.tabs, n)
	bd.n = grow(bd.n, n*bd.k)
}

func (bd *bitDistinct) foldAll(rec arrow.Record, slots [][]int32, kinds *array.Int8, neg bool) error {
	arr := rec.Column(bd.col)
	n := arr.Len()
	v := intValues(arr, &bd.scratch)[:n]
	// Each row's members, then its slot (every member's slot of a row is
	// its group's, or -1).
	if cap(bd.mask) < n {
		bd.mask = make([]uint64, n)
	}
	masks := bd.mask[:n]
	clear(masks)
	for m, sl := range slots {
		if sl == nil {
			continue
		}
		b := uint64(1) << m
		for i, s := range sl[:n] {
			if s >= 0 {
				masks[i] |= b
			}
		}
	}
	nulls := arr.NullN() > 0
	k := bd.k
	for i, b := range masks {
		if b == 0 || nulls && arr.IsNull(i) {
			continue
		}
		if neg || kinds != nil && types.RowKind(kinds.Value(i)).IsRetraction() {
			return ErrRetractAppendOnly
		}
		s := int32(-1)
		for _, sl := range slots {
			if sl != nil && sl[i] >= 0 {
				s = sl[i]
				break
			}
		}
		added := b &^ bd.tabs[s].or(v[i], b)
		cnt := bd.n[int(s)*k : int(s+1)*k]
		for added != 0 {
			cnt[bits.TrailingZeros64(added)]++
			added &= added - 1
		}
	}
	return nil
}

// clearMember takes member m out of slot s.
func (bd *bitDistinct) clearMember(s int32, m int) {
	bd.n[int(s)*bd.k+m] = 0
	t := &bd.tabs[s]
	if t.slots == nil {
		return
	}
	b := uint64(1) << m
	left := 0
	for i := range t.slots {
		sl := &t.slots[i]
		sl.bits &^= b
		if sl.bits != 0 {
			left++
		}
	}
	if left == int(t.n) {
		return
	}
	if left == 0 {
		*t = bitTable{}
		return
	}
	// Values left without bits are gone: rebuild the table without them
	// (removing them in place would break the probe runs).
	t.n = int32(left)
	t.resize(len(t.slots))
}

// bitMember is member m of a bitDistinct: one COUNT(DISTINCT x) call.
type bitMember struct {
	bd *bitDistinct
	m  int
}

var _ Accumulator = (*bitMember)(nil)

func (a *bitMember) Grow(n int) { a.bd.grow(n) }

func (a *bitMember) Reset(s int32) { a.bd.clearMember(s, a.m) }

// Add implements Accumulator: rows of rec into this member alone.
func (a *bitMember) Add(rec arrow.Record, slots []int32) error {
	all := make([][]int32, a.bd.k)
	all[a.m] = slots
	return a.bd.foldAll(rec, all, nil, false)
}

// Retract implements Accumulator: the input is append-only, so a
// retraction is a planner bug, reported rather than ignored.
func (a *bitMember) Retract(_ arrow.Record, slots []int32) error {
	for _, s := range slots {
		if s >= 0 {
			return ErrRetractAppendOnly
		}
	}
	return nil
}

// AppendResult implements Accumulator.
func (a *bitMember) AppendResult(b array.Builder, s int32) {
	appendInt(b, a.bd.n[int(s)*a.bd.k+a.m])
}

// Encode implements Accumulator: the values member m saw, ascending, each
// with the count 1.
func (a *bitMember) Encode(buf []byte, s int32) []byte {
	bd := a.bd
	vs := bd.vals[:0]
	b := uint64(1) << a.m
	for _, sl := range bd.tabs[s].slots {
		if sl.bits&b != 0 {
			vs = append(vs, sl.x)
		}
	}
	slices.Sort(vs)
	buf = binary.AppendUvarint(buf, uint64(len(vs)))
	for _, v := range vs {
		buf = encInt(encInt(buf, v), 1)
	}
	bd.vals = vs
	return buf
}

// Decode implements Accumulator: a counted multiset's encoding (the counts
// are positive: the input has no retractions).
func (a *bitMember) Decode(buf []byte, s int32) ([]byte, error) {
	bd := a.bd
	bd.clearMember(s, a.m)
	n, k := binary.Uvarint(buf)
	if k <= 0 || n > uint64(len(buf)) {
		return nil, ErrCorrupt
	}
	buf = buf[k:]
	b := uint64(1) << a.m
	t := &bd.tabs[s]
	for range n {
		v, rest, err := decInt(buf)
		if err != nil {
			return nil, err
		}
		c, rest, err := decInt(rest)
		if err != nil || c == 0 {
			return nil, ErrCorrupt
		}
		if c < 0 {
			return nil, fmt.Errorf("%w: COUNT(DISTINCT …) over an append-only input holds a retracted value", ErrCorrupt)
		}
		if t.or(v, b)&b != 0 {
			return nil, ErrCorrupt // a value twice
		}
		bd.n[int(s)*bd.k+a.m]++
		buf = rest
	}
	return buf, nil
}
