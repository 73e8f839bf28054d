package join

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/types"
)

// TestRowDecoder encodes rows of every kind of column (strings with NUL
// bytes, NULLs) and decodes them with rowDecoder, every column and a
// subset (the others skipped), comparing with the batch.
func TestRowDecoder(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	sch := types.Schema{Fields: []types.Field{
		{Name: "i", Type: types.IntType}, {Name: "b", Type: types.BigIntType}, {Name: "d", Type: types.DoubleType},
		{Name: "s", Type: types.StringType}, {Name: "ts", Type: types.TimestampType}, {Name: "t", Type: types.BooleanType},
		{Name: "s2", Type: types.StringType},
	}}
	rb := array.NewRecordBuilder(alloc, sch.Arrow())
	defer rb.Release()
	for r, s := range []string{"a\x00b", "", "\x00\x00\xff", "plain", "x"} {
		if r == 1 {
			for c := range sch.Fields {
				rb.Field(c).AppendNull()
			}
			continue
		}
		rb.Field(0).(*array.Int32Builder).Append(int32(-r))
		rb.Field(1).(*array.Int64Builder).Append(int64(r) << 40)
		rb.Field(2).(*array.Float64Builder).Append(float64(r) / 3)
		rb.Field(3).(*array.StringBuilder).Append(s)
		rb.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(1000 * r))
		rb.Field(5).(*array.BooleanBuilder).Append(r%2 == 0)
		rb.Field(6).(*array.StringBuilder).Append(s + s)
	}
	rec := rb.NewRecord()
	defer rec.Release()
	var ts []types.Type
	cols := make([]arrow.Array, rec.NumCols())
	for c, f := range sch.Fields {
		ts = append(ts, f.Type)
		cols[c] = rec.Column(c)
	}
	enc, err := state.NewKeyEncoder(ts)
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.Bind(cols...); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for r := 0; r < int(rec.NumRows()); r++ {
		rows = append(rows, string(enc.Append(nil, r)))
	}
	for _, tc := range []struct {
		want []int
		sc   bool // STRING columns into strCols
	}{{seq(len(ts)), false}, {seq(len(ts)), true}, {[]int{3, 4}, false}, {[]int{3, 4}, true}, {[]int{0, 6}, true}, {[]int{2, 5}, false}} {
		want := tc.want
		d := newRowDecoder(ts)
		bs := make([]array.Builder, len(want))
		scs := make([]*strCol, len(want))
		for j, c := range want {
			if tc.sc && ts[c].Kind == types.StringType.Kind {
				scs[j] = newStrCol(len(rows), 4)
				continue
			}
			bs[j] = array.NewBuilder(alloc, rec.Column(c).DataType())
			bs[j].Reserve(2 * len(rows))
		}
		if err := d.bind(bs, scs, want); err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			if err := d.decode([]byte(row)); err != nil {
				t.Fatalf("columns %v: decode %x: %v", want, row, err)
			}
		}
		if err := d.decode([]byte(rows[0][:3])); err == nil {
			t.Errorf("columns %v: a row truncated in its first column decodes", want)
		}
		// A row is read up to its last column bound: its end is checked
		// when that is its last column.
		if err := d.decode([]byte(rows[0][:len(rows[0])-1])); (err == nil) == (want[len(want)-1] == len(ts)-1) {
			t.Errorf("columns %v: a row truncated in its last column: %v", want, err)
		}
		for j, c := range want {
			var got arrow.Array
			if bs[j] == nil {
				got = scs[j].newArray()
			} else {
				got = bs[j].NewArray()
				bs[j].Release()
			}
			if n := rec.NumRows(); int64(got.Len()) > n {
				s := array.NewSlice(got, 0, n) // without the truncated row's first columns
				got.Release()
				got = s
			}
			if !array.Equal(got, rec.Column(c)) {
				t.Errorf("columns %v: column %d decodes to %v, want %v", want, c, got, rec.Column(c))
			}
			got.Release()
		}
	}
}
