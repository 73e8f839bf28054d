package print

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

var schema = types.Schema{Fields: []types.Field{
	{Name: "id", Type: types.BigIntType},
	{Name: "ts", Type: types.TimestampType},
	{Name: "n", Type: types.IntType},
	{Name: "s", Type: types.StringType},
	{Name: "d", Type: types.DecimalType(10, 2)},
	{Name: "x", Type: types.DoubleType},
}}

func TestPrint(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	b := array.NewRecordBuilder(alloc, schema.Arrow())
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
	b.Field(1).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1704067210000, 1704067220005}, nil)
	b.Field(2).(*array.Int32Builder).AppendValues([]int32{5, 0}, []bool{true, false})
	b.Field(3).(*array.StringBuilder).AppendValues([]string{"a b", ""}, nil)
	b.Field(4).(*array.Decimal128Builder).AppendValues([]decimal128.Num{decimal128.FromI64(150), decimal128.FromI64(-5)}, nil)
	b.Field(5).(*array.Float64Builder).AppendValues([]float64{1, 0.1}, nil)
	rec := b.NewRecord()
	defer rec.Release()

	var out bytes.Buffer
	f := New(&out)
	for _, opts := range []map[string]string{{}, {"print-identifier": "sink1"}} {
		if err := f.Validate(opts, schema, true); err != nil {
			t.Fatal(err)
		}
		s, err := f.NewSink(exec.SinkConfig{Schema: schema, Options: opts, Alloc: alloc})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := s.Open(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Write(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PreCommit(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, 1); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	want := `+I[1, 2024-01-01 00:00:10.000, 5, a b, 1.50, 1.0]
+I[2, 2024-01-01 00:00:20.005, null, , -0.05, 0.1]
sink1> +I[1, 2024-01-01 00:00:10.000, 5, a b, 1.50, 1.0]
sink1> +I[2, 2024-01-01 00:00:20.005, null, , -0.05, 0.1]
`
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// TestPrintRowKinds: each line shows its row's kind, as Flink's print does.
func TestPrintRowKinds(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	sch := types.Schema{Fields: []types.Field{{Name: "id", Type: types.BigIntType}, {Name: "s", Type: types.StringType}}}
	b := array.NewRecordBuilder(alloc, sch.Arrow())
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 1, 1, 2}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"a", "a", "b", "c"}, []bool{true, true, true, false})
	data := b.NewRecord()
	defer data.Release()
	kinds := exec.NewRowKinds(alloc, []types.RowKind{types.Insert, types.UpdateBefore, types.UpdateAfter, types.Delete})
	defer kinds.Release()
	rec := exec.WithRowKinds(data, kinds)
	defer rec.Release()
	var out bytes.Buffer
	s, err := New(&out).NewSink(exec.SinkConfig{Schema: sch, Options: map[string]string{"print-identifier": "p"}, Alloc: alloc})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	want := "p> +I[1, a]\np> -U[1, a]\np> +U[1, b]\np> -D[2, null]\n"
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestPrintIsSinkOnly(t *testing.T) {
	var oe *connectors.OptionError
	if err := New(nil).Validate(nil, schema, false); !errors.As(err, &oe) {
		t.Fatalf("got %v", err)
	}
	r := connectors.NewRegistry(New(nil))
	err := r.Validate(map[string]string{"connector": "print", "print-identifier": "x"}, schema, false)
	if err == nil || err.Error() != `option "print-identifier": option does not apply to a print source` {
		t.Fatalf("got %v", err)
	}
}
