package parser

import (
	"errors"
	"fmt"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/streamsql/streamsql/internal/suggest"
)

// Error is a syntax error at a position in the SQL text.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", FormatPos(e.Pos), e.Msg)
}

// FormatPos prints a position as file:line:col, or line:col without a file.
func FormatPos(p Pos) string {
	if p.Filename != "" {
		return fmt.Sprintf("%s:%d:%d", p.Filename, p.Line, p.Column)
	}
	return fmt.Sprintf("%d:%d", p.Line, p.Column)
}

// Parse parses every statement of sql, separated by semicolons. filename
// is used in positions and may be empty. Empty statements are skipped, and
// the last statement needs no semicolon. Any error is an *Error.
//
// Parsing takes time linear in the text. Parentheses may nest at most
// MaxNesting levels deep, subqueries at most MaxSubqueryNesting; deeper
// input is refused with an error at the first parenthesis too many.
func Parse(filename, sql string) ([]Statement, error) {
	if err := checkNesting(filename, sql); err != nil {
		return nil, &Error{Pos: err.pos, Msg: err.msg}
	}
	g, err := sqlParser.ParseString(filename, sql)
	if err != nil {
		return nil, syntaxError(filename, sql, err)
	}
	var c converter
	stmts := c.script(g)
	if c.err != nil {
		return nil, c.err
	}
	return stmts, nil
}

// ParseOne parses sql, which must hold exactly one statement.
func ParseOne(filename, sql string) (Statement, error) {
	stmts, err := Parse(filename, sql)
	if err != nil {
		return nil, err
	}
	switch len(stmts) {
	case 1:
		return stmts[0], nil
	case 0:
		return nil, &Error{Pos: endPos(filename, sql), Msg: "unexpected end of input; expected a statement"}
	default:
		return nil, &Error{Pos: stmts[1].Position(), Msg: "expected a single statement"}
	}
}

// endPos is the position just past the end of sql.
func endPos(filename, sql string) Pos {
	p := Pos{Filename: filename, Line: 1, Column: 1}
	p.Advance(sql)
	return p
}

// lexAll splits sql into tokens, comments and whitespace dropped, ending
// with an EOF token. The lexer has a catch-all rule, so it cannot fail.
func lexAll(filename, sql string) []lexer.Token {
	l, err := sqlLexer.LexString(filename, sql)
	if err != nil {
		return []lexer.Token{lexer.EOFToken(endPos(filename, sql))}
	}
	toks, err := lexer.ConsumeAll(l)
	if err != nil || len(toks) == 0 {
		return []lexer.Token{lexer.EOFToken(endPos(filename, sql))}
	}
	return toks
}

// MaxSubqueryNesting is the deepest nesting of subqueries that Parse
// accepts. The statement grammar backtracks, so its cost grows faster than
// the nesting: this limit keeps it small.
const MaxSubqueryNesting = 32

// checkNesting refuses parentheses nested deeper than MaxNesting and
// subqueries nested deeper than MaxSubqueryNesting, before the parser
// (whose cost on such input is what the limits bound) sees them.
func checkNesting(filename, sql string) *limitError {
	var open []bool // for each open parenthesis, whether a subquery starts there
	subs := 0
	s := sqlScanner{src: sql, pos: Pos{Filename: filename, Line: 1, Column: 1}}
	// parenPos is a "(" whose next token is not seen yet, if paren.
	var parenPos Pos
	paren := false
	for {
		t, _ := s.Next()
		if paren {
			sub := t.Type == tokKeyword && (strings.EqualFold(t.Value, "SELECT") || strings.EqualFold(t.Value, "WITH") || strings.EqualFold(t.Value, "VALUES"))
			if sub {
				subs++
				if subs > MaxSubqueryNesting {
					return &limitError{pos: parenPos, msg: fmt.Sprintf("subqueries nested too deep: more than %d levels", MaxSubqueryNesting)}
				}
			}
			open = append(open, sub)
			if len(open) > MaxNesting {
				return &limitError{pos: parenPos, msg: fmt.Sprintf("parentheses nested too deep: more than %d levels", MaxNesting)}
			}
			paren = false
		}
		if t.EOF() {
			return nil
		}
		if t.Type != tokOperator {
			continue
		}
		switch t.Value {
		case "(":
			paren, parenPos = true, t.Pos
		case ")":
			if n := len(open); n > 0 {
				if open[n-1] {
					subs--
				}
				open = open[:n-1]
			}
		}
	}
}

// maxProbeTokens bounds the statement prefix that syntaxError reparses to
// find what was expected (it parses it once per candidate token): past it,
// the error names the offending token only, so that a long statement's
// error costs no more than a few parses of it.
const maxProbeTokens = 1000

