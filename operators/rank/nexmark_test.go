package rank_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/engine"
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
			bids := dumpBids(t, ddl)
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

// dumpBids reads table bid (ddl) through the engine and writes its rows
// as a CSV file, whose path it returns.
func dumpBids(t *testing.T, ddl string) string {
	t.Helper()
	stmts, err := engine.Parse("bids.sql", ddl+"SELECT * FROM bid;")
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.Options{StateDir: t.TempDir()})
	defer eng.Close(context.Background())
	path := filepath.Join(t.TempDir(), "bids.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := csv.NewWriter(f)
	for _, st := range stmts {
		res, err := eng.Execute(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		if res.Kind != engine.Query {
			continue
		}
		err = res.Query.Run(context.Background(), func(rec arrow.Record) error {
			for r := 0; r < int(rec.NumRows()); r++ {
				cells := make([]string, rec.NumCols())
				for c := range cells {
					cells[c], _ = format.FormatValue(rec.Column(c), r)
				}
				if err := w.Write(cells); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return path
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
