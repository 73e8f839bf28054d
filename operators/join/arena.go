package join

import (
	"bytes"
	"hash/maphash"

	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/operators/internal/joinside"
)

// The held rows of a side of the regular join live in an arena: their
// encodings (join key then row, the entry's state key) appended to one
// byte slab, their counts and links in a slice of pointer-free entries,
// found by hashes of their keys in maps of integers. So a held row costs
// no allocation of its own, and the garbage collector has no pointer to
// follow through the state. A dropped row is a tombstone until the next
// barrier deletes it from the checkpointed state; its slot is then
// reused, and the slab is compacted once most of it is dead bytes.

// Entry flags.
const (
	fUsed      = 1 << iota // the slot holds an entry (else it is free)
	fHeld                  // in its bucket (a live row; else dropped)
	fDirty                 // in its side's dirty list
	fPersisted             // in the last checkpoint's state
	fIndexed               // in its side's row index
	fMatched               // joined a row (an outer side of the interval join)
	fKept                  // kept by compactDirty (while it runs)
)

// A dropped entry that no checkpoint holds is released at once; its slot
// may then be reused while the dirty list still has its index. So an
// index in a dirty list whose entry has no fDirty flag is stale, and the
// first of several of the same index stands for them all.

// slot is what every held entry of the regular and interval joins
// begins with (embedded): where its state key is in the slab, its count,
// flags, and a link.
type slot struct {
	chunk, pos int32 // where its key then row are in the slab
	klen, rlen int32 // the lengths of its encoded join key and row
	count      int64
	next       int32 // the next row of its bucket (-1: none), or the next free slot
	flags      uint8
	fp         uint16 // the regular join's: its key and row's fingerprint (rowFP)
}

// base is e itself: the slot an entry type embeds.
func (e *slot) base() *slot { return e }

// heldEntry is a pointer to an entry type E that embeds slot.
type heldEntry[E any] interface {
	*E
	base() *slot
}

// arena holds the entries of a side of the regular or interval join (of
// type E) and their state keys: the entries in chunks of entryChunk,
// free slots in a list, the keys in a slab; dirty lists the entries
// changed since the last barrier (count 0: dropped); live counts the
// held rows.
type arena[E any, P heldEntry[E]] struct {
	slab  slab
	ents  [][]E
	nEnt  int32
	free  int32 // first free slot of ents (-1: none)
	dirty []int32
	live  int
}

// ent is entry i.
func (a *arena[E, P]) ent(i int32) P { return &a.ents[i/entryChunk][i%entryChunk] }

// newEntry returns a free slot of ents.
func (a *arena[E, P]) newEntry() int32 {
	if i := a.free; i >= 0 {
		a.free = a.ent(i).base().next
		return i
	}
	if int(a.nEnt) == len(a.ents)*entryChunk {
		a.ents = append(a.ents, make([]E, entryChunk))
	}
	a.nEnt++
	return a.nEnt - 1
}

// release frees the slot of dropped entry i (no barrier needs it any
// more).
func (a *arena[E, P]) release(i int32) {
	e := a.ent(i)
	s := e.base()
	a.slab.release(s.chunk, int(s.klen)+int(s.rlen))
	var zero E
	*e = zero
	s.next = a.free
	a.free = i
}

func (a *arena[E, P]) markDirty(i int32) {
	if e := a.ent(i).base(); e.flags&fDirty == 0 {
		e.flags |= fDirty
		a.dirty = append(a.dirty, i)
	}
}

// compactDirty drops from the dirty list the rows dropped before any
// barrier wrote them (nothing to delete), once it has grown well past the
// held rows: without checkpoints (or between two far apart) the list is
// then bounded by the held rows, not by the stream.
func (a *arena[E, P]) compactDirty() {
	if len(a.dirty) <= 2*a.live+1024 {
		return
	}
	kept := a.dirty[:0]
	for _, i := range a.dirty {
		switch e := a.ent(i).base(); {
		case e.flags&(fDirty|fKept) != fDirty:
			// stale, or kept already
		case e.count > 0 || e.flags&fPersisted != 0:
			e.flags |= fKept
			kept = append(kept, i)
		default:
			a.release(i)
		}
	}
	for _, i := range kept {
		a.ent(i).base().flags &^= fKept
	}
	a.dirty = kept
}

