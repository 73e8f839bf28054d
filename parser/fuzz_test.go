package parser

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error is an *Error
// with a position inside the text, and that every statement it accepts
// prints to SQL that parses again to an equal statement.
func FuzzParse(f *testing.F) {
	// Seed with the inputs of the golden files.
	files, _ := filepath.Glob("testdata/*")
	for _, file := range files {
		if st, err := os.Stat(file); err == nil && st.IsDir() {
			continue // testdata/fuzz, the fuzzer's own corpus
		}
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, block := range strings.Split(string(data), "\n\n") {
			lines := strings.Split(strings.TrimSpace(block), "\n")
			var in []string
			for i, l := range lines {
				if i == 0 || strings.HasPrefix(l, "#") {
					continue // the command line, comments
				}
				if l == "----" {
					break
				}
				in = append(in, l)
			}
			f.Add(strings.Join(in, "\n"))
		}
	}
	// Hostile nesting, which once took seconds to parse, and just under
	// the limits.
	f.Add("SELECT " + strings.Repeat("(", 1500) + "a")
	f.Add("SELECT " + strings.Repeat("(", 999) + "a" + strings.Repeat(")", 999))
	f.Add("SELECT " + strings.Repeat("f(a, ", 300) + "a")
	f.Add("SELECT " + strings.Repeat("- ", 990) + "a")
	f.Add("SELECT a FROM " + strings.Repeat("(SELECT a FROM ", 33) + "t")
	f.Add("SELECT * FROM TABLE(TUMBLE(" + strings.Repeat("(SELECT * FROM TABLE(TUMBLE(", 20))
	f.Fuzz(func(t *testing.T, sql string) {
		if len(sql) > 2000 {
			return
		}
		stmts, err := Parse("f.sql", sql)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("error is %T, not *Error: %v", err, err)
			}
			if perr.Pos.Line < 1 || perr.Pos.Column < 1 || perr.Pos.Offset > len(sql) || perr.Pos.Filename != "f.sql" {
				t.Fatalf("bad error position %+v for %q: %v", perr.Pos, sql, err)
			}
			_ = Caret(sql, perr.Pos)
			return
		}
		for _, s := range stmts {
			if err := checkRoundTrip(s); err != nil {
				t.Fatalf("input %q: %v", sql, err)
			}
		}
	})
}
