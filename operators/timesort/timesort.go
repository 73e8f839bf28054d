// Package timesort is the operator of plan.TimeSort (ORDER BY a time
// attribute ascending): rows wait in checkpointed state until the
// watermark passes their event time, then leave in event-time order, rows
// of equal time in arrival order.
package timesort

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// A held row is stored under its sort key, the event time (8 bytes, sign
// bit flipped, so that keys sort as times do) and an arrival sequence
// number (8 bytes), with the row's columns encoded as keys are
// (state.KeyEncoder) as its value. The sequence number of the next row is
// stored under seqKey, whose first byte (0xFF) sorts after every row key
// of a time the watermark can reach.
var seqKey = []byte{0xFF, 's', 'e', 'q'}

// wmKey holds the last watermark, so that a restored operator still drops
// the rows it would have dropped as late.
var wmKey = []byte{0xFF, 'w', 'm'}

const sortKeyLen = 16

type row struct {
	key  [sortKeyLen]byte
	data []byte
}

type op struct {
	id      string
	timeCol int
	schema  types.Schema
	arrow   *arrow.Schema
	alloc   memory.Allocator
	m       *exec.OperatorMetrics
	enc     *state.KeyEncoder
	types   []types.Type

	held    []row // unordered
	seq     uint64
	wm      exec.Watermark
	added   [][sortKeyLen]byte // keys put since the last barrier
	removed [][sortKeyLen]byte // keys emitted since the last barrier
	data    map[[sortKeyLen]byte][]byte
}

// New returns the operator of n.
func New(n *plan.TimeSort, env exec.OperatorEnv) (exec.Operator, error) {
	sch := n.Schema()
	ts := make([]types.Type, sch.Len())
	for i, f := range sch.Fields {
		ts[i] = f.Type
	}
	enc, err := state.NewKeyEncoder(ts)
	if err != nil {
		return nil, fmt.Errorf("timesort: %s: %w", n.ID(), err)
	}
	if k := sch.Fields[n.TimeCol].Type.Kind; k != types.Timestamp && k != types.TimestampLTZ {
		return nil, fmt.Errorf("timesort: %s: column %d is not a timestamp", n.ID(), n.TimeCol)
	}
	alloc := env.Alloc
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	return &op{id: n.ID(), timeCol: n.TimeCol, schema: sch, arrow: sch.Arrow(), alloc: alloc, m: env.Metrics,
		enc: enc, types: ts, wm: exec.MinWatermark, data: map[[sortKeyLen]byte][]byte{}}, nil
}