// compactSlab copies the slab without its dead bytes once they are most
// of it. No output row may refer to a held row meanwhile.
func (a *arena[E, P]) compactSlab() {
	if !a.slab.wasteful() {
		return
	}
	old := a.slab
	a.slab = slab{}
	for i := int32(0); i < a.nEnt; i++ {
		if e := a.ent(i).base(); e.flags&fUsed != 0 {
			e.chunk, e.pos = a.slab.put(old.at(e.chunk, e.pos, int(e.klen)+int(e.rlen)))
		}
	}
}

// entry is one distinct held row of a side, or a dropped one not yet
// deleted from the checkpointed state.
type entry struct {
	slot
	matches int64 // rows of the other side it joins (outer sides only)
	access  int64 // last write, ms of processing time
	// prev and next (the slot's) link the rows of its bucket in arrival
	// order of their first copy (-1: none); hnext the entries of one hash
	// in the row index.
	prev, hnext int32
}

// bucket is the list of the rows of one join key.
type bucket struct {
	head, tail int32
	n          int32
	hnext      int32 // the next bucket of the same key hash, or the next free one
	indexed    bool  // its rows are in the row index
	// The key itself when it is short (klen ≤ len(key), a BIGINT's is 9
	// bytes), so that finding a bucket reads neither its first entry nor
	// the slab.
	klen uint8
	key  [keyInline]byte
}

// keyInline is how long a key its bucket holds may be (a bucket is then
// 32 bytes).
const keyInline = 14

// newBucket is the bucket of the one row i, of key key.
func newBucket(i int32, key []byte) bucket {
	b := bucket{head: i, tail: i, n: 1, hnext: -1}
	if len(key) <= keyInline {
		b.klen = uint8(len(key))
		copy(b.key[:], key)
	}
	return b
}

// indexed is how many rows a bucket holds before they are indexed (found
// by hash rather than by walking the list). A walk of up to 32 short
// entries costs less than a probe and an insert of the row index, a map
// of every held row (Nexmark's bids per auction: q9 and q20 ×1.2), while
// those entries are recent, so in the cache: a bid's auction is a recent
// one. A bucket of rows that arrive far apart (q7's bids of one price,
// drawn at random over the stream) is indexed from its 5th row on, once
// its first one is older than coldSpan entries (4 MB of them): each step
// of its walk would be a cache miss.
const (
	indexed  = 32
	coldSpan = 1 << 16
)

// side is the state and encoders of one input.
type side struct {
	name  string
	table *state.Table
	outer bool
	joinside.Codec
	dec rowDecoder
	arena[entry, *entry]

	seed  maphash.Seed
	hmask uint64 // the bits of a hash kept (all but in tests of collisions)
	bkts  []bucket
	freeB int32
	byKey htab // hash of a join key → its bucket (chained by hnext)
	byRow htab // hash of key and row → an entry of an indexed bucket
}

func newSide(name string, outer bool) *side {
	return &side{name: name, outer: outer, seed: maphash.MakeSeed(), hmask: ^uint64(0), arena: arena[entry, *entry]{free: -1}, freeB: -1}
}

// Chunk sizes: of the slab in bytes (a longer row has a chunk of its
// own), of the entries in entries.
const (
	slabChunk  = 64 << 10
	entryChunk = 1024
)

// slab is append-only storage of byte strings in chunks: it grows
// without copying what it holds. size bytes of it are in use or dead
// (used by nothing any more); a chunk all dead is freed at once (rows
// that expire in arrival order free their chunks without a copy).
type slab struct {
	chunks     [][]byte
	live       []int // per chunk, the bytes in use
	size, dead int
}

