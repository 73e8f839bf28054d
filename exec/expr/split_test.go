package expr

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// TestSharedSplitIndex: SPLIT_INDEX calls that share a split (the same
// operand and constant separator, several indexes, q22's shape) give what
// each gives compiled alone, over random rows with NULLs, empty strings,
// missing tokens and separators of one and two bytes; the filter makes the
// projections read another array than the filter's calls did.
func TestSharedSplitIndex(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := types.Schema{Fields: []types.Field{
		{Name: "s", Type: types.StringType}, {Name: "u", Type: types.StringType},
	}}
	parse := func(s string) plan.Expr {
		e, err := parseExprText(s, schema)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		return e
	}
	filter := parse("(OR (IS_NOT_NULL (SPLIT_INDEX s '/' 2)) (= (SPLIT_INDEX u '/' 0) 'a'))")
	var exprs []plan.Expr
	for _, x := range []string{
		"(SPLIT_INDEX s '/' 0)", "(SPLIT_INDEX s '/' 1)", "(SPLIT_INDEX s '/' 2)", "(SPLIT_INDEX s '/' 5)",
		"(SPLIT_INDEX u '/' 1)", "(SPLIT_INDEX u '/' 3)",
		"(SPLIT_INDEX s '::' 0)", "(SPLIT_INDEX s '::' 2)",
		"(SPLIT_INDEX (LOWER u) '/' 1)", "(SPLIT_INDEX (LOWER u) '/' 4)",
		"(SPLIT_INDEX s 'b' -1)", "(SPLIT_INDEX u '' 1)",
	} {
		exprs = append(exprs, parse(x))
	}
	sh := NewShared(filter, exprs...)
	compileAll := func(s *Shared) (Evaluator, []Evaluator) {
		opts := Options{Shared: s}
		f, err := CompileWith(filter, schema, mem, opts)
		if err != nil {
			t.Fatal(err)
		}
		var evs []Evaluator
		for _, e := range exprs {
			ev, err := CompileWith(e, schema, mem, opts)
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, ev)
		}
		return f, evs
	}
	sf, sevs := compileAll(sh)
	if _, ok := sevs[3].(*splitIndexEval); !ok {
		t.Fatalf("SPLIT_INDEX(s, '/', 5) compiled to %T, not the shared split", sevs[3])
	}
	pf, pevs := compileAll(nil)
	r := rand.New(rand.NewSource(1))
	parts := []string{"a", "B", "/", "/", ":", "::", "", "xy", "nexmark.com"}
	str := func() string {
		var b strings.Builder
		for k := r.Intn(12); k > 0; k-- {
			b.WriteString(parts[r.Intn(len(parts))])
		}
		return b.String()
	}
	for batch := 0; batch < 30; batch++ {
		n := 1 + r.Intn(200)
		rb := array.NewRecordBuilder(mem, schema.Arrow())
		for i := 0; i < n; i++ {
			for f := 0; f < 2; f++ {
				if r.Intn(8) == 0 {
					rb.Field(f).AppendNull()
				} else {
					rb.Field(f).(*array.StringBuilder).Append(str())
				}
			}
		}
		rec := rb.NewRecord()
		rb.Release()
		want, wantErr := evalProgram(pf, pevs, rec, nil, mem)
		got, gotErr := evalProgram(sf, sevs, rec, sh, mem)
		if wantErr != nil || gotErr != nil {
			t.Fatalf("batch %d: errors %v (shared), %v (alone)", batch, gotErr, wantErr)
		}
		for i := range want {
			if !array.Equal(want[i], got[i]) {
				t.Fatalf("batch %d, %s: got %v, want %v", batch, exprs[i], got[i], want[i])
			}
		}
		release(want...)
		release(got...)
		rec.Release()
	}
}

// TestIndexByteShort: the word-at-a-time search finds what
// strings.IndexByte finds, the byte at every position of texts of every
// length up to 40 among neighbours that differ from it by one bit or one
// borrow, and in texts without it.
func TestIndexByteShort(t *testing.T) {
	for _, c := range []byte{'/', 0, 0xff, 0x80, 1} {
		fill := []byte{c ^ 1, c - 1, c + 1, c ^ 0x80, 0}
		for n := 0; n <= 40; n++ {
			for at := -1; at < n; at++ {
				b := make([]byte, n)
				for i := range b {
					b[i] = fill[i%len(fill)]
					if b[i] == c {
						b[i] = c ^ 2
					}
				}
				if at >= 0 {
					b[at] = c
					if at+3 < n {
						b[at+3] = c // a later one too
					}
				}
				if got, want := indexByteShort(string(b), c), strings.IndexByte(string(b), c); got != want {
					t.Fatalf("%q in %q: %d, want %d", c, b, got, want)
				}
			}
		}
	}
}
