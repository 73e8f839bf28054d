package checkpoint

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// List returns the retained checkpoints, oldest first, from their
// metadata (it does not verify checksums; Restore does). A metadata record
// that does not decode is logged and left out.
func (s *Store) List() (_ []CheckpointInfo, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil, s.unavailable()
	}
	defer func() { err = s.readErr(err) }()
	defer catchFatal(&err)
	var out []CheckpointInfo
	byID := map[uint64]int{}
	err = s.scanPrefix([]byte{prefixMeta}, func(k, v []byte) error {
		m, err := decodeMeta(k, v)
		if err != nil {
			id, _ := parseIDKey(k)
			s.log.Warn("checkpoint: unreadable checkpoint metadata", "checkpoint", id, "err", err)
			return nil
		}
		byID[m.ID] = len(out)
		out = append(out, m.info())
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = s.scanPrefix([]byte{prefixDuration}, func(k, v []byte) error {
		id, _ := parseIDKey(k)
		if i, ok := byID[id]; ok {
			if d, ok := decodeDuration(v); ok {
				out[i].Duration = d
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, p := range []byte{prefixOffset, prefixHandle} {
		err := s.scanPrefix([]byte{p}, func(k, v []byte) error {
			id, _ := parseIDKey(k)
			i, ok := byID[id]
			if !ok {
				return nil
			}
			payload, _, _ := checkRecord(k, v)
			op, rest, ok := decodeEsc(nil, k[9:])
			if !ok {
				return nil
			}
			ci := &out[i]
			if p == prefixHandle {
				if ci.SinkHandles == nil {
					ci.SinkHandles = map[string][]byte{}
				}
				ci.SinkHandles[string(op)] = slices.Clone(payload)
				return nil
			}
			split, _, ok := decodeEsc(nil, rest)
			if !ok {
				return nil
			}
			if ci.SourceOffsets == nil {
				ci.SourceOffsets = map[string]map[string][]byte{}
			}
			if ci.SourceOffsets[string(op)] == nil {
				ci.SourceOffsets[string(op)] = map[string][]byte{}
			}
			ci.SourceOffsets[string(op)][string(split)] = slices.Clone(payload)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// FailureStats counts checkpoints that failed (RecordFailure).
type FailureStats struct {
	Count     int64     `json:"count"`
	LastID    uint64    `json:"last_id"`
	LastTime  time.Time `json:"last_time"`
	LastError string    `json:"last_error"`
}

// RecordFailure records that checkpoint id failed with err (a source that
// could not snapshot, a timeout, a write the disk refused): the count and
// the last failure are kept in memory and, when the store can be written,
// in the store, for Failures. It does not affect committed checkpoints.
func (s *Store) RecordFailure(id uint64, cause error) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.ReadOnly {
		return ErrReadOnly
	}
	if s.broken == ErrClosed {
		return ErrClosed
	}
	s.loadFailures()
	f := &s.failStats
	f.Count++
	f.LastID = id
	f.LastTime = s.clock.Now().UTC()
	f.LastError = fmt.Sprint(cause)
	if s.db == nil {
		return nil // the store is being reopened; the next success persists it
	}
	return s.persistFailures()
}

// persistFailures writes the failure statistics into the store. s.mu is
// held.
func (s *Store) persistFailures() (err error) {
	defer catchFatal(&err)
	b, err := json.Marshal(s.failStats)
	if err != nil {
		return err
	}
	return s.db.Set([]byte{keyFailures}, b, pebble.Sync)
}

// Failures returns the failure statistics RecordFailure kept.
func (s *Store) Failures() (FailureStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken == ErrClosed {
		return FailureStats{}, ErrClosed
	}
	if err := s.loadFailures(); err != nil {
		return FailureStats{}, err
	}
	return s.failStats, nil
}

// loadFailures reads the failure statistics from the store once. s.mu is
// held.
func (s *Store) loadFailures() (err error) {
	if s.failLoaded || s.db == nil {
		return nil
	}
	defer catchFatal(&err)
	v, closer, err := s.db.Get([]byte{keyFailures})
	if err == pebble.ErrNotFound {
		s.failLoaded = true
		return nil
	}
	if err != nil {
		return s.readErr(err)
	}
	defer closer.Close()
	s.failLoaded = true
	if err := json.Unmarshal(v, &s.failStats); err != nil {
		s.log.Warn("checkpoint: unreadable failure record, starting the count again", "err", err)
		s.failStats = FailureStats{}
	}
	return nil
}