// syntaxError turns a participle error into an *Error: the position of the
// offending token, what it is, and what the grammar would have accepted.
func syntaxError(filename, sql string, err error) *Error {
	var lerr *limitError
	if errors.As(err, &lerr) {
		return &Error{Pos: lerr.pos, Msg: lerr.msg}
	}
	var perr participle.Error
	if !errors.As(err, &perr) {
		return &Error{Pos: Pos{Filename: filename, Line: 1, Column: 1}, Msg: err.Error()}
	}
	toks := lexAll(filename, sql)
	at := len(toks) - 1 // EOF unless a token starts at the error offset
	for i, t := range toks {
		if t.Pos.Offset >= perr.Position().Offset {
			at = i
			break
		}
	}
	tok := toks[at]
	switch tok.Type {
	case tokUnterminatedString:
		return &Error{Pos: tok.Pos, Msg: "unterminated string literal"}
	case tokUnterminatedIdent:
		return &Error{Pos: tok.Pos, Msg: "unterminated quoted identifier"}
	case tokUnterminatedComment:
		return &Error{Pos: tok.Pos, Msg: "unterminated comment"}
	case tokHint:
		return &Error{Pos: tok.Pos, Msg: "a hint /*+ … */ is only allowed right after SELECT (query hints such as STATE_TTL); table hints (OPTIONS) are not supported"}
	case tokInvalid:
		return &Error{Pos: tok.Pos, Msg: fmt.Sprintf("unexpected character %q", tok.Value)}
	}
	// Probe only the statement holding the error: it starts after the last
	// semicolon before the offending token.
	start, first := 0, 0
	for i := at - 1; i >= 0; i-- {
		if toks[i].Type == tokOperator && toks[i].Value == ";" {
			start, first = toks[i].Pos.Offset+1, i+1
			break
		}
	}
	msg := "unexpected " + describe(tok)
	if at-first <= maxProbeTokens {
		exp, words := expected(sql[start:tok.Pos.Offset])
		if w := misspelt(tok, words); w != "" {
			// A misspelt keyword: SELEC, FROMM, INSRT.
			return &Error{Pos: tok.Pos, Msg: fmt.Sprintf("%s; did you mean %s?", msg, w)}
		}
		if prev := toks[max(at-1, 0)]; at > first && prev.Type == tokIdent && len(prev.Value) >= 4 {
			// A misspelt clause keyword after a table or an expression
			// reads as an alias (FROM t GRUOP BY), and the error comes
			// one token late: suggest the keyword the alias may be.
			_, before := expected(sql[start:prev.Pos.Offset])
			if w := misspelt(prev, before); w != "" {
				return &Error{Pos: prev.Pos, Msg: fmt.Sprintf("unexpected %s; did you mean %s?", describe(prev), w)}
			}
		}
		if exp != "" {
			msg += "; expected " + exp
		}
	}
	return &Error{Pos: tok.Pos, Msg: msg}
}

// misspelt returns the keyword among words that t, a word, looks like a
// misspelling of, or "".
func misspelt(t lexer.Token, words []string) string {
	if t.Type != tokIdent || len(t.Value) < 3 {
		return ""
	}
	for _, w := range words {
		if strings.EqualFold(w, t.Value) {
			return "" // the word itself is accepted here: not a typo
		}
	}
	return suggest.Closest(t.Value, words)
}

// describe names a token for an error message.
func describe(t lexer.Token) string {
	if t.EOF() {
		return "end of input"
	}
	v := t.Value
	if r := []rune(v); len(r) > 24 {
		v = string(r[:24]) + "…"
	}
	return fmt.Sprintf("%q", v)
}

// Candidates tried by expected, in the order an error message lists them.
// sampleIdent, sampleNumber and sampleString stand for whole token classes.
const (
	sampleIdent  = "x"
	sampleQuoted = "`x`"
	sampleNumber = "1"
	sampleString = "'s'"
)

var probeKeywords = []string{
	// Statements first, then clauses in the order they appear.
	"CREATE", "DROP", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "SET", "RESET",
	"INSERT", "STOP", "EXECUTE", "BEGIN", "STATEMENT", "SELECT", "DISTINCT", "FROM", "WHERE", "GROUP", "BY",
	"HAVING", "ALL", "LIMIT", "AS", "TEMPORARY", "TABLE", "VIEW", "IF", "NOT",
	"EXISTS", "INTO", "PLAN", "FOR", "JOB", "WITH", "SAVEPOINT", "TABLES",
	"VIEWS", "JOBS", "FUNCTIONS", "CHECKPOINTS", "WATERMARK", "PRIMARY", "KEY",
	"ENFORCED", "METADATA", "VIRTUAL", "COMMENT", "LOCAL", "ZONE",
	"PRECISION", "NULL", "TUMBLE", "HOP", "CUMULATE", "SESSION", "DESCRIPTOR",
	"PARTITION", "WHEN", "THEN", "ELSE", "END", "MILLISECOND", "SECOND",
	"MINUTE", "HOUR", "DAY",
}

var typeWords = []string{
	"BOOLEAN", "TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT", "FLOAT",
	"REAL", "DOUBLE", "DECIMAL", "NUMERIC", "STRING", "VARCHAR", "CHAR",
	"TIMESTAMP", "TIMESTAMP_LTZ", "DATE", "TIME",
}

// exprStarts are the tokens that can start an expression, besides names,
// numbers and strings; they are summed up as "an expression".
var exprStarts = []string{
	"(", "-", "+", "NOT", "CASE", "CAST", "TRY_CAST", "INTERVAL", "TIMESTAMP",
	"TRUE", "FALSE", "NULL", "LEFT", "RIGHT", sampleQuoted,
}

