package plan

import (
	"strings"

	"github.com/streamsql/streamsql/types"
)

// Sides are the qualifiers (the table names or aliases the query gave) of
// a join's input columns, for EXPLAIN only: Left[i] qualifies column i of
// the left input, Right[i] column i of the right one ("" where a column
// has none). A join prints its conditions as pairs of columns, one of each
// side; a column whose name the other side has too prints qualified
// (b.ts, not ts), so that `ts BETWEEN ts - …` reads as what it means. A
// column without a qualifier, or one qualified as the other side's is,
// prints as L.name or R.name.
type Sides struct{ Left, Right []string }

// pair returns the names of left column li of l and right column ri of r
// as a join's condition prints them.
func (s Sides) pair(l types.Schema, li int, r types.Schema, ri int) (string, string) {
	ln, rn := colName(l, li), colName(r, ri)
	lq, rq := qualifier(s.Left, li, "L"), qualifier(s.Right, ri, "R")
	if strings.EqualFold(lq, rq) {
		lq, rq = "L", "R"
	}
	if li >= 0 && li < l.Len() && r.Index(ln) >= 0 {
		ln = lq + "." + ln
	}
	if ri >= 0 && ri < r.Len() && l.Index(rn) >= 0 {
		rn = rq + "." + rn
	}
	return ln, rn
}

func qualifier(qs []string, i int, def string) string {
	if i >= 0 && i < len(qs) && qs[i] != "" {
		return qs[i]
	}
	return def
}

// writePairs writes the pairs of key columns "l = r, …".
func (s Sides) writePairs(b *strings.Builder, l types.Schema, lk []int, r types.Schema, rk []int) {
	for i := range lk {
		if i > 0 {
			b.WriteString(", ")
		}
		ln, rn := s.pair(l, lk[i], r, rk[i])
		b.WriteString(ln + " = " + rn)
	}
}
