package exec

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestSplitOffsets checks the copy of a source's offsets that the
// prefetcher takes after every batch: reused without allocating, turned
// into the map a checkpoint stores, and refusing a split without a name or
// reported twice.
func TestSplitOffsets(t *testing.T) {
	src := &seqSource{n: 100, alloc: memory.DefaultAllocator}
	s := newSplitOffsets()
	if err := s.capture(src); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		src.next++
		if err := s.capture(src); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("capture allocates %v times", n)
	}
	m, err := s.toMap()
	if err != nil || len(m) != 1 || string(m["0"]) != string(src.buf[:]) {
		t.Fatalf("toMap = %x, %v", m, err)
	}
	for _, tc := range []struct {
		report func(fn func(string, []byte) error) error
		err    string
	}{
		{func(fn func(string, []byte) error) error { return fn("", nil) }, "without a split name"},
		{func(fn func(string, []byte) error) error { _ = fn("a", nil); return fn("a", nil) }, `split "a" twice`},
	} {
		s := newSplitOffsets()
		err := s.capture(offsetsFunc(tc.report))
		if err == nil {
			_, err = s.toMap()
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("got %v, want %q", err, tc.err)
		}
	}
}

// offsetsFunc is a Source whose only working method is Offsets.
type offsetsFunc func(fn func(string, []byte) error) error

func (f offsetsFunc) Offsets(fn func(string, []byte) error) error { return f(fn) }

func (offsetsFunc) Open(_ context.Context, _ map[string][]byte) error { return nil }

func (offsetsFunc) Read(context.Context) (arrow.Record, int, error) { return nil, 0, io.EOF }

func (offsetsFunc) Close() error { return nil }
