package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/streamsql/streamsql/types"
)

// Keys are encoded into bytes that sort like the keys: for each key column
// in order, 0x00 for NULL (NULLs sort first) or 0x01 followed by the value:
//
//	integers, timestamps, intervals, BOOLEAN (0/1): 8 bytes, big endian,
//	    sign bit flipped
//	FLOAT, DOUBLE: the float64's 8 bytes, big endian, transformed so that
//	    they sort numerically (-0 is stored as 0, every NaN as one NaN)
//	DECIMAL: 16 bytes, the high word with its sign bit flipped, then the
//	    low word, big endian
//	STRING: the bytes with 0x00 escaped as 0x00 0xFF, then 0x00 0x01
//
// Two rows have the same key exactly when their encodings are equal; the
// keyed exchange routes a row by HashKey of these bytes and keyed state
// stores them, so both agree on what one key is. The encoding is part of
// the checkpoint format.

// ErrCorruptKey is wrapped by the errors of decoding a malformed key.
var ErrCorruptKey = errors.New("state: malformed encoded key")

// IsIntKey reports whether values of t are encoded as 8-byte integers
// (integers, timestamps, intervals, BOOLEAN, NULL).
func IsIntKey(t types.Type) bool {
	switch t.Kind {
	case types.Int, types.BigInt, types.Timestamp, types.TimestampLTZ, types.Interval, types.Boolean, types.Null:
		return true
	}
	return false
}

// KeyTypeSupported reports whether t can be a key column.
func KeyTypeSupported(t types.Type) bool {
	if IsIntKey(t) {
		return true
	}
	switch t.Kind {
	case types.Float, types.Double, types.Decimal, types.String:
		return true
	}
	return false
}

// AppendIntKey appends the encoding of one integer key column's value v
// (or NULL).
func AppendIntKey(buf []byte, v int64, null bool) []byte {
	if null {
		return append(buf, 0)
	}
	return binary.BigEndian.AppendUint64(append(buf, 1), uint64(v)^(1<<63))
}

