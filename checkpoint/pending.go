package checkpoint

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Pending is one checkpoint being assembled at a barrier. The runtime gets
// it from Store.Begin, hands Operator(id) to each operator's OnBarrier,
// records source offsets and sink handles, and calls Commit once every
// operator has written its delta. Nothing is visible to Restore, List or
// any later process until Commit returns nil; a Pending that is dropped
// without Commit leaves no trace. Operator, SetSourceOffset, SetSinkHandle
// and SetAlignment may be called from several goroutines; each StateWriter
// from one goroutine at a time; Commit once, after all writers are done.
type Pending struct {
	s     *Store
	id    uint64
	begin time.Time

	mu        sync.Mutex
	writers   map[string]*opWriter
	offsets   map[string]map[string][]byte
	handles   map[string][]byte
	conns     map[string]string
	alignment time.Duration
	done      bool
	meta      *metaRecord // written by Commit
}

// Begin starts checkpoint id. Ids must increase: Commit fails with
// ErrStaleID unless id is above every checkpoint already in the store.
func (s *Store) Begin(id uint64) *Pending {
	return &Pending{
		s:       s,
		id:      id,
		begin:   s.clock.Now(),
		writers: map[string]*opWriter{},
		offsets: map[string]map[string][]byte{},
		handles: map[string][]byte{},
	}
}

// ID returns the checkpoint's id.
func (p *Pending) ID() uint64 { return p.id }

// NextID returns the id the job's next checkpoint should take: above every
// checkpoint in the store and, with a checkpoint dir, above every chk-<id>
// attempt found there when the store opened, restored or not. A run that
// restores checkpoint n after an earlier run's attempt n+1 failed (its
// _failed marker written) or died half-uploaded must not write its own
// checkpoint n+1 into that directory: the marker would make it
// unrestorable after its sinks had committed.
func (s *Store) NextID() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.maxID + 1
	if s.remote != nil {
		next = max(next, s.remote.highest+1)
	}
	return next
}

// Operator returns the StateWriter for operator opID, creating it on the
// first call; later calls return the same writer. Calling it for every
// operator of the plan, even stateless ones, records the plan in the
// checkpoint's metadata. Parallel subtasks need distinct ids.
func (p *Pending) Operator(opID string) StateWriter {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.writers[opID]
	if w == nil {
		w = &opWriter{op: opID, prefix: stateOpPrefix(opID), version: appendVersion(nil, p.id)}
		p.writers[opID] = w
	}
	return w
}

// SetSourceOffset records the position of the barrier in split of source
// opID (e.g. split "bids/3" for a Kafka partition). The bytes are copied
// and are opaque to this package.
func (p *Pending) SetSourceOffset(opID, split string, offset []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.offsets[opID]
	if m == nil {
		m = map[string][]byte{}
		p.offsets[opID] = m
	}
	m[split] = slices.Clone(offset)
}

// SetSinkHandle records sink opID's pending-commit handle (a Kafka
// transactional id and epoch, a file length). The bytes are copied.
func (p *Pending) SetSinkHandle(opID string, handle []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.handles[opID] = slices.Clone(handle)
}

// SetConnector records that operator opID (a source or a sink) is of
// connector name, for readers of its offsets and handles.
func (p *Pending) SetConnector(opID, name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		p.conns = map[string]string{}
	}
	p.conns[opID] = name
}

// SetAlignment records how long barrier alignment took, for List.
func (p *Pending) SetAlignment(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.alignment = d
}

// opWriter buffers one operator's writes in one arena, each user key
// followed by kind | value (adjacent, so that reading them back in sorted
// order costs one cache miss, not two), one rec per write. Commit sorts and deduplicates them (the last
// write of a key wins): Pebble applies a sorted batch far faster than a
// random one, and the checksum must cover exactly the records that land.
type opWriter struct {
	op      string
	prefix  []byte // 's' | esc(op)
	version []byte // ^id
	keys    []byte // the arena
	recs    []rec
	lcp     int // length of the prefix all user keys share
	closed  bool
}

