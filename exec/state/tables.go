package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/streamsql/streamsql/checkpoint"
)

// Declared state tables.
//
// An operator declares its state as tables (Spec) and creates them with
// NewTables; the tables write themselves at each barrier (Snapshot) and
// read themselves back at open (Restore), so an operator writes no
// persistence code of its own. A table is keyed (each entry belongs to
// the key group of its key, and a subtask restores only the entries of
// its key groups) or not (an entry belongs to the subtask that wrote it).
//
// Layout of an operator's state keys (the store prefixes them with the
// operator id):
//
//	kg | tag | key               an entry of keyed table tag, kg its key group
//	                             (2 bytes big endian, < 0x8000)
//	0x80 0x00                    the catalog: every table's tag, name, keyed
//	                             flag and layout
//	0x80 | tag | subtask | key   an entry of non-keyed table tag written by
//	                             subtask (2 bytes big endian)
//
// tag is the table's 1-based position in the declaration, recorded in the
// catalog, so that restore finds each table by name. The catalog value is a
// version byte (1), the max parallelism, then per table: tag, keyed (0/1), then the name and the
// layout as uvarint-length-prefixed strings. The catalog also records the
// number of key groups (max parallelism, a uvarint after the version): a
// checkpoint with keyed tables restores only with the same number.
//
// Rescaling. Keyed entries keep their key group, so a checkpoint taken at
// parallelism N restores at any M: subtask i of M reads the key groups
// RangeFor(i, M, max). Non-keyed entries of the N old subtasks are
// redistributed by the table's Redistribution: Union gives every new
// subtask the entries of all old ones (a watermark, say); Split gives new
// subtask i the entries of the old subtasks j with j % M == i (counters
// whose sum must be kept). Entries with the same key that meet in one
// subtask are combined by the table's Merge function (the restore fails,
// naming the table, if there is none). After a restore each subtask
// rewrites all its non-keyed entries at its first barrier, and subtask 0
// deletes the entries of old subtasks that no longer exist.

const (
	nonKeyedTag  = 0x80
	catalogTag   = 0x00
	catalogVer   = 1
	maxTables    = 0x7F
	subtaskBytes = 2
)

// ErrLayout is wrapped by the error of a restore whose state tables were
// written with a different declaration than the operator's.
// Its text carries no package prefix: it is always wrapped by an error
// that names the package, the operator and the table.
var ErrLayout = errors.New("layout does not match the plan")

// Redistribution says how the non-keyed entries of a table written by N
// subtasks are given to M.
type Redistribution uint8

// Redistributions.
const (
	// Union gives every subtask every old subtask's entries.
	Union Redistribution = iota
	// Split gives subtask i the entries of the old subtasks j with
	// j % M == i.
	Split
)

// Spec declares one state table.
type Spec struct {
	// Name identifies the table within its operator.
	Name string
	// Keyed tables hold entries keyed by an encoded key (KeyEncoder's
	// bytes, possibly followed by more): each entry belongs to its key's
	// key group.
	Keyed bool
	// Layout describes the encodings of the table's keys and values (for
	// instance the key column types and the aggregates); state written
	// under another layout is refused.
	Layout string
	// Held tables are kept by the operator in structures of its own: it
	// writes their entries through Snapshot's Writer and receives them from
	// Restore's callback. Other tables live in memory (Table.Put, Get,
	// Delete, Scan) and are written and restored by the tables themselves.
	Held bool
	// Redistribute applies to non-keyed tables.
	Redistribute Redistribution
	// Merge combines two values of one non-keyed key that meet in one
	// subtask after a rescale. It may return a or b.
	Merge func(key, a, b []byte) ([]byte, error)
}

// Subtask says which part of an operator an instance is.
type Subtask struct {
	Index, Parallelism, MaxParallelism int
	// KeyGroups is the range of key groups the instance owns.
	KeyGroups KeyGroupRange
}

// Single returns the Subtask of an operator that runs as one task with
// maxParallelism key groups (DefaultMaxParallelism if 0).
func Single(maxParallelism int) Subtask {
	if maxParallelism == 0 {
		maxParallelism = DefaultMaxParallelism
	}
	return Subtask{Index: 0, Parallelism: 1, MaxParallelism: maxParallelism, KeyGroups: FullRange(maxParallelism)}
}

