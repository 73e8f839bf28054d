package repl

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/parser"
)

// setKeys are the keys SET completes: the engine's table of known keys
// (engine.SettingKeys), which holds the shell's too.
func setKeys() []string {
	var out []string
	for _, k := range engine.SettingKeys() {
		out = append(out, k.Name)
	}
	return out
}

// setValues are the values completed after SET 'key' = ': the key's
// fixed list, or its default.
func setValues(key string) []string {
	for _, k := range engine.SettingKeys() {
		if k.Name != key {
			continue
		}
		if k.Values != nil {
			return k.Values
		}
		if key == "execution.checkpointing.interval" {
			return []string{k.Default, "1 min", "off"}
		}
		if k.Default != "" {
			return []string{k.Default}
		}
	}
	return nil
}

// statementStarts are the words a statement (or a client command) begins
// with.
var statementStarts = []string{
	"BEGIN", "CREATE", "DESCRIBE", "DROP", "END", "EXECUTE", "EXIT", "EXPLAIN",
	"HELP", "INSERT", "QUIT", "RESET", "RESUME", "SELECT", "SET", "SHOW",
	"SOURCE", "STOP",
}

// columnClauses are the clauses in which a column name is likely next.
var columnClauses = map[string]bool{
	"SELECT": true, "WHERE": true, "BY": true, "HAVING": true, "ON": true,
	"AND": true, "OR": true, "DESCRIPTOR": true, "PARTITION": true,
}

// tableWords are the words after which a table name is likely next.
var tableWords = map[string]bool{
	"FROM": true, "JOIN": true, "INTO": true, "TABLE": true, "DESCRIBE": true,
	"DESC": true, "VIEW": true, "EXISTS": true,
}

// token is a token of the statement being completed.
type token struct {
	kind byte   // 'w' word, 's' string, 'p' punctuation
	text string // the word (as typed), the string's content, or the character
}

func (t token) is(word string) bool { return t.kind == 'w' && strings.EqualFold(t.text, word) }

// lexTail tokenizes the last, unfinished statement of text: what follows
// its last top-level semicolon. It returns the tokens before the cursor
// (the end of text), the partial token under the cursor, and whether that
// token is an unclosed string (then start is the byte offset of its
// opening quote in text); ok is false inside a comment or a quoted
// identifier, where nothing is completed.
func lexTail(text string) (toks []token, partial string, inString, ok bool) {
	toks, partial, inString, _, ok = lexTailAt(text)
	return toks, partial, inString, ok
}

