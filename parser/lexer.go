package parser

import (
	"io"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
)

// sqlLexer splits SQL text into tokens in one linear pass (a regexp-based
// participle lexer took ~10 µs a byte, so a 1 MiB statement took seconds
// to lex). Whitespace and comments are dropped. Reserved words get their
// own token type (Keyword) so that they can never be read as identifiers;
// every other word is an Ident, matched case-insensitively by the
// grammar's literals. The Unterminated* and Invalid token types turn what
// would be a lexer failure into a token that no rule accepts, so that the
// parser reports it with a position and parse.go can give it a precise
// message.
//
// The token classes, tried in this order at each position:
//
//	whitespace           [\t\n\f\r ]+ (dropped)
//	Hint                 /*+ … */ (a hint comment, parsed after SELECT)
//	comment              --… to the end of the line, /* … */ (dropped)
//	UnterminatedComment  /* to the end of the input
//	Keyword              a word (below) that is a reserved word, any case
//	Ident                [A-Za-z_][A-Za-z0-9_]*
//	QuotedIdent          `…` with `` for a backtick
//	UnterminatedIdent    ` to the end of the input
//	Number               (\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?
//	String               '…' with '' for a quote
//	UnterminatedString   ' to the end of the input
//	Operator             <> != <= >= || => and one of - + * / % = < > ( ) , . ;
//	Invalid              any other character
var sqlLexer = sqlLexerDef{}

// The token types. EOF is participle's.
const (
	tokKeyword lexer.TokenType = -(iota + 2)
	tokIdent
	tokQuotedIdent
	tokUnterminatedIdent
	tokNumber
	tokString
	tokUnterminatedString
	tokUnterminatedComment
	tokOperator
	tokInvalid
	tokHint
)

type sqlLexerDef struct{}

// Symbols implements lexer.Definition.
func (sqlLexerDef) Symbols() map[string]lexer.TokenType {
	return map[string]lexer.TokenType{
		"EOF":                 lexer.EOF,
		"Keyword":             tokKeyword,
		"Ident":               tokIdent,
		"QuotedIdent":         tokQuotedIdent,
		"UnterminatedIdent":   tokUnterminatedIdent,
		"Number":              tokNumber,
		"String":              tokString,
		"UnterminatedString":  tokUnterminatedString,
		"UnterminatedComment": tokUnterminatedComment,
		"Operator":            tokOperator,
		"Invalid":             tokInvalid,
		"Hint":                tokHint,
	}
}

// Lex implements lexer.Definition.
func (d sqlLexerDef) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return d.LexString(filename, string(b))
}

// LexString implements lexer.StringDefinition.
func (sqlLexerDef) LexString(filename, input string) (lexer.Lexer, error) {
	return &sqlScanner{src: input, pos: Pos{Filename: filename, Line: 1, Column: 1}}, nil
}

// sqlScanner is one pass of sqlLexer over a text.
type sqlScanner struct {
	src string
	pos Pos // of src[pos.Offset:]
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

// Next implements lexer.Lexer.
func (s *sqlScanner) Next() (lexer.Token, error) {
	for {
		rest := s.src[s.pos.Offset:]
		if rest == "" {
			return lexer.EOFToken(s.pos), nil
		}
		typ, n := scanToken(rest)
		text := rest[:n]
		pos := s.pos
		s.pos.Advance(text)
		if typ == 0 {
			continue // whitespace or a comment
		}
		return lexer.Token{Type: typ, Value: text, Pos: pos}, nil
	}
}

// scanToken returns the type and length of the token at the start of
// rest, which is not empty; type 0 is whitespace or a comment.
func scanToken(rest string) (lexer.TokenType, int) {
	c := rest[0]
	switch {
	case isSpace(c):
		n := 1
		for n < len(rest) && isSpace(rest[n]) {
			n++
		}
		return 0, n
	case c == '-' && strings.HasPrefix(rest, "--"):
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			return 0, i
		}
		return 0, len(rest)
	case c == '/' && strings.HasPrefix(rest, "/*"):
		if i := strings.Index(rest[2:], "*/"); i >= 0 {
			if strings.HasPrefix(rest, "/*+") && i >= 1 {
				return tokHint, i + 4
			}
			return 0, i + 4
		}
		return tokUnterminatedComment, len(rest)
	case isIdentStart(c):
		n := 1
		for n < len(rest) && isIdentChar(rest[n]) {
			n++
		}
		if isReserved(rest[:n]) {
			return tokKeyword, n
		}
		return tokIdent, n
	case c == '`':
		return lexQuoted(rest, '`', tokQuotedIdent, tokUnterminatedIdent)
	case c == '\'':
		return lexQuoted(rest, '\'', tokString, tokUnterminatedString)
	case isDigit(c) || c == '.' && len(rest) > 1 && isDigit(rest[1]):
		return tokNumber, scanNumber(rest)
	}
	if len(rest) >= 2 {
		switch rest[:2] {
		case "<>", "!=", "<=", ">=", "||", "=>":
			return tokOperator, 2
		}
	}
	if strings.IndexByte("-+*/%=<>(),.;", c) >= 0 {
		return tokOperator, 1
	}
	_, n := utf8.DecodeRuneInString(rest)
	return tokInvalid, n
}

// lexQuoted scans a token quoted with q, where a doubled q stands for
// itself.
func lexQuoted(rest string, q byte, ok, unterminated lexer.TokenType) (lexer.TokenType, int) {
	for i := 1; i < len(rest); i++ {
		if rest[i] != q {
			continue
		}
		if i+1 < len(rest) && rest[i+1] == q {
			i++
			continue
		}
		return ok, i + 1
	}
	return unterminated, len(rest)
}

// scanNumber returns the length of the number at the start of rest.
func scanNumber(rest string) int {
	n := 0
	for n < len(rest) && isDigit(rest[n]) {
		n++
	}
	if n < len(rest) && rest[n] == '.' {
		n++
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
	}
	if n < len(rest) && (rest[n] == 'e' || rest[n] == 'E') {
		m := n + 1
		if m < len(rest) && (rest[m] == '+' || rest[m] == '-') {
			m++
		}
		if m < len(rest) && isDigit(rest[m]) {
			for m < len(rest) && isDigit(rest[m]) {
				m++
			}
			n = m
		}
	}
	return n
}