// rec locates one write in the arena: the user key and kind | value.
type rec struct {
	koff, klen, voff, vlen uint32
}

var _ StateWriter = (*opWriter)(nil)

// Set implements StateWriter.
func (w *opWriter) Set(key, value []byte) error { return w.add(key, value, kindSet) }

// Delete implements StateWriter.
func (w *opWriter) Delete(key []byte) error { return w.add(key, nil, kindTombstone) }

func (w *opWriter) add(key, value []byte, kind byte) error {
	if w.closed {
		return fmt.Errorf("checkpoint: write to operator %q after Commit", w.op)
	}
	koff := len(w.keys)
	w.keys = append(w.keys, key...)
	voff := len(w.keys)
	w.keys = append(w.keys, kind)
	w.keys = append(w.keys, value...)
	if len(w.keys) > 1<<32-1 {
		return fmt.Errorf("checkpoint: operator %q wrote more than 4 GiB in one checkpoint", w.op)
	}
	if len(w.recs) == 0 {
		w.lcp = len(key)
	} else {
		first := w.keys[:w.recs[0].klen]
		w.lcp = commonPrefix(first[:min(w.lcp, len(key))], key)
	}
	w.recs = append(w.recs, rec{koff: uint32(koff), klen: uint32(len(key)), voff: uint32(voff), vlen: uint32(len(w.keys) - voff)})
	return nil
}

// commonPrefix returns the length of the common prefix of a and b, where
// len(a) <= len(b).
func commonPrefix(a, b []byte) int {
	i := 0
	for ; i+8 <= len(a); i += 8 {
		if x := binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:]); x != 0 {
			return i + bits.TrailingZeros64(x)/8
		}
	}
	for ; i < len(a) && a[i] == b[i]; i++ {
	}
	return i
}

// sorted returns the indexes of the live records in key order, keeping the
// last write of each key. Sorting compares a 16-byte abbreviation of each
// key held in the sort entry, so that it rarely touches the arena: the
// first 16 bytes that vary between keys among the 64 after the common
// prefix, with the bytes every key shares left out (that keeps the order,
// as two keys first differ at a byte that varies). Ties fall back to
// comparing whole keys.
func (w *opWriter) sorted() []uint32 {
	const window = 64
	if len(w.recs) == 0 {
		return nil
	}
	// varying marks the positions (relative to lcp) where some key differs
	// from the first one or ends.
	var varying [window]bool
	first := w.keys[w.lcp:w.recs[0].klen]
	for _, r := range w.recs {
		k := w.keys[r.koff+uint32(w.lcp) : r.koff+r.klen]
		for i := range window {
			if i >= len(k) || i >= len(first) || k[i] != first[i] {
				varying[i] = true
			}
		}
	}
	var pos []int
	for i, v := range varying {
		if v && len(pos) < 16 {
			pos = append(pos, i)
		}
	}
	type entry struct {
		a0, a1 uint64
		idx    uint32
	}
	es := make([]entry, len(w.recs))
	for i, r := range w.recs {
		k := w.keys[r.koff+uint32(w.lcp) : r.koff+r.klen]
		var buf [16]byte
		for j, p := range pos {
			if p < len(k) {
				buf[j] = k[p]
			}
		}
		es[i] = entry{a0: binary.BigEndian.Uint64(buf[:8]), a1: binary.BigEndian.Uint64(buf[8:]), idx: uint32(i)}
	}
	key := func(i uint32) []byte {
		r := &w.recs[i]
		return w.keys[r.koff : r.koff+r.klen]
	}
	slices.SortFunc(es, func(x, y entry) int {
		if x.a0 != y.a0 {
			return cmpU64(x.a0, y.a0)
		}
		if x.a1 != y.a1 {
			return cmpU64(x.a1, y.a1)
		}
		if c := bytes.Compare(key(x.idx), key(y.idx)); c != 0 {
			return c
		}
		return cmpU64(uint64(x.idx), uint64(y.idx))
	})
	out := make([]uint32, 0, len(es))
	for i, e := range es {
		if i+1 < len(es) && es[i+1].a0 == e.a0 && es[i+1].a1 == e.a1 && bytes.Equal(key(es[i+1].idx), key(e.idx)) {
			continue // a later write of the same key follows
		}
		out = append(out, e.idx)
	}
	return out
}

