package format

import (
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/streamsql/streamsql/types"
)

// Encoder writes the rows of record batches as JSON lines
// ({"a":1,"ts":"2024-01-01 00:00:00.000"}, NULL as null, every column
// present) or as CSV lines (RFC 4180 quoting when needed, NULL as the null
// literal or an empty field, an empty string as ""). What it writes, a
// Decoder with the same options reads back to the same values.
type Encoder struct {
	cfg  config
	keys [][]byte // JSON: `"name":` per column, with the separator
}

// NewEncoder returns an encoder of rows of schema in format ("json" or
// "csv"; "" means opts['format']), configured by the format options in
// opts.
func NewEncoder(format string, schema types.Schema, opts map[string]string) (*Encoder, error) {
	cfg, err := parseConfig(format, opts)
	if err != nil {
		return nil, err
	}
	e := &Encoder{cfg: cfg}
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

// Format returns the encoder's format, "json" or "csv"; it is also the
// usual file extension.
func (e *Encoder) Format() string { return e.cfg.format }

// AppendRecord appends the rows of rec, each ending in '\n', to dst.
func (e *Encoder) AppendRecord(dst []byte, rec arrow.Record) ([]byte, error) {
	cols := rec.Columns()
	if e.cfg.format == JSON && len(cols) != len(e.keys) {
		return dst, fmt.Errorf("format: record has %d columns, schema %d", len(cols), len(e.keys))
	}
	for r := 0; r < int(rec.NumRows()); r++ {
		if e.cfg.format == JSON {
			if len(cols) == 0 {
				dst = append(dst, '{')
			}
			for i, c := range cols {
				dst = append(dst, e.keys[i]...)
				dst = appendJSONValue(dst, c, r)
			}
			dst = append(dst, '}', '\n')
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

func appendJSONValue(dst []byte, c arrow.Array, r int) []byte {
	if c.IsNull(r) {
		return append(dst, "null"...)
	}
	switch c := c.(type) {
	case *array.String:
		return appendJSONString(dst, c.Value(r))
	case *array.Timestamp:
		dst = append(dst, '"')
		dst = types.AppendTimestamp(dst, int64(c.Value(r)))
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
		switch s[i] {
		case e.cfg.delim, '"', '\n', '\r':
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