// floatKeyBits returns the order-preserving bits of f.
func floatKeyBits(f float64) uint64 {
	if f == 0 {
		f = 0 // -0 is the same key as 0
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

func floatFromKeyBits(b uint64) float64 {
	if b>>63 == 1 {
		return math.Float64frombits(b &^ (1 << 63))
	}
	return math.Float64frombits(^b)
}

// encKind is how one key column is encoded.
type encKind uint8

const (
	encInt encKind = iota
	encFloat
	encDecimal
	encString
)

// colEncoder encodes one key column of the bound batch.
type colEncoder struct {
	kind    encKind
	arr     arrow.Array
	nulls   bool
	ints    []int64
	scratch []int64
	f64     *array.Float64
	f32     *array.Float32
	dec     *array.Decimal128
	str     *array.String
}

// KeyEncoder appends the encoded key of a row of a batch. Bind it to each
// batch, then call Append per row; it allocates only when a batch is larger
// than any before (its integer scratch space). A KeyEncoder is used by one
// goroutine.
type KeyEncoder struct {
	types []types.Type
	cols  []colEncoder
}

// NewKeyEncoder returns an encoder of keys whose columns have types ts, or
// an error naming the first type that cannot be a key.
func NewKeyEncoder(ts []types.Type) (*KeyEncoder, error) {
	e := &KeyEncoder{types: ts, cols: make([]colEncoder, len(ts))}
	for i, t := range ts {
		switch {
		case IsIntKey(t):
			e.cols[i].kind = encInt
		case t.Kind == types.Float || t.Kind == types.Double:
			e.cols[i].kind = encFloat
		case t.Kind == types.Decimal:
			e.cols[i].kind = encDecimal
		case t.Kind == types.String:
			e.cols[i].kind = encString
		default:
			return nil, fmt.Errorf("state: cannot use a %s column as a key", t)
		}
	}
	return e, nil
}

// Bind prepares the encoder for a batch whose key columns are cols (in key
// order). It returns an error if a column's Arrow type does not match the
// key type.
func (e *KeyEncoder) Bind(cols ...arrow.Array) error {
	if len(cols) != len(e.cols) {
		return fmt.Errorf("state: key encoder of %d columns bound to %d", len(e.cols), len(cols))
	}
	for i, a := range cols {
		c := &e.cols[i]
		c.arr, c.nulls = a, a.NullN() > 0
		ok := true
		switch c.kind {
		case encInt:
			c.ints, ok = int64Values(a, &c.scratch)
		case encFloat:
			c.f64, _ = a.(*array.Float64)
			c.f32, _ = a.(*array.Float32)
			ok = c.f64 != nil || c.f32 != nil
		case encDecimal:
			c.dec, ok = a.(*array.Decimal128)
		case encString:
			c.str, ok = a.(*array.String)
		}
		if !ok {
			return fmt.Errorf("state: key column %d of type %s holds Arrow %s", i, e.types[i], a.DataType())
		}
	}
	return nil
}

// Append appends the encoded key of row i of the bound batch to buf.
func (e *KeyEncoder) Append(buf []byte, i int) []byte {
	for c := range e.cols {
		buf = e.cols[c].append(buf, i)
	}
	return buf
}

// AppendColumn appends the encoding of column c (in key order) of row i
// of the bound batch to buf.
func (e *KeyEncoder) AppendColumn(buf []byte, c, i int) []byte {
	return e.cols[c].append(buf, i)
}

func (c *colEncoder) append(buf []byte, i int) []byte {
	if c.nulls && c.arr.IsNull(i) {
		return append(buf, 0)
	}
	switch c.kind {
	case encInt:
		return binary.BigEndian.AppendUint64(append(buf, 1), uint64(c.ints[i])^(1<<63))
	case encFloat:
		var f float64
		if c.f64 != nil {
			f = c.f64.Value(i)
		} else {
			f = float64(c.f32.Value(i))
		}
		return binary.BigEndian.AppendUint64(append(buf, 1), floatKeyBits(f))
	case encDecimal:
		v := c.dec.Value(i)
		buf = binary.BigEndian.AppendUint64(append(buf, 1), uint64(v.HighBits())^(1<<63))
		return binary.BigEndian.AppendUint64(buf, v.LowBits())
	default:
		buf = append(buf, 1)
		s := c.str.Value(i)
		for {
			j := indexZero(s)
			if j < 0 {
				break
			}
			buf = append(append(buf, s[:j]...), 0, 0xFF)
			s = s[j+1:]
		}
		return append(append(buf, s...), 0, 1)
	}
}

// indexZero is the index of the first zero byte of s, or -1.
func indexZero(s string) int { return strings.IndexByte(s, 0) }

// int64Values returns the values of an integer-like array as int64s,
// converting into scratch when they are not held as int64 already.
func int64Values(a arrow.Array, scratch *[]int64) ([]int64, bool) {
	n := a.Len()
	switch a := a.(type) {
	case *array.Int64:
		return a.Int64Values(), true
	case *array.Timestamp, *array.Duration:
		if n == 0 {
			return nil, true
		}
		off := a.Data().Offset()
		return arrow.Int64Traits.CastFromBytes(a.Data().Buffers()[1].Bytes())[off : off+n], true
	}
	if cap(*scratch) < n {
		*scratch = make([]int64, n)
	}
	s := (*scratch)[:n]
	switch a := a.(type) {
	case *array.Int32:
		for i, v := range a.Int32Values() {
			s[i] = int64(v)
		}
	case *array.Boolean:
		for i := range s {
			s[i] = 0
			if a.Value(i) {
				s[i] = 1
			}
		}
	case *array.Null:
		clear(s)
	default:
		return nil, false
	}
	return s, true
}

// DecodeKeyColumn appends the value of one key column of type t, decoded
// from the front of key, to b (a builder of t's Arrow type), and returns
// the rest of key.
func DecodeKeyColumn(b array.Builder, t types.Type, key []byte) ([]byte, error) {
	if len(key) == 0 {
		return nil, ErrCorruptKey
	}
	if key[0] == 0 {
		b.AppendNull()
		return key[1:], nil
	}
	key = key[1:]
	switch {
	case IsIntKey(t):
		if len(key) < 8 {
			return nil, ErrCorruptKey
		}
		if err := appendInt(b, int64(binary.BigEndian.Uint64(key)^(1<<63))); err != nil {
			return nil, err
		}
		return key[8:], nil
	case t.Kind == types.Float || t.Kind == types.Double:
		if len(key) < 8 {
			return nil, ErrCorruptKey
		}
		f := floatFromKeyBits(binary.BigEndian.Uint64(key))
		switch b := b.(type) {
		case *array.Float64Builder:
			b.Append(f)
		case *array.Float32Builder:
			b.Append(float32(f))
		default:
			return nil, fmt.Errorf("state: cannot decode a %s key into %s", t, b.Type())
		}
		return key[8:], nil
	case t.Kind == types.Decimal:
		if len(key) < 16 {
			return nil, ErrCorruptKey
		}
		db, ok := b.(*array.Decimal128Builder)
		if !ok {
			return nil, fmt.Errorf("state: cannot decode a %s key into %s", t, b.Type())
		}
		hi := int64(binary.BigEndian.Uint64(key) ^ (1 << 63))
		db.Append(decimal128.New(hi, binary.BigEndian.Uint64(key[8:])))
		return key[16:], nil
	case t.Kind == types.String:
		sb, ok := b.(*array.StringBuilder)
		if !ok {
			return nil, fmt.Errorf("state: cannot decode a %s key into %s", t, b.Type())
		}
		// Without an escaped zero byte (the common case) the value is
		// appended straight from key, without a copy.
		if j := bytes.IndexByte(key, 0); j >= 0 && j+1 < len(key) && key[j+1] == 1 {
			sb.BinaryBuilder.Append(key[:j])
			return key[j+2:], nil
		}
		var out []byte
		for {
			j := bytes.IndexByte(key, 0)
			if j < 0 || j+1 >= len(key) {
				return nil, ErrCorruptKey
			}
			out = append(out, key[:j]...)
			switch key[j+1] {
			case 1:
				sb.BinaryBuilder.Append(out)
				return key[j+2:], nil
			case 0xFF:
				out = append(out, 0)
				key = key[j+2:]
			default:
				return nil, ErrCorruptKey
			}
		}
	}
	return nil, fmt.Errorf("state: no key encoding for %s", t)
}

func appendInt(b array.Builder, v int64) error {
	switch b := b.(type) {
	case *array.Int64Builder:
		b.Append(v)
	case *array.Int32Builder:
		b.Append(int32(v))
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v))
	case *array.DurationBuilder:
		b.Append(arrow.Duration(v))
	case *array.BooleanBuilder:
		b.Append(v != 0)
	default:
		return fmt.Errorf("state: cannot decode an integer key into %s", b.Type())
	}
	return nil
}

