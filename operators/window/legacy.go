package window

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/state"
)

// State of the previous format (version 1, written before key groups, by
// commit abfd277 and earlier), which a window aggregation imports.
//
// Keys (in the operator's own namespace):
//
//	0x00                         metadata
//	0x01 start end groupkey      one (window, key) accumulator
//
// start, end and groupkey are encoded as in today's windows table (the
// group key encoding moved to package state unchanged), and an
// accumulator's value is today's. The metadata value is the version (1
// byte), the three layout strings (window, key types, aggregates; see
// windowLayout) as uvarint-length-prefixed strings, then the watermark and
// the late-row counter as zig-zag varints.
//
// The window operator of that version that ran as several subtasks wrote
// the metadata key with version legacyParallelVersion and the subtask
// count, and each subtask's state under the prefix byte subtask+1; that
// state is refused.
//
// A restore of version 1 state checks the layout strings against the plan
// (a changed query is refused, as by the old version), keeps the
// accumulators of the subtask's key groups (the key group of an entry is
// its group key's, as for today's entries), and marks them changed, so the
// first barrier writes them into the declared tables; it also deletes the
// legacy keys it imported (subtask 0 the metadata), so that later
// checkpoints hold only the new format.
const (
	legacyVersion         = 1
	legacyParallelVersion = 0xFE
	legacyTagMeta         = 0x00
	legacyTagAcc          = 0x01
)

// legacyMeta returns the value of st's legacy metadata key, if it has one.
// No key of today's format is the single byte 0x00 (keyed keys have a
// 2-byte key group and a table tag, the others begin with 0x80).
func legacyMeta(st checkpoint.StateReader) (v []byte, ok bool, err error) {
	err = checkpoint.ScanRange(st, []byte{legacyTagMeta}, []byte{legacyTagMeta, 0}, func(k, val []byte) error {
		if len(k) == 1 {
			v, ok = slices.Clone(val), true
		}
		return nil
	})
	return v, ok, err
}

// restoreLegacy imports the version 1 state of st (the operator's whole
// state, not only the subtask's part) whose metadata is meta.
func (o *windowAggOp) restoreLegacy(st checkpoint.StateReader, meta []byte) error {
	wrap := func(err error) error {
		return fmt.Errorf("window aggregation %q: restore of state written before key groups: %w", o.id, err)
	}
	sub := o.tables.Subtask()
	if err := o.decodeLegacyMeta(meta, sub.Index == 0); err != nil {
		return wrap(err)
	}
	err := checkpoint.ScanRange(st, []byte{legacyTagAcc}, []byte{legacyTagAcc + 1}, func(k, v []byte) error {
		key := k[1:]
		if len(key) < 16 {
			return fmt.Errorf("malformed accumulator key %x: %w", k, errWindowState)
		}
		if kg := state.KeyGroupOf(state.HashKey(key[16:]), sub.MaxParallelism); !sub.KeyGroups.Contains(kg) {
			return nil // another subtask's
		}
		s, err := o.restoreAcc(key, v)
		if err != nil {
			return err
		}
		// Written again, into the windows table, at the next barrier.
		o.persisted[s] = false
		if !o.dirty[s] {
			o.dirty[s] = true
			o.dirtyList = append(o.dirtyList, s)
		}
		o.legacyDeletes = append(o.legacyDeletes, slices.Clone(k))
		return nil
	})
	if err != nil {
		return wrap(err)
	}
	if sub.Index == 0 {
		o.legacyDeletes = append(o.legacyDeletes, []byte{legacyTagMeta})
	}
	o.m.StateEntries.Store(int64(o.nlive))
	return nil
}

// decodeLegacyMeta checks the version 1 metadata v against the plan and
// restores the watermark, and the late-row count if withLate (one subtask
// keeps it, so that the counts of all subtasks still sum to it).
func (o *windowAggOp) decodeLegacyMeta(v []byte, withLate bool) error {
	if len(v) < 1 {
		return fmt.Errorf("empty metadata: %w", errWindowState)
	}
	if v[0] == legacyParallelVersion {
		n := "several"
		if len(v) == 9 {
			n = fmt.Sprint(binary.BigEndian.Uint64(v[1:]))
		}
		return fmt.Errorf("%w: the checkpoint was taken by the window operator of an older version running as %s subtasks, whose state this version cannot read: restore it with the old version at parallelism 1 (or start the job fresh)", ErrStateLayout, n)
	}
	if v[0] != legacyVersion {
		return fmt.Errorf("%w: state version %d, this version reads version %d or key-group tables", ErrStateLayout, v[0], legacyVersion)
	}
	v = v[1:]
	var got [3]string
	for i := range got {
		var err error
		if got[i], v, err = decodeAccString(v); err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
	}
	want := [3]string{o.layout.window, o.layout.keys, o.layout.aggs}
	for i, what := range []string{"window", "group key types", "aggregates"} {
		if got[i] != want[i] {
			return fmt.Errorf("%w: %s: checkpoint has %s, plan has %s", ErrStateLayout, what, got[i], want[i])
		}
	}
	wm, n := binary.Varint(v)
	if n <= 0 {
		return fmt.Errorf("metadata: watermark: %w", errWindowState)
	}
	late, m := binary.Varint(v[n:])
	if m <= 0 || n+m != len(v) {
		return fmt.Errorf("metadata: late count: %w", errWindowState)
	}
	o.wm = exec.Watermark(wm)
	if withLate {
		o.late = late
		o.m.LateRecords.Store(late)
	}
	return nil
}