// NewSubtask returns subtask index of parallelism with maxParallelism key
// groups, with its range (RangeFor), or an error if the numbers do not fit.
func NewSubtask(index, parallelism, maxParallelism int) (Subtask, error) {
	if err := CheckMaxParallelism(maxParallelism, parallelism); err != nil {
		return Subtask{}, err
	}
	if index < 0 || index >= parallelism {
		return Subtask{}, fmt.Errorf("state: subtask %d of %d", index, parallelism)
	}
	return Subtask{index, parallelism, maxParallelism, RangeFor(index, parallelism, maxParallelism)}, nil
}

// Tables is the set of state tables one operator instance declared.
type Tables struct {
	op     string
	sub    Subtask
	tables []*Table
	// wroteCatalog is set once the catalog is written: it stays visible
	// in every later checkpoint of the lineage.
	wroteCatalog bool
	// stale lists the non-keyed keys of old subtasks (restored, index >=
	// parallelism) that subtask 0 deletes at its first barrier.
	stale [][]byte
	// rewrite is set after a restore: the first barrier rewrites every
	// non-keyed entry.
	rewrite bool
	buf     []byte
}

// Table is one declared table. Its entries live in memory (Put, Get,
// Delete, Scan) and are written at barriers with dirty tracking, or, for
// operators that keep their own structures, the table is only a handle for
// writing (Writer) and restoring (Tables.Restore's callback) its entries.
type Table struct {
	spec    Spec
	tag     byte
	ts      *Tables
	entries map[string][]byte
	dirty   map[string]bool // key → set (true) or deleted (false) since the last barrier
}

// NewTables declares the tables of operator op (its id, used in errors)
// running as sub.
func NewTables(op string, sub Subtask, specs ...Spec) (*Tables, error) {
	if len(specs) > maxTables {
		return nil, fmt.Errorf("state: operator %q declares %d state tables, at most %d", op, len(specs), maxTables)
	}
	if sub.MaxParallelism == 0 {
		sub = Single(0)
	}
	ts := &Tables{op: op, sub: sub}
	seen := map[string]bool{}
	for i, s := range specs {
		if s.Name == "" || seen[s.Name] {
			return nil, fmt.Errorf("state: operator %q: state table %d has an empty or repeated name %q", op, i, s.Name)
		}
		seen[s.Name] = true
		ts.tables = append(ts.tables, &Table{spec: s, tag: byte(i + 1), ts: ts, entries: map[string][]byte{}, dirty: map[string]bool{}})
	}
	return ts, nil
}

// Table returns the declared table named name, or nil.
func (ts *Tables) Table(name string) *Table {
	for _, t := range ts.tables {
		if t.spec.Name == name {
			return t
		}
	}
	return nil
}

// Subtask returns the part of the operator the tables belong to.
func (ts *Tables) Subtask() Subtask { return ts.sub }

// Name returns the table's name.
func (t *Table) Name() string { return t.spec.Name }

// Put sets key's value in the table's memory; the next barrier writes it.
// The table copies key and value. The key of a keyed table is an encoded
// key (its key group is KeyGroupOfKey(key)).
func (t *Table) Put(key, value []byte) {
	t.entries[string(key)] = slices.Clone(value)
	t.dirty[string(key)] = true
}

// Get returns key's value (owned by the table: do not modify it).
func (t *Table) Get(key []byte) ([]byte, bool) {
	v, ok := t.entries[string(key)]
	return v, ok
}

// Delete removes key; the next barrier deletes it from the checkpoint.
func (t *Table) Delete(key []byte) {
	if _, ok := t.entries[string(key)]; !ok {
		return
	}
	delete(t.entries, string(key))
	t.dirty[string(key)] = false
}

// Len returns the number of entries in memory.
func (t *Table) Len() int { return len(t.entries) }

// Scan calls fn for each entry in memory in key order.
func (t *Table) Scan(fn func(key, value []byte) error) error {
	for _, k := range slices.Sorted(maps.Keys(t.entries)) {
		if err := fn([]byte(k), t.entries[k]); err != nil {
			return err
		}
	}
	return nil
}

// keyedKey appends the state key of a keyed entry.
func (t *Table) keyedKey(buf []byte, kg int, key []byte) []byte {
	return append(append(AppendKeyGroup(buf, kg), t.tag), key...)
}

// nonKeyedKey appends the state key of a non-keyed entry of subtask.
func (t *Table) nonKeyedKey(buf []byte, subtask int, key []byte) []byte {
	buf = binary.BigEndian.AppendUint16(append(buf, nonKeyedTag, t.tag), uint16(subtask))
	return append(buf, key...)
}