// release marks the n bytes of a string in chunk dead.
func (s *slab) release(chunk int32, n int) {
	s.live[chunk] -= n
	s.dead += n
	if s.live[chunk] == 0 && int(chunk) < len(s.chunks)-1 {
		s.size -= len(s.chunks[chunk])
		s.dead -= len(s.chunks[chunk])
		s.chunks[chunk] = nil
	}
}

// put appends b to the slab and returns where it is.
func (s *slab) put(b []byte) (chunk, pos int32) {
	n := len(s.chunks)
	if n == 0 || cap(s.chunks[n-1])-len(s.chunks[n-1]) < len(b) {
		if n > 0 && s.live[n-1] == 0 { // the last chunk, all dead
			s.size -= len(s.chunks[n-1])
			s.dead -= len(s.chunks[n-1])
			s.chunks[n-1] = nil
		}
		s.chunks = append(s.chunks, make([]byte, 0, max(slabChunk, len(b))))
		s.live = append(s.live, 0)
		n++
	}
	c := s.chunks[n-1]
	s.chunks[n-1] = append(c, b...)
	s.live[n-1] += len(b)
	s.size += len(b)
	return int32(n - 1), int32(len(c))
}

// at is the n bytes at chunk, pos.
func (s *slab) at(chunk, pos int32, n int) []byte {
	end := int(pos) + n
	return s.chunks[chunk][pos:end:end]
}

// wasteful reports whether most of the slab is dead bytes (and enough of
// them to be worth a copy).
func (s *slab) wasteful() bool { return s.dead >= slabChunk && 2*s.dead >= s.size }

// keyRow is the encoded join key then row of entry e (its state key).
func (s *side) keyRow(e *entry) []byte {
	return s.slab.at(e.chunk, e.pos, int(e.klen)+int(e.rlen))
}

// row is the encoded row of entry i.
func (s *side) row(i int32) []byte {
	e := s.ent(i)
	return s.slab.at(e.chunk, e.pos+e.klen, int(e.rlen))
}

// key is the encoded join key of entry e.
func (s *side) key(e *entry) []byte { return s.slab.at(e.chunk, e.pos, int(e.klen)) }

// bucketOf returns the bucket of join key key, or -1.
func (s *side) bucketOf(key []byte) int32 { return s.bucketOfHash(key, s.hash(key)) }

// hash is the hash of a key, or of a key and row, in the side's maps (the
// two sides of a join share their seed, so that a key hashed once finds
// its bucket on both).
func (s *side) hash(b []byte) uint64 { return maphash.Bytes(s.seed, b) & s.hmask }

// bucketOfHash returns the bucket of join key key of hash h, or -1.
func (s *side) bucketOfHash(key []byte, h uint64) int32 {
	b, _ := s.bucketAndSlot(key, h)
	return b
}

// bucketAndSlot returns the bucket of join key key of hash h, or -1, and
// the slot of h in byKey (for insertAt).
func (s *side) bucketAndSlot(key []byte, h uint64) (int32, int) {
	j, ok := s.byKey.find(h)
	if !ok {
		return -1, j
	}
	for b := s.byKey.at(j); b >= 0; b = s.bkts[b].hnext {
		bk := &s.bkts[b]
		if bk.klen > 0 {
			if bytes.Equal(bk.key[:bk.klen], key) {
				return b, j
			}
		} else if bytes.Equal(s.key(s.ent(bk.head)), key) {
			return b, j
		}
	}
	return -1, j
}

// place is where a lookup found the key and row kr of klen key bytes:
// its bucket b and entry i (-1: none), with what insert reuses: the key's
// hash kh and its slot in byKey (kslot, when ksOK), the hash of key and
// row rh (when rhOK) and, when the bucket is indexed, the slot of rh in
// byRow (rslot) and the entry the row index has for it (rhead, -1: none).
type place struct {
	b, i  int32
	kh    uint64
	kslot int
	ksOK  bool
	rh    uint64
	rslot int
	rhOK  bool
	rhead int32
}

