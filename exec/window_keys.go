package exec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/streamsql/streamsql/types"
)

// Group keys are encoded into bytes that sort like the keys: for each key
// column in order, 0x00 for NULL (NULLs sort first) or 0x01 followed by the
// value:
//
//	integers, timestamps, intervals, BOOLEAN (0/1): 8 bytes, big endian,
//	    sign bit flipped
//	FLOAT, DOUBLE: the float64's 8 bytes, big endian, transformed so that
//	    they sort numerically (-0 is stored as 0, every NaN as one NaN)
//	DECIMAL: 16 bytes, the high word with its sign bit flipped, then the
//	    low word, big endian
//	STRING: the bytes with 0x00 escaped as 0x00 0xFF, then 0x00 0x01
//
// The same bytes serve as the hash key of general group keys, as the
// order in which the rows of one window are emitted, and inside state
// keys. The single-integer-key fast path never builds them per row but
// writes the identical bytes when it checkpoints.

// groupKeyIsInt reports whether values of t are held as int64 group keys.
func groupKeyIsInt(t types.Type) bool {
	switch t.Kind {
	case types.Int, types.BigInt, types.Timestamp, types.TimestampLTZ, types.Interval, types.Boolean, types.Null:
		return true
	}
	return false
}

func appendIntGroupKey(buf []byte, v int64, null bool) []byte {
	if null {
		return append(buf, 0)
	}
	return binary.BigEndian.AppendUint64(append(buf, 1), uint64(v)^(1<<63))
}

func floatGroupKeyBits(f float64) uint64 {
	if f == 0 {
		f = 0 // -0 groups with 0
	}
	if f != f {
		f = math.NaN()
	}
	b := math.Float64bits(f)
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

func floatFromGroupKeyBits(b uint64) float64 {
	if b>>63 == 1 {
		return math.Float64frombits(b &^ (1 << 63))
	}
	return math.Float64frombits(^b)
}

// groupKeyEncoder appends the encoding of one key column's value in row i.
type groupKeyEncoder func(buf []byte, i int) []byte

// newGroupKeyEncoder returns the encoder of column a, whose type is t.
func newGroupKeyEncoder(a arrow.Array, t types.Type, scratch *[]int64) groupKeyEncoder {
	if groupKeyIsInt(t) {
		v := accInt64Values(a, scratch)
		return func(buf []byte, i int) []byte { return appendIntGroupKey(buf, v[i], a.IsNull(i)) }
	}
	switch a := a.(type) {
	case *array.Float64:
		return func(buf []byte, i int) []byte {
			if a.IsNull(i) {
				return append(buf, 0)
			}
			return binary.BigEndian.AppendUint64(append(buf, 1), floatGroupKeyBits(a.Value(i)))
		}
	case *array.Float32:
		return func(buf []byte, i int) []byte {
			if a.IsNull(i) {
				return append(buf, 0)
			}
			return binary.BigEndian.AppendUint64(append(buf, 1), floatGroupKeyBits(float64(a.Value(i))))
		}
	case *array.Decimal128:
		return func(buf []byte, i int) []byte {
			if a.IsNull(i) {
				return append(buf, 0)
			}
			v := a.Value(i)
			buf = binary.BigEndian.AppendUint64(append(buf, 1), uint64(v.HighBits())^(1<<63))
			return binary.BigEndian.AppendUint64(buf, v.LowBits())
		}
	case *array.String:
		return func(buf []byte, i int) []byte {
			if a.IsNull(i) {
				return append(buf, 0)
			}
			buf = append(buf, 1)
			s := a.Value(i)
			for {
				j := indexZeroByte(s, 0)
				if j < 0 {
					break
				}
				buf = append(append(buf, s[:j]...), 0, 0xFF)
				s = s[j+1:]
			}
			return append(append(buf, s...), 0, 1)
		}
	}
	panic(fmt.Sprintf("exec: no group key encoding for %s", t))
}

func indexZeroByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// decodeGroupKeyColumn appends the value of one key column, decoded from the
// front of key, to b, and returns the rest of key.
func decodeGroupKeyColumn(b array.Builder, t types.Type, key []byte) ([]byte, error) {
	if len(key) == 0 {
		return nil, errWindowState
	}
	if key[0] == 0 {
		b.AppendNull()
		return key[1:], nil
	}
	key = key[1:]
	switch {
	case groupKeyIsInt(t):
		if len(key) < 8 {
			return nil, errWindowState
		}
		appendAccInt(b, int64(binary.BigEndian.Uint64(key)^(1<<63)))
		return key[8:], nil
	case t.Kind == types.Float || t.Kind == types.Double:
		if len(key) < 8 {
			return nil, errWindowState
		}
		appendAccFloat(b, floatFromGroupKeyBits(binary.BigEndian.Uint64(key)))
		return key[8:], nil
	case t.Kind == types.Decimal:
		if len(key) < 16 {
			return nil, errWindowState
		}
		hi := int64(binary.BigEndian.Uint64(key) ^ (1 << 63))
		lo := binary.BigEndian.Uint64(key[8:])
		b.(*array.Decimal128Builder).Append(decimal128.New(hi, lo))
		return key[16:], nil
	case t.Kind == types.String:
		var out []byte
		for {
			j := bytes.IndexByte(key, 0)
			if j < 0 || j+1 >= len(key) {
				return nil, errWindowState
			}
			out = append(out, key[:j]...)
			if key[j+1] == 1 {
				b.(*array.StringBuilder).Append(string(out))
				return key[j+2:], nil
			}
			out = append(out, 0)
			key = key[j+2:]
		}
	}
	return nil, fmt.Errorf("exec: no group key encoding for %s", t)
}

// skipGroupKeyColumn returns key without its first encoded column.
func skipGroupKeyColumn(t types.Type, key []byte) ([]byte, error) {
	if len(key) == 0 {
		return nil, errWindowState
	}
	if key[0] == 0 {
		return key[1:], nil
	}
	key = key[1:]
	switch {
	case groupKeyIsInt(t), t.Kind == types.Float, t.Kind == types.Double:
		if len(key) < 8 {
			return nil, errWindowState
		}
		return key[8:], nil
	case t.Kind == types.Decimal:
		if len(key) < 16 {
			return nil, errWindowState
		}
		return key[16:], nil
	case t.Kind == types.String:
		for {
			j := bytes.IndexByte(key, 0)
			if j < 0 || j+1 >= len(key) {
				return nil, errWindowState
			}
			if key[j+1] == 1 {
				return key[j+2:], nil
			}
			key = key[j+2:]
		}
	}
	return nil, fmt.Errorf("exec: no group key encoding for %s", t)
}
