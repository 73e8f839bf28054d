package engine

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/big"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// RowKind is the change a row stands for in a changelog, as Flink's
// RowKind: an insertion, the old or new version of an update, or a
// deletion. It is types.RowKind; an append-only query's rows are all
// Inserts, an updating one's (a debezium-json source, later updating
// aggregations) carry every kind.
type RowKind = types.RowKind

// The row kinds.
const (
	Insert       = types.Insert       // +I
	UpdateBefore = types.UpdateBefore // -U: the row before an update
	UpdateAfter  = types.UpdateAfter  // +U: the row after an update
	Delete       = types.Delete       // -D
)

// Row is one row of a query's result as Go values, one per column in the
// query's Schema order:
//
//	BOOLEAN                    bool
//	INT (TINYINT, SMALLINT)    int32
//	BIGINT                     int64
//	FLOAT                      float32
//	DOUBLE                     float64
//	DECIMAL(p, s)              Decimal (exact)
//	STRING, VARCHAR(n)         string
//	TIMESTAMP(3), TIMESTAMP_LTZ(3)  time.Time in UTC
//	INTERVAL                   time.Duration
//	NULL (of any type)         nil
type Row struct {
	// Kind is the change the row stands for: Insert for every row of an
	// append-only query; -U/+U pairs and -D of an updating one.
	Kind   RowKind
	Values []any
}

// String prints the row as Flink's print sink does: +I[1, a, NULL].
func (r Row) String() string {
	var b strings.Builder
	b.WriteString(r.Kind.String())
	b.WriteByte('[')
	for i, v := range r.Values {
		if i > 0 {
			b.WriteString(", ")
		}
		switch v := v.(type) {
		case nil:
			b.WriteString("NULL")
		case time.Time:
			b.Write(types.AppendTimestamp(nil, v.UnixMilli()))
		default:
			fmt.Fprint(&b, v)
		}
	}
	b.WriteByte(']')
	return b.String()
}

// TypedRows converts a record batch of a query's result to rows of Go
// values (see Row), for callers of the Arrow path (Results, RowFunc).
// The batch's row-kind column, when it has one (exec.RowKinds), gives each
// row's Kind and is not a value.
func TypedRows(rec arrow.Record) []Row {
	out := make([]Row, rec.NumRows())
	kinds := exec.RowKinds(rec)
	cols := rec.Columns()[:exec.DataColumns(rec)]
	for r := range out {
		vals := make([]any, len(cols))
		for c, col := range cols {
			vals[c] = goValue(col, r)
		}
		out[r] = Row{Kind: exec.RowKindAt(kinds, r), Values: vals}
	}
	return out
}

// Rows runs the query, as Run does, and yields its rows as Go values as
// they are emitted; leaving the loop stops the query. When the query
// fails, the last iteration yields its error (with a zero Row). A bounded
// query ends the loop when its sources are exhausted; a cancelled ctx, or
// a stop on request (Engine.Close, StopWithSavepoint), ends it without an
// error.
//
//	for row, err := range q.Rows(ctx) {
//		if err != nil { … }
//		fmt.Println(row.Values...)
//	}
func (q *ContinuousQuery) Rows(ctx context.Context) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		res := q.Results(ctx)
		defer res.Close()
		for res.Next() {
			for _, row := range TypedRows(res.Record()) {
				if !yield(row, nil) {
					return
				}
			}
		}
		if err := res.Err(); err != nil && !errors.Is(err, exec.ErrStopped) {
			yield(Row{}, err)
		}
	}
}

// Decimal is an exact DECIMAL value: Unscaled() × 10^-Scale(). The zero
// value is 0. Decimals are compared for equality of value with Cmp; ==
// also compares the scale (1.50 and 1.5 differ).
type Decimal struct {
	hi    int64
	lo    uint64
	scale int32
}

// NewDecimal returns unscaled × 10^-scale. The unscaled value must fit
// DECIMAL(38)'s 128 bits.
func NewDecimal(unscaled *big.Int, scale int) (Decimal, error) {
	if unscaled.BitLen() > 127 {
		return Decimal{}, fmt.Errorf("engine: decimal %s does not fit 128 bits", unscaled)
	}
	n := decimal128.FromBigInt(unscaled)
	return Decimal{hi: n.HighBits(), lo: n.LowBits(), scale: int32(scale)}, nil
}

// ParseDecimal parses a decimal number such as "-12.340" exactly, keeping
// its scale (3 here).
func ParseDecimal(s string) (Decimal, error) {
	r, ok := new(big.Int).SetString(strings.Replace(strings.TrimSpace(s), ".", "", 1), 10)
	if !ok || strings.Count(s, ".") > 1 || strings.ContainsAny(s, "eE_") {
		return Decimal{}, fmt.Errorf("engine: invalid decimal %q", s)
	}
	scale := 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		scale = len(strings.TrimSpace(s[i+1:]))
	}
	return NewDecimal(r, scale)
}

func decimalOf(n decimal128.Num, scale int32) Decimal {
	return Decimal{hi: n.HighBits(), lo: n.LowBits(), scale: scale}
}

func (d Decimal) num() decimal128.Num { return decimal128.New(d.hi, d.lo) }

// Scale is the number of digits after the decimal point.
func (d Decimal) Scale() int { return int(d.scale) }

// Unscaled returns the value without its decimal point: 1.50 is 150.
func (d Decimal) Unscaled() *big.Int { return d.num().BigInt() }

// Rat returns the exact value as a fraction.
func (d Decimal) Rat() *big.Rat {
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(max(d.scale, 0))), nil)
	num := d.Unscaled()
	if d.scale < 0 {
		num.Mul(num, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-d.scale)), nil))
	}
	return new(big.Rat).SetFrac(num, den)
}

// Float64 returns the nearest float64 (inexact).
func (d Decimal) Float64() float64 {
	f, _ := d.Rat().Float64()
	return f
}

// Cmp compares the values of d and e: -1, 0 or +1.
func (d Decimal) Cmp(e Decimal) int { return d.Rat().Cmp(e.Rat()) }

// String prints the value with its scale, as SQL does: 1.50, -0.05.
func (d Decimal) String() string { return string(types.AppendDecimal(nil, d.num(), d.scale)) }

// goValue returns row r of column c as a Go value (see Row).
func goValue(c arrow.Array, r int) any {
	if c.IsNull(r) {
		return nil
	}
	switch c := c.(type) {
	case *array.Boolean:
		return c.Value(r)
	case *array.Int32:
		return c.Value(r)
	case *array.Int64:
		return c.Value(r)
	case *array.Float32:
		return c.Value(r)
	case *array.Float64:
		return c.Value(r)
	case *array.Decimal128:
		return decimalOf(c.Value(r), c.DataType().(*arrow.Decimal128Type).Scale)
	case *array.String:
		return c.Value(r)
	case *array.Timestamp:
		return time.UnixMilli(int64(c.Value(r))).UTC()
	case *array.Duration:
		return time.Duration(c.Value(r)) * time.Millisecond
	}
	return c.ValueStr(r)
}
