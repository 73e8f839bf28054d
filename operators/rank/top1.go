package rank

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"

	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/types"
)

// The partitions of a Top-1 (op.top1) hold one row each, and there are as
// many of them as keys (Nexmark q18: nearly one per bid), so they live in
// a pointer-free store rather than in a map of partition objects: each
// partition's key, sort key and row are appended to a slab of byte chunks,
// its lengths and times are a slot of a slice of plain values, and a slot
// is found by the hash of its key in an open-addressing index of
// integers. A partition costs no allocation of its own, and the garbage
// collector has no pointer to follow through the state.

// t1part is the slot of one partition of a Top-1.
type t1part struct {
	chunk, pos       int32 // where its key, sort key then row are in the slab
	klen, slen, rlen int32
	room             int32 // the bytes after the key for a sort key and row
	access           int64 // ms of processing time of the last change (state TTL)
	flags            uint8
}

// t1part flags.
const (
	t1Used  = 1 << iota // the slot holds a partition (else it is free)
	t1Dirty             // in the dirty list: changed since the last barrier
)

// Slab chunk size: a longer entry has a chunk of its own.
const t1Chunk = 64 << 10

// top1Store is the state of a Top-1. index holds, per used position, the
// high 32 bits of the key's hash and the slot's number plus one (0: an
// empty position); its length is a power of two, at least twice the
// partitions.
type top1Store struct {
	seed   maphash.Seed
	chunks [][]byte
	live   int // bytes of the slab in use
	dead   int // bytes of the slab no partition uses
	parts  []t1part
	free   []int32
	n      int // partitions
	index  []uint64
	dirty  []int32
	// minDead is the dead bytes below which the slab is not compacted.
	minDead int
}

func newTop1Store() *top1Store {
	return &top1Store{seed: maphash.MakeSeed(), index: make([]uint64, 64), minDead: 1 << 20}
}

func (t *top1Store) hash(key []byte) uint64 { return maphash.Bytes(t.seed, key) }

// bytes returns the key, sort key and row of p.
func (t *top1Store) bytes(p *t1part) (key, sort, row []byte) {
	b := t.chunks[p.chunk][p.pos:]
	return b[:p.klen:p.klen], b[p.klen : p.klen+p.slen : p.klen+p.slen], b[p.klen+p.slen : p.klen+p.slen+p.rlen : p.klen+p.slen+p.rlen]
}

// alloc returns where n bytes of the slab are reserved.
func (t *top1Store) alloc(n int) (chunk, pos int32) {
	if k := len(t.chunks) - 1; k >= 0 && len(t.chunks[k])+n <= cap(t.chunks[k]) {
		c := t.chunks[k]
		t.chunks[k] = c[:len(c)+n]
		t.live += n
		return int32(k), int32(len(c))
	}
	t.chunks = append(t.chunks, make([]byte, n, max(n, t1Chunk)))
	t.live += n
	return int32(len(t.chunks) - 1), 0
}

// put writes key, sort and row into p's new place in the slab.
func (t *top1Store) put(p *t1part, key, sort, row []byte) {
	p.klen, p.slen, p.rlen = int32(len(key)), int32(len(sort)), int32(len(row))
	p.room = p.slen + p.rlen
	p.chunk, p.pos = t.alloc(len(key) + len(sort) + len(row))
	b := t.chunks[p.chunk][p.pos:]
	copy(b, key)
	copy(b[p.klen:], sort)
	copy(b[p.klen+p.slen:], row)
}

// find returns the slot of key (its hash h), or -1 and the index position
// where it would go.
func (t *top1Store) find(key []byte, h uint64) (slot int32, at int) {
	mask := len(t.index) - 1
	tag := h >> 32 << 32
	for at = int(h) & mask; ; at = (at + 1) & mask {
		v := t.index[at]
		if v == 0 {
			return -1, at
		}
		if v&^(1<<32-1) == tag {
			s := int32(uint32(v)) - 1
			p := &t.parts[s]
			k := t.chunks[p.chunk][p.pos : p.pos+p.klen]
			if bytes.Equal(k, key) {
				return s, at
			}
		}
	}
}

