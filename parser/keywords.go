package parser

import (
	"sort"
)

// reservedWords can never be unquoted identifiers: the lexer turns them
// into Keyword tokens. They are the words that may follow an expression or
// a table reference (where an identifier would be read as an alias), or
// that start an expression or a FROM item.
var reservedWords = []string{
	"ALL", "AND", "AS", "BETWEEN", "BY", "CASE", "CAST", "CROSS", "DISTINCT",
	"ELSE", "END", "EXCEPT", "FALSE", "FROM", "FULL", "GROUP", "HAVING", "IN",
	"INNER", "INTERSECT", "INTERVAL", "IS", "JOIN", "LEFT", "LIKE", "LIMIT",
	"NATURAL", "NOT", "NULL", "ON", "OR", "ORDER", "OUTER", "OVER",
	"PARTITION", "RIGHT", "SELECT", "TABLE", "THEN", "TIMESTAMP", "TRUE",
	"TRY_CAST", "UNION", "USING", "VALUES", "WHEN", "WHERE", "WINDOW", "WITH",
}

// nonReservedWords have a meaning in some statement but are ordinary
// identifiers everywhere else (a column may be called "time" or "key").
var nonReservedWords = []string{
	"ASC", "BEGIN", "BIGINT", "BOOLEAN", "CHAR", "CHECKPOINTS", "COMMENT", "CREATE",
	"CUBE", "CUMULATE", "DATE", "DAY", "DAYS", "DECIMAL", "DESC", "DESCRIBE",
	"DESCRIPTOR", "DOUBLE", "DROP", "ENFORCED", "EXECUTE", "EXISTS", "EXTENDED", "EXPLAIN", "FLOAT",
	"FOR", "FUNCTION", "FUNCTIONS", "GROUPING", "HOP", "HOUR", "HOURS", "IF", "INSERT", "INT",
	"INTEGER", "INTO", "JOB", "JOBS", "KEY", "LANGUAGE", "LOCAL", "METADATA",
	"MILLISECOND", "MILLISECONDS", "MINUTE", "MINUTES", "NUMERIC", "PLAN",
	"PRECISION", "PRIMARY", "REAL", "RESET", "ROLLUP", "SAVEPOINT", "SECOND", "SECONDS",
	"SESSION", "SET", "SETS", "SHOW", "SMALLINT", "STATEMENT", "STOP", "STRING", "SYSTEM", "TABLES",
	"TEMPORARY", "TIME", "TIMESTAMP_LTZ", "TINYINT", "TUMBLE", "VARCHAR",
	"VIEW", "VIEWS", "VIRTUAL", "WATERMARK", "ZONE",
}

var reservedSet = func() map[string]bool {
	m := make(map[string]bool, len(reservedWords))
	for _, w := range reservedWords {
		m[w] = true
	}
	return m
}()

// isReserved reports whether word (any case) is a reserved keyword.
func isReserved(word string) bool {
	// The lexer asks this of every word: upper-case into a stack buffer
	// rather than allocating.
	var buf [16]byte
	if len(word) > len(buf) {
		return false // no reserved word is this long
	}
	for i := 0; i < len(word); i++ {
		c := word[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf[i] = c
	}
	return reservedSet[string(buf[:len(word)])]
}

// Keywords returns every keyword of the language, reserved or not, in
// upper case and sorted (for tab completion). The slice is a fresh copy.
func Keywords() []string {
	out := make([]string, 0, len(reservedWords)+len(nonReservedWords))
	out = append(out, reservedWords...)
	out = append(out, nonReservedWords...)
	sort.Strings(out)
	return out
}
