package jdbc

import (
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/streamsql/streamsql/types"
)

// value returns row r of column col (of type t) as the Go value pgx
// writes into the database column: nil for NULL, DECIMAL as its text (the
// server parses it exactly), TIMESTAMP as a UTC wall-clock time.
func value(col arrow.Array, t types.Type, r int) any {
	if col.IsNull(r) {
		return nil
	}
	switch c := col.(type) {
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
		return string(types.AppendDecimal(nil, c.Value(r), int32(t.Scale)))
	case *array.String:
		return c.Value(r)
	case *array.Timestamp:
		return time.UnixMilli(int64(c.Value(r))).UTC()
	case *array.Duration:
		return pgtype.Interval{Microseconds: int64(c.Value(r)) * 1000, Valid: true}
	}
	return fmt.Sprintf("%v", col.ValueStr(r))
}

// selectExpr is how the scan and lookup queries select a column of type
// t, so that scanDest can receive it: DECIMAL as text (exact), INTERVAL
// as milliseconds.
func selectExpr(quoted string, t types.Type) string {
	switch t.Kind {
	case types.Decimal:
		return quoted + "::text"
	case types.Interval:
		return "(extract(epoch FROM " + quoted + ") * 1000)::bigint"
	case types.Int:
		return quoted + "::int4"
	case types.BigInt:
		return quoted + "::int8"
	case types.Double:
		return quoted + "::float8"
	}
	return quoted
}

// scanDest returns a pointer pgx scans a column of type t into.
func scanDest(t types.Type) any {
	switch t.Kind {
	case types.Boolean:
		return new(*bool)
	case types.Int:
		return new(*int32)
	case types.BigInt, types.Interval:
		return new(*int64)
	case types.Float:
		return new(*float32)
	case types.Double:
		return new(*float64)
	case types.Decimal, types.String:
		return new(*string)
	case types.Timestamp, types.TimestampLTZ:
		return new(*time.Time)
	}
	return new(any)
}

// scanned returns the value scanDest's pointer holds, as a Go value of
// the column's type (nil for NULL): what appendValue appends and lookup
// rows carry.
func scanned(dest any, t types.Type) (any, error) {
	switch d := dest.(type) {
	case **bool:
		if *d == nil {
			return nil, nil
		}
		return **d, nil
	case **int32:
		if *d == nil {
			return nil, nil
		}
		return **d, nil
	case **int64:
		if *d == nil {
			return nil, nil
		}
		if t.Kind == types.Interval {
			return time.Duration(**d) * time.Millisecond, nil
		}
		return **d, nil
	case **float32:
		if *d == nil {
			return nil, nil
		}
		return **d, nil
	case **float64:
		if *d == nil {
			return nil, nil
		}
		return **d, nil
	case **string:
		if *d == nil {
			return nil, nil
		}
		if t.Kind == types.Decimal {
			n, err := decimal128.FromString(**d, int32(t.Precision), int32(t.Scale))
			if err != nil {
				return nil, fmt.Errorf("numeric %s does not fit %s: %w", **d, t, err)
			}
			return n, nil
		}
		return **d, nil
	case **time.Time:
		if *d == nil {
			return nil, nil
		}
		return (*d).UnixMilli(), nil
	}
	return nil, fmt.Errorf("no scan of %s", t)
}

// appendValue appends v (as scanned returns it) to b, a builder of a
// column of type t.
func appendValue(b array.Builder, v any) {
	if v == nil {
		b.AppendNull()
		return
	}
	switch b := b.(type) {
	case *array.BooleanBuilder:
		b.Append(v.(bool))
	case *array.Int32Builder:
		b.Append(v.(int32))
	case *array.Int64Builder:
		b.Append(v.(int64))
	case *array.Float32Builder:
		b.Append(v.(float32))
	case *array.Float64Builder:
		b.Append(v.(float64))
	case *array.Decimal128Builder:
		b.Append(v.(decimal128.Num))
	case *array.StringBuilder:
		b.Append(v.(string))
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v.(int64)))
	case *array.DurationBuilder:
		b.Append(arrow.Duration(v.(time.Duration) / time.Millisecond))
	default:
		b.AppendNull()
	}
}
