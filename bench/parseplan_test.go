package bench

import (
	"io"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/connectors/builtin"
	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/planner"
)

// BenchmarkParsePlan measures parsing plus planning (binding, type checking,
// constant folding, physical plan) of long statements; ns/op should grow in
// proportion to the statement's size.
func BenchmarkParsePlan(b *testing.B) {
	terms := func(n int) string {
		return "SELECT " + strings.Repeat("a+", n-1) + "a FROM t"
	}
	fill := func(prefix, unit, suffix string, size int) string {
		return prefix + strings.Repeat(unit, (size-len(prefix)-len(suffix))/len(unit)) + suffix
	}
	for _, c := range []struct{ name, sql string }{
		{"terms=1k", terms(1_000)},
		{"terms=10k", terms(10_000)},
		{"terms=100k", terms(100_000)},
		{"items-1MiB", fill("SELECT ", "a + 1, ", "a FROM t", 1<<20)},
		{"in-list-1MiB", fill("SELECT a FROM t WHERE a IN (", "1, ", "1)", 1<<20)},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := planner.New(planner.NewCatalog(), builtin.Registry(io.Discard))
			ddl, err := parser.ParseOne("", "CREATE TABLE t (a BIGINT) WITH ('connector' = 'datagen')")
			if err != nil {
				b.Fatal(err)
			}
			if err := p.CreateTable(ddl.(*parser.CreateTableStmt)); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(c.sql)))
			for i := 0; i < b.N; i++ {
				st, err := parser.ParseOne("", c.sql)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.Query(st.(*parser.QueryStmt)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
