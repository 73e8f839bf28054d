package kafka

import (
	"fmt"
	"slices"

	"github.com/IBM/sarama"
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// rowDecoder decodes one message part (value or key) per call into Arrow
// builders; *format.Decoder is one, rawDecoder the other.
type rowDecoder interface {
	Decode(b []byte) error
	Len() int
	NewRecord() arrow.Record
	Release()
}

// rawDecoder is the 'raw' format: the bytes as one STRING column, a
// missing (null) message part as NULL.
type rawDecoder struct {
	schema *arrow.Schema
	b      *array.StringBuilder
}

func newRawDecoder(schema types.Schema, alloc memory.Allocator) (*rawDecoder, error) {
	if len(schema.Fields) != 1 || schema.Fields[0].Type.Kind != types.String {
		return nil, fmt.Errorf("format 'raw' needs exactly one STRING column, got %s", schema)
	}
	return &rawDecoder{schema: schema.Arrow(), b: array.NewStringBuilder(alloc)}, nil
}

func (d *rawDecoder) Decode(b []byte) error {
	if b == nil {
		d.b.AppendNull()
	} else {
		d.b.BinaryBuilder.Append(b)
	}
	return nil
}

func (d *rawDecoder) Len() int { return d.b.Len() }

func (d *rawDecoder) NewRecord() arrow.Record {
	a := d.b.NewArray()
	defer a.Release()
	return array.NewRecord(d.schema, []arrow.Array{a}, int64(a.Len()))
}

func (d *rawDecoder) Release() { d.b.Release() }

func newRowDecoder(f string, schema types.Schema, opts map[string]string, alloc memory.Allocator) (rowDecoder, error) {
	if f == formatRaw {
		return newRawDecoder(schema, alloc)
	}
	return format.NewDecoder(f, schema, opts, alloc)
}

// colSource tells where an output column comes from.
type colSource struct {
	kind  uint8 // fromValue, fromKey or fromMeta
	index int   // column of the value or key record, or index in meta
}

const (
	fromValue uint8 = iota
	fromKey
	fromMeta
)

// metaCol builds one metadata column.
type metaCol struct {
	key string
	b   array.Builder
}

// rowBuilder turns messages into rows of the table's schema: value
// columns from the value decoder, key columns from the key decoder (with
// 'value.fields-include' = 'EXCEPT_KEY'), metadata from the message.
type rowBuilder struct {
	schema *arrow.Schema
	cols   []colSource
	val    rowDecoder
	key    rowDecoder // nil when the key is not decoded
	keyRaw bool
	keyFmt string
	meta   []metaCol
	rows   int
	// badKey lists rows of the key decoder whose value failed to decode:
	// the key decoder has them, nothing else does.
	badKey []int
	// upsert: the rows' kinds are kinds (see addKind), not the value
	// format's.
	upsert bool
	kinds  []types.RowKind
}

// addKind decodes msg into a row of kind k (upsert-kafka). On error
// nothing is added.
func (rb *rowBuilder) addKind(msg *sarama.ConsumerMessage, k types.RowKind) error {
	before := rb.rows
	if err := rb.add(msg); err != nil {
		return err
	}
	if rb.rows != before+1 {
		return fmt.Errorf("the value decoded into %d rows, expected one", rb.rows-before) // unreachable: not a changelog format
	}
	rb.kinds = append(rb.kinds, k)
	return nil
}

// newRowBuilder plans the columns of schema, whose column i is the
// metadata key metadata[i] (or physical when "" or metadata is nil). With
// et, the decoder of the event-time column checks it (a metadata
// timestamp is never NULL, and is the broker's or producer's clock).
func newRowBuilder(schema types.Schema, metadata []string, f formats, alloc memory.Allocator, et *exec.EventTime, clock exec.Clock) (*rowBuilder, error) {
	rb := &rowBuilder{schema: schema.Arrow(), keyFmt: f.key}
	var valSchema, keySchema types.Schema
	for i, fld := range schema.Fields {
		if metadata != nil && metadata[i] != "" {
			var b array.Builder
			switch metadata[i] {
			case metaTopic:
				b = array.NewStringBuilder(alloc)
			case metaPartition:
				b = array.NewInt32Builder(alloc)
			case metaOffset:
				b = array.NewInt64Builder(alloc)
			case metaTimestamp:
				b = array.NewTimestampBuilder(alloc, fld.Type.Arrow().(*arrow.TimestampType))
			default:
				return nil, fmt.Errorf("unknown metadata key %q", metadata[i])
			}
			rb.cols = append(rb.cols, colSource{kind: fromMeta, index: len(rb.meta)})
			rb.meta = append(rb.meta, metaCol{key: metadata[i], b: b})
			continue
		}
		if f.exceptKey && slices.Contains(f.keyFields, fld.Name) {
			rb.cols = append(rb.cols, colSource{kind: fromKey, index: len(keySchema.Fields)})
			keySchema.Fields = append(keySchema.Fields, f.keyField(fld))
			continue
		}
		rb.cols = append(rb.cols, colSource{kind: fromValue, index: len(valSchema.Fields)})
		valSchema.Fields = append(valSchema.Fields, fld)
	}
	var err error
	if rb.val, err = newRowDecoder(f.value, valSchema, f.valueOpts, alloc); err != nil {
		rb.release()
		return nil, fmt.Errorf("value format: %w", err)
	}
	if len(keySchema.Fields) > 0 {
		if rb.key, err = newRowDecoder(f.key, keySchema, f.keyOptions, alloc); err != nil {
			rb.release()
			return nil, fmt.Errorf("key format: %w", err)
		}
		rb.keyRaw = f.key == formatRaw
	}
	if et != nil && et.Column >= 0 && et.Column < len(rb.cols) {
		var dec rowDecoder
		switch c := rb.cols[et.Column]; c.kind {
		case fromValue:
			dec = rb.val
		case fromKey:
			dec = rb.key
		}
		if fd, ok := dec.(*format.Decoder); ok {
			if err := fd.CheckEventTime(rb.cols[et.Column].index, et.MaxFuture, clock.Now); err != nil {
				rb.release()
				return nil, err
			}
		}
	}
	return rb, nil
}

// setZone sets the session time zone of the text formats' decoders
// (format.Decoder.SetZone).
func (rb *rowBuilder) setZone(z *types.Zone) {
	for _, d := range []rowDecoder{rb.val, rb.key} {
		if fd, ok := d.(*format.Decoder); ok {
			fd.SetZone(z)
		}
	}
}

func (rb *rowBuilder) release() {
	if rb.val != nil {
		rb.val.Release()
	}
	if rb.key != nil {
		rb.key.Release()
	}
	for _, m := range rb.meta {
		m.b.Release()
	}
}

// add decodes msg into a row. On error nothing is added.
func (rb *rowBuilder) add(msg *sarama.ConsumerMessage) error {
	var k []byte
	if rb.key != nil {
		k = msg.Key
		if k == nil && !rb.keyRaw {
			if rb.keyFmt != format.JSON {
				return fmt.Errorf("the message has no key")
			}
			k = []byte("{}")
		}
		if err := rb.key.Decode(k); err != nil {
			return fmt.Errorf("key: %w", err)
		}
	}
	before := rb.val.Len()
	if err := rb.val.Decode(msg.Value); err != nil {
		if rb.key != nil {
			rb.badKey = append(rb.badKey, rb.key.Len()-1)
		}
		return err
	}
	// A changelog format (debezium-json) gives zero rows for a tombstone
	// and two for an update: the key and the metadata follow.
	switch added := rb.val.Len() - before; added {
	case 0:
		if rb.key != nil {
			rb.badKey = append(rb.badKey, rb.key.Len()-1)
		}
		return nil
	case 2:
		if rb.key != nil {
			if err := rb.key.Decode(k); err != nil {
				return fmt.Errorf("key: %w", err) // unreachable: it decoded once
			}
		}
		rb.addMeta(msg)
	}
	rb.addMeta(msg)
	rb.rows = rb.val.Len()
	return nil
}

// addMeta appends the metadata columns of msg.
func (rb *rowBuilder) addMeta(msg *sarama.ConsumerMessage) {
	for _, m := range rb.meta {
		switch m.key {
		case metaTopic:
			m.b.(*array.StringBuilder).Append(msg.Topic)
		case metaPartition:
			m.b.(*array.Int32Builder).Append(msg.Partition)
		case metaOffset:
			m.b.(*array.Int64Builder).Append(msg.Offset)
		case metaTimestamp:
			m.b.(*array.TimestampBuilder).Append(arrow.Timestamp(msg.Timestamp.UnixMilli()))
		}
	}
}

// record returns the rows added so far and starts a new batch.
func (rb *rowBuilder) record(alloc memory.Allocator) (arrow.Record, error) {
	n := rb.rows
	rb.rows = 0
	val := rb.val.NewRecord()
	defer val.Release()
	var key arrow.Record
	if rb.key != nil {
		key = rb.key.NewRecord()
		defer key.Release()
		if len(rb.badKey) > 0 {
			k, err := dropRows(key, rb.badKey, alloc)
			rb.badKey = rb.badKey[:0]
			if err != nil {
				return nil, err
			}
			defer k.Release()
			key = k
		}
	}
	cols := make([]arrow.Array, len(rb.cols))
	for i, c := range rb.cols {
		switch c.kind {
		case fromValue:
			cols[i] = val.Column(c.index)
			cols[i].Retain()
		case fromKey:
			cols[i] = key.Column(c.index)
			cols[i].Retain()
		case fromMeta:
			cols[i] = rb.meta[c.index].b.NewArray()
		}
	}
	rec := array.NewRecord(rb.schema, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	kinds := exec.RowKinds(val)
	if rb.upsert {
		kinds = nil
		if slices.ContainsFunc(rb.kinds, func(k types.RowKind) bool { return k != types.Insert }) {
			kinds = exec.NewRowKinds(alloc, rb.kinds)
			defer kinds.Release()
		}
		rb.kinds = rb.kinds[:0]
	}
	if kinds != nil {
		with := exec.WithRowKinds(rec, kinds)
		rec.Release()
		rec = with
	}
	return rec, nil
}

// dropRows returns rec without the rows at the sorted indexes drop.
func dropRows(rec arrow.Record, drop []int, alloc memory.Allocator) (arrow.Record, error) {
	var parts []arrow.Record
	start := 0
	for _, d := range drop {
		if d > start {
			parts = append(parts, rec.NewSlice(int64(start), int64(d)))
		}
		start = d + 1
	}
	if int64(start) < rec.NumRows() {
		parts = append(parts, rec.NewSlice(int64(start), rec.NumRows()))
	}
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	cols := make([]arrow.Array, rec.NumCols())
	for c := range cols {
		var arrs []arrow.Array
		for _, p := range parts {
			arrs = append(arrs, p.Column(c))
		}
		if len(arrs) == 0 {
			arrs = append(arrs, array.NewSlice(rec.Column(c), 0, 0))
			defer arrs[0].Release()
		}
		a, err := array.Concatenate(arrs, alloc)
		if err != nil {
			return nil, err
		}
		cols[c] = a
	}
	n := rec.NumRows() - int64(len(drop))
	out := array.NewRecord(rec.Schema(), cols, n)
	for _, a := range cols {
		a.Release()
	}
	return out, nil
}
