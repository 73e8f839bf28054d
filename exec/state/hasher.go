package state

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/types"
)

// KeyHasher hashes the key columns of each row of a batch: the hash of a
// row is HashKey of its encoded key (KeyEncoder), so the exchange sends a
// row to the subtask whose key groups hold that key's state. Hash does
// not allocate per row (nor per batch once it has seen its largest batch).
// A KeyHasher is used by one goroutine.
type KeyHasher struct {
	keys []int
	enc  *KeyEncoder
	cols []arrow.Array
	buf  []byte
}

// NewKeyHasher returns a hasher of the columns keys (indexes into schema,
// in key order) of batches of schema, or an error naming a key column
// that is out of range or of a type that cannot be a key.
func NewKeyHasher(schema types.Schema, keys []int) (*KeyHasher, error) {
	ts := make([]types.Type, len(keys))
	for i, k := range keys {
		if k < 0 || k >= schema.Len() {
			return nil, fmt.Errorf("state: key column #%d out of range (%d columns)", k, schema.Len())
		}
		ts[i] = schema.Fields[k].Type
		if !KeyTypeSupported(ts[i]) {
			return nil, fmt.Errorf("state: key column %q: cannot use a %s column as a key", schema.Fields[k].Name, ts[i])
		}
	}
	enc, err := NewKeyEncoder(ts)
	if err != nil {
		return nil, err
	}
	return &KeyHasher{keys: keys, enc: enc, cols: make([]arrow.Array, len(keys)), buf: make([]byte, 0, 64)}, nil
}

// Hash sets out[i] to the hash of row i's key, for every row of rec;
// len(out) must be at least rec.NumRows(). It returns an error if rec's
// key columns do not have the schema's types.
func (h *KeyHasher) Hash(rec arrow.Record, out []uint64) error {
	for i, k := range h.keys {
		h.cols[i] = rec.Column(k)
	}
	if err := h.enc.Bind(h.cols...); err != nil {
		return err
	}
	n := int(rec.NumRows())
	out = out[:n]
	if len(h.keys) == 1 && h.enc.cols[0].kind == encInt {
		// One integer key column, the common case: no bytes built.
		c := &h.enc.cols[0]
		nullHash := HashKey([]byte{0})
		for r, v := range c.ints[:n] {
			if c.nulls && c.arr.IsNull(r) {
				out[r] = nullHash
				continue
			}
			out[r] = HashIntKey(v)
		}
		clear(h.cols)
		return nil
	}
	buf := h.buf
	for r := range out {
		buf = h.enc.Append(buf[:0], r)
		out[r] = HashKey(buf)
	}
	h.buf = buf
	clear(h.cols)
	return nil
}
