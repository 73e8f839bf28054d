package exec

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// Checkpointed state of the window operator, format version 1.
//
// Keys (in the operator's own namespace):
//
//	0x00                         metadata
//	0x01 start end groupkey      one (window, key) accumulator
//
// start and end are the window bounds as 8 bytes big endian with the sign
// bit flipped (so keys sort by window), groupkey is the key encoding of
// window_keys.go (empty without GROUP BY keys). Session accumulators are
// keyed by their current bounds; when a session grows or merges, its old
// key is deleted.
//
// The metadata value is: version (1 byte), then three uvarint-length-
// prefixed strings describing the windowLayout (window, key types, aggregates;
// see windowLayout), then the watermark and the late-row counter as zig-zag
// varints.
//
// An accumulator value is the concatenation, in AggCall order, of each
// aggregate's encoding (see the aggregators' encode methods): COUNT a
// uvarint; SUM, MIN, MAX a presence byte then the value; AVG a uvarint
// count then the sum; DISTINCT aggregates a uvarint size then the values in
// ascending order. Integers are zig-zag varints, floats 8 bytes, decimals
// 16 bytes, strings a uvarint length and bytes.
//
// Each barrier writes the metadata, deletes the keys of accumulators
// released since the previous barrier (fired, or merged into another
// session) and then sets the accumulators changed since it.

const (
	windowStateVersion = 1
	windowTagMeta      = 0x00
	windowTagAcc       = 0x01
)

// ErrWindowStateLayout is wrapped by the error of a restore whose state
// was written by a window operator with a different windowLayout.
var ErrWindowStateLayout = errors.New("exec: window state layout does not match the plan")

// windowLayout describes what the operator's state means; state written under
// one windowLayout is refused under another.
type windowLayout struct {
	window, keys, aggs string
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

// stateKey appends the state key of slot s with window bounds start, end.
func (o *windowAggOp) stateKey(buf []byte, s int32, start, end int64) []byte {
	buf = append(buf, windowTagAcc)
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

// OnBarrier implements Operator. It writes the metadata, the deletions of
// accumulators released since the previous barrier and the accumulators
// changed since then; it changes nothing else.
func (o *windowAggOp) OnBarrier(_ context.Context, _ Barrier, w checkpoint.StateWriter, _ Emitter) error {
	wrap := func(err error) error {
		return fmt.Errorf("exec: window aggregation %q: checkpoint: %w", o.id, err)
	}
	for _, k := range o.deletes {
		if err := w.Delete(k); err != nil {
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
				if err := w.Delete(key); err != nil {
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
		if err := w.Set(key, val); err != nil {
			return wrap(err)
		}
		o.persisted[s] = true
		if session {
			o.persStart[s], o.persEnd[s] = o.slotStart[s], o.slotEnd[s]
		}
	}
	o.dirtyList = o.dirtyList[:0]
	o.encBuf = key
	if err := w.Set([]byte{windowTagMeta}, o.encodeMeta()); err != nil {
		return wrap(err)
	}
	return nil
}

func (o *windowAggOp) encodeMeta() []byte {
	buf := []byte{windowStateVersion}
	for _, s := range []string{o.layout.window, o.layout.keys, o.layout.aggs} {
		buf = appendAccStringEnc(buf, s)
	}
	buf = binary.AppendVarint(buf, int64(o.wm))
	return binary.AppendVarint(buf, o.late)
}

// restore rebuilds the operator's accumulators, watermark and late count
// from st.
func (o *windowAggOp) restore(st checkpoint.StateReader) error {
	sawMeta := false
	err := st.Scan(func(key, value []byte) error {
		if len(key) == 0 {
			return fmt.Errorf("empty state key: %w", errWindowState)
		}
		switch key[0] {
		case windowTagMeta:
			if err := o.decodeMeta(value); err != nil {
				return err
			}
			sawMeta = true
			return nil
		case windowTagAcc:
			if !sawMeta {
				return fmt.Errorf("accumulator before metadata: %w", errWindowState)
			}
			return o.restoreAcc(key[1:], value)
		}
		return fmt.Errorf("unknown state key tag 0x%02x: %w", key[0], errWindowState)
	})
	if err != nil {
		return fmt.Errorf("exec: window aggregation %q: restore: %w", o.id, err)
	}
	o.m.StateEntries.Store(int64(o.nlive))
	return nil
}

func (o *windowAggOp) decodeMeta(v []byte) error {
	if len(v) < 1 {
		return errWindowState
	}
	if v[0] == parallelStateVersion && len(v) == 9 {
		return fmt.Errorf("%w: the checkpoint was taken with parallelism %d (keyed subtasks); this job runs the window as one task: run with that parallelism, or start fresh", ErrWindowStateLayout, binary.BigEndian.Uint64(v[1:]))
	}
	if v[0] != windowStateVersion {
		return fmt.Errorf("%w: state version %d, this build reads version %d", ErrWindowStateLayout, v[0], windowStateVersion)
	}
	v = v[1:]
	var got [3]string
	for i := range got {
		var err error
		if got[i], v, err = decodeAccString(v); err != nil {
			return err
		}
	}
	want := [3]string{o.layout.window, o.layout.keys, o.layout.aggs}
	for i, what := range []string{"window", "group key types", "aggregates"} {
		if got[i] != want[i] {
			return fmt.Errorf("%w: %s: checkpoint has %s, plan has %s", ErrWindowStateLayout, what, got[i], want[i])
		}
	}
	wm, n := binary.Varint(v)
	if n <= 0 {
		return errWindowState
	}
	late, m := binary.Varint(v[n:])
	if m <= 0 || n+m != len(v) {
		return errWindowState
	}
	o.wm, o.late = Watermark(wm), late
	o.m.LateRecords.Store(late)
	return nil
}

// restoreAcc rebuilds one accumulator from its key (without the tag) and
// value.
func (o *windowAggOp) restoreAcc(key, value []byte) error {
	if len(key) < 16 {
		return errWindowState
	}
	start := int64(binary.BigEndian.Uint64(key) ^ (1 << 63))
	end := int64(binary.BigEndian.Uint64(key[8:]) ^ (1 << 63))
	gk := key[16:]
	var k int64
	null := false
	switch {
	case o.fast && o.keyCol < 0:
		if len(gk) != 0 {
			return errWindowState
		}
	case o.fast:
		switch {
		case len(gk) == 1 && gk[0] == 0:
			null = true
		case len(gk) == 9 && gk[0] == 1:
			k = int64(binary.BigEndian.Uint64(gk[1:]) ^ (1 << 63))
		default:
			return errWindowState
		}
	default:
		rest := gk
		for _, t := range o.keyTypes {
			var err error
			if rest, err = state.SkipKeyColumn(t, rest); err != nil {
				return err
			}
		}
		if len(rest) != 0 {
			return errWindowState
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
	} else {
		if o.table.get(end, k, null) >= 0 {
			return fmt.Errorf("duplicate window state: %w", errWindowState)
		}
		s = o.newWindowSlot(start, end, k, null)
	}
	o.persisted[s] = true
	rest := value
	for _, a := range o.aggs {
		var err error
		if rest, err = a.decode(rest, s); err != nil {
			return err
		}
	}
	if len(rest) != 0 {
		return errWindowState
	}
	return nil
}
