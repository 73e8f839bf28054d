package state

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/types"
)

// testSchema is the schema of testBatch: one column of every key type.
var testSchema = types.Schema{Fields: []types.Field{
	{Name: "i", Type: types.IntType}, {Name: "b", Type: types.BigIntType},
	{Name: "d", Type: types.DoubleType}, {Name: "s", Type: types.StringType},
	{Name: "m", Type: types.DecimalType(10, 2)}, {Name: "t", Type: types.TimestampType},
	{Name: "f", Type: types.FloatType}, {Name: "o", Type: types.BooleanType},
}}

// testBatch builds a batch of testSchema whose rows are given column by
// column; a nil value is NULL.
func testBatch(t testing.TB, alloc memory.Allocator, rows [][]any) arrow.Record {
	rb := array.NewRecordBuilder(alloc, testSchema.Arrow())
	defer rb.Release()
	for _, row := range rows {
		for c, v := range row {
			b := rb.Field(c)
			if v == nil {
				b.AppendNull()
				continue
			}
			switch b := b.(type) {
			case *array.Int32Builder:
				b.Append(int32(v.(int)))
			case *array.Int64Builder:
				b.Append(int64(v.(int)))
			case *array.Float64Builder:
				b.Append(v.(float64))
			case *array.Float32Builder:
				b.Append(float32(v.(float64)))
			case *array.StringBuilder:
				b.Append(v.(string))
			case *array.Decimal128Builder:
				b.Append(decimal128.FromI64(int64(v.(int))))
			case *array.TimestampBuilder:
				b.Append(arrow.Timestamp(v.(int)))
			case *array.BooleanBuilder:
				b.Append(v.(bool))
			default:
				t.Fatalf("column %d: unexpected builder %T", c, b)
			}
		}
	}
	return rb.NewRecord()
}

var allCols = []int{0, 1, 2, 3, 4, 5, 6, 7}

func encodeRows(t *testing.T, rec arrow.Record, keys []int) [][]byte {
	t.Helper()
	ts := make([]types.Type, len(keys))
	cols := make([]arrow.Array, len(keys))
	for i, k := range keys {
		ts[i], cols[i] = testSchema.Fields[k].Type, rec.Column(k)
	}
	e, err := NewKeyEncoder(ts)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(cols...); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for r := 0; r < int(rec.NumRows()); r++ {
		out = append(out, e.Append(nil, r))
	}
	return out
}

// TestKeyEncodingRoundTrip encodes rows of every key type, decodes them
// into builders and compares the batches.
func TestKeyEncodingRoundTrip(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	rows := [][]any{
		{1, -5, 1.5, "a\x00b", 1234, 1000, 2.5, true},
		{nil, nil, nil, nil, nil, nil, nil, nil},
		{math.MinInt32, math.MinInt64, math.Inf(-1), "", -99, -1, -0.5, false},
		{7, math.MaxInt64, math.Inf(1), "\x00\x00\xff", 0, 0, 0.0, true},
	}
	rec := testBatch(t, alloc, rows)
	defer rec.Release()
	keys := encodeRows(t, rec, allCols)
	rb := array.NewRecordBuilder(alloc, testSchema.Arrow())
	defer rb.Release()
	ts := make([]types.Type, len(allCols))
	for i := range ts {
		ts[i] = testSchema.Fields[i].Type
	}
	for _, k := range keys {
		if err := CheckKey(ts, k); err != nil {
			t.Fatalf("CheckKey(%x): %v", k, err)
		}
		rest := k
		for c, ft := range ts {
			var err error
			if rest, err = DecodeKeyColumn(rb.Field(c), ft, rest); err != nil {
				t.Fatalf("decode column %d of %x: %v", c, k, err)
			}
		}
		if len(rest) != 0 {
			t.Fatalf("%d bytes left after decoding %x", len(rest), k)
		}
	}
	got := rb.NewRecord()
	defer got.Release()
	if !array.RecordEqual(got, rec) {
		t.Fatalf("decoded\n%v\nwant\n%v", got, rec)
	}
}