// Commit writes the checkpoint — every operator's buffered writes, the
// source offsets, the sink handles and the metadata record — as one Pebble
// batch committed with Sync, then drops checkpoints beyond the retention
// count and garbage-collects state versions no retained checkpoint can
// see. It returns ErrStaleID if the id is not newer than the store's
// newest checkpoint, ErrNotRestored if the store holds checkpoints and
// Restore was not called, and ctx's error if ctx is done before the
// write. After an error nothing of the checkpoint is visible. Writers
// must not be used after Commit.
func (p *Pending) Commit(ctx context.Context) (_ CheckpointInfo, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return CheckpointInfo{}, fmt.Errorf("checkpoint: checkpoint %d committed twice", p.id)
	}
	p.done = true
	for _, w := range p.writers {
		w.closed = true
	}
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.ReadOnly {
		return CheckpointInfo{}, ErrReadOnly
	}
	if s.broken == ErrClosed {
		return CheckpointInfo{}, ErrClosed
	}
	// A checkpoint that fails leaves its operators' deltas to the next
	// one: operators do not write again what they wrote at this barrier.
	keep := func() {
		p.takeCarry(s.carry)
		s.carry = p.writers
	}
	if s.db == nil {
		// A write failed before: reopen the database from what is on disk.
		if err := s.reopen(ctx); err != nil {
			keep()
			return CheckpointInfo{}, fmt.Errorf("checkpoint: the state store of job %q cannot be reopened for checkpoint %d: %w", s.opts.JobName, p.id, err)
		}
		s.log.Info("checkpoint: state store reopened after a failed write", "job", s.opts.JobName, "checkpoint", p.id, "failed_with", s.broken)
		s.broken = nil
		if err := s.persistFailures(); err != nil {
			keep()
			return CheckpointInfo{}, s.writeFailed(p.id, err)
		}
	}
	if err := s.corruption(); err != nil {
		return CheckpointInfo{}, &unreadableError{job: s.opts.JobName, dir: s.dir, err: err}
	}
	if !s.restored {
		return CheckpointInfo{}, ErrNotRestored
	}
	if p.id <= s.maxID || p.id == 0 {
		return CheckpointInfo{}, fmt.Errorf("%w: %d, newest is %d", ErrStaleID, p.id, s.maxID)
	}
	if err := ctx.Err(); err != nil {
		keep()
		return CheckpointInfo{}, err
	}
	p.takeCarry(s.carry)
	s.carry = nil
	info, err := p.write()
	if err != nil {
		s.carry = p.writers
		return CheckpointInfo{}, err
	}
	if s.remote == nil {
		return info, nil
	}
	// The checkpoint is in the local store; it is complete once the
	// checkpoint dir has it. A failed upload leaves it local: the next
	// checkpoint's upload carries its data, and Open, which trusts the
	// checkpoint dir, never restores it.
	start := s.clock.Now()
	n, err := s.upload(ctx, &manifest{Format: manifestFormat, Kind: "checkpoint", Job: s.opts.JobName, ID: p.id,
		Meta: p.meta, Offsets: p.offsets, Handles: p.handles})
	d := s.clock.Now().Sub(start)
	s.stats.UploadedBytes, s.stats.UploadDuration = n, d
	if err != nil {
		s.stats.RemoteFailures++
		return CheckpointInfo{}, err
	}
	info.Uploaded, info.UploadDuration = n, d
	info.Duration = s.clock.Now().Sub(p.begin)
	return info, nil
}

