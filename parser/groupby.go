package parser

import (
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// gGroupList is the list after GROUP BY, parsed by hand as expressions
// are:
//
//	list    = item {',' item}
//	item    = GROUPING SETS '(' set {',' set} ')'
//	        | (ROLLUP | CUBE) '(' element {',' element} ')'
//	        | expr
//	set     = element | ROLLUP (…) | CUBE (…)   (nested sets are expanded later)
//	element = '(' ')' | '(' expr {',' expr} ')' | expr
//
// GROUPING, SETS, ROLLUP and CUBE are not reserved: they start a grouping
// construct only when followed by SETS or '(' (a column called rollup can
// still be grouped by). An element in parentheses is read as a list when
// a ',' or ')' follows its closing parenthesis or it holds several
// expressions, and as an expression otherwise, so (a + b) * 2 is one.
type gGroupList struct {
	Items []Expr
	err   *Error
}

// Parse implements participle.Parseable.
func (g *gGroupList) Parse(lex *lexer.PeekingLexer) error {
	p := exprParser{lex: lex}
	for {
		t := p.peek()
		var item Expr
		var err error
		switch {
		case isWord(t, "GROUPING") && isWord(peek2(lex), "SETS"):
			item, err = p.groupingSets()
		case (isWord(t, "ROLLUP") || isWord(t, "CUBE")) && isOp(peek2(lex), "("):
			item, err = p.rollupCube()
		case startsExpr(t, lex):
			p.ops = 0
			item, err = p.or()
		default:
			if len(g.Items) == 0 {
				return participle.NextMatch
			}
			return p.unexpected()
		}
		if err != nil {
			return err
		}
		g.Items = append(g.Items, item)
		if !isOp(p.peek(), ",") {
			g.err = p.err
			return nil
		}
		p.next()
	}
}

// groupingSets parses GROUPING SETS ( set, … ).
func (p *exprParser) groupingSets() (Expr, error) {
	kw := p.next()
	p.next() // SETS
	gs := &GroupingSets{Pos: kw.Pos, Kind: "GROUPING SETS"}
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if (isWord(t, "ROLLUP") || isWord(t, "CUBE")) && isOp(peek2(p.lex), "(") {
			inner, err := p.rollupCube()
			if err != nil {
				return nil, err
			}
			gs.Sets = append(gs.Sets, expandSets(inner.(*GroupingSets))...)
		} else if isWord(t, "GROUPING") && isWord(peek2(p.lex), "SETS") {
			inner, err := p.groupingSets()
			if err != nil {
				return nil, err
			}
			gs.Sets = append(gs.Sets, inner.(*GroupingSets).Sets...)
		} else {
			set, err := p.groupElement()
			if err != nil {
				return nil, err
			}
			gs.Sets = append(gs.Sets, set)
		}
		if !isOp(p.peek(), ",") {
			break
		}
		p.next()
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return gs, nil
}

// rollupCube parses ROLLUP ( element, … ) or CUBE ( element, … ).
func (p *exprParser) rollupCube() (Expr, error) {
	kw := p.next()
	p.next() // (
	gs := &GroupingSets{Pos: kw.Pos, Kind: strings.ToUpper(kw.Value)}
	defer func() {
		if gs.Kind == "CUBE" && len(gs.Sets) > maxCube {
			p.failf(kw.Pos, "CUBE of %d elements stands for 2^%d grouping sets; at most %d elements are supported", len(gs.Sets), len(gs.Sets), maxCube)
		}
	}()
	for {
		el, err := p.groupElement()
		if err != nil {
			return nil, err
		}
		if len(el) == 0 {
			p.failf(kw.Pos, "%s does not take an empty grouping set ()", gs.Kind)
		}
		gs.Sets = append(gs.Sets, el)
		if !isOp(p.peek(), ",") {
			break
		}
		p.next()
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return gs, nil
}

// groupElement parses () | ( expr, … ) | expr.
func (p *exprParser) groupElement() ([]Expr, error) {
	t := p.peek()
	if isOp(t, "(") {
		cp := p.lex.MakeCheckpoint()
		p.next()
		if isOp(p.peek(), ")") {
			p.next()
			return []Expr{}, nil
		}
		var list []Expr
		ok := true
		for ok {
			if !startsExpr(p.peek(), p.lex) {
				ok = false
				break
			}
			p.ops = 0
			x, err := p.or()
			if err != nil {
				ok = false
				break
			}
			list = append(list, x)
			if !isOp(p.peek(), ",") {
				break
			}
			p.next()
		}
		if ok && isOp(p.peek(), ")") {
			p.next()
			// (a, b) cannot start an expression: only a single
			// parenthesised element may be one, as in (a + b) * 2.
			if n := p.peek(); isOp(n, ",") || isOp(n, ")") || len(list) > 1 {
				return list, nil
			}
		}
		// Not a list: an expression that starts with a parenthesis.
		p.lex.LoadCheckpoint(cp)
	}
	if !startsExpr(t, p.lex) {
		return nil, p.unexpected()
	}
	p.ops = 0
	x, err := p.or()
	if err != nil {
		return nil, err
	}
	return []Expr{x}, nil
}

// expandSets returns the grouping sets a GroupingSets stands for: its
// sets for GROUPING SETS; for ROLLUP (a, b, c) the prefixes (a, b, c),
// (a, b), (a), (); for CUBE (a, b) every subset, in Calcite's order
// ((a, b), (a), (b), ()). Elements that are composite (a, b) stay
// together.
func expandSets(g *GroupingSets) [][]Expr {
	switch g.Kind {
	case "ROLLUP":
		out := make([][]Expr, 0, len(g.Sets)+1)
		for n := len(g.Sets); n >= 0; n-- {
			var set []Expr
			for _, el := range g.Sets[:n] {
				set = append(set, el...)
			}
			out = append(out, nonNil(set))
		}
		return out
	case "CUBE":
		n := len(g.Sets)
		out := make([][]Expr, 0, 1<<n)
		// Bit i of mask set means element i is absent: counting up from 0
		// gives (a, b), (a), (b), () for CUBE(a, b).
		for mask := 0; mask < 1<<n; mask++ {
			var set []Expr
			for i, el := range g.Sets {
				if mask&(1<<(n-1-i)) == 0 {
					set = append(set, el...)
				}
			}
			out = append(out, nonNil(set))
		}
		return out
	}
	return g.Sets
}

// ExpandGroupBy returns the grouping sets a GROUP BY list stands for:
// one set of all items when it holds no GroupingSets; otherwise the cross
// product of its items' sets (GROUP BY a, ROLLUP (b, c) is (a, b, c),
// (a, b), (a)), as SQL defines it. A set may be empty (the grand total).
func ExpandGroupBy(items []Expr) [][]Expr {
	sets := [][]Expr{{}}
	for _, it := range items {
		var alts [][]Expr
		if g, ok := it.(*GroupingSets); ok {
			alts = expandSets(g)
		} else {
			alts = [][]Expr{{it}}
		}
		next := make([][]Expr, 0, len(sets)*len(alts))
		for _, s := range sets {
			for _, a := range alts {
				set := make([]Expr, 0, len(s)+len(a))
				set = append(set, s...)
				set = append(set, a...)
				next = append(next, set)
			}
		}
		sets = next
	}
	return sets
}

// MaxGroupingSets is the most grouping sets a GROUP BY may stand for
// (CUBE of n elements is 2^n sets; each set is planned as an aggregation
// of its own).
const MaxGroupingSets = 4096

// maxCube is the most elements a CUBE may have: 2^12 = MaxGroupingSets.
const maxCube = 12

// CountGroupingSets returns how many grouping sets ExpandGroupBy would
// return, without building them, saturating at MaxGroupingSets+1.
func CountGroupingSets(items []Expr) int {
	n := 1
	for _, it := range items {
		g, ok := it.(*GroupingSets)
		if !ok {
			continue
		}
		k := len(g.Sets)
		switch g.Kind {
		case "ROLLUP":
			k++
		case "CUBE":
			if k > maxCube {
				return MaxGroupingSets + 1
			}
			k = 1 << k
		}
		n *= k
		if n > MaxGroupingSets {
			return MaxGroupingSets + 1
		}
	}
	return n
}

func nonNil(s []Expr) []Expr {
	if s == nil {
		return []Expr{}
	}
	return s
}