// lexTailAt is lexTail, also returning where an unclosed string starts.
func lexTailAt(text string) (toks []token, partial string, inString bool, start int, ok bool) {
	i := 0
	for i < len(text) {
		c := text[i]
		switch {
		case c == ';':
			toks = toks[:0]
			i++
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '-' && strings.HasPrefix(text[i:], "--"):
			j := strings.IndexByte(text[i:], '\n')
			if j < 0 {
				return nil, "", false, 0, false
			}
			i += j + 1
		case c == '/' && strings.HasPrefix(text[i:], "/*"):
			j := strings.Index(text[i+2:], "*/")
			if j < 0 {
				return nil, "", false, 0, false
			}
			i += j + 4
		case c == '\'' || c == '`':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(text) {
					if c == '`' {
						return nil, "", false, 0, false
					}
					return toks, b.String(), true, i, true
				}
				if text[j] == c {
					if j+1 < len(text) && text[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(text[j])
				j++
			}
			kind := byte('s')
			if c == '`' {
				kind = 'w'
			}
			toks = append(toks, token{kind: kind, text: b.String()})
			i = j + 1
		case isWordByte(c):
			j := i
			for j < len(text) && isWordByte(text[j]) {
				j++
			}
			if j == len(text) {
				return toks, text[i:], false, 0, true
			}
			toks = append(toks, token{kind: 'w', text: text[i:j]})
			i = j
		default:
			toks = append(toks, token{kind: 'p', text: string(c)})
			i++
		}
	}
	return toks, "", false, 0, true
}

func isWordByte(c byte) bool {
	return c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// completer completes SQL from the engine's catalog, connectors and jobs.
type completer struct {
	eng *engine.Engine
	// stored lists the ids of the jobs kept by earlier sessions, for
	// RESUME JOB (nil: none).
	stored func() []string
}

// complete returns the candidates for the word under the cursor at the
// end of text (which holds the statement's earlier lines too): each
// candidate starts with the returned prefix, as typed, so that only its
// rest needs inserting.
//
// after is the text after the cursor, read for the tables a statement
// names (SELECT | FROM bids completes the columns of bids).
func (c *completer) complete(text, after string) (prefix string, cands []string) {
	toks, partial, inString, ok := lexTail(text)
	if !ok {
		return "", nil
	}
	if inString {
		return partial, matching(partial, c.stringCandidates(toks, partial), false)
	}
	if i := strings.IndexByte(after, ';'); i >= 0 {
		after = after[:i]
	}
	rest, _, _, _ := lexTail("x " + after + " ") // "x " ends the word under the cursor
	return partial, matching(partial, c.wordCandidates(toks, rest, partial), true)
}

// stringCandidates completes inside a string literal: connector names,
// WITH option keys, SET keys and values, job ids, file names.
func (c *completer) stringCandidates(toks []token, partial string) []string {
	n := len(toks)
	prev := func(k int) token { // the k-th token before the cursor, 1-based
		if n-k < 0 {
			return token{}
		}
		return toks[n-k]
	}
	quoted := func(list []string) []string {
		out := make([]string, len(list))
		for i, s := range list {
			out[i] = s + "'"
		}
		return out
	}
	switch {
	case prev(1).text == "=" && prev(2).kind == 's' && prev(2).text == "connector":
		return quoted(c.eng.Registry().Names())
	case n >= 1 && toks[0].is("SET") && n == 1, n >= 1 && toks[0].is("RESET") && n == 1:
		return quoted(setKeys())
	case n == 3 && toks[0].is("SET") && prev(1).text == "=":
		return quoted(setValues(toks[1].text))
	case prev(1).is("JOB") || prev(1).is("FOR") && prev(2).is("CHECKPOINTS"):
		var ids []string
		for _, j := range c.eng.Jobs() {
			ids = append(ids, j.ID())
		}
		if prev(2).is("RESUME") && c.stored != nil {
			ids = append(ids, c.stored()...)
		}
		return quoted(ids)
	case n == 1 && toks[0].is("SOURCE"):
		return nil // file names: handled by complete's caller
	}
	if inWithKey(toks) {
		return c.optionKeys(toks, partial, true)
	}
	return nil
}

// inWithKey reports whether the cursor is where a WITH option key goes:
// inside WITH ( … ), after the parenthesis or a comma.
func inWithKey(toks []token) bool {
	n := len(toks)
	if n < 2 || toks[n-1].text != "(" && toks[n-1].text != "," || toks[n-1].kind != 'p' {
		return false
	}
	depth := 0
	for i := n - 1; i >= 0; i-- {
		switch toks[i].text {
		case ")":
			depth++
		case "(":
			if depth == 0 {
				return i > 0 && toks[i-1].is("WITH")
			}
			depth--
		}
	}
	return false
}

// optionKeys returns the WITH option keys not yet given, for the
// connector named in the clause (all connectors' keys when none is yet).
// A prefix option keyed by column ('fields.') unfolds as far as partial,
// the key typed so far, reaches: 'fields.<column>.' for the columns of the
// table being created, then 'fields.<column>.<attr>'.
func (c *completer) optionKeys(toks []token, partial string, inString bool) []string {
	given := map[string]bool{}
	connector := ""
	start := 0
	for i := len(toks) - 1; i > 0; i-- {
		if toks[i].text == "(" && toks[i-1].is("WITH") {
			start = i
			break
		}
	}
	for i := start; i+2 < len(toks); i++ {
		if toks[i].kind == 's' && toks[i+1].text == "=" {
			given[toks[i].text] = true
			if toks[i].text == "connector" && toks[i+2].kind == 's' {
				connector = toks[i+2].text
			}
		}
	}
	var keys []string
	if !given["connector"] {
		keys = append(keys, "connector")
	}
	reg := c.eng.Registry()
	names := reg.Names()
	if connector != "" {
		names = []string{connector}
	}
	seen := map[string]bool{}
	for _, name := range names {
		f, ok := reg.Lookup(name)
		if !ok {
			continue
		}
		for _, o := range f.Options() {
			if given[o.Key] || seen[o.Key] {
				continue
			}
			seen[o.Key] = true
			if o.Prefix { // "fields.": the user types the rest
				keys = append(keys, o.Key)
				if len(o.ColumnAttrs) > 0 && strings.HasPrefix(partial, o.Key) {
					keys = append(keys, columnKeys(o, createdColumns(toks), partial)...)
				}
			} else {
				keys = append(keys, o.Key+"'")
			}
		}
	}
	if !inString {
		for i, k := range keys {
			keys[i] = "'" + k
		}
	}
	sort.Strings(keys)
	return keys
}

// columnKeys unfolds a prefix option keyed by column: the keys
// <prefix><column>. for each column, and once partial names a column,
// that column's <prefix><column>.<attr> keys.
func columnKeys(o connectors.Option, cols []string, partial string) []string {
	var out []string
	for _, col := range cols {
		k := o.Key + col + "."
		if len(partial) >= len(k) && strings.EqualFold(partial[:len(k)], k) {
			for _, a := range o.ColumnAttrs {
				out = append(out, k+a+"'")
			}
			continue
		}
		out = append(out, k)
	}
	return out
}

// createdColumns returns the column names of the CREATE TABLE statement
// toks holds: the words that open each element of its column list, other
// than constraints and the WATERMARK clause.
func createdColumns(toks []token) []string {
	if len(toks) == 0 || !toks[0].is("CREATE") {
		return nil
	}
	open := -1
	for i, t := range toks {
		if t.kind == 'p' && t.text == "(" {
			open = i
			break
		}
	}
	if open < 0 {
		return nil
	}
	var cols []string
	depth := 0
	for i := open; i < len(toks); i++ {
		t := toks[i]
		if t.kind == 'p' {
			switch t.text {
			case "(":
				depth++
			case ")":
				depth--
				if depth == 0 {
					return cols
				}
			}
			if depth == 1 && (t.text == "(" || t.text == ",") && i+1 < len(toks) && toks[i+1].kind == 'w' {
				switch w := toks[i+1]; {
				case w.is("WATERMARK"), w.is("PRIMARY"), w.is("CONSTRAINT"):
				default:
					cols = append(cols, w.text)
				}
			}
		}
	}
	return cols
}

// wordCandidates completes a word outside strings.
// With nothing typed yet, only the candidates of the context are offered
// (columns, tables), not every keyword and function.
func (c *completer) wordCandidates(toks, rest []token, partial string) []string {
	n := len(toks)
	if n == 0 {
		return statementStarts
	}
	last := toks[n-1]
	switch {
	case last.is("SHOW"):
		return []string{"TABLES", "VIEWS", "FUNCTIONS", "JOBS", "CHECKPOINTS", "CREATE"}
	case last.is("CREATE") && n >= 2 && toks[n-2].is("SHOW"):
		return []string{"TABLE", "VIEW"}
	case (last.is("DESCRIBE") || last.is("DESC")) && partial != "":
		return append([]string{"EXTENDED"}, c.eng.TableNames()...)
	case last.is("EXTENDED"):
		return c.eng.TableNames()
	case last.is("CREATE"):
		return []string{"TABLE", "VIEW", "TEMPORARY"}
	case last.is("DROP"):
		return []string{"TABLE", "VIEW"}
	case last.is("STOP") || last.is("RESUME"):
		return []string{"JOB"}
	case last.is("INSERT"):
		return []string{"INTO"}
	case last.is("BEGIN") && n == 1, last.is("EXECUTE"):
		return []string{"STATEMENT"}
	case last.is("STATEMENT"):
		return []string{"SET"}
	case last.is("BEGIN"):
		return []string{"INSERT"}
	case last.is("SET") && n >= 2 && toks[n-2].is("STATEMENT"):
		if toks[0].is("BEGIN") {
			return nil // BEGIN STATEMENT SET; ends there
		}
		return []string{"BEGIN"}
	case last.is("UNION"):
		return []string{"ALL"}
	case last.is("ALL") && n >= 2 && toks[n-2].is("UNION"):
		return []string{"SELECT"}
	case last.is("GROUP") || last.is("ORDER"):
		return []string{"BY"}
	case inWithKey(toks) && partial == "":
		return c.optionKeys(toks, "", false)
	case last.kind == 's' && partial == "":
		// After a string ('rows-per-second'|) comes '=' or ',': no word.
		return nil
	case last.kind == 'w' && tableWords[strings.ToUpper(last.text)]:
		out := c.eng.TableNames()
		if last.is("FROM") || last.is("JOIN") {
			out = append(out, "TABLE")
		}
		return out
	}
	var out []string
	if clause := lastClause(toks); columnClauses[clause] || last.text == "," && clause == "SELECT" {
		out = append(out, c.columns(append(toks[:n:n], rest...))...)
		if partial == "" {
			return out
		}
		out = append(out, c.eng.FunctionNames()...)
	} else {
		out = append(out, c.eng.TableNames()...)
		if partial == "" {
			return out
		}
	}
	return append(out, parser.Keywords()...)
}

// lastClause returns the last clause keyword before the cursor.
func lastClause(toks []token) string {
	depthAt := 0
	for i := len(toks) - 1; i >= 0; i-- {
		t := toks[i]
		if t.kind == 'p' && t.text == ")" {
			depthAt++
		}
		if t.kind == 'p' && t.text == "(" && depthAt > 0 {
			depthAt--
		}
		if t.kind != 'w' {
			continue
		}
		switch w := strings.ToUpper(t.text); w {
		case "SELECT", "FROM", "WHERE", "BY", "HAVING", "ON", "JOIN", "WITH", "DESCRIPTOR", "PARTITION", "INTO", "SET":
			if depthAt == 0 || w == "SELECT" {
				return w
			}
		}
	}
	return ""
}

// columns returns the columns of the tables the statement names (of every
// table when it names none yet, as when the cursor is before FROM), and
// the window columns when it calls a window function.
func (c *completer) columns(toks []token) []string {
	tables := c.eng.TableNames()
	known := map[string]string{}
	for _, t := range tables {
		known[strings.ToLower(t)] = t
	}
	var named []string
	window := false
	for _, t := range toks {
		if t.kind != 'w' {
			continue
		}
		if name, ok := known[strings.ToLower(t.text)]; ok {
			named = append(named, name)
		}
		switch strings.ToUpper(t.text) {
		case "TUMBLE", "HOP", "CUMULATE", "SESSION":
			window = true
		}
	}
	if len(named) == 0 {
		named = tables
	}
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[strings.ToLower(s)] {
			seen[strings.ToLower(s)] = true
			out = append(out, s)
		}
	}
	for _, t := range named {
		for _, col := range c.eng.Columns(t) {
			add(col)
		}
	}
	if window {
		add("window_start")
		add("window_end")
		add("window_time")
	}
	return out
}

// matching returns the candidates that start with prefix (ignoring case),
// rewritten to start with prefix exactly as typed, deduplicated, in
// order. With fold, all-upper candidates (keywords) follow the case of a
// lower-case prefix.
func matching(prefix string, cands []string, fold bool) []string {
	lower := fold && prefix != "" && prefix == strings.ToLower(prefix)
	var out []string
	seen := map[string]bool{}
	for _, c := range cands {
		if len(c) < len(prefix) || !strings.EqualFold(c[:len(prefix)], prefix) {
			continue
		}
		if lower && c == strings.ToUpper(c) {
			c = strings.ToLower(c)
		}
		c = prefix + c[len(prefix):]
		if c == prefix && !strings.HasSuffix(c, "'") || seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, c)
	}
	return out
}