// takeCarry puts the writes of a failed checkpoint before this one's.
func (p *Pending) takeCarry(carry map[string]*opWriter) {
	for op, old := range carry {
		w := &opWriter{op: op, prefix: old.prefix, version: appendVersion(nil, p.id)}
		for _, src := range []*opWriter{old, p.writers[op]} {
			if src == nil {
				continue
			}
			for _, r := range src.recs {
				kv := src.keys[r.voff : r.voff+r.vlen]
				// Cannot fail: the old writers held the same bytes.
				_ = w.add(src.keys[r.koff:r.koff+r.klen], kv[1:], kv[0])
			}
		}
		w.closed = true
		p.writers[op] = w
	}
}

// writeFailed handles a failed write to Pebble: the database is closed
// (its commit pipeline may be unusable, and what it holds in memory may not
// be on disk) and reopened by the next Commit. s.mu is held.
func (s *Store) writeFailed(id uint64, err error) error {
	s.broken = err
	if cerr := s.closeDB(); cerr != nil {
		s.log.Warn("checkpoint: closing the state store after a failed write", "job", s.opts.JobName, "err", cerr)
	}
	return fmt.Errorf("checkpoint: commit %d: %w", id, err)
}

// write commits the checkpoint; p.mu and s.mu are held.
func (p *Pending) write() (_ CheckpointInfo, err error) {
	s := p.s
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(*pebbleFatal)
			if !ok {
				panic(r)
			}
			err = s.writeFailed(p.id, f)
		}
	}()
	ops := slices.Sorted(maps.Keys(p.writers))
	size := 64
	for _, op := range ops {
		w := p.writers[op]
		size += len(w.keys) + (len(w.prefix)+versionLen+crcLen+12)*len(w.recs)
	}
	b := s.db.NewBatchWithSize(size)
	defer b.Close()
	m := &metaRecord{
		Version:     metaVersion,
		ID:          p.id,
		Job:         s.opts.JobName,
		TimeUnixNs:  p.begin.UnixNano(),
		AlignmentNs: int64(p.alignment),
		Connectors:  p.conns,
	}
	ws := &writeSet{}
	var kbuf, vbuf []byte
	for _, op := range ops {
		w := p.writers[op]
		st := OperatorStats{ID: op}
		for _, i := range w.sorted() {
			r := &w.recs[i]
			uk := w.keys[r.koff : r.koff+r.klen]
			kv := w.keys[r.voff : r.voff+r.vlen]
			kbuf = append(appendEsc(append(kbuf[:0], w.prefix...), uk), w.version...)
			vbuf = appendCRC(append(vbuf[:0], kv...), recordCRC(kbuf, kv))
			if err := b.Set(kbuf, vbuf, nil); err != nil {
				return CheckpointInfo{}, fmt.Errorf("checkpoint: %w", err)
			}
			m.Digest.add(binary.BigEndian.Uint32(vbuf[len(vbuf)-crcLen:]), len(kbuf), len(vbuf))
			m.Bytes += int64(len(kbuf) + len(vbuf))
			st.Bytes += int64(len(uk) + len(kv) - 1)
			tomb := kv[0] == kindTombstone
			if tomb {
				st.Deletes++
			} else {
				st.Sets++
			}
			ws.add(kbuf[:len(kbuf)-versionLen], tomb)
		}
		m.Operators = append(m.Operators, st)
	}
	for _, op := range slices.Sorted(maps.Keys(p.offsets)) {
		splits := p.offsets[op]
		for _, split := range slices.Sorted(maps.Keys(splits)) {
			k := offsetKey(p.id, op, split)
			v := appendCRC(slices.Clone(splits[split]), recordCRC(k, splits[split]))
			b.Set(k, v, nil)
			m.Digest.add(binary.BigEndian.Uint32(v[len(v)-crcLen:]), len(k), len(v))
			m.Bytes += int64(len(k) + len(v))
		}
	}
	for _, op := range slices.Sorted(maps.Keys(p.handles)) {
		k := handleKey(p.id, op)
		v := appendCRC(slices.Clone(p.handles[op]), recordCRC(k, p.handles[op]))
		b.Set(k, v, nil)
		m.Digest.add(binary.BigEndian.Uint32(v[len(v)-crcLen:]), len(k), len(v))
		m.Bytes += int64(len(k) + len(v))
	}

	// Retention: the oldest checkpoints beyond the count are dropped in
	// this same batch, so the set of retained checkpoints changes
	// atomically with the new one appearing.
	all := append(slices.Clone(s.ids), p.id)
	var dropped []uint64
	if len(all) > s.retain {
		dropped = all[:len(all)-s.retain]
		all = all[len(all)-s.retain:]
	}
	for _, d := range dropped {
		if err := dropRecords(b, d); err != nil {
			return CheckpointInfo{}, err
		}
	}

	m.DurationNs = int64(s.clock.Now().Sub(p.begin))
	p.meta = m
	mk := idKey(prefixMeta, p.id)
	b.Set(mk, m.encode(mk), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return CheckpointInfo{}, s.writeFailed(p.id, err)
	}
	duration := s.clock.Now().Sub(p.begin)
	prevOldest := uint64(0)
	if len(s.ids) > 0 {
		prevOldest = s.ids[0]
	}
	s.ids = all
	s.maxID = p.id
	if err := writeCatalog(s.fs, s.dir, s.opts.JobName, p.id, time.Now()); err != nil {
		return CheckpointInfo{}, fmt.Errorf("checkpoint: commit %d: recording it in %s: %w", p.id, catalogFile, err)
	}
	s.completed = p.id
	if ws.large {
		ws = nil
	}
	if s.writeSets == nil {
		s.writeSets = map[uint64]*writeSet{}
	}
	s.writeSets[p.id] = ws

	info := m.info()
	info.Duration = duration
	info.SourceOffsets = p.offsets
	info.SinkHandles = p.handles

	// Housekeeping after the checkpoint is durable: losing it in a crash
	// leaves garbage that the next collection removes, never wrong state.
	if err := s.collect(prevOldest, dropped, duration); err != nil {
		s.log.Warn("checkpoint: garbage collection failed", "checkpoint", p.id, "err", err)
	}
	return info, nil
}