// Writer writes one barrier's entries of operator-held tables.
type Writer struct {
	ts  *Tables
	w   checkpoint.StateWriter
	buf []byte
}

// Set writes key's value in keyed table t under key group kg (the key
// group of the encoded key key begins with; KeyGroupOfKey or
// KeyGroupOf(HashIntKey(...)) computes it). For a non-keyed table kg is
// ignored.
func (w *Writer) Set(t *Table, kg int, key, value []byte) error {
	w.buf = w.key(t, kg, key)
	return w.w.Set(w.buf, value)
}

// Delete deletes key from table t (kg as for Set).
func (w *Writer) Delete(t *Table, kg int, key []byte) error {
	w.buf = w.key(t, kg, key)
	return w.w.Delete(w.buf)
}

func (w *Writer) key(t *Table, kg int, key []byte) []byte {
	if t.spec.Keyed {
		return t.keyedKey(w.buf[:0], kg, key)
	}
	return t.nonKeyedKey(w.buf[:0], w.ts.sub.Index, key)
}

// Snapshot writes, at a barrier, the catalog (the first time), the
// changes of the in-memory tables since the previous barrier (every
// non-keyed entry after a restore) and the deletions of old subtasks'
// entries, and returns a Writer for the entries of operator-held tables.
func (ts *Tables) Snapshot(w checkpoint.StateWriter) (*Writer, error) {
	wrap := func(err error) error { return fmt.Errorf("state: operator %q: checkpoint: %w", ts.op, err) }
	if !ts.wroteCatalog {
		if err := w.Set([]byte{nonKeyedTag, catalogTag}, ts.catalog()); err != nil {
			return nil, wrap(err)
		}
		ts.wroteCatalog = true
	}
	for _, k := range ts.stale {
		if err := w.Delete(k); err != nil {
			return nil, wrap(err)
		}
	}
	ts.stale = nil
	for _, t := range ts.tables {
		if ts.rewrite && !t.spec.Keyed {
			for k := range t.entries {
				t.dirty[k] = true
			}
		}
		for _, k := range slices.Sorted(maps.Keys(t.dirty)) {
			var err error
			if t.spec.Keyed {
				ts.buf = t.keyedKey(ts.buf[:0], KeyGroupOfKey([]byte(k), ts.sub.MaxParallelism), []byte(k))
			} else {
				ts.buf = t.nonKeyedKey(ts.buf[:0], ts.sub.Index, []byte(k))
			}
			if t.dirty[k] {
				err = w.Set(ts.buf, t.entries[k])
			} else {
				err = w.Delete(ts.buf)
			}
			if err != nil {
				return nil, wrap(err)
			}
		}
		clear(t.dirty)
	}
	ts.rewrite = false
	return &Writer{ts: ts, w: w}, nil
}

func (ts *Tables) catalog() []byte {
	buf := binary.AppendUvarint([]byte{catalogVer}, uint64(ts.sub.MaxParallelism))
	for _, t := range ts.tables {
		keyed := byte(0)
		if t.spec.Keyed {
			keyed = 1
		}
		buf = append(buf, t.tag, keyed)
		buf = appendString(buf, t.spec.Name)
		buf = appendString(buf, t.spec.Layout)
	}
	return buf
}

func appendString(buf []byte, s string) []byte {
	return append(binary.AppendUvarint(buf, uint64(len(s))), s...)
}

func readString(b []byte) (string, []byte, bool) {
	n, m := binary.Uvarint(b)
	if m <= 0 || uint64(len(b)-m) < n {
		return "", nil, false
	}
	return string(b[m : m+int(n)]), b[m+int(n):], true
}

// storedTable is one table of a checkpoint's catalog.
type storedTable struct {
	keyed        bool
	name, layout string
}

func decodeCatalog(v []byte) (maxP int, _ map[byte]storedTable, _ error) {
	if len(v) == 0 || v[0] != catalogVer {
		return 0, nil, fmt.Errorf("unknown state catalog version")
	}
	m, n := binary.Uvarint(v[1:])
	if n <= 0 {
		return 0, nil, fmt.Errorf("truncated state catalog")
	}
	out := map[byte]storedTable{}
	for v = v[1+n:]; len(v) > 0; {
		if len(v) < 2 {
			return 0, nil, fmt.Errorf("truncated state catalog")
		}
		tag, st := v[0], storedTable{keyed: v[1] == 1}
		var ok bool
		if st.name, v, ok = readString(v[2:]); !ok {
			return 0, nil, fmt.Errorf("truncated state catalog")
		}
		if st.layout, v, ok = readString(v); !ok {
			return 0, nil, fmt.Errorf("truncated state catalog")
		}
		out[tag] = st
	}
	return int(m), out, nil
}

