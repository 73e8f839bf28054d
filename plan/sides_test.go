package plan

import (
	"testing"

	"github.com/streamsql/streamsql/types"
)

func TestSidesPair(t *testing.T) {
	l := types.Schema{Fields: []types.Field{{Name: "k"}, {Name: "ts"}, {Name: "v"}}}
	r := types.Schema{Fields: []types.Field{{Name: "K"}, {Name: "ts"}, {Name: "w"}}}
	for _, c := range []struct {
		s      Sides
		li, ri int
		want   string
	}{
		{Sides{Left: []string{"a", "a", "a"}, Right: []string{"b", "b", "b"}}, 1, 1, "a.ts = b.ts"},
		{Sides{Left: []string{"a", "a", "a"}, Right: []string{"b", "b", "b"}}, 0, 0, "a.k = b.K"}, // names fold case, as SQL's do
		{Sides{Left: []string{"a", "a", "a"}, Right: []string{"b", "b", "b"}}, 2, 2, "v = w"},
		{Sides{Left: []string{"a", "a", "a"}, Right: []string{"b", "b", "b"}}, 2, 1, "v = b.ts"},
		{Sides{}, 1, 1, "L.ts = R.ts"},
		{Sides{Left: []string{"a", "a"}, Right: []string{"A", "A"}}, 1, 1, "L.ts = R.ts"}, // one qualifier for both
		{Sides{Left: []string{"a"}, Right: []string{"b", "b"}}, 1, 1, "L.ts = b.ts"},
		{Sides{}, 7, 1, "#7 = R.ts"},
	} {
		ln, rn := c.s.pair(l, c.li, r, c.ri)
		if got := ln + " = " + rn; got != c.want {
			t.Errorf("%+v (%d, %d): %q, want %q", c.s, c.li, c.ri, got, c.want)
		}
	}
}
