package checkpoint

import (
	"bytes"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// writeSetLimit bounds the write sets kept in memory; a checkpoint that
// wrote more keys is collected by a sweep of the whole state instead.
const writeSetLimit = 1 << 16

// writeSet is the state keys (less their version) one checkpoint wrote:
// when it becomes the oldest retained checkpoint, every older version of
// those keys is garbage; when it is dropped, its tombstones are.
type writeSet struct {
	groups [][]byte
	tombs  [][]byte
	large  bool
}

// add records group (copied) as written, tomb if by a Delete.
func (ws *writeSet) add(group []byte, tomb bool) {
	if ws.large {
		return
	}
	if len(ws.groups) >= writeSetLimit {
		*ws = writeSet{large: true}
		return
	}
	group = slices.Clone(group)
	ws.groups = append(ws.groups, group)
	if tomb {
		ws.tombs = append(ws.tombs, group)
	}
}

// collect runs after checkpoint s.ids[len-1] committed, dropping the
// checkpoints in dropped (ascending; dropped[0] was the oldest). It
// deletes every state version no retained checkpoint can see, and records
// the final duration. s.mu is held.
//
// The rule, with R the new oldest retained checkpoint: a version newer
// than R is kept (R or a newer checkpoint sees it). Of the versions at or
// below R, only the newest is visible (to R and possibly later ones); it
// is kept unless it is a tombstone older than R, which reads the same as
// no version. Tombstones at R itself are kept while R is retained because
// R's checksum covers them.
func (s *Store) collect(prevOldest uint64, dropped []uint64, duration time.Duration) (err error) {
	defer catchFatal(&err)
	b := s.db.NewBatch()
	defer b.Close()
	last := s.ids[len(s.ids)-1]
	b.Set(idKey(prefixDuration, last), encodeDuration(duration), nil)
	if len(dropped) > 0 {
		if err := s.collectVersions(b, prevOldest, dropped); err != nil {
			return err
		}
	}
	return b.Commit(pebble.NoSync)
}

func (s *Store) collectVersions(b *pebble.Batch, prevOldest uint64, dropped []uint64) error {
	oldest := s.ids[0]
	// Keys written by checkpoints in (prevOldest, oldest] now have a version
	// at or below oldest, which shadows any older one.
	type target struct {
		group []byte
		below uint64
	}
	var targets []target
	sweep := false
	for _, x := range append(slices.Clone(dropped), oldest) {
		if x <= prevOldest {
			continue
		}
		ws := s.writeSets[x]
		if ws == nil || ws.large {
			sweep = true
			break
		}
		for _, g := range ws.groups {
			targets = append(targets, target{g, x})
		}
	}
	for _, d := range dropped {
		ws := s.writeSets[d]
		if ws == nil || ws.large {
			sweep = true
		} else {
			// The tombstone at d, and anything older that a lost (unsynced)
			// collection left behind, which it shadows.
			for _, g := range ws.tombs {
				targets = append(targets, target{g, d + 1})
			}
		}
		delete(s.writeSets, d)
	}
	if ws := s.writeSets[oldest]; ws != nil {
		ws.groups = ws.tombs // only its tombstones matter from now on
	}
	if sweep {
		return s.sweep(b, oldest)
	}
	slices.SortFunc(targets, func(a, b target) int { return bytes.Compare(a.group, b.group) })
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixState}, UpperBound: []byte{prefixState + 1}})
	if err != nil {
		return err
	}
	var seek []byte
	for _, t := range targets {
		seek = appendVersion(append(seek[:0], t.group...), t.below-1)
		for ok := it.SeekGE(seek); ok && bytes.HasPrefix(it.Key(), t.group); ok = it.Next() {
			b.Delete(it.Key(), nil)
		}
	}
	return it.Close()
}

// sweep applies the collection rule to every state key.
func (s *Store) sweep(b *pebble.Batch, oldest uint64) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixState}, UpperBound: []byte{prefixState + 1}})
	if err != nil {
		return err
	}
	var group []byte
	seen := false // a version <= oldest of group was seen
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		g, id, ok := splitState(k)
		if !ok {
			continue
		}
		if !bytes.Equal(g, group) {
			group = append(group[:0], g...)
			seen = false
		}
		switch {
		case id > oldest:
		case !seen:
			seen = true
			if id < oldest {
				v, err := it.ValueAndErr()
				if err != nil {
					it.Close()
					return err
				}
				if len(v) > 0 && v[0] == kindTombstone {
					b.Delete(k, nil)
				}
			}
		default:
			b.Delete(k, nil)
		}
	}
	return it.Close()
}
