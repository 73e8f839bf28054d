package window

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// Checkpointed state of the window operator, as declared state tables
// (package state):
//
//	windows (keyed, held by the operator)   one (window, key) accumulator
//	    key: start end groupkey, value: the aggregates' encodings
//	watermark (non-keyed, Union, largest kept)   "wm" → zig-zag varint
//	late (non-keyed, Split, summed)              "n" → zig-zag varint
//
// start and end are the window bounds as 8 bytes big endian with the sign
// bit flipped (so keys sort by window), groupkey is the key encoding of
// package state (empty without GROUP BY keys), and the entry's key group
// is that of groupkey: the one the keyed exchange routes the group's rows
// by, so a checkpoint taken at any parallelism restores at any other.
// The windows table's layout names the window, the key types and the
// aggregates; state written under another layout is refused. A HOP
// window aggregated by slices (slice.go) writes one entry per (slice,
// key), bounds [start, start+slide); an entry spanning a whole window
// (written by the version that kept one per window) restores as that
// window's base, and an operator keeping one accumulator per window
// refuses slices with ErrStateLayout. Session
// accumulators are keyed by their current bounds; when a session grows or
// merges, its old key is deleted.
//
// An accumulator value is the concatenation, in AggCall order, of each
// aggregate's encoding (see the aggregators' encode methods): COUNT a
// uvarint; SUM, MIN, MAX a presence byte then the value; AVG a uvarint
// count then the sum; DISTINCT aggregates a uvarint size then the values in
// ascending order. Integers are zig-zag varints, floats 8 bytes, decimals
// 16 bytes, strings a uvarint length and bytes.
//
// Each barrier deletes the keys of accumulators released since the
// previous barrier (fired, or merged into another session), sets the
// accumulators changed since it, and the watermark and late count when
// they changed.
//
// State of the previous format (version 1, before key groups) written by
// an operator running as one task is imported (legacy.go).

// ErrStateLayout is wrapped by the error of a restore whose state
// was written by a window operator with a different windowLayout.
var ErrStateLayout = state.ErrLayout

// windowLayout describes what the operator's state means; state written under
// one windowLayout is refused under another.
type windowLayout struct {
	window, keys, aggs string
}

func (l windowLayout) String() string {
	return fmt.Sprintf("window %s, group keys %s, aggregates %s", l.window, l.keys, l.aggs)
}

func newWindowLayout(n *plan.WindowAgg, in types.Schema) windowLayout {
	w := n.Window
	var l windowLayout
	switch w.Kind {
	case plan.Tumble:
		l.window = fmt.Sprintf("TUMBLE(size=%d, offset=%d)", w.Size, w.Offset)
	case plan.Hop:
		l.window = fmt.Sprintf("HOP(slide=%d, size=%d, offset=%d)", w.Slide, w.Size, w.Offset)
	case plan.Cumulate:
		l.window = fmt.Sprintf("CUMULATE(step=%d, size=%d, offset=%d)", w.Step, w.Size, w.Offset)
	case plan.Session:
		l.window = fmt.Sprintf("SESSION(gap=%d)", w.Gap)
	}
	ks := make([]string, len(n.Keys))
	for i, k := range n.Keys {
		ks[i] = in.Fields[k].Type.Nullable().String()
	}
	l.keys = "[" + strings.Join(ks, ", ") + "]"
	as := make([]string, len(n.Aggs))
	for i, a := range n.Aggs {
		if a.Func == plan.CountStar {
			as[i] = "COUNT(*)"
			continue
		}
		d := ""
		if a.Distinct {
			d = "DISTINCT "
		}
		as[i] = fmt.Sprintf("%s(%s%s)", a.Func, d, in.Fields[a.Arg].Type.Nullable())
	}
	l.aggs = "[" + strings.Join(as, ", ") + "]"
	return l
}

func appendWindowTimeKey(buf []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(buf, uint64(v)^(1<<63))
}

// stateKey appends the windows-table key of slot s with window bounds
// start, end.
func (o *windowAggOp) stateKey(buf []byte, s int32, start, end int64) []byte {
	buf = appendWindowTimeKey(buf, start)
	buf = appendWindowTimeKey(buf, end)
	switch {
	case !o.fast:
		buf = append(buf, o.keyBytes[o.slotKey[s]]...)
	case o.keyCol >= 0:
		buf = state.AppendIntKey(buf, o.slotKey[s], o.slotNull[s])
	}
	return buf
}