// reserve grows the index so that one more partition keeps it at most
// half full. Positions returned by find before are then invalid.
func (t *top1Store) reserve() {
	if 2*(t.n+1) <= len(t.index) {
		return
	}
	t.rebuild(len(t.index) * 2)
}

// rebuild re-indexes the used slots in an index of size positions.
func (t *top1Store) rebuild(size int) {
	t.index = make([]uint64, size)
	mask := size - 1
	for s := range t.parts {
		p := &t.parts[s]
		if p.flags&t1Used == 0 {
			continue
		}
		key, _, _ := t.bytes(p)
		h := t.hash(key)
		at := int(h) & mask
		for t.index[at] != 0 {
			at = (at + 1) & mask
		}
		t.index[at] = h>>32<<32 | uint64(s+1)
	}
}

// insert adds a partition of key (hash h, index position at from find)
// holding sort and row, and returns its slot.
func (t *top1Store) insert(at int, h uint64, key, sort, row []byte) int32 {
	var s int32
	if k := len(t.free); k > 0 {
		s, t.free = t.free[k-1], t.free[:k-1]
	} else {
		s = int32(len(t.parts))
		t.parts = append(t.parts, t1part{})
	}
	p := &t.parts[s]
	*p = t1part{flags: t1Used}
	t.put(p, key, sort, row)
	t.index[at] = h>>32<<32 | uint64(s+1)
	t.n++
	return s
}

// replace makes sort and row those of p: over the old ones when they fit.
func (t *top1Store) replace(p *t1part, sort, row []byte) {
	ls, lr := int32(len(sort)), int32(len(row))
	if ls+lr <= p.room {
		b := t.chunks[p.chunk][p.pos+p.klen:]
		copy(b, sort)
		copy(b[ls:], row)
		p.slen, p.rlen = ls, lr
		return
	}
	t.dead += int(p.klen + p.room)
	t.live -= int(p.klen + p.room)
	key := t.chunks[p.chunk][p.pos : p.pos+p.klen]
	chunk, pos := t.alloc(int(p.klen + ls + lr))
	b := t.chunks[chunk][pos:]
	copy(b, key)
	copy(b[p.klen:], sort)
	copy(b[p.klen+ls:], row)
	p.chunk, p.pos, p.slen, p.rlen, p.room = chunk, pos, ls, lr, ls+lr
}

// drop frees slot s; the index must be rebuilt before the next find.
func (t *top1Store) drop(s int32) {
	p := &t.parts[s]
	t.dead += int(p.klen + p.room)
	t.live -= int(p.klen + p.room)
	*p = t1part{}
	t.free = append(t.free, s)
	t.n--
}

// compact copies the slab without its dead bytes once they are most of
// it. No output row may refer to the slab meanwhile.
func (t *top1Store) compact() {
	if t.dead < t.minDead || t.dead < t.live {
		return
	}
	old := t.chunks
	t.chunks, t.live, t.dead = nil, 0, 0
	for s := range t.parts {
		p := &t.parts[s]
		if p.flags&t1Used == 0 {
			continue
		}
		b := old[p.chunk][p.pos:]
		key, sort, row := b[:p.klen], b[p.klen:p.klen+p.slen], b[p.klen+p.slen:p.klen+p.slen+p.rlen]
		t.put(p, key, sort, row)
	}
}

// touch records a change of slot s at nowMs.
func (t *top1Store) touch(s int32, nowMs int64) {
	p := &t.parts[s]
	p.access = nowMs
	if p.flags&t1Dirty == 0 {
		p.flags |= t1Dirty
		t.dirty = append(t.dirty, s)
	}
}

// lookup returns the slot of key, or -1.
func (t *top1Store) lookup(key []byte) int32 {
	s, _ := t.find(key, t.hash(key))
	return s
}

