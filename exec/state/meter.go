package state

import (
	"hash/maphash"
	"sync/atomic"

	"github.com/streamsql/streamsql/checkpoint"
)

// Meter keeps the encoded size of one operator's state: the sum of
// len(key)+len(value) over the entries the operator's state holds in the
// checkpoint lineage (its keys as the operator writes them, without the
// store's operator prefix), maintained incrementally as the operator's
// subtasks write and delete entries at barriers, never by scanning. An
// operator keeps its live state in structures of its own and encodes it
// only at barriers, so the size is that of its state as of its last
// barrier: what its next restore reads.
//
// A Meter remembers the size of every entry under a 64-bit hash of its
// key (12 bytes of map per entry, not the key), so that an overwrite or a
// delete subtracts what the entry weighed. Two keys of one operator with
// the same hash (probability about n²/2⁶⁵ for n entries: 3·10⁻⁸ for a
// million) would make the size drift by the smaller entry; nothing else
// reads the sizes.
//
// Set and Delete are called by one goroutine at a time (the runtime
// serializes the subtasks of a node, which share one state writer);
// Bytes may be called from any goroutine.
type Meter struct {
	seed  maphash.Seed
	sizes map[uint64]uint32
	bytes atomic.Int64
}

// NewMeter returns a Meter of an empty state.
func NewMeter() *Meter {
	return &Meter{seed: maphash.MakeSeed(), sizes: map[uint64]uint32{}}
}

// Bytes returns the encoded size of the state.
func (m *Meter) Bytes() int64 { return m.bytes.Load() }

// Entries returns the number of entries the meter knows.
func (m *Meter) Entries() int { return len(m.sizes) }

// Set records that key now has value.
func (m *Meter) Set(key, value []byte) {
	h := maphash.Bytes(m.seed, key)
	n := uint32(len(key) + len(value))
	old := m.sizes[h]
	m.sizes[h] = n
	m.bytes.Add(int64(n) - int64(old))
}

// Delete records that key no longer exists.
func (m *Meter) Delete(key []byte) {
	h := maphash.Bytes(m.seed, key)
	if old, ok := m.sizes[h]; ok {
		delete(m.sizes, h)
		m.bytes.Add(-int64(old))
	}
}

// Restore sets the meter to the state r holds (an operator's whole state
// as of a restored checkpoint, or nil for none), reading it once.
func (m *Meter) Restore(r checkpoint.StateReader) error {
	clear(m.sizes)
	m.bytes.Store(0)
	if r == nil {
		return nil
	}
	return r.Scan(func(k, v []byte) error {
		m.Set(k, v)
		return nil
	})
}

// Writer returns a writer that writes to w and, for each write w accepts,
// updates the meter.
func (m *Meter) Writer(w checkpoint.StateWriter) checkpoint.StateWriter {
	return meteredWriter{w: w, m: m}
}

type meteredWriter struct {
	w checkpoint.StateWriter
	m *Meter
}

var _ checkpoint.StateWriter = meteredWriter{}

// Set implements checkpoint.StateWriter.
func (mw meteredWriter) Set(key, value []byte) error {
	if err := mw.w.Set(key, value); err != nil {
		return err
	}
	mw.m.Set(key, value)
	return nil
}

// Delete implements checkpoint.StateWriter.
func (mw meteredWriter) Delete(key []byte) error {
	if err := mw.w.Delete(key); err != nil {
		return err
	}
	mw.m.Delete(key)
	return nil
}
