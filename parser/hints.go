package parser

import (
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// Hint is one hint of a /*+ … */ comment after SELECT, as Flink writes
// them: NAME, NAME(a, b) (List) or NAME('k' = 'v', …) (Options). Names are
// upper case; which hints exist is the planner's business.
type Hint struct {
	Pos     Pos
	Name    string
	List    []HintValue
	Options []HintOption
}

// HintValue is a plain option of a hint: an identifier or a string.
type HintValue struct {
	Pos    Pos
	Value  string
	Quoted bool // a string literal
}

// HintOption is a 'key' = 'value' option of a hint.
type HintOption struct {
	Pos        Pos
	Key, Value string
}

// hints parses the hints of one /*+ … */ token: hint, hint, ….
func (c *converter) hints(tok lexer.Token) []*Hint {
	body := strings.TrimSuffix(strings.TrimPrefix(tok.Value, "/*+"), "*/")
	pos := tok.Pos
	pos.Advance("/*+")
	toks := scanAll(body, pos)
	var out []*Hint
	i := 0
	next := func() (lexer.Token, bool) {
		if i >= len(toks) {
			return lexer.Token{Pos: pos}, false
		}
		i++
		return toks[i-1], true
	}
	peekOp := func(op string) bool {
		return i < len(toks) && toks[i].Type == tokOperator && toks[i].Value == op
	}
	value := func(what string) (HintValue, bool) {
		t, ok := next()
		switch {
		case !ok:
			c.failf(tok.Pos, "hint: expected %s, got the end of the hint", what)
		case t.Type == tokString:
			return HintValue{Pos: t.Pos, Value: unquote(t.Value), Quoted: true}, true
		case t.Type == tokQuotedIdent:
			return HintValue{Pos: t.Pos, Value: strings.ReplaceAll(t.Value[1:len(t.Value)-1], "``", "`")}, true
		case t.Type == tokIdent || t.Type == tokKeyword || t.Type == tokNumber:
			return HintValue{Pos: t.Pos, Value: t.Value}, true
		default:
			c.failf(t.Pos, "hint: expected %s, got %q", what, t.Value)
		}
		return HintValue{}, false
	}
	for {
		t, ok := next()
		if !ok {
			c.failf(tok.Pos, "empty hint /*+ */: expected a hint such as STATE_TTL('t' = '1d')")
			return out
		}
		if t.Type != tokIdent && t.Type != tokKeyword {
			c.failf(t.Pos, "hint: expected a hint name, got %q", t.Value)
			return out
		}
		h := &Hint{Pos: t.Pos, Name: strings.ToUpper(t.Value)}
		out = append(out, h)
		if peekOp("(") {
			next()
			for !peekOp(")") {
				v, ok := value("a hint option")
				if !ok {
					return out
				}
				if peekOp("=") {
					next()
					val, ok := value("the option's value")
					if !ok {
						return out
					}
					h.Options = append(h.Options, HintOption{Pos: v.Pos, Key: v.Value, Value: val.Value})
				} else {
					h.List = append(h.List, v)
				}
				if len(h.Options) > 0 && len(h.List) > 0 {
					c.failf(v.Pos, "hint %s: options are either all 'key' = 'value' or all plain", h.Name)
					return out
				}
				if !peekOp(",") {
					break
				}
				next()
			}
			if !peekOp(")") {
				t, _ := next()
				c.failf(t.Pos, "hint %s: expected ')' or ','", h.Name)
				return out
			}
			next()
		}
		if i >= len(toks) {
			return out
		}
		if !peekOp(",") {
			t, _ := next()
			c.failf(t.Pos, "hint: expected ',' between hints, got %q", t.Value)
			return out
		}
		next()
	}
}

// scanAll lexes src, which starts at pos, into its tokens.
func scanAll(src string, pos Pos) []lexer.Token {
	var out []lexer.Token
	for rest := src; rest != ""; {
		typ, n := scanToken(rest)
		text := rest[:n]
		if typ != 0 {
			out = append(out, lexer.Token{Type: typ, Value: text, Pos: pos})
		}
		pos.Advance(text)
		rest = rest[n:]
	}
	return out
}

// formatHints prints hints as one /*+ … */ comment that parses again.
func formatHints(hs []*Hint) string {
	parts := make([]string, len(hs))
	for i, h := range hs {
		s := h.Name
		var args []string
		for _, o := range h.Options {
			args = append(args, quoteString(o.Key)+" = "+quoteString(o.Value))
		}
		for _, v := range h.List {
			if v.Quoted {
				args = append(args, quoteString(v.Value))
			} else {
				args = append(args, v.Value)
			}
		}
		if args != nil {
			s += "(" + strings.Join(args, ", ") + ")"
		}
		parts[i] = s
	}
	return "/*+ " + strings.Join(parts, ", ") + " */"
}