// errStop ends a scan early.
var errStop = errors.New("stop")

// Restore reads the tables' state for this subtask from r (an operator's
// state as of a checkpoint, or SubtaskReader's part of it): it checks the
// checkpoint's catalog against the declaration, fills the in-memory tables
// and calls fn (if not nil) with each entry of the tables the operator
// holds itself (Spec.Held) — non-keyed entries first, then keyed ones in key-group
// order. kg is the entry's key group (0 for non-keyed entries). A table in
// the checkpoint that the operator does not declare, a table whose layout
// or kind differs, and state written without a catalog (by a version
// before declared tables) are refused with errors naming the operator and
// the table.
func (ts *Tables) Restore(r checkpoint.StateReader, fn func(t *Table, kg int, key, value []byte) error) error {
	errf := func(format string, args ...any) error {
		return fmt.Errorf("operator %q: "+format, append([]any{ts.op}, args...)...)
	}
	var cat map[byte]storedTable
	maxP := 0
	err := checkpoint.ScanRange(r, []byte{nonKeyedTag, catalogTag}, []byte{nonKeyedTag, catalogTag + 1}, func(_, v []byte) error {
		var err error
		maxP, cat, err = decodeCatalog(v)
		return err
	})
	if err != nil {
		return errf("%v", err)
	}
	if cat == nil {
		any := false
		if err := r.Scan(func(_, _ []byte) error { any = true; return errStop }); err != nil && !errors.Is(err, errStop) {
			return errf("%v", err)
		}
		if any {
			return errf("%w: the checkpoint holds state of an older version, without declared state tables, which this operator cannot read: start the job fresh", ErrLayout)
		}
		return nil
	}
	if maxP != ts.sub.MaxParallelism {
		for _, st := range cat {
			if st.keyed {
				return errf("%w: the checkpoint was taken with pipeline.max-parallelism %d, the job has %d: keyed state is partitioned into that many key groups, which cannot change", ErrLayout, maxP, ts.sub.MaxParallelism)
			}
		}
	}
	byTag := map[byte]*Table{}
	for _, tag := range slices.Sorted(maps.Keys(cat)) {
		st := cat[tag]
		t := ts.Table(st.name)
		switch {
		case t == nil:
			return errf("%w: the checkpoint has state table %q, which the operator no longer declares", ErrLayout, st.name)
		case t.spec.Keyed != st.keyed:
			return errf("%w: state table %q: keyed %v in the checkpoint, %v in the plan", ErrLayout, st.name, st.keyed, t.spec.Keyed)
		case t.spec.Layout != st.layout:
			return errf("%w: state table %q: checkpoint has %s, plan has %s", ErrLayout, st.name, st.layout, t.spec.Layout)
		}
		byTag[tag] = t
	}
	// Non-keyed entries, after the catalog.
	merged := map[*Table]map[string][]byte{}
	err = checkpoint.ScanRange(r, []byte{nonKeyedTag, catalogTag + 1}, nil, func(k, v []byte) error {
		if len(k) < 2+subtaskBytes {
			return fmt.Errorf("malformed state key %x", k)
		}
		t := byTag[k[1]]
		if t == nil {
			return fmt.Errorf("state key %x of a table missing from the catalog", k)
		}
		old := int(binary.BigEndian.Uint16(k[2:]))
		if ts.sub.Index == 0 && old >= ts.sub.Parallelism {
			ts.stale = append(ts.stale, slices.Clone(k))
		}
		if t.spec.Redistribute == Split && old%ts.sub.Parallelism != ts.sub.Index {
			return nil
		}
		key := k[2+subtaskBytes:]
		m := merged[t]
		if m == nil {
			m = map[string][]byte{}
			merged[t] = m
		}
		if prev, ok := m[string(key)]; ok {
			if t.spec.Merge == nil {
				return fmt.Errorf("state table %q: key %x of several subtasks meets in subtask %d and the table declares no merge", t.spec.Name, key, ts.sub.Index)
			}
			nv, err := t.spec.Merge(key, prev, v)
			if err != nil {
				return fmt.Errorf("state table %q: merge: %w", t.spec.Name, err)
			}
			m[string(key)] = slices.Clone(nv)
			return nil
		}
		m[string(key)] = slices.Clone(v)
		return nil
	})
	if err != nil {
		return errf("%v", err)
	}
	for _, t := range ts.tables {
		m := merged[t]
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if !t.spec.Held || fn == nil {
				t.entries[k] = m[k]
				continue
			}
			if err := fn(t, 0, []byte(k), m[k]); err != nil {
				return errf("state table %q: %w", t.spec.Name, err)
			}
		}
	}
	// Keyed entries of this subtask's key groups.
	kgs := ts.sub.KeyGroups
	if kgs.Len() > 0 {
		err = checkpoint.ScanRange(r, AppendKeyGroup(nil, kgs.Start), AppendKeyGroup(nil, kgs.End), func(k, v []byte) error {
			if len(k) < KeyGroupPrefixLen+1 {
				return fmt.Errorf("malformed state key %x", k)
			}
			t := byTag[k[2]]
			if t == nil || !t.spec.Keyed {
				return fmt.Errorf("state key %x of a table missing from the catalog", k)
			}
			kg, _ := KeyGroupPrefix(k)
			if !t.spec.Held || fn == nil {
				t.entries[string(k[3:])] = slices.Clone(v)
				return nil
			}
			if err := fn(t, kg, k[3:], v); err != nil {
				return fmt.Errorf("state table %q: %w", t.spec.Name, err)
			}
			return nil
		})
		if err != nil {
			return errf("%v", err)
		}
	}
	ts.wroteCatalog = true
	ts.rewrite = true
	return nil
}