// keyGroup returns the key group of slot s's group key: computed from the
// same bytes the exchange hashes, only when a barrier or a release needs
// it (never per row).
func (o *windowAggOp) keyGroup(s int32) int {
	var h uint64
	switch {
	case !o.fast:
		h = state.HashKeyString(o.keyBytes[o.slotKey[s]])
	case o.keyCol < 0:
		h = state.HashKey(nil)
	case o.slotNull[s]:
		h = state.HashKey([]byte{0})
	default:
		h = state.HashIntKey(o.slotKey[s])
	}
	return state.KeyGroupOf(h, o.tables.Subtask().MaxParallelism)
}

// releaseKey queues the deletion of slot s's accumulator, written under
// bounds start, end.
func (o *windowAggOp) queueDelete(s int32, start, end int64) {
	k := state.AppendKeyGroup(nil, o.keyGroup(s))
	o.deletes = append(o.deletes, o.stateKey(k, s, start, end))
}

// OnBarrier implements Operator. It writes the deletions of accumulators
// released since the previous barrier, the accumulators changed since
// then, and the watermark and late count if they changed; it changes
// nothing else.
func (o *windowAggOp) OnBarrier(ctx context.Context, _ exec.Barrier, sw checkpoint.StateWriter, out exec.Emitter) error {
	wrap := func(err error) error {
		return fmt.Errorf("exec: window aggregation %q: checkpoint: %w", o.id, err)
	}
	// What the checkpoint holds is what was emitted (emit.go).
	if o.earlyFire > 0 {
		if err := o.fireEarly(ctx, out); err != nil {
			return err
		}
	}
	if len(o.lateChanges) > 0 {
		if err := o.emitLateChanges(ctx, out); err != nil {
			return err
		}
	}
	if len(o.legacyDeletes) > 0 {
		if err := o.writeLegacyDeletes(sw); err != nil {
			return wrap(err)
		}
	}
	if v := binary.AppendVarint(nil, int64(o.wm)); !bytes.Equal(v, o.persWM) {
		o.wmT.Put([]byte("wm"), v)
		o.persWM = v
	}
	if v := binary.AppendVarint(nil, o.late); !bytes.Equal(v, o.persLate) {
		o.lateT.Put([]byte("n"), v)
		o.persLate = v
	}
	w, err := o.tables.Snapshot(sw)
	if err != nil {
		return err
	}
	for _, k := range o.deletes {
		kg, _ := state.KeyGroupPrefix(k)
		if err := w.Delete(o.accT, kg, k[state.KeyGroupPrefixLen:]); err != nil {
			return wrap(err)
		}
	}
	o.deletes = o.deletes[:0]
	key := o.encBuf[:0]
	session := o.w.Kind == plan.Session
	if session {
		// A session that grew since it was written lives under a new key:
		// delete the old one first.
		for _, s := range o.dirtyList {
			if o.dirty[s] && o.persisted[s] && (o.persStart[s] != o.slotStart[s] || o.persEnd[s] != o.slotEnd[s]) {
				key = o.stateKey(key[:0], s, o.persStart[s], o.persEnd[s])
				if err := w.Delete(o.accT, o.keyGroup(s), key); err != nil {
					return wrap(err)
				}
			}
		}
	}
	var val []byte
	for _, s := range o.dirtyList {
		if !o.dirty[s] {
			continue // released, or listed twice
		}
		o.dirty[s] = false
		key = o.stateKey(key[:0], s, o.slotStart[s], o.slotEnd[s])
		val = val[:0]
		for _, a := range o.aggs {
			val = a.encode(val, s)
		}
		if err := w.Set(o.accT, o.keyGroup(s), key, val); err != nil {
			return wrap(err)
		}
		o.persisted[s] = true
		if session {
			o.persStart[s], o.persEnd[s] = o.slotStart[s], o.slotEnd[s]
		}
	}
	o.dirtyList = o.dirtyList[:0]
	o.encBuf = key
	return nil
}

// windowTables declares the operator's state tables.
func windowTables(id string, l windowLayout, sub state.Subtask) (*state.Tables, error) {
	return state.NewTables(id, sub,
		state.Spec{Name: "windows", Keyed: true, Held: true, Layout: l.String()},
		state.Spec{Name: "watermark", Layout: "BIGINT", Redistribute: state.Union, Merge: mergeVarints(func(a, b int64) int64 { return max(a, b) })},
		state.Spec{Name: "late", Layout: "BIGINT", Redistribute: state.Split, Merge: mergeVarints(func(a, b int64) int64 { return a + b })},
	)
}

