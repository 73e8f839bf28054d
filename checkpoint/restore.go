package checkpoint

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Restored is the checkpoint Restore chose: its operators' state, source
// offsets and sink handles. It reads the store directly and is valid until
// the next Commit or Close; read it before taking new checkpoints.
type Restored struct {
	s       *Store
	info    CheckpointInfo
	live    map[string]int64 // operator → live keys
	offsets map[string]map[string][]byte
	handles map[string][]byte
}

// ID returns the restored checkpoint's id. The next checkpoint must use a
// larger one; ID()+1 is the natural choice.
func (r *Restored) ID() uint64 { return r.info.ID }

// Info returns the restored checkpoint's metadata.
func (r *Restored) Info() CheckpointInfo { return r.info }

// Operators returns, sorted, the ids of the operators that have state in
// the checkpoint (at least one live key), so that the runtime can refuse a
// plan whose stateful operators no longer match.
func (r *Restored) Operators() []string {
	return slices.Sorted(maps.Keys(r.live))
}

// Plan returns the operator ids the checkpoint's plan had (every operator
// the runtime asked a writer for), sorted.
func (r *Restored) Plan() []string {
	ids := make([]string, len(r.info.Operators))
	for i, o := range r.info.Operators {
		ids[i] = o.ID
	}
	return ids
}

// Operator returns a reader of operator opID's state as of the checkpoint,
// or nil if the operator has no state in it.
func (r *Restored) Operator(opID string) StateReader {
	if r.live[opID] == 0 {
		return nil
	}
	return &stateReader{s: r.s, id: r.info.ID, prefix: stateOpPrefix(opID)}
}

// SourceOffsets returns split → offset for source opID (nil if none). The
// map and slices belong to the caller.
func (r *Restored) SourceOffsets(opID string) map[string][]byte {
	m := r.offsets[opID]
	if m == nil {
		return nil
	}
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}

// SinkHandle returns sink opID's pending-commit handle, or nil.
func (r *Restored) SinkHandle(opID string) []byte {
	return slices.Clone(r.handles[opID])
}

type stateReader struct {
	s      *Store
	id     uint64
	prefix []byte
}

var (
	_ StateReader  = (*stateReader)(nil)
	_ RangeScanner = (*stateReader)(nil)
)

// Scan implements StateReader: for each user key, the newest version at or
// below the checkpoint, unless that is a tombstone. Every record's checksum
// is checked again.
func (sr *stateReader) Scan(fn func(key, value []byte) error) error {
	upper := slices.Clone(sr.prefix)
	upper[len(upper)-1]++
	return sr.scan(sr.prefix, upper, fn)
}

// ScanRange implements RangeScanner as Scan does, over the user keys in
// [lo, hi). The escaping of user keys preserves their order and is
// prefix-free, so the escaped bounds bound exactly the versions of the
// user keys in the range.
func (sr *stateReader) ScanRange(lo, hi []byte, fn func(key, value []byte) error) error {
	lower := appendEsc(slices.Clone(sr.prefix), lo)
	var upper []byte
	if hi == nil {
		upper = slices.Clone(sr.prefix)
		upper[len(upper)-1]++
	} else {
		upper = appendEsc(slices.Clone(sr.prefix), hi)
	}
	if bytes.Compare(lower, upper) >= 0 {
		return nil
	}
	return sr.scan(lower, upper, fn)
}

// scan reads the visible version of every user key whose state keys lie
// in [lower, upper).
func (sr *stateReader) scan(lower, upper []byte, fn func(key, value []byte) error) (err error) {
	sr.s.mu.Lock()
	db := sr.s.db
	sr.s.mu.Unlock()
	if db == nil {
		return ErrClosed
	}
	defer func() { err = sr.s.readErr(err) }()
	defer catchFatal(&err)
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	defer it.Close()
	var group, ukey []byte
	done := false // the current group's visible version was handled
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		g, id, ok := splitState(k)
		if !ok {
			return fmt.Errorf("checkpoint: malformed state key %q", k)
		}
		if !bytes.Equal(g, group) {
			group = append(group[:0], g...)
			done = false
		}
		if done || id > sr.id {
			continue
		}
		done = true
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		payload, _, ok := checkRecord(k, v)
		if !ok || len(payload) == 0 {
			return fmt.Errorf("checkpoint: corrupt state record %q", k)
		}
		if payload[0] == kindTombstone {
			continue
		}
		var rest []byte
		ukey, rest, ok = decodeEsc(ukey[:0], g[len(sr.prefix):])
		if !ok || len(rest) != 0 {
			return fmt.Errorf("checkpoint: malformed state key %q", k)
		}
		if err := fn(ukey, payload[1:]); err != nil {
			return err
		}
	}
	return it.Error()
}

