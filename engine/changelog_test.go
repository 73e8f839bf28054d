package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/engine"
)

// debeziumEvents is a table's history as Debezium change events: two
// inserts, an update of row 1, a delete of row 2.
const debeziumEvents = `{"before":null,"after":{"id":1,"name":"scooter","price":3.14},"op":"c"}
{"before":null,"after":{"id":2,"name":"battery","price":8.10},"op":"r"}
{"before":{"id":1,"name":"scooter","price":3.14},"after":{"id":1,"name":"scooter","price":5.18},"op":"u"}
{"before":{"id":2,"name":"battery","price":8.10},"after":null,"op":"d"}
`

// writeDebezium writes debeziumEvents to a file and returns the CREATE TABLE
// of a debezium-json table over it.
func writeDebezium(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "products.json")
	if err := os.WriteFile(path, []byte(debeziumEvents), 0o644); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`CREATE TABLE products (id BIGINT, name STRING, price DECIMAL(10, 2))
		WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'debezium-json');`, path)
}

// TestChangelogRowsReachTheClient: the rows of a debezium-json table reach
// a SELECT's client with their kinds (engine.Row.Kind), through a filter
// and a projection (calc keeps each row's kind) and a UNION ALL.
func TestChangelogRowsReachTheClient(t *testing.T) {
	ddl := writeDebezium(t)
	for _, tc := range []struct {
		query     string
		want      []string
		unordered bool // the inputs of a union interleave as they come
	}{
		{"SELECT * FROM products", []string{
			"+I[1, scooter, 3.14]", "+I[2, battery, 8.10]", "-U[1, scooter, 3.14]", "+U[1, scooter, 5.18]", "-D[2, battery, 8.10]"}, false},
		{"SELECT name, price * 2 AS p2 FROM products WHERE id = 1", []string{
			"+I[scooter, 6.28]", "-U[scooter, 6.28]", "+U[scooter, 10.36]"}, false},
		{"SELECT id FROM products WHERE id = 2 UNION ALL SELECT id FROM products WHERE id = 2", []string{
			"+I[2]", "+I[2]", "-D[2]", "-D[2]"}, true},
	} {
		t.Run(tc.query, func(t *testing.T) {
			stmts, err := engine.Parse("test.sql", ddl+tc.query)
			if err != nil {
				t.Fatal(err)
			}
			eng := engine.New(engine.Options{StateDir: t.TempDir()})
			defer eng.Close(context.Background())
			var got []string
			for _, st := range stmts {
				res, err := eng.Execute(context.Background(), st)
				if err != nil {
					t.Fatal(err)
				}
				if res.Kind != engine.Query {
					continue
				}
				if !res.Query.Updating() {
					t.Error("a query over a debezium-json table is not Updating")
				}
				for row, err := range res.Query.Rows(context.Background()) {
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, row.String())
				}
			}
			if tc.unordered {
				slices.Sort(got)
				slices.Sort(tc.want)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestChangelogSinks: an updating query may be written to a sink in the
// debezium-json format (updates and deletes become change events, as
// Flink writes them) but not to a JSON one, which the planner refuses.
func TestChangelogSinks(t *testing.T) {
	ddl := writeDebezium(t)
	out := t.TempDir()
	sql := ddl + fmt.Sprintf(`CREATE TABLE events (id BIGINT, name STRING, price DECIMAL(10, 2))
		WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'debezium-json');
	INSERT INTO events SELECT * FROM products;`, out)
	if _, _, err := queryErr(t, sql); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "part-0.debezium-json"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"before":null,"after":{"id":1,"name":"scooter","price":3.14},"op":"c"}
{"before":null,"after":{"id":2,"name":"battery","price":8.10},"op":"c"}
{"before":{"id":1,"name":"scooter","price":3.14},"after":null,"op":"d"}
{"before":null,"after":{"id":1,"name":"scooter","price":5.18},"op":"c"}
{"before":{"id":2,"name":"battery","price":8.10},"after":null,"op":"d"}
`
	if string(b) != want {
		t.Errorf("debezium-json sink wrote\n%s\nwant\n%s", b, want)
	}

	sql = ddl + fmt.Sprintf(`CREATE TABLE plain (id BIGINT, name STRING, price DECIMAL(10, 2))
		WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'json');
	INSERT INTO plain SELECT * FROM products;`, t.TempDir())
	if _, _, err := queryErr(t, sql); err == nil || !strings.Contains(err.Error(), "table plain (connector filesystem) accepts only inserts") {
		t.Errorf("an updating query into a json sink: %v", err)
	}
}
