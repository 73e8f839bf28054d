// Package joinside is what the join operators (operators/join's regular,
// interval and window joins, operators/temporaljoin) share about one of
// their inputs: its columns and join key columns, the key-group state
// encoders of both, and the decoding of a held row into an output batch.
package joinside

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/types"
)

// Codec encodes the rows of one join input and their join keys. Bind it
// to a batch, then read each row's encodings from KeyEnc and RowEnc.
type Codec struct {
	Types    []types.Type // the input's columns
	KeyCols  []int        // the join key's columns
	KeyTypes []types.Type
	KeyEnc   *state.KeyEncoder
	RowEnc   *state.KeyEncoder
	// KeyArrs holds the key columns of the batch last bound.
	KeyArrs []arrow.Array
	rowArrs []arrow.Array
}

// New returns the codec of an input of schema sch joined on the columns
// keys; name ("left", "right") names the input in errors.
func New(name string, sch types.Schema, keys []int) (Codec, error) {
	c := Codec{KeyArrs: make([]arrow.Array, len(keys)), rowArrs: make([]arrow.Array, sch.Len())}
	for _, f := range sch.Fields {
		c.Types = append(c.Types, f.Type)
	}
	for _, k := range keys {
		if k < 0 || k >= sch.Len() {
			return Codec{}, fmt.Errorf("%s key column #%d out of range", name, k)
		}
		c.KeyCols = append(c.KeyCols, k)
		c.KeyTypes = append(c.KeyTypes, sch.Fields[k].Type)
	}
	var err error
	if c.KeyEnc, err = state.NewKeyEncoder(c.KeyTypes); err != nil {
		return Codec{}, err
	}
	if c.RowEnc, err = state.NewKeyEncoder(c.Types); err != nil {
		return Codec{}, err
	}
	return c, nil
}

// Bind binds the encoders to the columns of rec, a batch of the input.
func (c *Codec) Bind(rec arrow.Record) error {
	for i, k := range c.KeyCols {
		c.KeyArrs[i] = rec.Column(k)
	}
	for i := range c.rowArrs {
		c.rowArrs[i] = rec.Column(i)
	}
	if err := c.KeyEnc.Bind(c.KeyArrs...); err != nil {
		return err
	}
	return c.RowEnc.Bind(c.rowArrs...)
}

// CheckKeys reports an error when the two inputs' join keys differ in
// kind, column by column.
func CheckKeys(left, right *Codec) error {
	for i := range left.KeyTypes {
		if left.KeyTypes[i].Kind != right.KeyTypes[i].Kind {
			return fmt.Errorf("key column %d is %s on the left, %s on the right", i, left.KeyTypes[i], right.KeyTypes[i])
		}
	}
	return nil
}

// TypeList lists ts (nullable) for a state layout's description.
func TypeList(ts []types.Type) string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Nullable().String()
	}
	return strings.Join(out, ", ")
}

// DecodeInto appends the held row (state key encoding of columns ts) to
// the fields of rb from first on; a nil row appends NULLs (the padding of
// an outer join).
func DecodeInto(rb *array.RecordBuilder, first int, ts []types.Type, row []byte) error {
	if row == nil {
		for c := range ts {
			rb.Field(first + c).AppendNull()
		}
		return nil
	}
	for c, t := range ts {
		var err error
		if row, err = state.DecodeKeyColumn(rb.Field(first+c), t, row); err != nil {
			return fmt.Errorf("held row: %w", err)
		}
	}
	return nil
}
