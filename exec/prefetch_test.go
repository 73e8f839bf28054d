package exec

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// seqSource emits the numbers 0..n-1 in batches of 10; its offset is the
// next number.
type seqSource struct {
	next, n int64
	alloc   memory.Allocator
	buf     [8]byte
}

var seqSchema = arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)

func (s *seqSource) Open(_ context.Context, offsets map[string][]byte) error {
	if off, ok := offsets["0"]; ok {
		s.next = int64(binary.BigEndian.Uint64(off))
	}
	return nil
}

func (s *seqSource) Read(context.Context) (arrow.Record, int, error) {
	if s.next >= s.n {
		return nil, 0, io.EOF
	}
	b := array.NewInt64Builder(s.alloc)
	defer b.Release()
	for i := 0; i < 10 && s.next < s.n; i++ {
		b.Append(s.next)
		s.next++
	}
	col := b.NewArray()
	defer col.Release()
	return array.NewRecord(seqSchema, []arrow.Array{col}, int64(col.Len())), 0, nil
}

func (s *seqSource) Offsets(fn func(string, []byte) error) error {
	return fn("0", binary.BigEndian.AppendUint64(s.buf[:0], uint64(s.next)))
}

func (s *seqSource) Close() error { return nil }

// TestPrefetchOffsets checks the prefetcher's exactly-once bookkeeping:
// while the reader runs ahead, the offset the job would checkpoint is the
// one after the last batch it consumed, and resuming a fresh source from
// it continues with the next row; stopping releases what was read ahead.
func TestPrefetchOffsets(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	ctx := context.Background()
	src := &seqSource{n: 1000, alloc: alloc}
	if err := src.Open(ctx, nil); err != nil {
		t.Fatal(err)
	}
	p, err := startPrefetch(ctx, src, 4, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	want := int64(0)
	for i := 0; i < 7; i++ {
		rec, _, err := p.read(ctx)
		if err != nil || rec == nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if got := rec.Column(0).(*array.Int64).Value(0); got != want {
			t.Fatalf("batch %d starts at %d, want %d", i, got, want)
		}
		want += rec.NumRows()
		rec.Release()
	}
	off, err := p.offset.toMap()
	if err != nil {
		t.Fatal(err)
	}
	p.stop()
	if got := int64(binary.BigEndian.Uint64(off["0"])); got != want {
		t.Fatalf("offset after 7 batches = %d, want %d (the reader was ahead at %d)", got, want, src.next)
	}
	resumed := &seqSource{n: 1000, alloc: alloc}
	if err := resumed.Open(ctx, off); err != nil {
		t.Fatal(err)
	}
	rec, _, err := resumed.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if got := rec.Column(0).(*array.Int64).Value(0); got != want {
		t.Fatalf("resumed at %d, want %d", got, want)
	}
	// To the end: io.EOF after the last batch.
	src2 := &seqSource{n: 35, alloc: alloc}
	p2, _ := startPrefetch(ctx, src2, 1, slog.New(slog.DiscardHandler))
	rows := int64(0)
	for {
		rec, _, err := p2.read(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec != nil {
			rows += rec.NumRows()
			rec.Release()
		}
	}
	p2.stop()
	off2, err := p2.offset.toMap()
	if err != nil {
		t.Fatal(err)
	}
	if rows != 35 || binary.BigEndian.Uint64(off2["0"]) != 35 {
		t.Fatalf("read %d rows, offset %x; want 35, 35", rows, off2["0"])
	}
}

// statefulSeq is a seqSource whose offsets say they hold state.
type statefulSeq struct {
	seqSource
	stateful bool
}

func (s *statefulSeq) StatefulOffsets() bool { return s.stateful }

// TestPrefetchableStatefulOffsets: a source whose offsets hold state is
// not prefetched (its offsets would be taken after every batch); others,
// and one that says its offsets hold none, are.
func TestPrefetchableStatefulOffsets(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  Source
		want bool
	}{
		{"plain", &seqSource{}, true},
		{"stateless", &statefulSeq{stateful: false}, true},
		{"stateful", &statefulSeq{stateful: true}, false},
	} {
		if got := prefetchable(tc.src); got != tc.want {
			t.Errorf("prefetchable(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
