package format

import (
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// Encoder writes the rows of record batches as JSON lines
// ({"a":1,"ts":"2024-01-01 00:00:00.000"}, NULL as null, every column
// present), as CSV lines (RFC 4180 quoting when needed, NULL as the null
// literal or an empty field, an empty string as ""), or as debezium-json
// change events (see debezium.go). What it writes, a Decoder with the same
// options reads back to the same values.
//
// JSON and CSV hold inserts only: a batch with an update or a delete (see
// exec/rowkind.go) is an error, since the planner lets no updating query
// into a sink that writes them; WriteRowKinds makes a JSON encoder write
// the kinds instead, for result streams.
type Encoder struct {
	cfg   config
	keys  [][]byte // JSON: `"name":` per column, with the separator
	opKey []byte   // JSON with WriteRowKinds: `{"op":` (see WriteRowKinds)
	// opInserts: WriteRowKinds(true), inserts carry "op" too.
	opInserts bool
	// quote: the bytes that make a CSV value quoted (the delimiter, '"',
	// CR and LF), looked up in a table instead of compared four times a byte.
	quote [256]bool
}

// NewEncoder returns an encoder of rows of schema in format ("json", "csv"
// or "debezium-json"; "" means opts['format']), configured by the format
// options in opts.
func NewEncoder(format string, schema types.Schema, opts map[string]string) (*Encoder, error) {
	cfg, err := parseConfig(format, opts)
	if err != nil {
		return nil, err
	}
	e := &Encoder{cfg: cfg}
	for _, c := range []byte{cfg.delim, '"', '\n', '\r'} {
		e.quote[c] = true
	}
	for i, f := range schema.Fields {
		var k []byte
		if i == 0 {
			k = append(k, '{')
		} else {
			k = append(k, ',')
		}
		k = appendJSONString(k, f.Name)
		e.keys = append(e.keys, append(k, ':'))
	}
	return e, nil
}

// WriteRowKinds makes a JSON encoder write the kind of each row as a
// first field "op" with Flink's short names ("+I", "-U", "+U" or "-D";
// "$op" when the schema has a column named op): {"op":"-U","a":1}. With
// inserts false, inserts are written as before, without the field, so an
// append-only result reads the same; an updating result's stream passes
// true, so that every row carries its kind. It is for result streams (the
// server, the CLI), not for sinks.
func (e *Encoder) WriteRowKinds(inserts bool) error {
	if e.cfg.format != JSON {
		return fmt.Errorf("format: only 'json' writes row kinds, not '%s'", e.cfg.format)
	}
	key := "op"
	for _, k := range e.keys {
		if equalFoldBytes(k[1:], `"op":`) {
			key = "$op"
		}
	}
	e.opKey = appendJSONString([]byte{'{'}, key)
	e.opKey = append(e.opKey, ':')
	e.opInserts = inserts
	return nil
}

// Format returns the encoder's format, "json", "csv" or "debezium-json".
func (e *Encoder) Format() string { return e.cfg.format }

// AppendRecord appends the rows of rec, each ending in '\n', to dst.
func (e *Encoder) AppendRecord(dst []byte, rec arrow.Record) ([]byte, error) {
	cols := rec.Columns()
	kinds := exec.RowKinds(rec)
	if kinds != nil {
		cols = cols[:len(cols)-1]
		if e.cfg.format != DebeziumJSON && e.opKey == nil {
			if err := exec.CheckInsertOnly(fmt.Sprintf("format: '%s'", e.cfg.format), rec); err != nil {
				return dst, err
			}
		}
	}
	if e.cfg.format != CSV && len(cols) != len(e.keys) {
		return dst, fmt.Errorf("format: record has %d columns, schema %d", len(cols), len(e.keys))
	}
	for r := 0; r < int(rec.NumRows()); r++ {
		switch e.cfg.format {
		case DebeziumJSON:
			dst = e.appendDebezium(dst, cols, kinds, r)
			continue
		case JSON:
			if k := exec.RowKindAt(kinds, r); e.opKey != nil && (k != types.Insert || e.opInserts) {
				dst = append(dst, e.opKey...)
				dst = appendJSONString(dst, k.String())
				dst = e.appendJSONFields(dst, cols, r, ',')
			} else {
				dst = e.appendJSONRow(dst, cols, r)
			}
			dst = append(dst, '\n')
			continue
		}
		for i, c := range cols {
			if i > 0 {
				dst = append(dst, e.cfg.delim)
			}
			dst = e.appendCSVValue(dst, c, r)
		}
		dst = append(dst, '\n')
	}
	return dst, nil
}

// appendJSONRow appends row r of cols as a JSON object.
func (e *Encoder) appendJSONRow(dst []byte, cols []arrow.Array, r int) []byte {
	if len(cols) == 0 {
		return append(dst, '{', '}')
	}
	return e.appendJSONFields(dst, cols, r, '{')
}

// appendJSONFields appends the fields of row r of cols and the closing
// brace; the first field is preceded by first ('{' or ',').
func (e *Encoder) appendJSONFields(dst []byte, cols []arrow.Array, r int, first byte) []byte {
	if len(cols) == 0 {
		return append(dst, '}')
	}
	for i, c := range cols {
		if i == 0 {
			dst = append(dst, first)
			dst = append(dst, e.keys[0][1:]...)
		} else {
			dst = append(dst, e.keys[i]...)
		}
		dst = appendJSONValue(dst, c, r)
	}
	return append(dst, '}')
}

func appendJSONValue(dst []byte, c arrow.Array, r int) []byte {
	if c.IsNull(r) {
		return append(dst, "null"...)
	}
	switch c := c.(type) {
	case *array.String:
		return appendJSONString(dst, c.Value(r))
	case *array.Timestamp:
		dst = append(dst, '"')
		dst = appendTimestamp(dst, c, r)
		return append(dst, '"')
	case *array.Duration:
		return appendInt(dst, int64(c.Value(r)))
	case *array.Float64:
		return appendJSONFloat(dst, c.Value(r), 64)
	case *array.Float32:
		return appendJSONFloat(dst, float64(c.Value(r)), 32)
	}
	return AppendValue(dst, c, r)
}

func appendJSONFloat(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		dst = append(dst, '"')
		dst = types.AppendFloat(dst, f, bits)
		return append(dst, '"')
	}
	return types.AppendFloat(dst, f, bits)
}

func appendInt(dst []byte, v int64) []byte {
	var buf [20]byte
	i := len(buf)
	neg := v < 0
	u := uint64(v)
	if neg {
		u = -u
	}
	for {
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	if neg {
		dst = append(dst, '-')
	}
	return append(dst, buf[i:]...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\ufffd`...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func (e *Encoder) appendCSVValue(dst []byte, c arrow.Array, r int) []byte {
	if c.IsNull(r) {
		return append(dst, e.cfg.nullLiteral...)
	}
	switch c := c.(type) {
	case *array.String:
		s := c.Value(r)
		if s == "" || e.cfg.nullLiteralSet && s == e.cfg.nullLiteral || e.needsQuote(s) {
			return appendCSVQuoted(dst, s)
		}
		return append(dst, s...)
	case *array.Duration:
		return appendInt(dst, int64(c.Value(r)))
	}
	return AppendValue(dst, c, r)
}

func (e *Encoder) needsQuote(s string) bool {
	for i := 0; i < len(s); i++ {
		if e.quote[s[i]] {
			return true
		}
	}
	return len(s) > 0 && (s[0] == ' ' || s[len(s)-1] == ' ' || s[0] == '#')
}

func appendCSVQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}
