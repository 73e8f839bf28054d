package parser

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestNestingLimits checks that nesting deeper than MaxNesting (or
// subqueries deeper than MaxSubqueryNesting) is refused with an error at
// the first level too many, and that nesting up to the limit parses. The
// time these take is measured by BenchmarkParseLong, not here.
func TestNestingLimits(t *testing.T) {
	col := func(prefix string, n int) int { return len(prefix) + n + 1 }
	for _, c := range []struct {
		name, sql string
		want      string // error message; "" for none
	}{
		{"parens=limit", "SELECT " + strings.Repeat("(", MaxNesting) + "a" + strings.Repeat(")", MaxNesting), ""},
		{"parens=5000 unbalanced", "SELECT " + strings.Repeat("(", 5000) + "a",
			fmt.Sprintf("1:%d: parentheses nested too deep: more than %d levels", col("SELECT ", MaxNesting), MaxNesting)},
		{"parens=limit+1 balanced", "SELECT " + strings.Repeat("(", MaxNesting+1) + "a" + strings.Repeat(")", MaxNesting+1),
			fmt.Sprintf("1:%d: parentheses nested too deep: more than %d levels", col("SELECT ", MaxNesting), MaxNesting)},
		{"calls", "SELECT " + strings.Repeat("f(", 2000) + "a",
			fmt.Sprintf("1:%d: parentheses nested too deep: more than %d levels", col("SELECT ", 2*MaxNesting+1), MaxNesting)},
		// Chains of unary operators build no recursion and print without
		// parentheses (- -a, NOT NOT a): they are not nesting.
		{"minus=5000", "SELECT " + strings.Repeat("- ", 5000) + "a", ""},
		{"not=5000", "SELECT " + strings.Repeat("NOT ", 5000) + "a", ""},
		// Predicates applied to predicates print in parentheses: they are.
		{"is-null=limit", "SELECT a" + strings.Repeat(" IS NULL", MaxNesting+1), ""},
		{"is-null", "SELECT a" + strings.Repeat(" IS NULL", 5000),
			fmt.Sprintf("1:%d: nesting too deep: more than %d levels", 1+len("SELECT a")+len(" IS NULL")*(MaxNesting+1)+1, MaxNesting)},
		{"case", "SELECT " + strings.Repeat("CASE WHEN ", 5000) + "a",
			fmt.Sprintf("1:%d: nesting too deep: more than %d levels", 1+len("SELECT ")+10*(MaxNesting+1), MaxNesting)},
		{"subqueries=limit", "SELECT a FROM " + strings.Repeat("(SELECT a FROM ", MaxSubqueryNesting) + "t" + strings.Repeat(")", MaxSubqueryNesting), ""},
		{"subqueries=limit+1", "SELECT a FROM " + strings.Repeat("(SELECT a FROM ", MaxSubqueryNesting+1) + "t",
			fmt.Sprintf("1:%d: subqueries nested too deep: more than %d levels", 1+len("SELECT a FROM ")+len("(SELECT a FROM ")*MaxSubqueryNesting, MaxSubqueryNesting)},
		{"operators=limit", "SELECT " + strings.Repeat("a+", MaxOperators) + "a FROM t", ""},
		{"operators=limit+1", "SELECT " + strings.Repeat("a+", MaxOperators+1) + "a FROM t",
			fmt.Sprintf("1:%d: expression too long: more than %d operators", len("SELECT ")+2*MaxOperators+2, MaxOperators)},
		{"flat terms=20k", "SELECT " + strings.Repeat("a+", 20_000) + "a FROM t", ""},
		{"flat ANDs=20k", "SELECT a FROM t WHERE " + strings.Repeat("a = 1 AND ", 20_000) + "TRUE", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("", c.sql)
			got := ""
			if err != nil {
				got = err.Error()
				var perr *Error
				if !errors.As(err, &perr) {
					t.Fatalf("error is %T, not *Error", err)
				}
			}
			if got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
			if err == nil && len(c.sql) < 100_000 {
				// What parses prints to text that parses again, however
				// long: the server journals statements as printed.
				stmts, _ := Parse("", c.sql)
				if err := checkRoundTrip(stmts[0]); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
