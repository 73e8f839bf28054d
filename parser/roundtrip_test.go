package parser

import (
	"math/rand"
	"reflect"
	"strconv"
	"testing"
)

// TestRandomExprRoundTrip builds random expression trees, prints them in a
// query and checks that parsing the text gives back the same tree: the
// printer's parentheses must preserve every grouping, whatever the
// precedence of the operators involved.
func TestRandomExprRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 1000; i++ {
		e := randExpr(rng, 4)
		want := &QueryStmt{Query: &Select{
			Items: []*SelectItem{{Expr: e, Alias: &Ident{Name: "x"}}},
			From:  &TableName{Name: Ident{Name: "t"}},
			Where: randExpr(rng, 3),
		}}
		text := want.String()
		stmts, err := Parse("", text)
		if err != nil {
			t.Fatalf("%s\n%v\n%s", text, err, caretOf(text, err))
		}
		if got := stripPositions(stmts[0]); !reflect.DeepEqual(got, Statement(want)) {
			t.Fatalf("round trip of %s gave %s", text, got)
		}
	}
}

var (
	randBinaryOps = []string{"+", "-", "*", "/", "%", "||", "=", "<>", "<", "<=", ">", ">=", "AND", "OR"}
	randNames     = []string{"a", "b", "Mixed", "select", "a b", "time"}
	randUnits     = []string{"MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY"}
)

func randIdent(rng *rand.Rand) Ident {
	n := randNames[rng.Intn(len(randNames))]
	return Ident{Name: n, Quoted: needsQuote(n) || rng.Intn(5) == 0}
}

func randExpr(rng *rand.Rand, depth int) Expr {
	if depth == 0 {
		switch rng.Intn(8) {
		case 0:
			return &NumberLit{Text: strconv.Itoa(rng.Intn(100))}
		case 1:
			return &StringLit{Value: "it's"}
		case 2:
			return &BoolLit{Value: rng.Intn(2) == 0}
		case 3:
			return &NullLit{}
		case 4:
			return &IntervalLit{Value: "5", Unit: randUnits[rng.Intn(len(randUnits))]}
		case 5:
			return &TimestampLit{Value: "2024-01-01 00:00:00"}
		case 6:
			return &ColumnExpr{Table: "t", Name: randIdent(rng)}
		default:
			return &ColumnExpr{Name: randIdent(rng)}
		}
	}
	d := depth - 1
	switch rng.Intn(12) {
	case 0, 1, 2:
		return &BinaryExpr{Op: randBinaryOps[rng.Intn(len(randBinaryOps))], Left: randExpr(rng, d), Right: randExpr(rng, d)}
	case 3:
		return &UnaryExpr{Op: []string{"-", "+", "NOT"}[rng.Intn(3)], X: randExpr(rng, d)}
	case 4:
		return &IsExpr{X: randExpr(rng, d), Not: rng.Intn(2) == 0, What: []string{"NULL", "TRUE", "FALSE"}[rng.Intn(3)]}
	case 5:
		return &LikeExpr{X: randExpr(rng, d), Pattern: randExpr(rng, d), Not: rng.Intn(2) == 0}
	case 6:
		in := &InExpr{X: randExpr(rng, d), Not: rng.Intn(2) == 0}
		for j := 0; j <= rng.Intn(3); j++ {
			in.List = append(in.List, randExpr(rng, d))
		}
		return in
	case 7:
		return &BetweenExpr{X: randExpr(rng, d), Low: randExpr(rng, d), High: randExpr(rng, d), Not: rng.Intn(2) == 0}
	case 8:
		c := &CaseExpr{}
		if rng.Intn(2) == 0 {
			c.Operand = randExpr(rng, d)
		}
		for j := 0; j <= rng.Intn(2); j++ {
			c.Whens = append(c.Whens, &When{Cond: randExpr(rng, d), Result: randExpr(rng, d)})
		}
		if rng.Intn(2) == 0 {
			c.Else = randExpr(rng, d)
		}
		return c
	case 9:
		return &CastExpr{X: randExpr(rng, d), Type: &TypeName{Name: "DECIMAL", Params: []int{10, 2}}, TryCast: rng.Intn(2) == 0}
	case 10:
		f := &FuncCall{Name: []string{"COUNT", "F", "LEFT", "TUMBLE_START"}[rng.Intn(4)]}
		switch rng.Intn(4) {
		case 0:
			f.Star = true
		case 1:
			f.Distinct = true
			f.Args = []Expr{randExpr(rng, d)}
		case 2:
		default:
			for j := 0; j <= rng.Intn(3); j++ {
				f.Args = append(f.Args, randExpr(rng, d))
			}
		}
		return f
	default:
		return randExpr(rng, 0)
	}
}
