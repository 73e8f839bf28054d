package parser

import (
	"fmt"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// Expressions are parsed by hand, by recursive descent over participle's
// token stream, instead of by grammar structs: participle's backtracking
// made a flat a+a+…+a of 4,000 terms take seconds and unbalanced
// parentheses far longer, while this parser reads each token once and
// builds the AST directly. The grammar, lowest precedence first:
//
//	or      = and { OR and }
//	and     = not { AND not }
//	not     = NOT not | pred
//	pred    = concat { cmp concat | IS [NOT] (NULL|TRUE|FALSE)
//	          | [NOT] LIKE concat | [NOT] IN '(' or {',' or} ')'
//	          | [NOT] IN '(' query ')'
//	          | [NOT] BETWEEN concat AND concat }
//	concat  = add { '||' add }
//	add     = mul { ('+'|'-') mul }
//	mul     = unary { ('*'|'/'|'%') unary }
//	unary   = ('-'|'+') unary | primary
//	primary = CASE [or] WHEN or THEN or {…} [ELSE or] END
//	        | (CAST|TRY_CAST) '(' or AS type ')'
//	        | INTERVAL string unit | TIMESTAMP string
//	        | number | string | TRUE | FALSE | NULL
//	        | name '(' ['*' | [DISTINCT] [or {',' or}]] ')'
//	          [FILTER '(' WHERE or ')'] [OVER (name | window)]
//	        | EXISTS '(' query ')'
//	        | name ['.' name] | '(' or ')'
//
// Binary operators associate to the left, and chains of them are built by
// loops, so a long flat expression costs no recursion. Nesting (parentheses,
// CASE, CAST, function calls, unary operators, NOT) is limited to
// MaxNesting levels, so that hostile input cannot exhaust the stack.

// MaxNesting is the deepest nesting of parentheses (in expressions,
// subqueries and window functions alike) and of nested expressions
// (CASE, CAST, function calls, unary operators, NOT) that Parse accepts.
const MaxNesting = 1000

// limitError is a nesting deeper than MaxNesting. It implements
// participle.Error, so that participle passes it on, and syntaxError
// reports it as is.
type limitError struct {
	pos Pos
	msg string
}

func (e *limitError) Error() string            { return e.msg }
func (e *limitError) Message() string          { return e.msg }
func (e *limitError) Position() lexer.Position { return e.pos }

func tooDeep(pos Pos) *limitError {
	return &limitError{pos: pos, msg: fmt.Sprintf("nesting too deep: more than %d levels", MaxNesting)}
}

// gOr is an expression in the grammar, parsed by exprParser.
type gOr struct {
	Pos lexer.Position
	X   Expr
	// err is the first error found in the expression that is not a syntax
	// error (a bad type parameter, DISTINCT without an argument); the
	// converter reports it in its turn, as it does its own.
	err *Error
}

// Parse implements participle.Parseable.
func (g *gOr) Parse(lex *lexer.PeekingLexer) error {
	t := lex.Peek()
	if !startsExpr(t, lex) {
		return participle.NextMatch
	}
	p := exprParser{lex: lex}
	g.Pos = t.Pos
	x, err := p.or()
	if err != nil {
		return err
	}
	g.X, g.err = x, p.err
	return nil
}

// exprParser parses one expression from a token stream.
type exprParser struct {
	lex   *lexer.PeekingLexer
	depth int
	ops   int // operators so far, against MaxOperators
	err   *Error
}

func (p *exprParser) failf(pos Pos, format string, args ...any) {
	if p.err == nil {
		p.err = &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
	}
}

// unexpected is a syntax error at the next token; parse.go words it.
func (p *exprParser) unexpected() error {
	t := p.lex.Peek()
	return participle.Errorf(t.Pos, "unexpected token %q", t.Value)
}

func isWord(t *lexer.Token, w string) bool {
	return (t.Type == tokKeyword || t.Type == tokIdent) && strings.EqualFold(t.Value, w)
}

func isOp(t *lexer.Token, op string) bool {
	return t.Type == tokOperator && t.Value == op
}

// startsExpr reports whether t can start an expression.
func startsExpr(t *lexer.Token, lex *lexer.PeekingLexer) bool {
	switch t.Type {
	case tokIdent, tokQuotedIdent, tokNumber, tokString:
		return true
	case tokOperator:
		return t.Value == "(" || t.Value == "-" || t.Value == "+"
	case tokKeyword:
		switch strings.ToUpper(t.Value) {
		case "NOT", "CASE", "CAST", "TRY_CAST", "INTERVAL", "TIMESTAMP", "TRUE", "FALSE", "NULL":
			return true
		case "LEFT", "RIGHT":
			return isOp(peek2(lex), "(")
		}
	}
	return false
}

// peek2 returns the token after the next one.
func peek2(lex *lexer.PeekingLexer) *lexer.Token {
	cp := lex.MakeCheckpoint()
	lex.Next()
	t := lex.Peek()
	lex.LoadCheckpoint(cp)
	return t
}

// peekN returns the token n tokens after the next one.
func peekN(lex *lexer.PeekingLexer, n int) *lexer.Token {
	cp := lex.MakeCheckpoint()
	for ; n > 0; n-- {
		lex.Next()
	}
	t := lex.Peek()
	lex.LoadCheckpoint(cp)
	return t
}

// startsQuery reports whether t starts a query inside parentheses: a
// subquery of IN or EXISTS.
func startsQuery(t *lexer.Token) bool {
	return t.Type == tokKeyword && (isWord(t, "SELECT") || isWord(t, "WITH"))
}

// subqueryParser parses the query of a subquery expression, from the
// expression parser's token stream; it stops at the closing parenthesis.
var subqueryParser = participle.MustBuild[gSelect](
	participle.Lexer(sqlLexer),
	participle.CaseInsensitive("Keyword", "Ident"),
	participle.UseLookahead(participle.MaxLookahead),
)

// subquery parses the query of x IN (SELECT …) or EXISTS (SELECT …), the
// opening parenthesis read, and converts it to the AST.
func (p *exprParser) subquery() (*Select, error) {
	g, err := subqueryParser.ParseFromLexer(p.lex, participle.AllowTrailing(true))
	if err != nil {
		return nil, err
	}
	var c converter
	q := c.selectStmt(g)
	if c.err != nil && p.err == nil {
		p.err = c.err
	}
	return q, nil
}

// exists parses EXISTS (SELECT …).
func (p *exprParser) exists() (Expr, error) {
	t := p.next()
	if err := p.enter(t.Pos); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	q, err := p.subquery()
	if err != nil {
		return nil, err
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return &ExistsExpr{Pos: t.Pos, Query: q}, nil
}

// scalarSubquery parses (SELECT …) as a value.
func (p *exprParser) scalarSubquery() (Expr, error) {
	t := p.next()
	if err := p.enter(t.Pos); err != nil {
		return nil, err
	}
	defer p.leave()
	q, err := p.subquery()
	if err != nil {
		return nil, err
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return &ScalarSubquery{Pos: t.Pos, Query: q}, nil
}

func (p *exprParser) peek() *lexer.Token { return p.lex.Peek() }
func (p *exprParser) next() *lexer.Token { return p.lex.Next() }

// expectOp consumes the operator op or fails.
func (p *exprParser) expectOp(op string) error {
	if !isOp(p.peek(), op) {
		return p.unexpected()
	}
	p.next()
	return nil
}

// expectWord consumes the keyword w or fails.
func (p *exprParser) expectWord(w string) error {
	if !isWord(p.peek(), w) {
		return p.unexpected()
	}
	p.next()
	return nil
}

// enter counts one level of nesting; leave must follow. The outermost
// expression is level 0.
func (p *exprParser) enter(pos Pos) error {
	p.depth++
	if p.depth-1 > MaxNesting {
		return tooDeep(pos)
	}
	return nil
}

// MaxOperators is the most operators one expression may hold. The
// planner and the expression compiler walk an expression recursively, a
// chain a+a+…+a as deep as it is long, at up to ~2 KiB of stack a level:
// this bounds their stack (a 1 MiB chain overflowed it, which kills the
// process) while leaving room for any expression a person or a program
// would write.
const MaxOperators = 100_000

// count counts one operator at pos against MaxOperators.
func (p *exprParser) count(pos Pos) error {
	p.ops++
	if p.ops > MaxOperators {
		return &limitError{pos: pos, msg: fmt.Sprintf("expression too long: more than %d operators", MaxOperators)}
	}
	return nil
}

// deeper reports whether n more levels would pass MaxNesting.
func (p *exprParser) deeper(n int) bool { return p.depth-1+n > MaxNesting }

func (p *exprParser) leave() { p.depth-- }

func (p *exprParser) or() (Expr, error) {
	if err := p.enter(p.peek().Pos); err != nil {
		return nil, err
	}
	defer p.leave()
	return p.leftAssoc((*exprParser).and, orOp)
}

func (p *exprParser) and() (Expr, error) { return p.leftAssoc((*exprParser).not, andOp) }

// leftAssoc parses operand {op operand}, left-associative: one level of
// the binary operators' precedence. op reports the operator a token is,
// if it is one of the level's. Each operator counts towards MaxOperators;
// the chain is built by a loop, so it adds no nesting.
func (p *exprParser) leftAssoc(operand func(*exprParser) (Expr, error), op func(*lexer.Token) (string, bool)) (Expr, error) {
	start := p.peek().Pos
	e, err := operand(p)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		o, ok := op(t)
		if !ok {
			return e, nil
		}
		p.next()
		if err := p.count(t.Pos); err != nil {
			return nil, err
		}
		r, err := operand(p)
		if err != nil {
			return nil, err
		}
		e = &BinaryExpr{Pos: start, Op: o, Left: e, Right: r}
	}
}

// The operators of each level of leftAssoc.
func orOp(t *lexer.Token) (string, bool)     { return "OR", isWord(t, "OR") }
func andOp(t *lexer.Token) (string, bool)    { return "AND", isWord(t, "AND") }
func concatOp(t *lexer.Token) (string, bool) { return "||", isOp(t, "||") }
func addOp(t *lexer.Token) (string, bool)    { return oneOf(t, "+", "-") }
func mulOp(t *lexer.Token) (string, bool)    { return oneOf(t, "*", "/", "%") }

// oneOf reports which of ops the token is.
func oneOf(t *lexer.Token, ops ...string) (string, bool) {
	for _, o := range ops {
		if isOp(t, o) {
			return o, true
		}
	}
	return "", false
}

func (p *exprParser) not() (Expr, error) {
	t := p.peek()
	if !isWord(t, "NOT") {
		return p.pred()
	}
	// NOT NOT … x: a chain built without recursion, as the printer
	// prints it without parentheses; it counts as no nesting.
	var nots []Pos
	for isWord(p.peek(), "NOT") {
		pos := p.next().Pos
		if err := p.count(pos); err != nil {
			return nil, err
		}
		nots = append(nots, pos)
	}
	x, err := p.pred()
	if err != nil {
		return nil, err
	}
	for i := len(nots) - 1; i >= 0; i-- {
		x = &UnaryExpr{Pos: nots[i], Op: "NOT", X: x}
	}
	return x, nil
}

var cmpOps = map[string]string{"=": "=", "<>": "<>", "!=": "<>", "<=": "<=", ">=": ">=", "<": "<", ">": ">"}

func (p *exprParser) pred() (Expr, error) {
	start := p.peek().Pos
	e, err := p.concat()
	if err != nil {
		return nil, err
	}
	// Each predicate applied to another (a = b = c, x IS NULL IS NULL)
	// prints in parentheses, so counts as a level of nesting.
	for tails := 0; ; tails++ {
		t := p.peek()
		if tails > 0 && p.deeper(tails) && p.startsTail(t) {
			return nil, tooDeep(t.Pos)
		}
		if p.startsTail(t) {
			if err := p.count(t.Pos); err != nil {
				return nil, err
			}
		}
		if op, ok := cmpOps[t.Value]; ok && t.Type == tokOperator {
			p.next()
			r, err := p.concat()
			if err != nil {
				return nil, err
			}
			e = &BinaryExpr{Pos: start, Op: op, Left: e, Right: r}
			continue
		}
		if isWord(t, "IS") {
			p.next()
			is := &IsExpr{Pos: start, X: e}
			if isWord(p.peek(), "NOT") {
				p.next()
				is.Not = true
			}
			w := p.peek()
			switch {
			case isWord(w, "NULL"), isWord(w, "TRUE"), isWord(w, "FALSE"):
				is.What = strings.ToUpper(p.next().Value)
			default:
				return nil, p.unexpected()
			}
			e = is
			continue
		}
		not := false
		if isWord(t, "NOT") {
			n := peek2(p.lex)
			if !isWord(n, "LIKE") && !isWord(n, "IN") && !isWord(n, "BETWEEN") {
				return e, nil
			}
			p.next()
			not = true
			t = p.peek()
		}
		switch {
		case isWord(t, "LIKE"):
			p.next()
			pat, err := p.concat()
			if err != nil {
				return nil, err
			}
			e = &LikeExpr{Pos: start, X: e, Pattern: pat, Not: not}
		case isWord(t, "IN"):
			p.next()
			if err := p.expectOp("("); err != nil {
				return nil, err
			}
			if startsQuery(p.peek()) {
				q, err := p.subquery()
				if err != nil {
					return nil, err
				}
				if err := p.expectOp(")"); err != nil {
					return nil, err
				}
				e = &InSubquery{Pos: start, X: e, Query: q, Not: not}
				continue
			}
			in := &InExpr{Pos: start, X: e, Not: not}
			for {
				x, err := p.required()
				if err != nil {
					return nil, err
				}
				in.List = append(in.List, x)
				if !isOp(p.peek(), ",") {
					break
				}
				p.next()
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			e = in
		case isWord(t, "BETWEEN"):
			p.next()
			lo, err := p.concat()
			if err != nil {
				return nil, err
			}
			if err := p.expectWord("AND"); err != nil {
				return nil, err
			}
			hi, err := p.concat()
			if err != nil {
				return nil, err
			}
			e = &BetweenExpr{Pos: start, X: e, Low: lo, High: hi, Not: not}
		default:
			return e, nil
		}
	}
}

// startsTail reports whether t starts a predicate applied to what comes
// before it: a comparison, IS, [NOT] LIKE, IN or BETWEEN.
func (p *exprParser) startsTail(t *lexer.Token) bool {
	if _, ok := cmpOps[t.Value]; ok && t.Type == tokOperator {
		return true
	}
	if isWord(t, "NOT") {
		t = peek2(p.lex)
	}
	return isWord(t, "IS") || isWord(t, "LIKE") || isWord(t, "IN") || isWord(t, "BETWEEN")
}

// required parses an expression that must be there.
func (p *exprParser) required() (Expr, error) {
	if !startsExpr(p.peek(), p.lex) {
		return nil, p.unexpected()
	}
	return p.or()
}

func (p *exprParser) concat() (Expr, error) { return p.leftAssoc((*exprParser).add, concatOp) }

func (p *exprParser) add() (Expr, error) { return p.leftAssoc((*exprParser).mul, addOp) }

func (p *exprParser) mul() (Expr, error) { return p.leftAssoc((*exprParser).unary, mulOp) }

func (p *exprParser) unary() (Expr, error) {
	type op struct {
		pos Pos
		op  string
	}
	var ops []op // a chain, like NOT's
	for t := p.peek(); isOp(t, "-") || isOp(t, "+"); t = p.peek() {
		p.next()
		if err := p.count(t.Pos); err != nil {
			return nil, err
		}
		ops = append(ops, op{t.Pos, t.Value})
	}
	x, err := p.primary()
	if err != nil {
		return nil, err
	}
	for i := len(ops) - 1; i >= 0; i-- {
		x = &UnaryExpr{Pos: ops[i].pos, Op: ops[i].op, X: x}
	}
	return x, nil
}

var intervalUnits = []string{"MILLISECONDS", "MILLISECOND", "SECONDS", "SECOND", "MINUTES", "MINUTE", "HOURS", "HOUR", "DAYS", "DAY"}

func (p *exprParser) primary() (Expr, error) {
	t := p.peek()
	switch t.Type {
	case tokNumber:
		p.next()
		return &NumberLit{Pos: t.Pos, Text: t.Value}, nil
	case tokString:
		p.next()
		return &StringLit{Pos: t.Pos, Value: unquote(t.Value)}, nil
	case tokQuotedIdent:
		return p.column()
	case tokIdent:
		if isOp(peek2(p.lex), "(") {
			if isWord(t, "EXISTS") && startsQuery(peekN(p.lex, 2)) {
				return p.exists()
			}
			switch strings.ToUpper(t.Value) {
			case "EXTRACT":
				return p.extract()
			case "POSITION":
				return p.position()
			case "TRIM":
				if x, ok, err := p.trim(); ok || err != nil {
					return x, err
				}
			}
			return p.call()
		}
		return p.column()
	case tokOperator:
		if t.Value == "(" {
			if startsQuery(peek2(p.lex)) {
				return p.scalarSubquery()
			}
			p.next()
			x, err := p.required()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return x, nil
		}
	case tokKeyword:
		switch strings.ToUpper(t.Value) {
		case "CASE":
			return p.caseExpr()
		case "CAST", "TRY_CAST":
			return p.cast()
		case "INTERVAL":
			p.next()
			s := p.peek()
			if s.Type != tokString {
				return nil, p.unexpected()
			}
			p.next()
			u := p.peek()
			for _, unit := range intervalUnits {
				if isWord(u, unit) {
					p.next()
					return &IntervalLit{Pos: t.Pos, Value: unquote(s.Value), Unit: strings.TrimSuffix(unit, "S")}, nil
				}
			}
			return nil, p.unexpected()
		case "TIMESTAMP":
			p.next()
			s := p.peek()
			if s.Type != tokString {
				return nil, p.unexpected()
			}
			p.next()
			return &TimestampLit{Pos: t.Pos, Value: unquote(s.Value)}, nil
		case "TRUE", "FALSE":
			p.next()
			return &BoolLit{Pos: t.Pos, Value: strings.EqualFold(t.Value, "TRUE")}, nil
		case "NULL":
			p.next()
			return &NullLit{Pos: t.Pos}, nil
		case "LEFT", "RIGHT":
			if isOp(peek2(p.lex), "(") {
				return p.call()
			}
		}
	}
	return nil, p.unexpected()
}

// unquote strips the quotes of a string token and undoubles its quotes.
func unquote(v string) string {
	return strings.ReplaceAll(v[1:len(v)-1], "''", "'")
}

// ident converts an Ident or QuotedIdent token.
func (p *exprParser) ident(t *lexer.Token) Ident {
	if t.Type != tokQuotedIdent {
		return Ident{Pos: t.Pos, Name: t.Value}
	}
	name := strings.ReplaceAll(t.Value[1:len(t.Value)-1], "``", "`")
	if name == "" {
		p.failf(t.Pos, "zero-length quoted identifier")
	}
	return Ident{Pos: t.Pos, Name: name, Quoted: true}
}

func (p *exprParser) column() (Expr, error) {
	first := p.next()
	c := &ColumnExpr{Pos: first.Pos, Name: p.ident(first)}
	if !isOp(p.peek(), ".") {
		return c, nil
	}
	n := peek2(p.lex)
	if n.Type != tokIdent && n.Type != tokQuotedIdent {
		return c, nil // t.* is a select item, not an expression
	}
	p.next()
	p.next()
	c.Table = c.Name.Name
	c.Name = p.ident(n)
	return c, nil
}

func (p *exprParser) call() (Expr, error) {
	name := p.next()
	p.next() // (
	f := &FuncCall{Pos: name.Pos, Name: strings.ToUpper(name.Value)}
	switch t := p.peek(); {
	case isOp(t, "*"):
		p.next()
		f.Star = true
	default:
		if isWord(t, "DISTINCT") {
			p.next()
			f.Distinct = true
		}
		if startsExpr(p.peek(), p.lex) {
			for {
				x, err := p.required()
				if err != nil {
					return nil, err
				}
				f.Args = append(f.Args, x)
				if t := p.peek(); len(f.Args) == 1 && isWord(t, "TO") && (f.Name == "FLOOR" || f.Name == "CEIL" || f.Name == "CEILING") {
					p.next()
					u := p.next()
					if u.Type != tokIdent && u.Type != tokKeyword {
						p.failf(u.Pos, "%s(… TO unit): expected a time unit (SECOND, MINUTE, HOUR, DAY), got %s", f.Name, u.Value)
					}
					f.TimeUnit = strings.ToUpper(u.Value)
					break
				}
				if !isOp(p.peek(), ",") {
					break
				}
				p.next()
			}
		}
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	if f.Distinct && len(f.Args) == 0 {
		p.failf(name.Pos, "DISTINCT needs an argument")
	}
	// FILTER is not reserved (a column may be called filter): it is the
	// clause only when "(" follows, which no alias is followed by.
	if t := p.peek(); isWord(t, "FILTER") && t.Type == tokIdent && isOp(peek2(p.lex), "(") {
		p.next()
		p.next()
		if err := p.expectWord("WHERE"); err != nil {
			return nil, err
		}
		x, err := p.required()
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		f.Filter = x
	}
	if t := p.peek(); isWord(t, "OVER") {
		p.next()
		w := p.peek()
		switch {
		case w.Type == tokIdent || w.Type == tokQuotedIdent:
			p.next()
			id := p.ident(w)
			f.Over = &WindowSpec{Pos: w.Pos, Ref: &id}
		case isOp(w, "("):
			spec, err := p.windowSpec()
			if err != nil {
				return nil, err
			}
			f.Over = spec
		default:
			return nil, p.unexpected()
		}
	}
	return f, nil
}

// windowSpec parses '(' [PARTITION BY or {',' or}] [ORDER BY item {','
// item}] [(ROWS|RANGE) (BETWEEN bound AND bound | bound)] ')'.
func (p *exprParser) windowSpec() (*WindowSpec, error) {
	open := p.next() // (
	if err := p.enter(open.Pos); err != nil {
		return nil, err
	}
	defer p.leave()
	spec := &WindowSpec{Pos: open.Pos}
	if isWord(p.peek(), "PARTITION") {
		p.next()
		if err := p.expectWord("BY"); err != nil {
			return nil, err
		}
		for {
			x, err := p.required()
			if err != nil {
				return nil, err
			}
			spec.PartitionBy = append(spec.PartitionBy, x)
			if !isOp(p.peek(), ",") {
				break
			}
			p.next()
		}
	}
	if isWord(p.peek(), "ORDER") {
		p.next()
		if err := p.expectWord("BY"); err != nil {
			return nil, err
		}
		for {
			t := p.peek()
			x, err := p.required()
			if err != nil {
				return nil, err
			}
			o := &OrderItem{Pos: t.Pos, Expr: x}
			if d := p.peek(); isWord(d, "ASC") || isWord(d, "DESC") {
				p.next()
				o.Desc = isWord(d, "DESC")
			}
			spec.OrderBy = append(spec.OrderBy, o)
			if !isOp(p.peek(), ",") {
				break
			}
			p.next()
		}
	}
	if t := p.peek(); isWord(t, "ROWS") || isWord(t, "RANGE") {
		p.next()
		fr := &WindowFrame{Pos: t.Pos, Rows: isWord(t, "ROWS")}
		var err error
		if isWord(p.peek(), "BETWEEN") {
			p.next()
			if fr.Start, err = p.frameBound(); err != nil {
				return nil, err
			}
			if err := p.expectWord("AND"); err != nil {
				return nil, err
			}
			if fr.End, err = p.frameBound(); err != nil {
				return nil, err
			}
		} else {
			if fr.Start, err = p.frameBound(); err != nil {
				return nil, err
			}
			fr.End = &FrameBound{Pos: fr.Start.Pos, Kind: "CURRENT ROW"}
			fr.Short = true
		}
		spec.Frame = fr
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return spec, nil
}

// frameBound parses UNBOUNDED (PRECEDING|FOLLOWING) | CURRENT ROW |
// offset (PRECEDING|FOLLOWING), where offset is an additive expression (a
// number or an INTERVAL literal, checked by the planner).
func (p *exprParser) frameBound() (*FrameBound, error) {
	t := p.peek()
	b := &FrameBound{Pos: t.Pos}
	switch {
	case isWord(t, "UNBOUNDED") && t.Type == tokIdent:
		p.next()
		d := p.peek()
		if !isWord(d, "PRECEDING") && !isWord(d, "FOLLOWING") {
			return nil, p.unexpected()
		}
		p.next()
		b.Kind = "UNBOUNDED " + strings.ToUpper(d.Value)
		return b, nil
	case isWord(t, "CURRENT") && t.Type == tokIdent:
		p.next()
		if err := p.expectWord("ROW"); err != nil {
			return nil, err
		}
		b.Kind = "CURRENT ROW"
		return b, nil
	}
	if !startsExpr(t, p.lex) {
		return nil, p.unexpected()
	}
	x, err := p.add()
	if err != nil {
		return nil, err
	}
	d := p.peek()
	if !isWord(d, "PRECEDING") && !isWord(d, "FOLLOWING") {
		// The words are not reserved, so the syntax error would say
		// "expected an operator": say what the frame needs instead.
		p.failf(d.Pos, "unexpected %q; expected PRECEDING or FOLLOWING after the frame offset", d.Value)
		b.Kind, b.Offset = "PRECEDING", x
		return b, nil
	}
	p.next()
	b.Kind, b.Offset = strings.ToUpper(d.Value), x
	return b, nil
}

// gWindowSpec is the '(' … ')' of a WINDOW name AS (…) definition, parsed
// by hand as OVER (…) is.
type gWindowSpec struct {
	Spec *WindowSpec
	err  *Error
}

// Parse implements participle.Parseable.
func (g *gWindowSpec) Parse(lex *lexer.PeekingLexer) error {
	if !isOp(lex.Peek(), "(") {
		return participle.NextMatch
	}
	p := exprParser{lex: lex}
	spec, err := p.windowSpec()
	if err != nil {
		return err
	}
	g.Spec, g.err = spec, p.err
	return nil
}

// extractUnits maps the units of EXTRACT(unit FROM ts) to the functions
// that compute them.
var extractUnits = map[string]string{
	"YEAR": "YEAR", "QUARTER": "QUARTER", "MONTH": "MONTH", "WEEK": "WEEK", "DAY": "DAYOFMONTH",
	"DOY": "DAYOFYEAR", "DOW": "DAYOFWEEK", "HOUR": "HOUR", "MINUTE": "MINUTE", "SECOND": "SECOND",
}

// extract parses EXTRACT(unit FROM ts) into the call of the unit's
// function (EXTRACT(DAY FROM ts) is DAYOFMONTH(ts)). The functions
// package owns this one form; the rest of the grammar is untouched.
func (p *exprParser) extract() (Expr, error) {
	name := p.next()
	p.next() // (
	u := p.next()
	fn, ok := extractUnits[strings.ToUpper(u.Value)]
	if !ok || (u.Type != tokIdent && u.Type != tokKeyword) {
		p.failf(u.Pos, "EXTRACT: unsupported unit %s; one of YEAR, QUARTER, MONTH, WEEK, DAY, DOY, DOW, HOUR, MINUTE, SECOND", u.Value)
		fn = "EXTRACT"
	}
	if err := p.expectWord("FROM"); err != nil {
		return nil, err
	}
	x, err := p.required()
	if err != nil {
		return nil, err
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return &FuncCall{Pos: name.Pos, Name: fn, Args: []Expr{x}}, nil
}

// position parses POSITION(sub IN s) into LOCATE(sub, s).
func (p *exprParser) position() (Expr, error) {
	name := p.next()
	p.next() // (
	sub, err := p.concat()
	if err != nil {
		return nil, err
	}
	if err := p.expectWord("IN"); err != nil {
		return nil, err
	}
	s, err := p.required()
	if err != nil {
		return nil, err
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return &FuncCall{Pos: name.Pos, Name: "LOCATE", Args: []Expr{sub, s}}, nil
}

// trim parses TRIM([BOTH | LEADING | TRAILING] [chars] FROM s) into
// TRIM, LTRIM or RTRIM(s, chars) (chars ' ' if not given); ok is false,
// with nothing consumed, for the plain call TRIM(s).
func (p *exprParser) trim() (Expr, bool, error) {
	cp, ops := p.lex.MakeCheckpoint(), p.ops
	name := p.next()
	p.next() // (
	fn, side := "TRIM", false
	t := p.peek()
	switch {
	case isWord(t, "BOTH"):
		side = true
	case isWord(t, "LEADING"):
		fn, side = "LTRIM", true
	case isWord(t, "TRAILING"):
		fn, side = "RTRIM", true
	}
	if side {
		p.next()
		if isOp(p.peek(), ")") || isOp(p.peek(), ",") { // TRIM(leading): a column
			p.lex.LoadCheckpoint(cp)
			return nil, false, nil
		}
	}
	var chars Expr = &StringLit{Pos: name.Pos, Value: " "}
	if !isWord(p.peek(), "FROM") {
		x, err := p.required()
		if err != nil {
			return nil, true, err
		}
		if !isWord(p.peek(), "FROM") {
			if side {
				return nil, true, p.expectWord("FROM")
			}
			p.lex.LoadCheckpoint(cp)
			p.ops = ops
			return nil, false, nil
		}
		chars = x
	}
	p.next() // FROM
	s, err := p.required()
	if err != nil {
		return nil, true, err
	}
	if err := p.expectOp(")"); err != nil {
		return nil, true, err
	}
	return &FuncCall{Pos: name.Pos, Name: fn, Args: []Expr{s, chars}}, true, nil
}

func (p *exprParser) caseExpr() (Expr, error) {
	kw := p.next()
	k := &CaseExpr{Pos: kw.Pos}
	if !isWord(p.peek(), "WHEN") {
		x, err := p.required()
		if err != nil {
			return nil, err
		}
		k.Operand = x
	}
	if !isWord(p.peek(), "WHEN") {
		return nil, p.unexpected()
	}
	for isWord(p.peek(), "WHEN") {
		w := &When{Pos: p.next().Pos}
		var err error
		if w.Cond, err = p.required(); err != nil {
			return nil, err
		}
		if err := p.expectWord("THEN"); err != nil {
			return nil, err
		}
		if w.Result, err = p.required(); err != nil {
			return nil, err
		}
		k.Whens = append(k.Whens, w)
	}
	if isWord(p.peek(), "ELSE") {
		p.next()
		x, err := p.required()
		if err != nil {
			return nil, err
		}
		k.Else = x
	}
	if err := p.expectWord("END"); err != nil {
		return nil, err
	}
	return k, nil
}

var typeNames = []string{"BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "FLOAT", "REAL", "DECIMAL", "NUMERIC", "STRING", "VARCHAR", "CHAR", "TIMESTAMP_LTZ", "TIMESTAMP", "DATE", "TIME"}

func (p *exprParser) cast() (Expr, error) {
	kw := p.next()
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	x, err := p.required()
	if err != nil {
		return nil, err
	}
	if err := p.expectWord("AS"); err != nil {
		return nil, err
	}
	g, err := p.typeName()
	if err != nil {
		return nil, err
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	var c converter
	typ := c.typeName(g)
	if c.err != nil && p.err == nil {
		p.err = c.err
	}
	return &CastExpr{Pos: kw.Pos, X: x, Type: typ, TryCast: strings.EqualFold(kw.Value, "TRY_CAST")}, nil
}

// typeName parses a type as gType does in DDL.
func (p *exprParser) typeName() (*gType, error) {
	t := p.peek()
	g := &gType{Pos: t.Pos}
	if isWord(t, "DOUBLE") {
		p.next()
		g.Name = t.Value
		if isWord(p.peek(), "PRECISION") {
			p.next()
		}
	} else {
		for _, n := range typeNames {
			if isWord(t, n) {
				g.Name = t.Value
				p.next()
				break
			}
		}
		if g.Name == "" {
			return nil, p.unexpected()
		}
	}
	if isOp(p.peek(), "(") {
		p.next()
		for {
			n := p.peek()
			if n.Type != tokNumber {
				return nil, p.unexpected()
			}
			p.next()
			g.Params = append(g.Params, &gNumber{Pos: n.Pos, Value: n.Value})
			if !isOp(p.peek(), ",") {
				break
			}
			p.next()
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
	}
	if w := p.peek(); isWord(w, "WITH") && isWord(peek2(p.lex), "LOCAL") {
		p.next()
		p.next()
		if err := p.expectWord("TIME"); err != nil {
			return nil, err
		}
		if err := p.expectWord("ZONE"); err != nil {
			return nil, err
		}
		g.LTZ = &gWithLocal{Pos: w.Pos, Kw: w.Value}
	}
	return g, nil
}

// gSelectList is a select list, item {',' item}, parsed by hand as
// expressions are: participle spent ~20 µs an item on it.
type gSelectList struct {
	Items []*gSelectItem
}

// Parse implements participle.Parseable.
func (g *gSelectList) Parse(lex *lexer.PeekingLexer) error {
	p := exprParser{lex: lex}
	for {
		it, err := p.selectItem()
		if err != nil {
			return err
		}
		if it == nil {
			if len(g.Items) == 0 {
				return participle.NextMatch
			}
			return p.unexpected()
		}
		g.Items = append(g.Items, it)
		if !isOp(p.peek(), ",") {
			return nil
		}
		p.next()
	}
}

// selectItem parses '*' | name '.' '*' | expr [[AS] alias], or returns
// nil when the next token starts none of them.
func (p *exprParser) selectItem() (*gSelectItem, error) {
	t := p.peek()
	it := &gSelectItem{Pos: t.Pos}
	if isOp(t, "*") {
		p.next()
		it.Star = true
		return it, nil
	}
	if t.Type == tokIdent || t.Type == tokQuotedIdent {
		cp := p.lex.MakeCheckpoint()
		p.next()
		if isOp(p.peek(), ".") {
			p.next()
			if isOp(p.peek(), "*") {
				p.next()
				it.StarTable = &gIdent{Pos: t.Pos, Value: t.Value}
				return it, nil
			}
		}
		p.lex.LoadCheckpoint(cp)
	}
	if !startsExpr(t, p.lex) {
		return nil, nil
	}
	p.err, p.ops = nil, 0
	x, err := p.or()
	if err != nil {
		return nil, err
	}
	it.Expr = &gOr{Pos: t.Pos, X: x, err: p.err}
	a := p.peek()
	if isWord(a, "AS") {
		p.next()
		a = p.peek()
		if a.Type != tokIdent && a.Type != tokQuotedIdent {
			return nil, p.unexpected()
		}
	}
	if a.Type == tokIdent || a.Type == tokQuotedIdent {
		p.next()
		it.Alias = &gIdent{Pos: a.Pos, Value: a.Value}
	}
	return it, nil
}

// gExprList is expr {',' expr}, parsed by hand.
type gExprList struct {
	List []*gOr
}

// Parse implements participle.Parseable.
func (g *gExprList) Parse(lex *lexer.PeekingLexer) error {
	for {
		t := lex.Peek()
		if !startsExpr(t, lex) {
			if len(g.List) == 0 {
				return participle.NextMatch
			}
			p := exprParser{lex: lex}
			return p.unexpected()
		}
		e := &gOr{}
		if err := e.Parse(lex); err != nil {
			return err
		}
		g.List = append(g.List, e)
		if !isOp(lex.Peek(), ",") {
			return nil
		}
		lex.Next()
	}
}
