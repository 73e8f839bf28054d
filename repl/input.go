package repl

import (
	"strings"
	"unicode/utf8"

	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/parser"
)

// piece is one statement of a script: its text (without the semicolon)
// and where its first byte is in the script, 1-based.
type piece struct {
	text      string
	line, col int
}

// splitScript splits src into statements (parser.Split) and finds where
// each starts, so that positions in errors refer to src.
func splitScript(src string) []piece {
	var out []piece
	from := 0
	for _, s := range parser.Split(src) {
		// Split returns trimmed substrings of src in order, so the next
		// occurrence is this statement (unless an empty, comment-only
		// statement before it contains its text: then only the caret of an
		// error in it is off).
		i := strings.Index(src[from:], s)
		if i < 0 {
			out = append(out, piece{text: s, line: 1, col: 1})
			continue
		}
		start := from + i
		nl := strings.LastIndexByte(src[:start], '\n')
		out = append(out, piece{
			text: s,
			line: 1 + strings.Count(src[:start], "\n"),
			col:  1 + utf8.RuneCountInString(src[nl+1:start]),
		})
		from = start + len(s)
	}
	return out
}

// padded returns the piece's text preceded by blank lines and spaces, so
// that the parser reports positions in the script the piece came from.
func (p piece) padded() string {
	return strings.Repeat("\n", p.line-1) + strings.Repeat(" ", p.col-1) + p.text
}

// command is a client command: something the shell does itself rather
// than the engine.
type command struct {
	name string // "help", "quit", "source", "resume", "vertical"
	arg  string
}

// clientCommand recognises the shell's own commands: HELP, QUIT, EXIT,
// SOURCE 'file', RESUME JOB 'id' (as statements), their backslash forms
// \h, \?, \q, \i file, and \x, which toggles the vertical display (on a
// line of their own, no semicolon needed).
func clientCommand(text string) (command, bool) {
	text = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(text), ";"))
	if text == "" {
		return command{}, false
	}
	word, rest, _ := strings.Cut(text, " ")
	if i := strings.IndexAny(word, "\t\n"); i >= 0 {
		word, rest = word[:i], word[i+1:]+" "+rest
	}
	rest = strings.TrimSpace(rest)
	switch strings.ToUpper(word) {
	case "HELP", `\H`, `\?`, `\HELP`:
		return command{name: "help", arg: rest}, true
	case "QUIT", "EXIT", `\Q`, `\QUIT`:
		if rest == "" {
			return command{name: "quit"}, true
		}
	case `\X`:
		if rest == "" {
			return command{name: "vertical"}, true
		}
	case "RESUME":
		if job, id, ok := strings.Cut(rest, " "); ok && strings.EqualFold(job, "JOB") {
			return command{name: "resume", arg: unquote(strings.TrimSpace(id))}, true
		}
		if strings.EqualFold(rest, "JOB") || rest == "" {
			return command{name: "resume"}, true
		}
	case "SOURCE", `\I`, `\INCLUDE`:
		return command{name: "source", arg: unquote(rest)}, true
	}
	return command{}, false
}

// unquote removes one pair of single or double quotes around s.
func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '\'' && s[len(s)-1] == '\'' || s[0] == '"' && s[len(s)-1] == '"') {
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	}
	return s
}

// buffer gathers input lines until they hold complete statements.
type buffer struct {
	lines []string
	start int // line number of lines[0] in its source
}

// add appends a line read as line number n of its source and reports
// whether the buffer now holds complete statements (parser.Complete).
func (b *buffer) add(line string, n int) bool {
	if len(b.lines) == 0 {
		b.start = n
	}
	b.lines = append(b.lines, line)
	return parser.Complete(b.text())
}

// text returns the buffered lines.
func (b *buffer) text() string { return strings.Join(b.lines, "\n") }

// empty reports whether the buffer holds nothing but whitespace.
func (b *buffer) empty() bool { return strings.TrimSpace(b.text()) == "" }

// take returns the buffered text, preceded by blank lines so that line
// numbers are those of the source, and empties the buffer.
func (b *buffer) take() string {
	s := strings.Repeat("\n", max(b.start-1, 0)) + b.text()
	b.lines, b.start = nil, 0
	return s
}

// historyEntry turns the lines of a statement into one history line:
// joined by spaces, unless a line comment would then swallow the rest.
func historyEntry(lines []string) []string {
	for _, l := range lines[:len(lines)-1] {
		if strings.Contains(l, "--") {
			return lines
		}
	}
	parts := make([]string, 0, len(lines))
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return []string{strings.Join(parts, " ")}
}

// maskHistory returns the history lines of a statement with the values of
// SETs of secret keys (engine.IsSecretKey: s3.secret-key, …) replaced by
// '******': the history file must not keep credentials.
func maskHistory(lines []string) []string {
	stmts, err := parser.Parse("history", strings.Join(lines, "\n"))
	if err != nil {
		return lines
	}
	masked := false
	var out []string
	for _, st := range stmts {
		text := engine.StatementText(st)
		masked = masked || text != st.String()
		out = append(out, text+";")
	}
	if !masked {
		return lines
	}
	return []string{strings.Join(out, " ")}
}
