package nexmark

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
)

// TestProjection reads each stream with only some columns
// (SourceConfig.Columns): those columns hold what a full read holds, the
// others are NULL, and a projected source resumes at the offsets of a full
// one (and the other way round): the offsets do not depend on the columns.
func TestProjection(t *testing.T) {
	for _, tc := range []struct {
		stream string
		cols   []int
	}{
		{"bid", []int{0, 2}},    // auction, price
		{"bid", []int{3, 4, 5}}, // channel, url, dateTime
		{"bid", []int{}},
		{"person", []int{1, 6}},
		{"auction", []int{0, 9}},
	} {
		var st int
		for i, n := range streamNames {
			if n == tc.stream {
				st = i
			}
		}
		schema := schemaOf(st)
		o := opts("event.type", tc.stream, "events.num", "20000")
		projected := func(batch int, off map[string][]byte) exec.Source {
			t.Helper()
			src, err := New().NewSource(exec.SourceConfig{Table: "t", Schema: schema, Options: o, BatchSize: batch,
				Alloc: memory.DefaultAllocator, Columns: tc.cols})
			if err != nil {
				t.Fatal(err)
			}
			if err := src.Open(context.Background(), off); err != nil {
				t.Fatal(err)
			}
			return src
		}
		// What a projected read must give: the full rows with the skipped
		// columns NULL.
		keep := make([]bool, schema.Len())
		for _, c := range tc.cols {
			keep[c] = true
		}
		var want []string
		for _, r := range readN(t, open(t, memory.DefaultAllocator, schema, o, 64, nil), -1) {
			f := strings.Split(r, "|")
			for i := range f {
				if !keep[i] {
					f[i] = "NULL"
				}
			}
			want = append(want, strings.Join(f, "|"))
		}
		if len(want) == 0 {
			t.Fatalf("%s: no rows", tc.stream)
		}
		if got := readN(t, projected(64, nil), -1); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s %v: projected rows differ (%d vs %d rows); first: %q vs %q", tc.stream, tc.cols, len(got), len(want), got[0], want[0])
		}

		// A full source's offsets resume a projected one, and back.
		full := open(t, memory.DefaultAllocator, schema, o, 64, nil)
		head := len(readN(t, full, 130))
		off, err := exec.SourceOffsets(full)
		if err != nil {
			t.Fatal(err)
		}
		p := projected(50, off)
		mid := readN(t, p, 100)
		off2, err := exec.SourceOffsets(p)
		if err != nil {
			t.Fatal(err)
		}
		tail := readN(t, open(t, memory.DefaultAllocator, schema, o, 64, off2), -1)
		if got := strings.Join(mid, "\n"); got != strings.Join(want[head:head+len(mid)], "\n") {
			t.Errorf("%s %v: a projected source resumed from a full one's offsets differs", tc.stream, tc.cols)
		}
		if n := head + len(mid) + len(tail); n != len(want) {
			t.Errorf("%s %v: resumed runs read %d rows, want %d", tc.stream, tc.cols, n, len(want))
		}
	}
}