// Unrestricted returns the whole operator state of which r is a
// SubtaskReader's part, or r itself if it is not one. An operator that
// reads state of a version before key groups (whose keys SubtaskReader's
// ranges do not cover) reads it through Unrestricted and keeps the
// entries of its own key groups.
func Unrestricted(r checkpoint.StateReader) checkpoint.StateReader {
	if s, ok := r.(*subtaskReader); ok {
		return s.r
	}
	return r
}

// SubtaskReader returns the part of operator state r that the subtask
// owning key groups kgs restores: the keyed entries of its key groups,
// then the catalog and every non-keyed entry (which Tables.Restore
// redistributes), in key order. It reads by range scans when r supports
// them (the checkpoint store's readers do).
func SubtaskReader(r checkpoint.StateReader, kgs KeyGroupRange) checkpoint.StateReader {
	if r == nil {
		return nil
	}
	return &subtaskReader{r: r, lo: AppendKeyGroup(nil, kgs.Start), hi: AppendKeyGroup(nil, kgs.End)}
}

type subtaskReader struct {
	r      checkpoint.StateReader
	lo, hi []byte // the keyed range
}

var (
	_ checkpoint.StateReader  = (*subtaskReader)(nil)
	_ checkpoint.RangeScanner = (*subtaskReader)(nil)
)

// Scan implements checkpoint.StateReader.
func (s *subtaskReader) Scan(fn func(k, v []byte) error) error {
	return s.ScanRange(nil, nil, fn)
}

// ScanRange implements checkpoint.RangeScanner: the intersection of [lo,
// hi) with the subtask's part.
func (s *subtaskReader) ScanRange(lo, hi []byte, fn func(k, v []byte) error) error {
	parts := [][2][]byte{{s.lo, s.hi}, {{nonKeyedTag}, nil}}
	for _, p := range parts {
		l, h := p[0], p[1]
		if bytes.Compare(lo, l) > 0 {
			l = lo
		}
		if hi != nil && (h == nil || bytes.Compare(hi, h) < 0) {
			h = hi
		}
		if h != nil && bytes.Compare(l, h) >= 0 {
			continue
		}
		if err := checkpoint.ScanRange(s.r, l, h, fn); err != nil {
			return err
		}
	}
	return nil
}

// Describe returns the declaration as text, one table per line (for
// errors and tests).
func (ts *Tables) Describe() string {
	var b strings.Builder
	for _, t := range ts.tables {
		kind := "non-keyed"
		if t.spec.Keyed {
			kind = "keyed"
		}
		fmt.Fprintf(&b, "%s (%s): %s\n", t.spec.Name, kind, t.spec.Layout)
	}
	return b.String()
}