// operators continue an expression; they are summed up as "an operator".
// The word operators are summed up only where OR is accepted, so that
// BETWEEN's AND still shows.
var (
	symbolOperators = []string{"+", "-", "*", "/", "%", "||", "=", "<>", "!=", "<", "<=", ">", ">="}
	wordOperators   = []string{"AND", "OR", "IS", "NOT", "LIKE", "IN", "BETWEEN"}
)

var punctuation = []string{"(", ")", ",", ".", ";", "=", "=>", "*"}

// expected returns what the grammar accepts right after prefix (the text
// of the failing statement up to the offending token), for an error
// message: "FROM", `one of FROM, WHERE, …`, "an expression", and the
// keywords among it (a type name stands for every type name), for a
// did-you-mean. It tries each candidate token in turn and keeps those the
// parser gets past.
func expected(prefix string) (string, []string) {
	ok := map[string]bool{}
	accepts := func(cand string) bool {
		if v, seen := ok[cand]; seen {
			return v
		}
		text := prefix + " " + cand
		_, err := sqlParser.ParseString("", text)
		var perr participle.Error
		v := err == nil || (errors.As(err, &perr) && perr.Position().Offset > len(prefix)+1)
		ok[cand] = v
		return v
	}
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	isExpr := accepts(sampleIdent) && accepts(sampleNumber) && accepts(sampleString)
	isIdent := !isExpr && accepts(sampleIdent)
	isType := !accepts(sampleIdent) && accepts("BIGINT") && accepts("VARCHAR")
	isOperator := !isExpr && accepts("+") && accepts("*")
	skip := map[string]bool{}
	if isExpr || isIdent {
		// Non-reserved words are accepted as names; don't list them.
		for _, w := range nonReservedWords {
			skip[w] = true
		}
	}
	if isExpr {
		for _, w := range exprStarts {
			skip[w] = true
		}
	}
	if isType {
		for _, w := range typeWords {
			skip[w] = true
		}
	}
	if isOperator {
		// After an expression, "(" and "." only continue a name.
		skip["("], skip["."] = true, true
		for _, w := range symbolOperators {
			skip[w] = true
		}
		if accepts("OR") {
			for _, w := range wordOperators {
				skip[w] = true
			}
		}
	}
	for _, kw := range probeKeywords {
		if !skip[kw] && accepts(kw) {
			add(kw)
		}
	}
	if !isType {
		for _, kw := range typeWords {
			if !skip[kw] && accepts(kw) {
				add(kw)
			}
		}
	}
	for _, kw := range []string{"MILLISECONDS", "SECONDS", "MINUTES", "HOURS", "DAYS"} {
		if !skip[kw] && accepts(kw) {
			add(kw)
		}
	}
	words := append([]string(nil), out...)
	if isType {
		words = append(words, typeWords...)
	}
	for _, p := range punctuation {
		if !skip[p] && accepts(p) {
			add(fmt.Sprintf("%q", p))
		}
	}
	for _, w := range wordOperators {
		if !skip[w] && accepts(w) {
			add(w)
		}
	}
	for _, p := range symbolOperators {
		if !skip[p] && accepts(p) {
			add(fmt.Sprintf("%q", p))
		}
	}
	switch {
	case isExpr:
		add("an expression")
	case isIdent:
		add("an identifier")
	default:
		if accepts(sampleString) {
			add("a string")
		}
		if accepts(sampleNumber) {
			add("a number")
		}
	}
	if isType {
		add("a type")
	}
	if isOperator {
		add("an operator")
	}
	return listAlternatives(out), words
}

// listAlternatives joins alternatives for "expected …".
func listAlternatives(alts []string) string {
	const max = 6
	switch len(alts) {
	case 0:
		return ""
	case 1:
		return alts[0]
	case 2:
		return alts[0] + " or " + alts[1]
	}
	if len(alts) > max {
		return "one of " + strings.Join(alts[:max], ", ") + ", …"
	}
	return "one of " + strings.Join(alts, ", ")
}

// Caret returns the source line holding pos and, under it, a caret at the
// column, for showing an error in a terminal:
//
//	LINE 1: SELECT * FROMM t
//	                 ^
func Caret(src string, pos Pos) string {
	lines := strings.Split(src, "\n")
	n := pos.Line
	if n < 1 {
		n = 1
	}
	if n > len(lines) {
		n = len(lines)
	}
	line := strings.TrimRight(lines[n-1], "\r")
	prefix := fmt.Sprintf("LINE %d: ", n)
	var pad strings.Builder
	pad.WriteString(strings.Repeat(" ", len(prefix)))
	col := 1
	for _, r := range line {
		if col >= pos.Column {
			break
		}
		if r == '\t' {
			pad.WriteByte('\t')
		} else {
			pad.WriteByte(' ')
		}
		col++
	}
	for ; col < pos.Column; col++ {
		pad.WriteByte(' ')
	}
	return prefix + line + "\n" + pad.String() + "^"
}
