package parser

import "fmt"

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
// is used in positions and may be empty.
func Parse(filename, sql string) ([]Statement, error) {
	return nil, &Error{Pos: Pos{Filename: filename, Line: 1, Column: 1}, Msg: "parser not implemented"}
}