// mergeVarints returns a state.Spec Merge of zig-zag varint values
// combined by f.
func mergeVarints(f func(a, b int64) int64) func(_, a, b []byte) ([]byte, error) {
	return func(_, a, b []byte) ([]byte, error) {
		x, n := binary.Varint(a)
		y, m := binary.Varint(b)
		if n <= 0 || m <= 0 || n != len(a) || m != len(b) {
			return nil, errWindowState
		}
		return binary.AppendVarint(nil, f(x, y)), nil
	}
}

// restore rebuilds the operator's accumulators, watermark and late count
// from st.
func (o *windowAggOp) restore(st checkpoint.StateReader) error {
	whole := state.Unrestricted(st)
	if meta, ok, err := legacyMeta(whole); err != nil {
		return fmt.Errorf("window aggregation %q: restore: %w", o.id, err)
	} else if ok {
		if err := o.restoreLegacy(whole, meta); err != nil {
			return err
		}
		if o.sliced {
			o.registerRestored()
			o.m.StateEntries.Store(int64(o.nlive))
		}
		return nil
	}
	err := o.tables.Restore(st, func(_ *state.Table, _ int, key, value []byte) error {
		_, err := o.restoreAcc(key, value)
		return err
	})
	if err != nil {
		return err // names the operator and the table
	}
	if v, ok := o.wmT.Get([]byte("wm")); ok {
		wm, n := binary.Varint(v)
		if n <= 0 || n != len(v) {
			return fmt.Errorf("exec: window aggregation %q: restore: watermark: %w", o.id, errWindowState)
		}
		o.wm, o.persWM = exec.Watermark(wm), slices.Clone(v)
	}
	if v, ok := o.lateT.Get([]byte("n")); ok {
		late, n := binary.Varint(v)
		if n <= 0 || n != len(v) {
			return fmt.Errorf("exec: window aggregation %q: restore: late count: %w", o.id, errWindowState)
		}
		o.late, o.persLate = late, slices.Clone(v)
		o.m.LateRecords.Store(late)
	}
	o.restoreEmitted()
	if o.sliced {
		o.registerRestored()
	}
	o.m.StateEntries.Store(int64(o.nlive))
	return nil
}

// restoreAcc rebuilds one accumulator from its key and value and returns
// its slot.
func (o *windowAggOp) restoreAcc(key, value []byte) (int32, error) {
	if len(key) < 16 {
		return -1, errWindowState
	}
	start := int64(binary.BigEndian.Uint64(key) ^ (1 << 63))
	end := int64(binary.BigEndian.Uint64(key[8:]) ^ (1 << 63))
	gk := key[16:]
	var k int64
	null := false
	switch {
	case o.fast && o.keyCol < 0:
		if len(gk) != 0 {
			return -1, errWindowState
		}
	case o.fast:
		switch {
		case len(gk) == 1 && gk[0] == 0:
			null = true
		case len(gk) == 9 && gk[0] == 1:
			k = int64(binary.BigEndian.Uint64(gk[1:]) ^ (1 << 63))
		default:
			return -1, errWindowState
		}
	default:
		rest := gk
		for _, t := range o.keyTypes {
			var err error
			if rest, err = state.SkipKeyColumn(t, rest); err != nil {
				return -1, err
			}
		}
		if len(rest) != 0 {
			return -1, errWindowState
		}
		id, ok := o.intern[string(gk)]
		if !ok {
			id = o.internKey(string(gk))
		}
		k = int64(id)
	}
	var s int32
	if o.w.Kind == plan.Session {
		s = o.allocSlot(start, end, k, null)
		o.linkSession(s)
		o.persStart[s], o.persEnd[s] = start, end
	} else if o.sliced {
		var err error
		if s, err = o.restoreSliced(start, end, k, null); err != nil {
			return -1, err
		}
	} else {
		if o.w.Kind == plan.Hop && end-start != o.w.Size {
			return -1, o.errSlicedState(start, end)
		}
		if o.table.get(end, k, null) >= 0 {
			return -1, fmt.Errorf("duplicate window state: %w", errWindowState)
		}
		s = o.newWindowSlot(start, end, k, null)
	}
	o.persisted[s] = true
	rest := value
	for _, a := range o.aggs {
		var err error
		if rest, err = a.decode(rest, s); err != nil {
			return -1, err
		}
	}
	if len(rest) != 0 {
		return -1, errWindowState
	}
	return s, nil
}