// fileCandidates completes a file name after SOURCE ' or \i: .sql files
// and directories.
func fileCandidates(prefix string) []string {
	matches, _ := filepath.Glob(prefix + "*")
	var out []string
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.IsDir() {
			out = append(out, m+string(filepath.Separator))
		} else if strings.HasSuffix(m, ".sql") {
			out = append(out, m)
		}
	}
	return out
}

// Do implements readline.AutoCompleter: line is the current input line
// and pos the cursor; earlier lines of the statement come from pending.
// Inside a string the opening quote counts as typed, so that readline
// shows the candidates as they will read ('topic', not topic').
func (c *completer) do(pending string, line []rune, pos int) ([][]rune, int) {
	before := string(line[:pos])
	text := pending + before
	after := string(line[pos:])
	var prefix string
	var cands []string
	typed := -1 // runes before the cursor that the candidates replace, if not len(prefix)
	trimmed := strings.TrimSpace(before)
	switch {
	case pending == "" && strings.HasPrefix(trimmed, `\i `):
		prefix = strings.TrimSpace(trimmed[3:])
		cands = fileCandidates(prefix)
	default:
		toks, partial, inString, start, ok := lexTailAt(text)
		if ok && inString && len(toks) == 1 && toks[0].is("SOURCE") {
			prefix, cands = partial, fileCandidates(partial)
		} else {
			prefix, cands = c.complete(text, after)
		}
		if ok && inString && start >= len(pending) {
			typed = len([]rune(text[start:]))
		}
	}
	out := make([][]rune, 0, len(cands))
	for _, s := range cands {
		out = append(out, []rune(s[len(prefix):]))
	}
	if typed < 0 {
		typed = len([]rune(prefix))
	}
	return out, typed
}
