package render

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

var kvSchema = types.Schema{Fields: []types.Field{{Name: "k", Type: types.BigIntType}, {Name: "name", Type: types.StringType}}}

// change is one row of a changelog: kind, k, name ("" is NULL).
type change struct {
	kind types.RowKind
	k    int64
	name string
}

// changes returns a batch of the changes.
func changes(t *testing.T, cs ...change) arrow.Record {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, kvSchema.Arrow())
	defer b.Release()
	kinds := make([]types.RowKind, len(cs))
	for i, c := range cs {
		kinds[i] = c.kind
		b.Field(0).(*array.Int64Builder).Append(c.k)
		if c.name == "" {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append(c.name)
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	ks := exec.NewRowKinds(memory.DefaultAllocator, kinds)
	defer ks.Release()
	return exec.WithRowKinds(rec, ks)
}

func apply(t *testing.T, v *View, cs ...change) error {
	t.Helper()
	rec := changes(t, cs...)
	defer rec.Release()
	return v.Apply(rec)
}

func frame(t *testing.T, v *View, maxRows int) string {
	t.Helper()
	var b bytes.Buffer
	n, err := v.WriteFrame(&b, maxRows, TableOptions{Types: true})
	if err != nil {
		t.Fatal(err)
	}
	if n != strings.Count(b.String(), "\n") {
		t.Fatalf("WriteFrame says %d lines, wrote %d:\n%s", n, strings.Count(b.String(), "\n"), b.String())
	}
	return b.String()
}

// TestView: updates replace their row in place, deletes remove it, an
// insert goes last, the frame is bounded with a "more rows" line, and a
// retraction of a row the view does not hold is an error naming it.
func TestView(t *testing.T) {
	v := NewView(kvSchema)
	if got := frame(t, v, 10); !strings.HasSuffix(got, "(empty)\n") {
		t.Fatalf("empty view:\n%s", got)
	}
	err := apply(t, v,
		change{types.Insert, 1, "a"}, change{types.Insert, 2, "b"}, change{types.Insert, 3, ""},
		change{types.UpdateBefore, 1, "a"}, change{types.UpdateAfter, 1, "aa"},
		change{types.Delete, 2, "b"}, change{types.Insert, 4, "d"})
	if err != nil {
		t.Fatal(err)
	}
	want := `+----------------------+--------+
|                    k |   name |
|               BIGINT | STRING |
+----------------------+--------+
|                    1 |     aa |
|                    3 | <NULL> |
|                    4 |      d |
+----------------------+--------+
`
	if got := frame(t, v, 10); got != want {
		t.Errorf("frame:\n%s\nwant:\n%s", got, want)
	}
	if got := frame(t, v, 2); !strings.HasSuffix(got, "|                    3 | <NULL> |\n+----------------------+--------+\n… 1 more row\n") {
		t.Errorf("frame of 2 rows:\n%s", got)
	}
	if v.Len() != 3 || v.Changes() != 7 {
		t.Errorf("len %d, changes %d", v.Len(), v.Changes())
	}
	err = apply(t, v, change{types.Delete, 9, "zz"})
	if err == nil || err.Error() != "-D[9, zz] retracts a row that is not in the result" {
		t.Fatalf("retraction of an absent row: %v", err)
	}
	err = apply(t, v, change{types.UpdateBefore, 3, "x"})
	if err == nil || !strings.Contains(err.Error(), "-U[3, x] retracts a row that is not in the result") {
		t.Fatalf("-U of an absent row: %v", err)
	}
}

// TestViewRandom: a random changelog (duplicates, updates in place,
// deletes, enough of them to compact) leaves the view holding the
// multiset a reference keeps, in bounded space.
func TestViewRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	v := NewView(kvSchema)
	var ref []string // live rows as "k|name"
	for range 3000 {
		var batch []change
		for range 1 + rng.IntN(5) {
			switch op := rng.IntN(10); {
			case op < 4 || len(ref) == 0:
				c := change{types.Insert, int64(rng.IntN(30)), fmt.Sprint(rng.IntN(3))}
				batch = append(batch, c)
				ref = append(ref, fmt.Sprintf("%d|%s", c.k, c.name))
			case op < 7:
				i := rng.IntN(len(ref))
				var k int64
				var name string
				fmt.Sscanf(strings.Replace(ref[i], "|", " ", 1), "%d %s", &k, &name)
				nw := fmt.Sprint(rng.IntN(3) + 5)
				batch = append(batch, change{types.UpdateBefore, k, name}, change{types.UpdateAfter, k, nw})
				ref[i] = fmt.Sprintf("%d|%s", k, nw)
			default:
				i := rng.IntN(len(ref))
				var k int64
				var name string
				fmt.Sscanf(strings.Replace(ref[i], "|", " ", 1), "%d %s", &k, &name)
				batch = append(batch, change{types.Delete, k, name})
				ref = slices.Delete(ref, i, i+1)
			}
		}
		if err := apply(t, v, batch...); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, r := range v.Rows(-1) {
		got = append(got, r[0]+"|"+r[1])
	}
	slices.Sort(got)
	slices.Sort(ref)
	if !slices.Equal(got, ref) {
		t.Fatalf("view holds %d rows, the reference %d:\n%v\n%v", len(got), len(ref), got, ref)
	}
	if v.Len() != len(ref) || len(v.rows) > 2*max(v.live, 64)+1 {
		t.Fatalf("len %d (want %d), %d slots", v.Len(), len(ref), len(v.rows))
	}
}
