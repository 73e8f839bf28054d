// Package types defines StreamSQL's SQL data types and their Arrow
// representation, and owns the text form of their values: the one parser
// and printer of timestamps (ParseTimestamp, AppendTimestamp), intervals
// (ParseInterval, AppendInterval), floats (AppendFloat) and decimals
// (AppendDecimal), so that a SQL literal, a CAST to or from STRING and a
// JSON or CSV field agree. It is shared by the planner (type checking),
// exec (evaluation) and connectors (decoding into Arrow builders); it
// knows nothing of SQL queries or of running them.
package types

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
)

// Kind is the family of a SQL type.
type Kind uint8

// The SQL type kinds. Integer kinds are ordered by width, so that the
// planner can pick the wider of two with a comparison.
const (
	Unknown Kind = iota
	Null         // the type of an untyped NULL literal
	Boolean
	Int    // INT, 32-bit
	BigInt // BIGINT, 64-bit
	Float  // FLOAT/REAL, 32-bit
	Double // DOUBLE, 64-bit
	Decimal
	String
	Timestamp    // TIMESTAMP(3): milliseconds, no time zone
	TimestampLTZ // TIMESTAMP_LTZ(3): milliseconds since the epoch, shown in local time
	Interval     // INTERVAL DAY TO SECOND, milliseconds
)

var kindNames = [...]string{
	Unknown: "UNKNOWN", Null: "NULL", Boolean: "BOOLEAN", Int: "INT", BigInt: "BIGINT",
	Float: "FLOAT", Double: "DOUBLE", Decimal: "DECIMAL", String: "STRING",
	Timestamp: "TIMESTAMP", TimestampLTZ: "TIMESTAMP_LTZ", Interval: "INTERVAL",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Type is a SQL type. The zero Type is Unknown. Types are small values,
// compared with ==.
type Type struct {
	Kind Kind
	// Precision and Scale apply to DECIMAL(p, s); Precision also holds the
	// fractional-second precision of TIMESTAMP(p) (always 3 today).
	Precision, Scale int
	// NotNull is set for columns declared NOT NULL and for expressions that
	// can never be NULL.
	NotNull bool
}

// Convenience constructors of nullable types.
var (
	BooleanType   = Type{Kind: Boolean}
	IntType       = Type{Kind: Int}
	BigIntType    = Type{Kind: BigInt}
	FloatType     = Type{Kind: Float}
	DoubleType    = Type{Kind: Double}
	StringType    = Type{Kind: String}
	TimestampType = Type{Kind: Timestamp, Precision: 3}
	LTZType       = Type{Kind: TimestampLTZ, Precision: 3}
	IntervalType  = Type{Kind: Interval}
	NullType      = Type{Kind: Null}
)

// DecimalType returns DECIMAL(p, s).
func DecimalType(p, s int) Type { return Type{Kind: Decimal, Precision: p, Scale: s} }

// String prints the type as SQL, e.g. "DECIMAL(10, 2) NOT NULL".
func (t Type) String() string {
	var s string
	switch t.Kind {
	case Decimal:
		s = fmt.Sprintf("DECIMAL(%d, %d)", t.Precision, t.Scale)
	case Timestamp, TimestampLTZ:
		s = fmt.Sprintf("%s(%d)", t.Kind, t.Precision)
	default:
		s = t.Kind.String()
	}
	if t.NotNull {
		s += " NOT NULL"
	}
	return s
}

// Nullable returns t without its NOT NULL constraint.
func (t Type) Nullable() Type { t.NotNull = false; return t }

// WithNotNull returns t with NotNull set to nn.
func (t Type) WithNotNull(nn bool) Type { t.NotNull = nn; return t }

// IsNumeric reports whether t is an integer, floating point or decimal type.
func (t Type) IsNumeric() bool {
	switch t.Kind {
	case Int, BigInt, Float, Double, Decimal:
		return true
	}
	return false
}

// IsInteger reports whether t is INT or BIGINT.
func (t Type) IsInteger() bool { return t.Kind == Int || t.Kind == BigInt }

// IsTemporal reports whether t is a timestamp type.
func (t Type) IsTemporal() bool { return t.Kind == Timestamp || t.Kind == TimestampLTZ }

// Same reports whether a and b are the same type, ignoring nullability.
func Same(a, b Type) bool { return a.Nullable() == b.Nullable() }

// Arrow returns the Arrow type that holds values of t in a record batch:
// BOOLEAN→boolean, INT→int32, BIGINT→int64, FLOAT→float32, DOUBLE→float64,
// DECIMAL(p,s)→decimal128(p,s), STRING→utf8, TIMESTAMP(3) and
// TIMESTAMP_LTZ(3)→timestamp[ms], INTERVAL→duration[ms]. NULL is held as
// an all-null int64 column.
func (t Type) Arrow() arrow.DataType {
	switch t.Kind {
	case Boolean:
		return arrow.FixedWidthTypes.Boolean
	case Int:
		return arrow.PrimitiveTypes.Int32
	case BigInt, Null:
		return arrow.PrimitiveTypes.Int64
	case Float:
		return arrow.PrimitiveTypes.Float32
	case Double:
		return arrow.PrimitiveTypes.Float64
	case Decimal:
		return &arrow.Decimal128Type{Precision: int32(t.Precision), Scale: int32(t.Scale)}
	case String:
		return arrow.BinaryTypes.String
	case Timestamp:
		return arrow.FixedWidthTypes.Timestamp_ms
	case TimestampLTZ:
		return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
	case Interval:
		return arrow.FixedWidthTypes.Duration_ms
	}
	panic(fmt.Sprintf("types: no Arrow type for %s", t))
}

// Field is a named, typed column.
type Field struct {
	Name string
	Type Type
}

// Schema is an ordered list of columns.
type Schema struct {
	Fields []Field
}

// Len returns the number of columns.
func (s Schema) Len() int { return len(s.Fields) }

// Index returns the position of the column named name (case-insensitive, as
// in Flink SQL with unquoted identifiers), or -1.
func (s Schema) Index(name string) int {
	for i, f := range s.Fields {
		if f.Name == name {
			return i
		}
	}
	for i, f := range s.Fields {
		if equalFold(f.Name, name) {
			return i
		}
	}
	return -1
}

// Names returns the column names in order.
func (s Schema) Names() []string {
	out := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		out[i] = f.Name
	}
	return out
}

// Arrow returns the Arrow schema of record batches with this schema.
func (s Schema) Arrow() *arrow.Schema {
	fs := make([]arrow.Field, len(s.Fields))
	for i, f := range s.Fields {
		fs[i] = arrow.Field{Name: f.Name, Type: f.Type.Arrow(), Nullable: !f.Type.NotNull}
	}
	return arrow.NewSchema(fs, nil)
}

// String prints the schema as "(name TYPE, …)".
func (s Schema) String() string {
	b := []byte{'('}
	for i, f := range s.Fields {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, f.Name...)
		b = append(b, ' ')
		b = append(b, f.Type.String()...)
	}
	return string(append(b, ')'))
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
