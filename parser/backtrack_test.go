package parser

import (
	"strings"
	"testing"
	"time"
)

// TestNoExponentialBacktracking guards against grammar changes that make
// participle's backtracking blow up on deeply nested, unfinished input
// (each of these takes well under a second).
func TestNoExponentialBacktracking(t *testing.T) {
	for _, q := range []string{
		"SELECT " + strings.Repeat("(", 30) + "x",
		"SELECT " + strings.Repeat("f(", 30) + "x",
		"SELECT " + strings.Repeat("CASE ", 30) + "x",
		"SELECT " + strings.Repeat("- ", 30) + "x",
		"SELECT " + strings.Repeat("NOT ", 30) + "x",
		"SELECT a FROM " + strings.Repeat("(SELECT a FROM ", 30) + "x",
		"SELECT * FROM TABLE(TUMBLE(" + strings.Repeat("(SELECT * FROM TABLE(TUMBLE(", 10),
		"SELECT " + strings.Repeat("CAST(", 30) + "x",
		"SELECT " + strings.Repeat("a.", 30) + "x",
		"SELECT " + strings.Repeat("x IN (", 30) + "x",
		"SELECT " + strings.Repeat("x BETWEEN ", 30) + "x",
	} {
		start := time.Now()
		if _, err := Parse("", q); err == nil && !strings.Contains(q, "- ") && !strings.Contains(q, "NOT ") {
			t.Errorf("%q: no error", q)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%q took %v", q, d)
		}
	}
}
