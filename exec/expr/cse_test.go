package expr

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// TestSharedSubexpressions: a filter and projections that repeat
// subexpressions (q21's shape: LOWER(s) in the filter and four times in a
// CASE, REGEXP_EXTRACT in both, a division that fails on some rows inside
// a CASE that guards it) give, with a Shared, what they give compiled
// alone, batch after batch, though the filter drops the column they read
// only inside a value it carries; the repeated values are computed once (the
// projections return the same array), and nothing leaks.
func TestSharedSubexpressions(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := types.Schema{Fields: []types.Field{
		{Name: "s", Type: types.StringType}, {Name: "url", Type: types.StringType},
		{Name: "a", Type: types.BigIntType}, {Name: "b", Type: types.BigIntType},
	}}
	parse := func(s string) plan.Expr {
		e, err := parseExprText(s, schema)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		return e
	}
	const re = "(REGEXP_EXTRACT url '(&|^)channel_id=([^&]*)' 2)"
	filter := parse("(OR (IS_NOT_NULL " + re + ") (OR (= (LOWER s) 'apple') (= (/ a b) 2)))")
	exprs := []plan.Expr{
		parse("(CASE (= (LOWER s) 'apple') '0' (= (LOWER s) 'google') '1' " + re + ")"),
		parse("(LOWER s)"),
		parse("(LOWER s)"),
		parse("(CASE (<> b 0) (/ a b) 0)"),
		parse("(+ (CASE (<> b 0) (/ a b) 0) a)"),
		parse(re),
		// url is read only inside re, which the filter computes: the
		// filter drops it. This arm fails on the rows where s has 5
		// characters, and is evaluated again over the others, reading url.
		parse("(CASE (<> (CHAR_LENGTH s) 5) (/ (CHAR_LENGTH " + re + ") (- (CHAR_LENGTH s) 5)) 0)"),
	}
	sh := NewShared(filter, exprs...)
	sh.DropUnread(len(schema.Fields))
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
	pf, pevs := compileAll(nil)
	r := rand.New(rand.NewSource(1))
	chans := []string{"Apple", "GOOGLE", "facebook", "baidu", "other", ""}
	for batch := 0; batch < 20; batch++ {
		n := 1 + r.Intn(300)
		rb := array.NewRecordBuilder(mem, schema.Arrow())
		for i := 0; i < n; i++ {
			if r.Intn(10) == 0 {
				rb.Field(0).AppendNull()
			} else {
				rb.Field(0).(*array.StringBuilder).Append(chans[r.Intn(len(chans))])
			}
			switch r.Intn(3) {
			case 0:
				rb.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("https://x/y?a=1&channel_id=%d", r.Intn(100)))
			case 1:
				rb.Field(1).(*array.StringBuilder).Append("https://x/y?a=1")
			default:
				rb.Field(1).AppendNull()
			}
			rb.Field(2).(*array.Int64Builder).Append(int64(r.Intn(9)))
			b := int64(r.Intn(4))
			if batch%2 == 0 && b == 0 {
				b = 1 // the odd batches divide by zero in the filter
			}
			rb.Field(3).(*array.Int64Builder).Append(b)
		}
		rec := rb.NewRecord()
		rb.Release()
		want, wantErr := evalProgram(pf, pevs, rec, nil, mem)
		got, gotErr := evalProgram(sf, sevs, rec, sh, mem)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("batch %d: error %v with the shared subexpressions, %v without", batch, gotErr, wantErr)
		}
		for i := range want {
			if !array.Equal(want[i], got[i]) {
				t.Fatalf("batch %d, column %d: got %v, want %v", batch, i, got[i], want[i])
			}
		}
		if gotErr == nil && got[0].Len() > 0 && got[1].Data().Buffers()[2] != got[2].Data().Buffers()[2] {
			t.Fatalf("batch %d: LOWER(s) was computed twice", batch)
		}
		release(want...)
		release(got...)
		rec.Release()
	}
}

// evalProgram filters rec and evaluates exprs over the rows that pass, as
// operators/calc does, with sh when not nil.
func evalProgram(filter Evaluator, exprs []Evaluator, rec arrow.Record, sh *Shared, mem memory.Allocator) ([]arrow.Array, error) {
	if sh != nil {
		sh.Begin(rec)
		defer sh.End()
	}
	mask, err := filter.Eval(rec)
	if err != nil {
		return nil, err
	}
	var filtered arrow.Record
	if sh != nil {
		filtered, err = sh.Filter(rec, mask.(*array.Boolean), mem)
	} else {
		filtered, err = Filter(rec, mask.(*array.Boolean), mem)
	}
	mask.Release()
	if err != nil {
		return nil, err
	}
	defer filtered.Release()
	var out []arrow.Array
	for _, e := range exprs {
		a, err := e.Eval(filtered)
		if err != nil {
			release(out...)
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// TestSharedCarriesRepeatsNotTheirOperands: the filter carries for the
// projections the values they repeat (q21's comparisons of LOWER(channel)),
// not what those values are computed from (LOWER(channel) itself, which
// no projection reads on its own).
func TestSharedCarriesRepeatsNotTheirOperands(t *testing.T) {
	schema := types.Schema{Fields: []types.Field{{Name: "s", Type: types.StringType}}}
	parse := func(s string) plan.Expr {
		e, err := parseExprText(s, schema)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		return e
	}
	for _, c := range []struct {
		proj  []string
		carry int
	}{
		{[]string{"(CASE (= (LOWER s) 'apple') '0' (= (LOWER s) 'google') '1' 'x')"}, 2},
		{[]string{"(CASE (= (LOWER s) 'apple') '0' (= (LOWER s) 'google') '1' 'x')", "(LOWER s)"}, 3},
	} {
		var exprs []plan.Expr
		for _, p := range c.proj {
			exprs = append(exprs, parse(p))
		}
		sh := NewShared(parse("(OR (= (LOWER s) 'apple') (= (LOWER s) 'google'))"), exprs...)
		n := 0
		for _, k := range sh.carry {
			if k {
				n++
			}
		}
		if len(sh.carry) != 3 || n != c.carry {
			t.Errorf("%v: %d of %d repeated values carried, want %d of 3", c.proj, n, len(sh.carry), c.carry)
		}
	}
}
