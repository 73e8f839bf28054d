package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/types"
)

// queryErr runs the statements of sql and returns the schema and rows of
// its query, or the error planning or running it gave.
func queryErr(t *testing.T, sql string) (types.Schema, []string, error) {
	t.Helper()
	stmts, err := engine.Parse("test.sql", sql)
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.Options{StateDir: t.TempDir()})
	var schema types.Schema
	var rows []string
	for _, st := range stmts {
		res, err := eng.Execute(context.Background(), st)
		if err != nil {
			return schema, nil, err
		}
		if res.Kind != engine.Query {
			continue
		}
		schema = res.Query.Schema()
		if err := res.Query.Run(context.Background(), func(rec arrow.Record) error {
			rows = append(rows, recordLines(rec)...)
			return nil
		}); err != nil {
			return schema, rows, err
		}
	}
	return schema, rows, nil
}

// TestExactZeroDivisorAndDecimalCastOverflow: a DECIMAL divided by a
// literal 0 (divided as DOUBLE) is a division by zero, not Infinity, but
// only for rows that reach it (a CASE guard holds); a DECIMAL literal cast
// to a precision it does not fit is an overflow error (TRY_CAST: NULL),
// not the unchanged value.
func TestExactZeroDivisorAndDecimalCastOverflow(t *testing.T) {
	path := writeFile(t, "d.csv", "1,0.01,2024-01-01 00:00:01\n")
	ddl := fmt.Sprintf(`CREATE TABLE t (k BIGINT, d DECIMAL(10, 2), ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
		WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');`, path)
	for _, c := range []struct{ expr, want string }{
		{"d / 0", "error: division by zero"},
		{"d / 0.00", "error: division by zero"},
		{"CASE WHEN k > 5 THEN d / 0 END", "NULL"},
		{"d / 2", "0.005"},
		{"CAST(123456.78 AS DECIMAL(4, 2))", "error: cannot cast 123456.78 to DECIMAL(4, 2)"},
		{"CAST(123 AS DECIMAL(4, 2))", "error: cannot cast 123 to DECIMAL(4, 2)"},
		{"TRY_CAST(123456.78 AS DECIMAL(4, 2))", "NULL"},
		{"CAST(12.5 AS DECIMAL(4, 2))", "12.50"},
	} {
		_, rows, err := queryErr(t, ddl+"SELECT "+c.expr+" AS x FROM t;")
		got := strings.Join(rows, "; ")
		if err != nil {
			got = "error: " + err.Error()
		}
		wantErr := strings.HasPrefix(c.want, "error: ")
		if wantErr != (err != nil) || (wantErr && !strings.Contains(got, c.want[len("error: "):])) || (!wantErr && got != c.want) {
			t.Errorf("SELECT %s: got %q, want %q", c.expr, got, c.want)
		}
	}
}
