package rank_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/internal/difftest"
	"github.com/streamsql/streamsql/parser"
)

// TestNexmarkTopN checks Nexmark q18 (the last bid per bidder and auction)
// and q19 (the top 10 bids per auction), as queries/nexmark holds them,
// against SQLite: the bids the nexmark source generates are loaded into
// SQLite, which computes the Top-N with ROW_NUMBER() itself; the
// changelog the engine emits for the query's SELECT, applied to a table,
// must equal it. (The outer select list is narrowed to columns that print
// without quoting; the ranked rows are the whole bids.)
func TestNexmarkTopN(t *testing.T) {
	difftest.NeedSQLite(t)
	for _, tc := range []struct {
		file, outer, sqlite string
	}{
		{"q18.sql", "SELECT auction, bidder, price, channel, dateTime FROM",
			`SELECT auction, bidder, price, channel, dateTime FROM
			   (SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY dateTime DESC, price, channel, url, extra) AS rank_number FROM bid)
			 WHERE rank_number <= 1`},
		{"q19.sql", "SELECT auction, bidder, price, channel, dateTime, rank_number FROM",
			`SELECT auction, bidder, price, channel, dateTime, rank_number FROM
			   (SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC, bidder, channel, url, dateTime, extra) AS rank_number FROM bid)
			 WHERE rank_number <= 10`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("../../queries/nexmark", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			stmts, err := parser.Parse(tc.file, string(src))
			if err != nil {
				t.Fatal(err)
			}
			var ddl, query string
			for _, st := range stmts {
				switch s := st.(type) {
				case *parser.CreateTableStmt:
					if s.Name.Name == "bid" {
						ddl = s.String() + ";\n"
					}
				case *parser.InsertStmt:
					q := s.Query.String()
					_, rest, ok := strings.Cut(q, " FROM ")
					if !ok {
						t.Fatalf("unexpected query %s", q)
					}
					query = tc.outer + " " + rest
				}
			}
			bids, _ := difftest.DumpCSV(t, ddl, "bid", false)
			got, n := difftest.RunChangelog(t, ddl+query+";", 0)
			want := difftest.SQLite(t, fmt.Sprintf(`CREATE TABLE bid(auction INTEGER, bidder INTEGER, price INTEGER, channel TEXT, url TEXT, dateTime TEXT, extra TEXT);
.mode csv
.import %s bid
.mode list
.separator ,
%s;
`, bids, tc.sqlite))
			if len(want) < 100 {
				t.Fatalf("SQLite computed %d rows", len(want))
			}
			if !slices.Equal(got, want) {
				t.Fatalf("engine (%d changelog rows, %d rows) differs from SQLite (%d rows):\n%s", n, len(got), len(want), firstDiff(got, want))
			}
			t.Logf("%d changelog rows, %d result rows", n, len(got))
		})
	}
}

// firstDiff describes the first rows where a and b (sorted) differ.
func firstDiff(a, b []string) string {
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return fmt.Sprintf("row %d: engine %q, sqlite %q", i, x, y)
		}
	}
	return "equal"
}
