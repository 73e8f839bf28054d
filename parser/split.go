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
func scanStatements(text string, stmt func(start, end int, hasToken bool)) (state scanState, tailStart int, tailHasToken bool) {
	start, hasToken := 0, false
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
			case ch == '`':
				state, hasToken = scanQuoted, true
			case ch == '-' && i+1 < len(text) && text[i+1] == '-':
				state = scanLineComment
				i++
			case ch == '/' && i+1 < len(text) && text[i+1] == '*':
				state = scanBlockComment
				i++
			case ch == ';':
				stmt(start, i, hasToken)
				start, hasToken = i+1, false
			case ch == ' ', ch == '\t', ch == '\n', ch == '\r', ch == '\f', ch == '\v':
			default:
				hasToken = true
			}
		}
	}
	return state, start, hasToken
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