// rowFP is the fingerprint of a key and row of hash rh that a walk of a
// bucket compares before their bytes: most rows of a bucket (Nexmark's
// bids of one price in q7, of one auction in q4) differ in it, so the
// walk does not read their bytes from the slab at all.
func rowFP(rh uint64) uint16 { return uint16(rh >> 48) }

// locate looks up the key and row kr (key: its first klen bytes, of hash
// kh).
func (s *side) locate(kr []byte, klen int, kh uint64) place {
	p := place{i: -1, kh: kh, ksOK: true, rhead: -1}
	p.b, p.kslot = s.bucketAndSlot(kr[:klen], kh)
	if p.b < 0 {
		return p
	}
	p.rh, p.rhOK = s.hash(kr), true
	if !s.bkts[p.b].indexed {
		p.i = s.walk(p.b, kr, rowFP(p.rh))
		return p
	}
	var ok bool
	if p.rslot, ok = s.byRow.find(p.rh); !ok {
		return p
	}
	i := s.byRow.at(p.rslot)
	p.rhead = i
	for ; i >= 0; i = s.ent(i).hnext {
		if bytes.Equal(s.keyRow(s.ent(i)), kr) {
			p.i = i
			return p
		}
	}
	return p
}

// find returns the entry of bucket b whose key and row are kr, or -1.
func (s *side) find(b int32, kr []byte) int32 {
	rh := s.hash(kr)
	if s.bkts[b].indexed {
		i, _ := s.byRow.get(rh)
		for ; i >= 0; i = s.ent(i).hnext {
			if bytes.Equal(s.keyRow(s.ent(i)), kr) {
				return i
			}
		}
		return -1
	}
	return s.walk(b, kr, rowFP(rh))
}

// walk returns the entry of bucket b (not indexed) whose key and row are
// kr, of fingerprint fp, or -1.
func (s *side) walk(b int32, kr []byte, fp uint16) int32 {
	for i := s.bkts[b].head; i >= 0; {
		e := s.ent(i)
		if e.fp == fp && bytes.Equal(s.keyRow(e), kr) {
			return i
		}
		i = e.next
	}
	return -1
}

// lookup returns the bucket of the key of kr (its first klen bytes) and
// the live entry of key and row kr, or -1s.
func (s *side) lookup(kr []byte, klen int) (b, i int32) {
	b = s.bucketOf(kr[:klen])
	if b < 0 {
		return -1, -1
	}
	return b, s.find(b, kr)
}

// index adds entry i to the row index.
func (s *side) index(i int32) {
	e := s.ent(i)
	h := s.hash(s.keyRow(e))
	j, ok := s.byRow.find(h)
	e.hnext = -1
	if ok {
		e.hnext = s.byRow.at(j)
	}
	s.byRow.setAt(j, h, i)
	e.flags |= fIndexed
}

// indexAt adds entry i, of hash h, to the row index, whose entry for h is
// head (-1: none; slot: where h goes in byRow): after head in its chain,
// which saves updating the table.
func (s *side) indexAt(i int32, h uint64, head int32, slot int) {
	e := s.ent(i)
	if head >= 0 {
		e.hnext = s.ent(head).hnext
		s.ent(head).hnext = i
	} else {
		e.hnext = -1
		s.byRow.setAt(slot, h, i)
	}
	e.flags |= fIndexed
}

// unindex removes entry i from the row index.
func (s *side) unindex(i int32) {
	e := s.ent(i)
	h := s.hash(s.keyRow(e))
	slot, _ := s.byRow.find(h)
	j := s.byRow.at(slot)
	if j == i {
		if e.hnext >= 0 {
			s.byRow.setAt(slot, h, e.hnext)
		} else {
			s.byRow.delAt(slot)
		}
	} else {
		for j >= 0 && s.ent(j).hnext != i {
			j = s.ent(j).hnext
		}
		if j >= 0 {
			s.ent(j).hnext = e.hnext
		}
	}
	e.hnext = -1
	e.flags &^= fIndexed
}

