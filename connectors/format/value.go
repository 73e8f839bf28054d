package format

import (
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/streamsql/streamsql/types"
)

// FormatValue returns the SQL text form of the value at row of col, and
// false when it is NULL (the text is then ""): the caller decides how NULL
// looks ("NULL" in the REPL, "null" in the print sink). See the package
// comment for the form of each type.
func FormatValue(col arrow.Array, row int) (string, bool) {
	if col.IsNull(row) {
		return "", false
	}
	return string(AppendValue(nil, col, row)), true
}

// AppendValue appends the SQL text form of the non-NULL value at row of col
// to dst. It is FormatValue without the allocation; the caller checks
// col.IsNull(row) first.
func AppendValue(dst []byte, col arrow.Array, row int) []byte {
	switch c := col.(type) {
	case *array.Boolean:
		return strconv.AppendBool(dst, c.Value(row))
	case *array.Int32:
		return strconv.AppendInt(dst, int64(c.Value(row)), 10)
	case *array.Int64:
		return strconv.AppendInt(dst, c.Value(row), 10)
	case *array.Float32:
		return types.AppendFloat(dst, float64(c.Value(row)), 32)
	case *array.Float64:
		return types.AppendFloat(dst, c.Value(row), 64)
	case *array.Decimal128:
		return types.AppendDecimal(dst, c.Value(row), c.DataType().(*arrow.Decimal128Type).Scale)
	case *array.String:
		return append(dst, c.Value(row)...)
	case *array.Timestamp:
		return appendTimestamp(dst, c, row)
	case *array.Duration:
		return types.AppendInterval(dst, int64(c.Value(row)))
	}
	return append(dst, col.ValueStr(row)...)
}

// ParseTimestamp is types.ParseTimestamp, the one timestamp parser; it is
// kept here for the connectors that call it.
func ParseTimestamp(s string) (int64, error) { return types.ParseTimestamp(s) }

// appendTimestamp appends the timestamp at row of c: a TIMESTAMP_LTZ
// whose Arrow type names a session zone (types.ArrowZone) as the local
// time there.
func appendTimestamp(dst []byte, c *array.Timestamp, row int) []byte {
	v := int64(c.Value(row))
	if z := types.ArrowZone(c.DataType().(*arrow.TimestampType)); z != nil {
		v = z.ToLocal(v)
	}
	return types.AppendTimestamp(dst, v)
}
