package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/types"
)

func TestUDF(t *testing.T) {
	eng := engine.New(engine.Options{StateDir: t.TempDir()})
	err := eng.RegisterFunction(engine.RowFunction("bucket", []types.Type{types.BigIntType, types.BigIntType}, types.StringType,
		func(args []any) (any, error) {
			if args[0] == nil {
				return nil, nil
			}
			if args[1].(int64) == 0 {
				return nil, errors.New("bucket width 0")
			}
			if args[0].(int64) < 50 {
				return "low", nil
			}
			return "high", nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.RegisterFunction(engine.RowFunction("upper", nil, types.StringType, nil)); err == nil {
		t.Fatal("registering a built-in name must fail")
	}
	res := execAll(t, eng, `CREATE TABLE ev (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
		WITH ('connector' = 'datagen', 'rows-per-second' = 'unlimited', 'number-of-rows' = '1000', 'fields.k.min' = '0', 'fields.k.max' = '99');
		SELECT k, BUCKET(k, 10) AS b FROM ev WHERE bucket(k, 10) IS NOT NULL;`)
	n := 0
	err = res.Query.Run(context.Background(), func(rec arrow.Record) error {
		for _, row := range engine.Rows(rec) {
			k, b := *row[0], *row[1]
			want := "high"
			if len(k) == 1 || k < "50" && len(k) == 2 {
				want = "low"
			}
			if b != want {
				t.Fatalf("bucket(%s) = %s, want %s", k, b, want)
			}
			n++
		}
		return nil
	})
	if err != nil || n != 1000 {
		t.Fatalf("run: %v, %d rows", err, n)
	}
	// Type errors at planning time, runtime errors name the function.
	stmts, _ := engine.Parse("t.sql", "SELECT bucket('x', 1) FROM ev;")
	if _, err := eng.Execute(context.Background(), stmts[0]); err == nil || !strings.Contains(err.Error(), "BUCKET: argument 1 must be BIGINT") {
		t.Fatalf("wrong argument type: %v", err)
	}
	res = execAll(t, eng, "SELECT bucket(k, 0) FROM ev;")
	if err := res.Query.Run(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "function BUCKET: bucket width 0") {
		t.Fatalf("runtime error: %v", err)
	}
}