// TestKeyEncodingOrderAndIdentity checks that encodings sort like the
// values and that values the engine groups together (-0 and 0, every NaN)
// encode alike.
func TestKeyEncodingOrderAndIdentity(t *testing.T) {
	alloc := memory.NewGoAllocator()
	floats := []float64{math.Inf(-1), -2.5, -1e-300, 0, 1e-300, 3, math.Inf(1), math.NaN()}
	var rows [][]any
	for i, f := range floats {
		rows = append(rows, []any{i - 3, i * 1000, f, string(rune('a' + i)), i - 4, i, f, i%2 == 1})
	}
	rec := testBatch(t, alloc, rows)
	defer rec.Release()
	for _, c := range []int{0, 1, 2, 5, 6} {
		enc := encodeRows(t, rec, []int{c})
		if !slices.IsSortedFunc(enc, bytes.Compare) {
			t.Errorf("column %s: encodings do not sort like the values: %x", testSchema.Fields[c].Name, enc)
		}
	}
	same := testBatch(t, alloc, [][]any{
		{0, 0, 0.0, "x", 0, 0, 0.0, true},
		{0, 0, math.Copysign(0, -1), "x", 0, 0, math.Copysign(0, -1), true},
		{0, 0, math.NaN(), "x", 0, 0, math.NaN(), true},
		{0, 0, math.Float64frombits(0x7ff8000000000abc), "x", 0, 0, math.Float64frombits(0xfff8000000000001), true},
	})
	defer same.Release()
	enc := encodeRows(t, same, allCols)
	if !bytes.Equal(enc[0], enc[1]) {
		t.Errorf("-0 and 0 encode differently: %x, %x", enc[0], enc[1])
	}
	if !bytes.Equal(enc[2], enc[3]) {
		t.Errorf("two NaNs encode differently: %x, %x", enc[2], enc[3])
	}
}

func TestDecodeKeyRejectsMalformed(t *testing.T) {
	b := array.NewStringBuilder(memory.NewGoAllocator())
	defer b.Release()
	for _, k := range [][]byte{{}, {1, 'a'}, {1, 'a', 0}, {1, 'a', 0, 7}} {
		if _, err := DecodeKeyColumn(b, types.StringType, k); !errors.Is(err, ErrCorruptKey) {
			t.Errorf("DecodeKeyColumn(%x) = %v, want ErrCorruptKey", k, err)
		}
	}
	if err := CheckKey([]types.Type{types.BigIntType}, []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 5}); !errors.Is(err, ErrCorruptKey) {
		t.Errorf("CheckKey with a trailing byte = %v, want ErrCorruptKey", err)
	}
	if _, err := NewKeyEncoder([]types.Type{{Kind: types.Unknown}}); err == nil {
		t.Error("NewKeyEncoder accepted an UNKNOWN key column")
	}
}

// TestHashKeyStable pins HashKey's values: they are part of the checkpoint
// format (a key's key group must not change between versions).
func TestHashKeyStable(t *testing.T) {
	for _, c := range []struct {
		key  []byte
		want uint64
	}{
		{nil, 0xb96d4bea752b82d7},
		{[]byte{0}, 0x8ffca895ed94a8b5},
		{AppendIntKey(nil, 42, false), 0x1807395c2ec8187b},
		{[]byte("\x01hello, world\x00\x01"), 0xb82f40ac2021c999},
	} {
		if got := HashKey(c.key); got != c.want {
			t.Errorf("HashKey(%x) = %#x, want %#x", c.key, got, c.want)
		}
	}
}

func TestHashIntKey(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 42, math.MinInt64, math.MaxInt64, 1 << 40, -12345678901} {
		if got, want := HashIntKey(v), HashKey(AppendIntKey(nil, v, false)); got != want {
			t.Errorf("HashIntKey(%d) = %#x, HashKey of its encoding %#x", v, got, want)
		}
	}
}

// TestHashKeySpread checks that consecutive integer keys spread evenly
// over the key groups and the subtasks.
func TestHashKeySpread(t *testing.T) {
	const n, maxP = 128000, 128
	var groups [maxP]int
	for i := 0; i < n; i++ {
		groups[KeyGroupOfKey(AppendIntKey(nil, int64(i), false), maxP)]++
	}
	for kg, c := range groups {
		if c < n/maxP*8/10 || c > n/maxP*12/10 {
			t.Errorf("key group %d got %d of %d keys, want about %d", kg, c, n, n/maxP)
		}
	}
}
