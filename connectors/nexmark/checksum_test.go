package nexmark

import (
	"context"
	"fmt"
	"hash/fnv"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
)

// TestChecksums pins what the generator produces: a checksum of the rows
// of a few seeds and streams, read whole and with only some columns, taken
// from the generator before its column builders were reworked for speed.
// A change of how values are produced that changes a value fails here.
func TestChecksums(t *testing.T) {
	want := map[string]string{
		"seed=0 auction []":      "480 rows bc0641e2ee4faa48",
		"seed=0 bid [0 3 4]":     "7360 rows da7ff29586a7ff37",
		"seed=0 bid [3]":         "7360 rows 62d0414388a41ee2",
		"seed=0 bid [4]":         "7360 rows d3e497f343531289",
		"seed=0 bid []":          "7360 rows 7f5e2fc96358ac88",
		"seed=0 person []":       "160 rows 05fcb70f51d59ea7",
		"seed=12345 auction []":  "480 rows 8764ba25278aef7d",
		"seed=12345 bid [0 3 4]": "7360 rows 622f177323d60ef8",
		"seed=12345 bid [3]":     "7360 rows f02c6cff08e28973",
		"seed=12345 bid [4]":     "7360 rows 2a20a1f789864264",
		"seed=12345 bid []":      "7360 rows ace36caef2a5ebb5",
		"seed=12345 person []":   "160 rows e3215b74e7d84e79",
		"seed=7 auction []":      "480 rows 42a74a8c1fc13826",
		"seed=7 bid [0 3 4]":     "7360 rows 8ae7e9506a6e2d5b",
		"seed=7 bid [3]":         "7360 rows a2d07f07284baf53",
		"seed=7 bid [4]":         "7360 rows dac1018a1e3c84cf",
		"seed=7 bid []":          "7360 rows bc03a5ed51b03121",
		"seed=7 person []":       "160 rows e5e5c6d37d0db317",
	}
	got := map[string]string{}
	for _, seed := range []string{"0", "7", "12345"} {
		for _, tc := range []struct {
			stream string
			cols   []int // nil: all
		}{
			{"bid", nil},
			{"bid", []int{3}},       // channel
			{"bid", []int{4}},       // url
			{"bid", []int{0, 3, 4}}, // auction, channel, url
			{"person", nil},
			{"auction", nil},
		} {
			st := 0
			for i, n := range streamNames {
				if n == tc.stream {
					st = i
				}
			}
			src, err := New().NewSource(exec.SourceConfig{Table: "t", Schema: schemaOf(st),
				Options:   opts("event.type", tc.stream, "events.num", "8000", "seed", seed),
				BatchSize: 1000, Alloc: memory.DefaultAllocator, Columns: tc.cols})
			if err != nil {
				t.Fatal(err)
			}
			if err := src.Open(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			h := fnv.New64a()
			rs := readN(t, src, -1)
			for _, r := range rs {
				h.Write([]byte(r))
				h.Write([]byte{'\n'})
			}
			src.Close()
			key := fmt.Sprintf("seed=%s %s %v", seed, tc.stream, tc.cols)
			got[key] = fmt.Sprintf("%d rows %016x", len(rs), h.Sum64())
		}
	}
	for k, v := range got {
		if w, ok := want[k]; !ok || w != v {
			t.Errorf("%s: %s, want %s", k, v, w)
		}
	}
}
