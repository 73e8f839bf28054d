package parser

import "strings"

// scanState is where a scan of SQL text stands at the end of the text.
type scanState int

const (
	scanCode scanState = iota
	scanString
	scanQuoted
	scanLineComment
	scanBlockComment
)

// scanStatements walks text and calls stmt with the byte range of each
// statement ended by a top-level semicolon, with whether it holds any
// token (not only whitespace and comments). It returns the state at the
// end, the start of the unterminated tail, and whether the tail holds a
// token.
//
// A statement set (EXECUTE STATEMENT SET BEGIN …; …; END, or EXPLAIN
// STATEMENT SET BEGIN …) is one statement: its semicolons before the END
// that starts one of its items end nothing.
func scanStatements(text string, stmt func(start, end int, hasToken bool)) (state scanState, tailStart int, tailHasToken bool) {
	start, hasToken := 0, false
	var set setScan
	for i := 0; i < len(text); i++ {
		ch := text[i]
		switch state {
		case scanString:
			if ch == '\'' {
				if i+1 < len(text) && text[i+1] == '\'' {
					i++
				} else {
					state = scanCode
				}
			}
		case scanQuoted:
			if ch == '`' {
				if i+1 < len(text) && text[i+1] == '`' {
					i++
				} else {
					state = scanCode
				}
			}
		case scanLineComment:
			if ch == '\n' {
				state = scanCode
			}
		case scanBlockComment:
			if ch == '*' && i+1 < len(text) && text[i+1] == '/' {
				i++
				state = scanCode
			}
		default:
			switch {
			case ch == '\'':
				state, hasToken = scanString, true
				set.other()
			case ch == '`':
				state, hasToken = scanQuoted, true
				set.other()
			case ch == '-' && i+1 < len(text) && text[i+1] == '-':
				state = scanLineComment
				i++
			case ch == '/' && i+1 < len(text) && text[i+1] == '*':
				state = scanBlockComment
				i++
			case ch == ';':
				if set.semicolon() {
					break
				}
				stmt(start, i, hasToken)
				start, hasToken = i+1, false
				set = setScan{}
			case ch == ' ', ch == '\t', ch == '\n', ch == '\r', ch == '\f', ch == '\v':
			case isWordByte(ch):
				j := i + 1
				for j < len(text) && isWordByte(text[j]) {
					j++
				}
				set.word(text[i:j])
				hasToken = true
				i = j - 1
			default:
				set.other()
				hasToken = true
			}
		}
	}
	return state, start, hasToken
}

func isWordByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// setScan follows one statement's tokens to tell whether it is a
// statement set whose END has not come yet. It does not allocate.
type setScan struct {
	head      [7]string // the statement's leading words, while only words came
	heads     int       // how many of head are set; -1 once another token came
	open      bool      // inside BEGIN … END
	itemStart bool      // open, and no token since BEGIN or the last semicolon
}

// setHeads are the word sequences that open a statement set.
var setHeads = [][]string{
	{"EXECUTE", "STATEMENT", "SET", "BEGIN"},
	{"EXPLAIN", "STATEMENT", "SET", "BEGIN"},
	{"EXPLAIN", "EXECUTE", "STATEMENT", "SET", "BEGIN"},
	{"EXPLAIN", "PLAN", "FOR", "STATEMENT", "SET", "BEGIN"},
	{"EXPLAIN", "PLAN", "FOR", "EXECUTE", "STATEMENT", "SET", "BEGIN"},
}

func (s *setScan) word(w string) {
	if s.open {
		if s.itemStart && strings.EqualFold(w, "END") {
			s.open = false
		}
		s.itemStart = false
		return
	}
	if s.heads < 0 || s.heads == len(s.head) {
		s.heads = -1
		return
	}
	s.head[s.heads] = w
	s.heads++
	for _, h := range setHeads {
		if len(h) != s.heads {
			continue
		}
		match := true
		for i, hw := range h {
			if !strings.EqualFold(hw, s.head[i]) {
				match = false
				break
			}
		}
		if match {
			s.open, s.itemStart, s.heads = true, true, -1
			return
		}
	}
}

func (s *setScan) other() {
	s.heads = -1
	s.itemStart = false
}

// semicolon reports whether a semicolon belongs to an open statement set
// (and so ends no statement).
func (s *setScan) semicolon() bool {
	if s.open {
		s.itemStart = true
		return true
	}
	return false
}

// Split splits a script into the texts of its statements, on semicolons
// outside strings, quoted identifiers and comments. The texts are trimmed
// of surrounding whitespace and exclude the semicolon; empty statements
// (nothing but whitespace and comments) are dropped. A last statement
// without a semicolon is included.
func Split(text string) []string {
	var out []string
	add := func(start, end int, hasToken bool) {
		if hasToken {
			out = append(out, strings.TrimSpace(text[start:end]))
		}
	}
	_, tail, tailHasToken := scanStatements(text, add)
	add(tail, len(text), tailHasToken)
	return out
}

// Complete reports whether text is ready to run in a REPL: it holds at
// least one statement and ends with a semicolon outside strings, quoted
// identifiers and comments, followed by nothing but whitespace and
// comments (closed block comments or line comments).
func Complete(text string) bool {
	statements := 0
	state, _, tailHasToken := scanStatements(text, func(_, _ int, hasToken bool) {
		if hasToken {
			statements++
		}
	})
	if state != scanCode && state != scanLineComment {
		return false
	}
	return statements > 0 && !tailHasToken
}
