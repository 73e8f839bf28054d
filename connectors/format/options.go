package format

import (
	"fmt"
	"strings"

	"github.com/streamsql/streamsql/connectors"
)

// The format option keys (Flink's names).
const (
	KeyFormat                 = "format"
	KeyJSONIgnoreParseErrors  = "json.ignore-parse-errors"
	KeyJSONFailOnMissingField = "json.fail-on-missing-field"
	KeyCSVFieldDelimiter      = "csv.field-delimiter"
	KeyCSVIgnoreParseErrors   = "csv.ignore-parse-errors"
	KeyCSVAllowComments       = "csv.allow-comments"
	KeyCSVNullLiteral         = "csv.null-literal"

	KeyDebeziumSchemaInclude     = "debezium-json.schema-include"
	KeyDebeziumIgnoreParseErrors = "debezium-json.ignore-parse-errors"
)

// The formats.
const (
	JSON = "json"
	CSV  = "csv"
	// DebeziumJSON is Debezium's change events as JSON: a changelog format
	// (see debezium.go).
	DebeziumJSON = "debezium-json"
)

// Options lists the format options, for connectors that read or write
// text to include among their own. 'format' is listed as not required: a
// connector that requires it sets Required on its copy (see WithRequired).
var Options = []connectors.Option{
	{Key: KeyFormat, Source: true, Sink: true, Help: "record format: 'json' (one object per line), 'csv', or 'debezium-json' (change events: inserts, updates, deletes)"},
	{Key: KeyJSONIgnoreParseErrors, Default: "false", Source: true,
		Help: "skip malformed JSON records (counted) instead of failing"},
	{Key: KeyJSONFailOnMissingField, Default: "false", Source: true,
		Help: "fail on a JSON record that lacks a column, instead of reading NULL"},
	{Key: KeyCSVFieldDelimiter, Default: ",", Source: true, Sink: true,
		Help: "field delimiter: one character, or '\\t'"},
	{Key: KeyCSVIgnoreParseErrors, Default: "false", Source: true,
		Help: "skip malformed CSV records (counted) instead of failing"},
	{Key: KeyCSVAllowComments, Default: "false", Source: true,
		Help: "skip CSV lines that start with '#'"},
	{Key: KeyCSVNullLiteral, Source: true, Sink: true,
		Help: "CSV text that stands for NULL (default: an empty unquoted field)"},
	{Key: KeyDebeziumSchemaInclude, Default: "false", Source: true,
		Help: "debezium-json records are {\"schema\": …, \"payload\": …} envelopes (Kafka Connect's JsonConverter with schemas enabled)"},
	{Key: KeyDebeziumIgnoreParseErrors, Default: "false", Source: true,
		Help: "skip malformed debezium-json records (counted) instead of failing"},
}

// WithRequired returns a copy of Options with 'format' required.
func WithRequired() []connectors.Option {
	out := append([]connectors.Option(nil), Options...)
	out[0].Required = true
	return out
}

// config is the parsed format options.
type config struct {
	format         string
	ignoreErrors   bool
	failOnMissing  bool
	delim          byte
	allowComments  bool
	nullLiteral    string
	nullLiteralSet bool
	schemaInclude  bool // debezium-json
}

func optErr(key, format string, args ...any) error {
	return &connectors.OptionError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks the values of the format options in opts; format, when
// not "", overrides opts['format']. It returns an *connectors.OptionError.
func Validate(format string, opts map[string]string) error {
	_, err := parseConfig(format, opts)
	return err
}

func parseConfig(format string, opts map[string]string) (config, error) {
	c := config{format: format, delim: ','}
	if c.format == "" {
		c.format = opts[KeyFormat]
	}
	switch c.format {
	case JSON, CSV, DebeziumJSON:
	case "":
		return c, optErr(KeyFormat, "missing: expected 'json', 'csv' or 'debezium-json'")
	default:
		return c, optErr(KeyFormat, "unknown format %q: expected 'json', 'csv' or 'debezium-json'", c.format)
	}
	boolOpt := func(key string, dst *bool) error {
		v, ok := opts[key]
		if !ok {
			return nil
		}
		if prefix := key[:strings.IndexByte(key, '.')]; prefix != c.format {
			return optErr(key, "applies only to format '%s', but 'format' is '%s'", prefix, c.format)
		}
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true":
			*dst = true
		case "false":
			*dst = false
		default:
			return optErr(key, "expected 'true' or 'false', got %q", v)
		}
		return nil
	}
	for _, o := range []struct {
		key string
		dst *bool
	}{
		{KeyJSONIgnoreParseErrors, &c.ignoreErrors},
		{KeyJSONFailOnMissingField, &c.failOnMissing},
		{KeyCSVIgnoreParseErrors, &c.ignoreErrors},
		{KeyCSVAllowComments, &c.allowComments},
		{KeyDebeziumIgnoreParseErrors, &c.ignoreErrors},
		{KeyDebeziumSchemaInclude, &c.schemaInclude},
	} {
		if err := boolOpt(o.key, o.dst); err != nil {
			return c, err
		}
	}
	if v, ok := opts[KeyCSVFieldDelimiter]; ok {
		if c.format != CSV {
			return c, optErr(KeyCSVFieldDelimiter, "applies only to format 'csv', but 'format' is '%s'", c.format)
		}
		switch {
		case v == `\t`:
			c.delim = '\t'
		case len(v) == 1 && v != `"` && v != "\n" && v != "\r":
			c.delim = v[0]
		default:
			return c, optErr(KeyCSVFieldDelimiter, "expected a single character, got %q", v)
		}
	}
	if v, ok := opts[KeyCSVNullLiteral]; ok {
		if c.format != CSV {
			return c, optErr(KeyCSVNullLiteral, "applies only to format 'csv', but 'format' is '%s'", c.format)
		}
		c.nullLiteral, c.nullLiteralSet = v, true
	}
	return c, nil
}
