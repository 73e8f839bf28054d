package engine_test

import (
	"context"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/types"
)

// TestTypedRows reads every SQL type, and NULL of each, from a JSON file
// through a SELECT, as Go values.
func TestTypedRows(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "in.json")
	if err := os.WriteFile(data, []byte(
		`{"b": true, "i": -7, "bi": 9007199254740993, "f": 1.5, "d": 0.1, "dec": 12345678.91, "neg": -0.05, "s": "héllo", "ts": "2026-12-01 10:20:30.456", "ltz": "2026-12-01 10:20:30.456"}
{"b": null, "i": null, "bi": null, "f": null, "d": null, "dec": null, "neg": null, "s": null, "ts": null, "ltz": null}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.Options{StateDir: dir, CheckpointInterval: -1})
	res := execAll(t, eng, `CREATE TABLE t (b BOOLEAN, i INT, bi BIGINT, f FLOAT, d DOUBLE, dec DECIMAL(10, 2), neg DECIMAL(3, 2), s STRING, ts TIMESTAMP(3), ltz TIMESTAMP_LTZ(3))
		WITH ('connector' = 'filesystem', 'path' = '`+data+`', 'format' = 'json');
		SELECT b, i, bi, f, d, dec, neg, s, ts, ltz, INTERVAL '90' SECOND AS iv, dec * 2 AS dec2 FROM t;`)
	var rows []engine.Row
	for row, err := range res.Query.Rows(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	if len(rows) != 2 {
		t.Fatalf("got %d rows, want 2: %v", len(rows), rows)
	}
	ts := time.Date(2026, 12, 1, 10, 20, 30, 456e6, time.UTC)
	want := []any{true, int32(-7), int64(9007199254740993), float32(1.5), 0.1, dec(t, "12345678.91"), dec(t, "-0.05"), "héllo", ts, ts, 90 * time.Second}
	got := rows[0]
	if got.Kind != engine.Insert || got.Kind.String() != "+I" {
		t.Errorf("row kind %v, want +I", got.Kind)
	}
	if len(got.Values) != len(want)+1 {
		t.Fatalf("got %d values, want %d: %v", len(got.Values), len(want)+1, got)
	}
	for i, w := range want {
		if !reflect.DeepEqual(got.Values[i], w) {
			t.Errorf("column %s: got %#v (%T), want %#v (%T)", res.Query.Schema().Names()[i], got.Values[i], got.Values[i], w, w)
		}
	}
	d2, ok := got.Values[len(want)].(engine.Decimal)
	if !ok || d2.Cmp(dec(t, "24691357.82")) != 0 {
		t.Errorf("dec * 2 = %#v, want 24691357.82", got.Values[len(want)])
	}
	if d := got.Values[5].(engine.Decimal); d.String() != "12345678.91" || d.Scale() != 2 || d.Unscaled().String() != "1234567891" || d.Float64() != 12345678.91 {
		t.Errorf("decimal accessors: %s scale %d unscaled %s float %v", d, d.Scale(), d.Unscaled(), d.Float64())
	}
	if s := got.String(); !strings.HasPrefix(s, "+I[true, -7, 9007199254740993, 1.5, 0.1, 12345678.91, -0.05, héllo, 2026-12-01 10:20:30.456") {
		t.Errorf("Row.String: %s", s)
	}
	for i, v := range rows[1].Values[:10] {
		if v != nil {
			t.Errorf("column %d of the NULL row: got %#v, want nil", i, v)
		}
	}
}

func dec(t *testing.T, s string) engine.Decimal {
	t.Helper()
	d, err := engine.ParseDecimal(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDecimal(t *testing.T) {
	for _, c := range []struct {
		in, out string
		scale   int
	}{{"1.50", "1.50", 2}, {"-0.05", "-0.05", 2}, {"42", "42", 0}, {"99999999999999999999999999999999999999", "99999999999999999999999999999999999999", 0}} {
		d := dec(t, c.in)
		if d.String() != c.out || d.Scale() != c.scale {
			t.Errorf("ParseDecimal(%q) = %s scale %d", c.in, d, d.Scale())
		}
	}
	for _, bad := range []string{"", "1.2.3", "1e5", "abc", "1_000", "340282366920938463463374607431768211456"} {
		if _, err := engine.ParseDecimal(bad); err == nil {
			t.Errorf("ParseDecimal(%q) accepted", bad)
		}
	}
	if dec(t, "1.5").Cmp(dec(t, "1.50")) != 0 || dec(t, "1.5") == dec(t, "1.50") {
		t.Error("1.5 and 1.50: equal values of different scales")
	}
	if r := dec(t, "-0.05").Rat(); r.Cmp(big.NewRat(-1, 20)) != 0 {
		t.Errorf("Rat(-0.05) = %v", r)
	}
}

// TestRowsStopsQuery: leaving the loop early stops an unbounded query.
func TestRowsStopsQuery(t *testing.T) {
	eng := engine.New(engine.Options{StateDir: t.TempDir(), CheckpointInterval: -1})
	res := execAll(t, eng, `CREATE TABLE ev (k BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '1000');
		SELECT k FROM ev;`)
	n := 0
	for row, err := range res.Query.Rows(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := row.Values[0].(int64); !ok {
			t.Fatalf("BIGINT as %T", row.Values[0])
		}
		if n++; n == 5 {
			break
		}
	}
}

// TestUDFDecimal: a RowFunction receives and returns DECIMAL values as
// engine.Decimal.
func TestUDFDecimal(t *testing.T) {
	eng := engine.New(engine.Options{StateDir: t.TempDir(), CheckpointInterval: -1})
	err := eng.RegisterFunction(engine.RowFunction("half", []types.Type{types.DecimalType(10, 2)}, types.DecimalType(10, 3), func(args []any) (any, error) {
		if args[0] == nil {
			return nil, nil
		}
		d := args[0].(engine.Decimal)
		u := d.Unscaled()
		u.Mul(u, big.NewInt(5)) // x / 2 = x * 5 / 10: one more digit of scale
		return engine.NewDecimal(u, d.Scale()+1)
	}))
	if err != nil {
		t.Fatal(err)
	}
	res := execAll(t, eng, `CREATE TABLE ev (k BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '1', 'fields.k.min' = '3', 'fields.k.max' = '3');
		SELECT half(CAST(k AS DECIMAL(10, 2)) + 0.01) FROM ev;`)
	n := 0
	for row, err := range res.Query.Rows(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if got := row.Values[0].(engine.Decimal).String(); got != "1.505" {
			t.Fatalf("half(3.01) = %s, want 1.505", got)
		}
	}
	if n != 1 {
		t.Fatalf("got %d rows, want 1", n)
	}
}

// TestRowsError: a failing query's error is the loop's last value.
func TestRowsError(t *testing.T) {
	eng := engine.New(engine.Options{StateDir: t.TempDir(), CheckpointInterval: -1})
	if err := eng.RegisterFunction(engine.RowFunction("boom", []types.Type{types.BigIntType}, types.BigIntType, func([]any) (any, error) {
		return nil, errors.New("boom went the function")
	})); err != nil {
		t.Fatal(err)
	}
	res := execAll(t, eng, `CREATE TABLE ev (k BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '10');
		SELECT boom(k) FROM ev;`)
	var last error
	for _, err := range res.Query.Rows(context.Background()) {
		last = err
	}
	if last == nil || !strings.Contains(last.Error(), "boom went the function") {
		t.Fatalf("got %v, want the function's error", last)
	}
}
