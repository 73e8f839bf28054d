package blackhole

import (
	"context"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

func TestBlackhole(t *testing.T) {
	schema := types.Schema{Fields: []types.Field{{Name: "a", Type: types.BigIntType}}}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema.Arrow())
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, nil)
	rec := b.NewRecord()
	defer rec.Release()
	f := New()
	if err := f.Validate(nil, schema, true); err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(nil, schema, false); err == nil {
		t.Fatal("blackhole accepted as a source")
	}
	s, err := f.NewSink(exec.SinkConfig{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s.Open(ctx, nil)
	s.Write(ctx, rec)
	s.Write(ctx, rec)
	if h, err := s.PreCommit(ctx, 1); h != nil || err != nil {
		t.Fatal(h, err)
	}
	if n := s.(*Sink).Rows(); n != 6 {
		t.Fatalf("counted %d rows, want 6", n)
	}
	s.Close()
}