// SkipKeyColumn returns key without its first encoded column, of type t.
func SkipKeyColumn(t types.Type, key []byte) ([]byte, error) {
	if len(key) == 0 {
		return nil, ErrCorruptKey
	}
	if key[0] == 0 {
		return key[1:], nil
	}
	key = key[1:]
	switch {
	case IsIntKey(t), t.Kind == types.Float, t.Kind == types.Double:
		if len(key) < 8 {
			return nil, ErrCorruptKey
		}
		return key[8:], nil
	case t.Kind == types.Decimal:
		if len(key) < 16 {
			return nil, ErrCorruptKey
		}
		return key[16:], nil
	case t.Kind == types.String:
		for {
			j := bytes.IndexByte(key, 0)
			if j < 0 || j+1 >= len(key) {
				return nil, ErrCorruptKey
			}
			switch key[j+1] {
			case 1:
				return key[j+2:], nil
			case 0xFF:
				key = key[j+2:]
			default:
				return nil, ErrCorruptKey
			}
		}
	}
	return nil, fmt.Errorf("state: no key encoding for %s", t)
}

// CheckKey returns an error unless key is exactly one encoded key of
// columns of types ts.
func CheckKey(ts []types.Type, key []byte) error {
	rest := key
	for _, t := range ts {
		var err error
		if rest, err = SkipKeyColumn(t, rest); err != nil {
			return err
		}
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d trailing bytes: %w", len(rest), ErrCorruptKey)
	}
	return nil
}

// Hash constants (from xxHash64's primes).
const (
	prime1 uint64 = 0x9E3779B185EBCA87
	prime2 uint64 = 0xC2B2AE3D27D4EB4F
	prime3 uint64 = 0x165667B19E3779F9
)

// HashKey returns the 64-bit hash of the encoded key bytes key: the hash
// that chooses a key's key group (KeyGroupOf). It is a fixed function of
// the bytes, with no per-process seed, because it is part of the
// checkpoint format: 8-byte little-endian words folded with multiply and
// rotate, the length and the tail in a last word, and the splitmix64
// finalizer over the result.
func HashKey(key []byte) uint64 {
	h := prime3 ^ uint64(len(key))*prime1
	for len(key) >= 8 {
		w := binary.LittleEndian.Uint64(key)
		h = bits.RotateLeft64(h^(w*prime2), 31) * prime1
		key = key[8:]
	}
	var w uint64
	for i, b := range key {
		w |= uint64(b) << (8 * i)
	}
	h = bits.RotateLeft64(h^(w*prime2), 27)*prime1 + prime3
	return mix64(h)
}

// HashKeyString returns HashKey of the bytes of key, without copying them.
func HashKeyString(key string) uint64 {
	return HashKey(unsafe.Slice(unsafe.StringData(key), len(key)))
}

// HashIntKey returns HashKey(AppendIntKey(nil, v, false)) without
// building the bytes: the hash of a one-column integer key.
func HashIntKey(v int64) uint64 {
	u := uint64(v) ^ (1 << 63)
	// The 9 key bytes are 0x01 and u big endian: the first 8 as a
	// little-endian word are 0x01 then u's top 7 bytes; the tail is u's
	// low byte.
	w := 1 | bits.ReverseBytes64(u)<<8
	n := uint64(9)
	h := prime3 ^ n*prime1
	h = bits.RotateLeft64(h^(w*prime2), 31) * prime1
	h = bits.RotateLeft64(h^(uint64(byte(u))*prime2), 27)*prime1 + prime3
	return mix64(h)
}

// mix64 is the splitmix64 finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