// candidate is one checkpoint as Restore's verification pass sees it.
type candidate struct {
	id      uint64
	meta    *metaRecord
	problem string // why it is not valid; "" if it is
	got     digest
	live    map[string]int64
	offsets map[string]map[string][]byte
	handles map[string][]byte
}

func (c *candidate) fail(format string, args ...any) {
	if c.problem == "" {
		c.problem = fmt.Sprintf(format, args...)
	}
}

// Restore verifies the store and returns its newest valid checkpoint, or
// (nil, nil) if the store has none. A checkpoint is valid when its
// metadata decodes, the checksum of its records matches the metadata, and
// every state record it can see has a good record checksum. An invalid
// checkpoint newer than the chosen one is logged as an error and deleted,
// with every record newer than the chosen checkpoint, so that the next
// checkpoint builds on the restored state. If the store holds checkpoint
// records but none is valid, Restore returns an error wrapping ErrCorrupt
// and deletes nothing; reopen with Options.Fresh to start over. Restore
// reads every state record once, so it costs a full scan.
func (s *Store) Restore() (_ *Restored, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil, s.unavailable()
	}
	defer func() { err = s.readErr(err) }()
	defer catchFatal(&err)
	byID := map[uint64]*candidate{}
	get := func(id uint64) *candidate {
		c := byID[id]
		if c == nil {
			c = &candidate{id: id, live: map[string]int64{}}
			c.fail("no metadata record")
			byID[id] = c
		}
		return c
	}
	// Metadata.
	err = s.scanPrefix([]byte{prefixMeta}, func(k, v []byte) error {
		id, ok := parseIDKey(k)
		if !ok {
			return nil
		}
		c := &candidate{id: id, live: map[string]int64{}}
		byID[id] = c
		m, err := decodeMeta(k, v)
		if err != nil {
			c.fail("%v", err)
			return nil
		}
		c.meta = m
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Offsets and handles.
	for _, p := range []byte{prefixOffset, prefixHandle} {
		err := s.scanPrefix([]byte{p}, func(k, v []byte) error {
			id, ok := parseIDKey(k)
			if !ok {
				return nil
			}
			c := get(id)
			payload, crc, ok := checkRecord(k, v)
			c.got.add(crc, len(k), len(v))
			if !ok {
				c.fail("corrupt record %q", k)
				return nil
			}
			op, rest, ok := decodeEsc(nil, k[9:])
			if !ok {
				c.fail("malformed key %q", k)
				return nil
			}
			if p == prefixHandle {
				if c.handles == nil {
					c.handles = map[string][]byte{}
				}
				c.handles[string(op)] = slices.Clone(payload)
				return nil
			}
			split, _, ok := decodeEsc(nil, rest)
			if !ok {
				c.fail("malformed key %q", k)
				return nil
			}
			if c.offsets == nil {
				c.offsets = map[string]map[string][]byte{}
			}
			if c.offsets[string(op)] == nil {
				c.offsets[string(op)] = map[string][]byte{}
			}
			c.offsets[string(op)][string(split)] = slices.Clone(payload)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	// State: one pass over every version.
	var cands []*candidate // descending id: the ones that can be restored
	for _, c := range byID {
		if c.meta != nil {
			cands = append(cands, c)
		}
	}
	slices.SortFunc(cands, func(a, b *candidate) int { return -cmpU64(a.id, b.id) })
	// While reading every version anyway, recover the write sets that
	// garbage collection needs after a restart (see writeSet); too-large
	// ones are dropped and collected by a sweep.
	s.writeSets = map[uint64]*writeSet{}
	for _, c := range cands {
		s.writeSets[c.id] = &writeSet{}
	}
	if err := s.verifyState(byID, get, cands); err != nil {
		return nil, err
	}

	// Choose.
	all := slices.SortedFunc(maps.Values(byID), func(a, b *candidate) int { return -cmpU64(a.id, b.id) })
	var chosen *candidate
	var rejected []*candidate
	for _, c := range all {
		if c.meta != nil && c.problem == "" && (c.got != c.meta.Digest) {
			c.fail("checksum mismatch: records %d/%d, sum %x/%x", c.got.Count, c.meta.Digest.Count, c.got.Sum, c.meta.Digest.Sum)
		}
		if c.problem == "" && s.maxRestore != 0 && c.id > s.maxRestore {
			c.fail("newer than the savepoint's checkpoint %d", s.maxRestore)
		}
		if c.problem == "" {
			chosen = c
			break
		}
		rejected = append(rejected, c)
	}
	for _, c := range rejected {
		s.log.Error("checkpoint: CORRUPT CHECKPOINT SKIPPED", "job", s.opts.JobName, "checkpoint", c.id, "problem", c.problem)
	}
	trace := s.maxID
	if len(all) > 0 {
		trace = max(trace, all[0].id)
	}
	chosenID := uint64(0)
	if chosen != nil {
		chosenID = chosen.id
	}
	if err := s.checkRollback(chosenID, trace); err != nil {
		return nil, err
	}
	if chosen == nil {
		if len(all) == 0 {
			s.restored = true
			return nil, nil
		}
		return nil, fmt.Errorf("%w: job %q has %d checkpoint(s), none intact (newest %d: %s)", ErrCorrupt, s.opts.JobName, len(all), all[0].id, all[0].problem)
	}
	if len(rejected) > 0 && !s.opts.ReadOnly {
		s.log.Error("checkpoint: falling back to an older checkpoint", "job", s.opts.JobName, "checkpoint", chosen.id, "skipped", len(rejected))
		// The fallback is decided and logged: the catalogue follows it
		// before the newer records go, so that a crash in between repeats
		// the same decision instead of reporting a silent rollback.
		if s.completed > chosen.id {
			if err := writeCatalog(s.fs, s.dir, s.opts.JobName, chosen.id, time.Now()); err != nil {
				return nil, fmt.Errorf("checkpoint: recording the fallback to checkpoint %d: %w", chosen.id, err)
			}
			s.completed = chosen.id
		}
		if err := s.purgeAbove(chosen.id); err != nil {
			return nil, err
		}
	}
	s.restored = true
	s.maxID = chosen.id
	s.ids = s.ids[:0]
	for _, c := range slices.Backward(all) {
		if c.id <= chosen.id && c.meta != nil {
			s.ids = append(s.ids, c.id)
		}
	}
	for id := range s.writeSets {
		if !slices.Contains(s.ids, id) {
			delete(s.writeSets, id)
		}
	}
	if len(s.ids) > 0 {
		if ws := s.writeSets[s.ids[0]]; ws != nil {
			ws.groups = ws.tombs
		}
	}
	info := chosen.meta.info()
	if v, closer, err := s.db.Get(idKey(prefixDuration, chosen.id)); err == nil {
		if d, ok := decodeDuration(v); ok {
			info.Duration = d
		}
		closer.Close()
	}
	info.SourceOffsets = chosen.offsets
	info.SinkHandles = chosen.handles
	live := map[string]int64{}
	for op, n := range chosen.live {
		if n > 0 {
			live[op] = n
		}
	}
	return &Restored{s: s, info: info, live: live, offsets: chosen.offsets, handles: chosen.handles}, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// verifyState reads every state version once: it folds each into its
// checkpoint's digest, checks its record checksum, and works out which
// version each candidate sees, so that a corrupt record fails exactly the
// checkpoints that would restore it.
func (s *Store) verifyState(byID map[uint64]*candidate, get func(uint64) *candidate, cands []*candidate) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixState}, UpperBound: []byte{prefixState + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	var group, opPrefix []byte
	var op string
	ci := 0
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		g, id, ok := splitState(k)
		if !ok {
			return fmt.Errorf("checkpoint: malformed state key %q", k)
		}
		if !bytes.Equal(g, group) {
			group = append(group[:0], g...)
			ci = 0
			if !bytes.HasPrefix(g, opPrefix) || len(opPrefix) == 0 {
				name, _, ok := decodeEsc(nil, g[1:])
				if !ok {
					return fmt.Errorf("checkpoint: malformed state key %q", k)
				}
				op = string(name)
				opPrefix = stateOpPrefix(op)
			}
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		payload, crc, good := checkRecord(k, v)
		good = good && len(payload) > 0
		c := byID[id]
		if c == nil {
			c = get(id) // versions of dropped checkpoints land here, harmlessly
		}
		c.got.add(crc, len(k), len(v))
		if !good {
			c.fail("corrupt state record %q", k)
		}
		if ws := s.writeSets[id]; ws != nil && !ws.large {
			ws.add(g, good && payload[0] == kindTombstone)
		}
		for ; ci < len(cands) && cands[ci].id >= id; ci++ {
			// This is the newest version at or below cands[ci].
			switch {
			case !good:
				cands[ci].fail("sees corrupt state record %q (of checkpoint %d)", k, id)
			case payload[0] != kindTombstone:
				cands[ci].live[op]++
			}
		}
	}
	return it.Error()
}

// purgeAbove deletes every record of checkpoints newer than id.
func (s *Store) purgeAbove(id uint64) error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, p := range []byte{prefixMeta, prefixDuration, prefixOffset, prefixHandle} {
		if err := b.DeleteRange(idKey(p, id+1), []byte{p + 1}, nil); err != nil {
			return err
		}
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixState}, UpperBound: []byte{prefixState + 1}})
	if err != nil {
		return err
	}
	n := 0
	for it.First(); it.Valid(); it.Next() {
		if _, v, ok := splitState(it.Key()); ok && v > id {
			b.Delete(it.Key(), nil)
			n++
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	s.log.Warn("checkpoint: deleted records of checkpoints newer than the restored one", "checkpoint", id, "state_versions", n)
	return b.Commit(pebble.Sync)
}