// insert adds a new entry of key and row kr (key: its first klen bytes)
// at the end of its bucket b, creating the bucket if b is -1.
func (s *side) insert(b int32, kr []byte, klen int) int32 {
	return s.insertAt(place{b: b, i: -1, kh: s.hash(kr[:klen]), rhead: -1}, kr, klen)
}

// insertAt adds a new entry of key and row kr (key: its first klen
// bytes) where locate found it missing.
func (s *side) insertAt(p place, kr []byte, klen int) int32 {
	b := p.b
	if !p.rhOK {
		p.rh = s.hash(kr)
	}
	i := s.newEntry()
	c, pos := s.slab.put(kr)
	*s.ent(i) = entry{slot: slot{chunk: c, pos: pos, klen: int32(klen), rlen: int32(len(kr) - klen), next: -1, flags: fUsed | fHeld, fp: rowFP(p.rh)}, prev: -1, hnext: -1}
	if b < 0 {
		b = s.freeB
		if b >= 0 {
			s.freeB = s.bkts[b].hnext
		} else {
			b = int32(len(s.bkts))
			s.bkts = append(s.bkts, bucket{})
		}
		s.bkts[b] = newBucket(i, kr[:klen])
		j, ok := p.kslot, false
		if !p.ksOK {
			j, ok = s.byKey.find(p.kh)
		} else if j >= 0 {
			ok = s.byKey.slots[j].v != 0
		}
		if ok {
			s.bkts[b].hnext = s.byKey.at(j)
		}
		s.byKey.setAt(j, p.kh, b)
	} else {
		bk := &s.bkts[b]
		s.ent(i).prev = bk.tail
		s.ent(bk.tail).next = i
		bk.tail = i
		bk.n++
		switch {
		case bk.indexed && p.rhOK:
			s.indexAt(i, p.rh, p.rhead, p.rslot)
		case bk.indexed:
			s.index(i)
		case bk.n > indexed || bk.n > 4 && i-bk.head > coldSpan:
			bk.indexed = true
			for j := bk.head; j >= 0; j = s.ent(j).next {
				s.index(j)
			}
		}
	}
	s.live++
	return i
}

// unlink removes entry i from its bucket, and the bucket if it is then
// empty.
func (s *side) unlink(i int32) {
	e := s.ent(i)
	if e.flags&fIndexed != 0 {
		s.unindex(i)
	}
	key := s.key(e)
	b := s.bucketOf(key)
	bk := &s.bkts[b]
	if e.prev >= 0 {
		s.ent(e.prev).next = e.next
	} else {
		bk.head = e.next
	}
	if e.next >= 0 {
		s.ent(e.next).prev = e.prev
	} else {
		bk.tail = e.prev
	}
	e.prev, e.next = -1, -1
	e.flags &^= fHeld
	bk.n--
	if bk.n > 0 {
		return
	}
	h := s.hash(key)
	slot, _ := s.byKey.find(h)
	if j := s.byKey.at(slot); j == b {
		if bk.hnext >= 0 {
			s.byKey.setAt(slot, h, bk.hnext)
		} else {
			s.byKey.delAt(slot)
		}
	} else {
		for j >= 0 && s.bkts[j].hnext != b {
			j = s.bkts[j].hnext
		}
		if j >= 0 {
			s.bkts[j].hnext = bk.hnext
		}
	}
	*bk = bucket{hnext: s.freeB}
	s.freeB = b
}

// add adds one copy of the row of key and row kr (key: its first klen
// bytes) to the side.
func (s *side) add(kr []byte, klen int, matches, now int64) int32 {
	return s.addHashed(kr, klen, s.hash(kr[:klen]), matches, now)
}

// addHashed is add of a key of hash kh.
func (s *side) addHashed(kr []byte, klen int, kh uint64, matches, now int64) int32 {
	p := s.locate(kr, klen, kh)
	i := p.i
	if i < 0 {
		i = s.insertAt(p, kr, klen)
	}
	e := s.ent(i)
	e.count++
	e.matches = matches
	e.access = now
	s.markDirty(i)
	return i
}

