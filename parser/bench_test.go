package parser

import (
	"strings"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	q := "SELECT auction, window_start, window_end, COUNT(*) AS num FROM TABLE(HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) GROUP BY auction, window_start, window_end HAVING COUNT(*) > 3"
	for i := 0; i < b.N; i++ {
		if _, err := Parse("", q); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseError(b *testing.B) {
	q := "SELECT auction, window_start, window_end, COUNT(*) AS num FROM TABLE(HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) GROUP BY auction, window_start, window_end HAVING COUNT(*) > 3 garbage"
	for i := 0; i < b.N; i++ {
		if _, err := Parse("", q); err == nil {
			b.Fatal(err)
		}
	}
}

// flatSum is SELECT a+a+…+a FROM t with n terms.
func flatSum(n int) string {
	return "SELECT " + strings.Repeat("a+", n-1) + "a FROM t"
}

// fill repeats unit after prefix until the text is at least size bytes.
func fill(prefix, unit, suffix string, size int) string {
	n := (size - len(prefix) - len(suffix)) / len(unit)
	return prefix + strings.Repeat(unit, n) + suffix
}

// BenchmarkParseLong measures parse time against statement size; the
// ns/op of the sizes should grow in proportion to them (linear time).
func BenchmarkParseLong(b *testing.B) {
	cases := []struct {
		name string
		sql  string
		ok   bool
	}{
		{"terms=1k", flatSum(1_000), true},
		{"terms=10k", flatSum(10_000), true},
		{"terms=100k", flatSum(100_000), true},
		{"flat-1MiB-refused", fill("SELECT ", "a+", "a FROM t", 1<<20), false},
		{"items-1MiB", fill("SELECT ", "a + 1 AS x, ", "a FROM t", 1<<20), true},
		{"in-list-1MiB", fill("SELECT a FROM t WHERE a IN (", "1, ", "1)", 1<<20), true},
		{"unbalanced-parens=5000", "SELECT " + strings.Repeat("(", 5000) + "a", false},
		{"unbalanced-parens=999", "SELECT " + strings.Repeat("(", 999) + "a", false},
		{"nested-subqueries=32", "SELECT a FROM " + strings.Repeat("(SELECT a FROM ", 32) + "x", false},
		{"union-terms=1k", "SELECT a FROM t" + strings.Repeat(" UNION ALL SELECT a FROM t", 999), true},
		{"union-terms=10k", "SELECT a FROM t" + strings.Repeat(" UNION ALL SELECT a FROM t", 9_999), true},
		{"set-inserts=10k", "EXECUTE STATEMENT SET BEGIN " + strings.Repeat("INSERT INTO s SELECT a FROM t; ", 10_000) + "END", true},
		{"hostile-12KB", fill("SELECT ", "f(a, (CASE WHEN -x IN (1, ", "", 12<<10), false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.sql)))
			for i := 0; i < b.N; i++ {
				_, err := Parse("", c.sql)
				if (err == nil) != c.ok {
					b.Fatalf("error %v", err)
				}
			}
		})
	}
}
