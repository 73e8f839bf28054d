// Package format converts between text records and Arrow: it decodes JSON
// lines, CSV lines and Debezium change events (debezium-json, a changelog:
// rows carry their kind, see exec/rowkind.go and debezium.go) straight
// into Arrow builders for a table's schema (Decoder), encodes the rows of a
// record batch as JSON lines, CSV or change events (Encoder), and prints single values in their SQL text form (FormatValue)
// for the print sink, the CLI and the REPL.
//
// It owns the Flink format options ('format', 'json.*', 'csv.*',
// 'debezium-json.*'); the
// connectors that read or write text (filesystem, later kafka) list Options
// among their own and hand the table's WITH options to NewDecoder and
// NewEncoder. It knows nothing of files, sockets or checkpoints.
//
// Value conventions, shared by decoding and encoding; the text of
// timestamps, intervals, floats and decimals is package types', the same
// as that of SQL literals and CASTs:
//
//   - TIMESTAMP(3) is written as "2024-01-01 12:00:05.000" and read from
//     that form (any number of fraction digits, or none), from ISO-8601
//     ("2024-01-01T12:00:05.123Z", with an optional zone offset, converted to
//     UTC), from a bare date (see types.ParseTimestamp), or from epoch
//     milliseconds. TIMESTAMP_LTZ(3) is printed as the local time in the
//     zone its Arrow type names (the sink's session zone, UTC by default),
//     and text without a zone is read as the local time in the decoder's
//     zone (Decoder.SetZone); text with Z or an offset, and epoch
//     milliseconds, are instants.
//   - DECIMAL(p, s) is read from a number or a string, rounded half-up to s
//     fraction digits, and refused when it needs more than p digits; it is
//     written with exactly s fraction digits.
//   - DOUBLE and FLOAT are written in the shortest form that reads back to
//     the same value, as Java's Double.toString ("1.0", "0.001", "1.0E7",
//     "1.0E-4", "NaN", "Infinity"); JSON writes NaN and the infinities as
//     strings.
//   - INTERVAL (day to second) is held in milliseconds: read from a number
//     of milliseconds, printed as "+1 02:03:04.000".
package format