func sortKey(ts int64, seq uint64) [sortKeyLen]byte {
	var k [sortKeyLen]byte
	binary.BigEndian.PutUint64(k[:8], uint64(ts)^(1<<63))
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

func keyTime(k [sortKeyLen]byte) int64 { return int64(binary.BigEndian.Uint64(k[:8]) ^ (1 << 63)) }

// Open implements exec.Operator.
func (o *op) Open(_ context.Context, st checkpoint.StateReader) error {
	if st == nil {
		return nil
	}
	return st.Scan(func(k, v []byte) error {
		if string(k) == string(seqKey) {
			if len(v) != 8 {
				return fmt.Errorf("timesort: %s: malformed sequence state", o.id)
			}
			o.seq = binary.BigEndian.Uint64(v)
			return nil
		}
		if string(k) == string(wmKey) {
			if len(v) != 8 {
				return fmt.Errorf("timesort: %s: malformed watermark state", o.id)
			}
			o.wm = exec.Watermark(binary.BigEndian.Uint64(v))
			return nil
		}
		if len(k) != sortKeyLen {
			return fmt.Errorf("timesort: %s: unknown state key %x", o.id, k)
		}
		if err := state.CheckKey(o.types, v); err != nil {
			return fmt.Errorf("timesort: %s: held row: %w", o.id, err)
		}
		var r row
		copy(r.key[:], k)
		r.data = slices.Clone(v)
		o.held = append(o.held, r)
		return nil
	})
}

// OnBatch implements exec.Operator.
func (o *op) OnBatch(_ context.Context, _ int, rec arrow.Record, _ exec.Emitter) error {
	n := int(rec.NumRows())
	o.m.RecordsIn.Add(int64(n))
	cols := make([]arrow.Array, o.schema.Len())
	for i := range cols {
		cols[i] = rec.Column(i)
	}
	if err := o.enc.Bind(cols...); err != nil {
		return fmt.Errorf("timesort: %s: %w", o.id, err)
	}
	tcol, ok := rec.Column(o.timeCol).(*array.Timestamp)
	if !ok {
		return fmt.Errorf("timesort: %s: time column is %s, not a timestamp", o.id, rec.Column(o.timeCol).DataType())
	}
	for i := 0; i < n; i++ {
		if tcol.IsNull(i) || exec.Watermark(tcol.Value(i)) <= o.wm {
			o.m.LateRecords.Add(1)
			continue
		}
		r := row{key: sortKey(int64(tcol.Value(i)), o.seq), data: o.enc.Append(nil, i)}
		o.seq++
		o.held = append(o.held, r)
		o.added = append(o.added, r.key)
		o.data[r.key] = r.data
	}
	o.m.StateEntries.Store(int64(len(o.held)))
	return nil
}

// OnWatermark implements exec.Operator: the rows at or before wm leave, in
// order.
func (o *op) OnWatermark(ctx context.Context, wm exec.Watermark, out exec.Emitter) error {
	o.wm = wm
	var due, keep []row
	for _, r := range o.held {
		if exec.Watermark(keyTime(r.key)) <= wm {
			due = append(due, r)
		} else {
			keep = append(keep, r)
		}
	}
	o.held = keep
	o.m.StateEntries.Store(int64(len(o.held)))
	if len(due) == 0 {
		return nil
	}
	slices.SortFunc(due, func(a, b row) int { return slices.Compare(a.key[:], b.key[:]) })
	b := array.NewRecordBuilder(o.alloc, o.arrow)
	defer b.Release()
	const batch = 4096
	for start := 0; start < len(due); start += batch {
		for _, r := range due[start:min(start+batch, len(due))] {
			rest := r.data
			for c, t := range o.types {
				var err error
				if rest, err = state.DecodeKeyColumn(b.Field(c), t, rest); err != nil {
					return fmt.Errorf("timesort: %s: held row: %w", o.id, err)
				}
			}
			o.removed = append(o.removed, r.key)
			delete(o.data, r.key)
		}
		rec := b.NewRecord()
		o.m.RecordsOut.Add(rec.NumRows())
		err := out.Emit(ctx, rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// OnBarrier implements exec.Operator: the rows held since the last barrier
// are written, the rows emitted since are deleted.
func (o *op) OnBarrier(_ context.Context, _ exec.Barrier, w checkpoint.StateWriter, _ exec.Emitter) error {
	gone := make(map[[sortKeyLen]byte]bool, len(o.removed))
	for _, k := range o.removed {
		gone[k] = true
	}
	for _, k := range o.added {
		if gone[k] {
			delete(gone, k) // held and emitted between two barriers
			continue
		}
		if err := w.Set(k[:], o.data[k]); err != nil {
			return err
		}
	}
	for k := range gone {
		if err := w.Delete(k[:]); err != nil {
			return err
		}
	}
	o.added, o.removed = o.added[:0], o.removed[:0]
	if o.seq == math.MaxUint64 {
		return errors.New("timesort: sequence number overflow")
	}
	if err := w.Set(wmKey, binary.BigEndian.AppendUint64(nil, uint64(o.wm))); err != nil {
		return err
	}
	return w.Set(seqKey, binary.BigEndian.AppendUint64(nil, o.seq))
}

// Close implements exec.Operator.
func (o *op) Close() error { return nil }
