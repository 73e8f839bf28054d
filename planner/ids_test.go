package planner_test

import (
	"io"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/connectors/builtin"
	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/planner"
)

// TestIDsOfTodaysPlansUnchanged pins the operator ids of plans as they
// were before plans became graphs (issue 12): checkpoints and savepoints
// of these queries key their state by these ids, so they must restore.
// Exchanges, new in the plan, are not numbered and leave the others
// alone, at any parallelism.
func TestIDsOfTodaysPlansUnchanged(t *testing.T) {
	ddl := `CREATE TABLE bids (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, dt TIMESTAMP(3),
	    WATERMARK FOR dt AS dt - INTERVAL '4' SECOND) WITH ('connector' = 'datagen', 'number-of-rows' = '10');
	  CREATE TABLE c (auction BIGINT, price BIGINT, d AS price * 2, dt TIMESTAMP(3), WATERMARK FOR dt AS dt)
	    WITH ('connector' = 'datagen', 'number-of-rows' = '10');
	  CREATE TABLE out (auction BIGINT, n BIGINT) WITH ('connector' = 'blackhole');`
	cases := []struct{ sql, ids string }{
		{"SELECT window_start, window_end, auction, COUNT(*) AS n, MAX(price) AS top FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(dt), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, auction",
			"1-source-bids 2-window-agg 3-calc 4-sink"},
		{"SELECT window_end, SUM(price * 2) AS s, AVG(price) FROM TABLE(CUMULATE(TABLE bids, DESCRIPTOR(dt), INTERVAL '1' MINUTE, INTERVAL '1' HOUR)) WHERE channel = 'web' GROUP BY window_start, window_end",
			"1-source-bids 2-calc 3-window-agg 4-calc 5-sink"},
		{"INSERT INTO out SELECT auction, COUNT(*) FROM TABLE(HOP(TABLE bids, DESCRIPTOR(dt), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) GROUP BY window_start, window_end, auction",
			"1-source-bids 2-window-agg 3-calc 4-sink-out"},
		{"SELECT * FROM TABLE(SESSION(TABLE bids PARTITION BY bidder, DESCRIPTOR(dt), INTERVAL '30' SECOND)) LIMIT 3",
			"1-source-bids 2-window-assign 3-limit 4-sink"},
		{"SELECT auction, d FROM c WHERE d > 3", "1-source-c 2-calc 3-calc 4-sink"},
	}
	for _, par := range []int{1, 3} {
		p := planner.New(planner.NewCatalog(), builtin.Registry(io.Discard))
		p.Parallelism = par
		stmts, err := parser.Parse("", ddl)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range stmts {
			if err := p.CreateTable(st.(*parser.CreateTableStmt)); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range cases {
			stmts, err := parser.Parse("", c.sql)
			if err != nil {
				t.Fatal(err)
			}
			var g *plan.Graph
			switch st := stmts[0].(type) {
			case *parser.QueryStmt:
				g, err = p.Query(st)
			case *parser.InsertStmt:
				g, err = p.Insert(st)
			}
			if err != nil {
				t.Fatalf("%s: %v", c.sql, err)
			}
			var ids []string
			for _, n := range g.Nodes() {
				if _, ok := n.(*plan.Exchange); ok {
					if want := n.Inputs()[0].ID() + "-exchange"; !strings.HasPrefix(n.ID(), want) {
						t.Errorf("exchange id %s, want %s", n.ID(), want)
					}
					continue
				}
				ids = append(ids, n.ID())
			}
			if got := strings.Join(ids, " "); got != c.ids {
				t.Errorf("parallelism %d: %s\nids %s\nwant %s", par, c.sql, got, c.ids)
			}
		}
	}
}