func dropRecords(b *pebble.Batch, id uint64) error {
	if err := b.Delete(idKey(prefixMeta, id), nil); err != nil {
		return err
	}
	if err := b.Delete(idKey(prefixDuration, id), nil); err != nil {
		return err
	}
	for _, p := range []byte{prefixOffset, prefixHandle} {
		if err := b.DeleteRange(idKey(p, id), idKey(p, id+1), nil); err != nil {
			return err
		}
	}
	return nil
}

func offsetKey(id uint64, op, split string) []byte {
	k := appendEsc(idKey(prefixOffset, id), []byte(op))
	return appendEsc(k, []byte(split))
}

func handleKey(id uint64, op string) []byte {
	return appendEsc(idKey(prefixHandle, id), []byte(op))
}

// EachWrite calls fn with every write operator opID made to the checkpoint
// so far, in the order they were made: key, value and whether it is a
// delete (value nil). It is for a job on several processes, whose sinks
// also send an operator's writes to its changelog topic; it must not run
// while the operator's writer is in use.
func (p *Pending) EachWrite(opID string, fn func(key, value []byte, deleted bool) error) error {
	p.mu.Lock()
	w := p.writers[opID]
	p.mu.Unlock()
	if w == nil {
		return nil
	}
	for _, r := range w.recs {
		kv := w.keys[r.voff : r.voff+r.vlen]
		if err := fn(w.keys[r.koff:r.koff+r.klen], kv[1:], kv[0] == kindTombstone); err != nil {
			return err
		}
	}
	return nil
}