// retract removes one copy of the row of kr, if held.
func (s *side) retract(kr []byte, klen int, now int64) {
	_, i := s.lookup(kr, klen)
	if i < 0 {
		return
	}
	e := s.ent(i)
	e.count--
	e.access = now
	s.markDirty(i)
	if e.count <= 0 {
		s.drop(i)
	}
}

// drop removes entry i from its bucket; the next barrier deletes it.
func (s *side) drop(i int32) {
	s.ent(i).count = 0
	s.markDirty(i)
	s.unlink(i)
	s.live--
	if s.ent(i).flags&fPersisted == 0 {
		s.release(i) // nothing to delete
	}
}

// htab maps 64-bit hashes to int32s (a bucket, an entry): an
// open-addressing table, linear probing, power-of-two capacity, at most
// three quarters full, whose slots hold the hash itself (so a probe
// compares keys' bytes only on a hash match, and the caller's chain of a
// hash shared by several keys goes through hnext) and no pointer for the
// garbage collector to follow. find returns a slot that setAt reuses, so
// a lookup that misses and the insert after it probe once.
type htab struct {
	slots []hslot
	mask  uint64
	n     int
}

// hslot is a slot of an htab: v is the value plus one, 0 an empty slot.
type hslot struct {
	h uint64
	v uint32
}

const htabMin = 64

// find returns the slot of h (found) or the empty slot where h goes.
func (t *htab) find(h uint64) (slot int, found bool) {
	if t.slots == nil {
		return -1, false
	}
	for j := h & t.mask; ; j = (j + 1) & t.mask {
		s := &t.slots[j]
		if s.v == 0 {
			return int(j), false
		}
		if s.h == h {
			return int(j), true
		}
	}
}

// get returns the value of h.
func (t *htab) get(h uint64) (int32, bool) {
	j, ok := t.find(h)
	if !ok {
		return -1, false
	}
	return int32(t.slots[j].v - 1), true
}

// setAt sets the value of h to v in slot j, which find returned for h
// (-1: an empty table).
func (t *htab) setAt(j int, h uint64, v int32) {
	if j < 0 {
		t.grow()
		j, _ = t.find(h)
	}
	s := &t.slots[j]
	if s.v == 0 {
		t.n++
	}
	s.h, s.v = h, uint32(v)+1
	if 4*t.n > 3*len(t.slots) {
		t.grow()
	}
}

// set sets the value of h to v.
func (t *htab) set(h uint64, v int32) {
	j, _ := t.find(h)
	t.setAt(j, h, v)
}

// at is the value in slot j (held).
func (t *htab) at(j int) int32 { return int32(t.slots[j].v - 1) }

// del removes h.
func (t *htab) del(h uint64) {
	if j, ok := t.find(h); ok {
		t.delAt(j)
	}
}

// delAt empties slot j, shifting back the slots after it that it let
// skip their home slot (no tombstones).
func (t *htab) delAt(j int) {
	i := uint64(j)
	for k := (i + 1) & t.mask; ; k = (k + 1) & t.mask {
		s := t.slots[k]
		if s.v == 0 {
			break
		}
		// s may move to i if i lies on its probe path: between its home
		// slot and k (cyclically).
		if home := s.h & t.mask; (k-home)&t.mask >= (k-i)&t.mask {
			t.slots[i] = s
			i = k
		}
	}
	t.slots[i] = hslot{}
	t.n--
}

// grow doubles the table (or makes it).
func (t *htab) grow() {
	old := t.slots
	t.slots = make([]hslot, max(htabMin, 2*len(old)))
	t.mask = uint64(len(t.slots) - 1)
	for _, s := range old {
		if s.v != 0 {
			j := s.h & t.mask
			for t.slots[j].v != 0 {
				j = (j + 1) & t.mask
			}
			t.slots[j] = s
		}
	}
}

// size is the number of hashes held.
func (t *htab) size() int { return t.n }