// best1 is best over the Top-1's store: it folds row i, its partition key
// in o.keyBuf and its sort key in o.sortBuf, into its partition. A row
// that does not sort first costs no allocation and no row encoding; a
// better row is written over the one it replaces when it fits.
func (o *op) best1(i int, nowMs int64) error {
	t := o.t1
	t.reserve()
	h := t.hash(o.keyBuf)
	s, at := t.find(o.keyBuf, h)
	if s < 0 {
		o.rowBuf = o.rowEnc.Append(o.rowBuf[:0], i)
		s = t.insert(at, h, o.keyBuf, o.sortBuf, o.rowBuf)
		o.rows++
		t.touch(s, nowMs)
		return o.appendCopy(o.rowBuf, types.Insert)
	}
	p := &t.parts[s]
	_, oldSort, oldRow := t.bytes(p)
	c := bytes.Compare(o.sortBuf, oldSort)
	if c > 0 {
		return nil // the common case, before encoding the row
	}
	o.rowBuf = o.rowEnc.Append(o.rowBuf[:0], i)
	if c == 0 && bytes.Compare(o.rowBuf, oldRow) >= 0 {
		return nil
	}
	before, after := types.Delete, types.Insert
	if o.output {
		before, after = types.UpdateBefore, types.UpdateAfter
	}
	// The output's rows are copies (decoded when the record is built),
	// made before the old row's bytes are overwritten.
	if err := o.appendCopy(oldRow, before); err != nil {
		return err
	}
	t.replace(p, o.sortBuf, o.rowBuf)
	t.touch(s, nowMs)
	return o.appendCopy(o.rowBuf, after)
}

// expire1 drops the Top-1's partitions last changed before limit (ms).
func (o *op) expire1(limit int64) {
	t := o.t1
	dropped := false
	for s := range t.parts {
		p := &t.parts[s]
		if p.flags&t1Used != 0 && p.access < limit {
			key, _, _ := t.bytes(p)
			o.deletes = append(o.deletes, string(key))
			t.drop(int32(s))
			o.rows--
			dropped = true
		}
	}
	if dropped {
		size := 64
		for size < 2*(t.n+1) {
			size <<= 1
		}
		if size > len(t.index) {
			size = len(t.index)
		}
		t.rebuild(size)
	}
}

// restore1 adds a restored partition to the Top-1's store: its first
// (best) row; a partition restored without rows is as new.
func (o *op) restore1(key []byte, access int64, rows []entry) error {
	t := o.t1
	t.reserve()
	h := t.hash(key)
	s, at := t.find(key, h)
	if s >= 0 {
		return errState
	}
	if len(rows) == 0 {
		return nil
	}
	s = t.insert(at, h, key, rows[0].sort, rows[0].row)
	t.parts[s].access = access
	o.rows++
	return nil
}

// barrier1 writes the Top-1's partitions changed since the last barrier,
// in the encoding restore reads (as OnBarrier writes a partition).
func (o *op) barrier1(w *state.Writer) error {
	t := o.t1
	var val []byte
	for _, s := range t.dirty {
		p := &t.parts[s]
		if p.flags&t1Dirty == 0 {
			continue // expired since, or written already (its slot reused)
		}
		p.flags &^= t1Dirty
		key, sort, row := t.bytes(p)
		val = binary.AppendVarint(val[:0], p.access)
		val = binary.AppendVarint(val, 0) // due
		val = append(val, 0)              // done
		val = binary.AppendUvarint(val, 1)
		val = binary.AppendUvarint(val, uint64(len(sort)))
		val = append(val, sort...)
		val = binary.AppendUvarint(val, uint64(len(row)))
		val = append(val, row...)
		if err := w.Set(o.table, state.KeyGroupOfKey(key, o.maxP), key, val); err != nil {
			return fmt.Errorf("rank: %w", err)
		}
	}
	t.dirty = t.dirty[:0]
	return nil
}