// writeLegacyDeletes deletes, at the first barrier after a restore of
// version 1 state, the legacy keys that restore imported.
func (o *windowAggOp) writeLegacyDeletes(w checkpoint.StateWriter) error {
	err := writeLegacyDeletes(w, o.legacyDeletes)
	o.legacyDeletes = nil
	return err
}

// writeLegacyDeletes deletes keys.
func writeLegacyDeletes(w checkpoint.StateWriter, keys [][]byte) error {
	var errs []error
	for _, k := range keys {
		errs = append(errs, w.Delete(k))
	}
	return errors.Join(errs...)
}

// The SESSION window assignment of version 1 kept its state as the window
// aggregation did: the metadata under 0x00 (the version, its layout as one
// uvarint-length-prefixed string, the watermark and the late count as
// zig-zag varints), each open session under 0x01 start end partitionkey,
// its value as today's sessions table's. It is imported the same way.

// restoreLegacy imports the version 1 state of st (the operator's whole
// state) whose metadata is meta.
func (b *sessionBuffer) restoreLegacy(st checkpoint.StateReader, meta []byte) error {
	o := b.o
	wrap := func(err error) error {
		return fmt.Errorf("window assignment %q: restore of state written before key groups: %w", o.id, err)
	}
	sub := b.tables.Subtask()
	if len(meta) == 0 || meta[0] != legacyVersion {
		return wrap(fmt.Errorf("%w: unknown state version (restore it with the old version at parallelism 1, or start the job fresh)", ErrStateLayout))
	}
	layout, rest, err := decodeAccString(meta[1:])
	if err != nil {
		return wrap(fmt.Errorf("metadata: %w", err))
	}
	if layout != b.layout {
		return wrap(fmt.Errorf("%w: checkpoint has %s, plan has %s", ErrStateLayout, layout, b.layout))
	}
	wm, n := binary.Varint(rest)
	if n <= 0 {
		return wrap(fmt.Errorf("metadata: watermark: %w", errWindowState))
	}
	late, m := binary.Varint(rest[n:])
	if m <= 0 || n+m != len(rest) {
		return wrap(fmt.Errorf("metadata: late count: %w", errWindowState))
	}
	b.wm = exec.Watermark(wm)
	if sub.Index == 0 {
		b.late = late
		o.m.LateRecords.Store(late)
	}
	err = checkpoint.ScanRange(st, []byte{legacyTagAcc}, []byte{legacyTagAcc + 1}, func(k, v []byte) error {
		if len(k) < 17 {
			return fmt.Errorf("malformed session key %x: %w", k, errWindowState)
		}
		if kg := state.KeyGroupOf(state.HashKey(k[17:]), sub.MaxParallelism); !sub.KeyGroups.Contains(kg) {
			return nil // another subtask's
		}
		s := &bufferedSession{
			start: int64(binary.BigEndian.Uint64(k[1:9]) ^ (1 << 63)),
			end:   int64(binary.BigEndian.Uint64(k[9:17]) ^ (1 << 63)),
			key:   string(k[17:]),
			dirty: true, // written into the sessions table at the next barrier
		}
		cnt, n := binary.Uvarint(v)
		if n <= 0 {
			return fmt.Errorf("truncated session: %w", errWindowState)
		}
		v = v[n:]
		for range cnt {
			ts, n := binary.Varint(v)
			if n <= 0 {
				return fmt.Errorf("truncated row: %w", errWindowState)
			}
			v = v[n:]
			l, m := binary.Uvarint(v)
			if m <= 0 || uint64(len(v)-m) < l {
				return fmt.Errorf("truncated row: %w", errWindowState)
			}
			s.times = append(s.times, ts)
			s.rows = append(s.rows, string(v[m:m+int(l)]))
			v = v[m+int(l):]
		}
		if len(v) != 0 {
			return fmt.Errorf("session value has %d trailing bytes: %w", len(v), errWindowState)
		}
		b.sessions[s.key] = append(b.sessions[s.key], s)
		b.dirty = append(b.dirty, s)
		b.rows += int64(len(s.rows))
		b.minEnd = min(b.minEnd, s.end)
		b.legacyDeletes = append(b.legacyDeletes, slices.Clone(k))
		return nil
	})
	if err != nil {
		return wrap(err)
	}
	if sub.Index == 0 {
		b.legacyDeletes = append(b.legacyDeletes, []byte{legacyTagMeta})
	}
	for _, list := range b.sessions {
		slices.SortFunc(list, func(x, y *bufferedSession) int { return cmp.Compare(x.start, y.start) })
	}
	o.m.StateEntries.Store(b.rows)
	return nil
}
