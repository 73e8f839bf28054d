package datagen

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/internal/suggest"
	"github.com/streamsql/streamsql/types"
)

// Option keys.
const (
	optRowsPerSecond = "rows-per-second"
	optNumberOfRows  = "number-of-rows"
	optSeed          = "seed"
	optFields        = "fields."
)

// defaultRate is the default of 'rows-per-second'.
const defaultRate = 10000

// defaultEventTimeStart is 2024-01-01 00:00:00 in epoch milliseconds.
const defaultEventTimeStart = 1704067200000

var fieldAttrs = []string{"kind", "min", "max", "start", "end", "length", "null-rate", "step", "max-out-of-orderness"}

type kind uint8

const (
	kindRandom kind = iota
	kindSequence
	kindEventTime
	kindNow
)

// config is the parsed, validated WITH clause of a datagen table.
type config struct {
	rate  int64 // rows per second; 0 means unlimited
	total int64 // rows to generate in all; -1 means unbounded
	seed  uint64
	cols  []column
}

// column says how to generate one column.
type column struct {
	name     string
	typ      types.Type
	kind     kind
	nullRate float64
	// nullBelow: a row's value is NULL when its null hash is below it.
	nullBelow uint64
	// Integer, decimal (unscaled) and interval bounds of random values, and
	// the start and end of sequences; end is math.MaxInt64 when unbounded.
	min, max   int64
	start, end int64
	fmin, fmax float64 // bounds of random FLOAT and DOUBLE values
	length     int     // of random strings
	// Event time: start + n*stepNum/stepDen - jitter, jitter in [0, ooo].
	stepNum, stepDen int64
	ooo              int64
	// seeds of the value and NULL hashes.
	vseed, nseed uint64
}

func errf(key, format string, args ...any) error {
	return &connectors.OptionError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

func positiveInt(key, v string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n <= 0 {
		return 0, errf(key, "expected a positive integer, got %q", v)
	}
	return n, nil
}

// parseConfig validates opts for schema and returns the generator config.
func parseConfig(opts map[string]string, schema types.Schema) (*config, error) {
	c := &config{rate: defaultRate, total: -1}
	if v, ok := opts[optRowsPerSecond]; ok {
		if strings.EqualFold(strings.TrimSpace(v), "unlimited") {
			c.rate = 0
		} else {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || n <= 0 {
				return nil, errf(optRowsPerSecond, "expected a positive integer or 'unlimited', got %q", v)
			}
			c.rate = n
		}
	}
	if v, ok := opts[optNumberOfRows]; ok {
		n, err := positiveInt(optNumberOfRows, v)
		if err != nil {
			return nil, err
		}
		c.total = n
	}
	if v, ok := opts[optSeed]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			u, uerr := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if uerr != nil {
				return nil, errf(optSeed, "expected an integer, got %q", v)
			}
			n = int64(u)
		}
		c.seed = uint64(n)
	}

	// Group the per-field options by column.
	attrs := make([]map[string]string, schema.Len())
	keyOf := make([]map[string]string, schema.Len()) // attr -> original key
	for k, v := range opts {
		if !strings.HasPrefix(k, optFields) {
			continue
		}
		rest := k[len(optFields):]
		dot := strings.LastIndexByte(rest, '.')
		if dot <= 0 {
			return nil, errf(k, "expected 'fields.<column>.<option>'")
		}
		colName, attr := rest[:dot], rest[dot+1:]
		i := schema.Index(colName)
		if i < 0 {
			msg := fmt.Sprintf("unknown column %q in 'fields.%s.%s'", colName, colName, attr)
			if s := suggest.Closest(colName, schema.Names()); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			return nil, &connectors.OptionError{Key: k, Column: colName, Msg: msg}
		}
		known := false
		for _, a := range fieldAttrs {
			known = known || a == attr
		}
		if !known {
			msg := fmt.Sprintf("unknown field option %q (expected one of %s)", attr, strings.Join(fieldAttrs, ", "))
			if s := suggest.Closest(attr, fieldAttrs); s != "" {
				msg = fmt.Sprintf("unknown field option %q; did you mean %q?", attr, s)
			}
			return nil, errf(k, "%s", msg)
		}
		if attrs[i] == nil {
			attrs[i], keyOf[i] = map[string]string{}, map[string]string{}
		}
		if prev, dup := keyOf[i][attr]; dup {
			return nil, errf(k, "duplicates option %q", prev)
		}
		attrs[i][attr], keyOf[i][attr] = v, k
	}

	for i, f := range schema.Fields {
		col, err := parseColumn(c, f, attrs[i], keyOf[i])
		if err != nil {
			return nil, err
		}
		col.vseed = mix(c.seed ^ mix(uint64(i)*2+1))
		col.nseed = mix(c.seed ^ mix(uint64(i)*2+2))
		if col.kind == kindSequence && col.end != math.MaxInt64 {
			n := col.end - col.start + 1
			if c.total < 0 || n < c.total {
				c.total = n
			}
		}
		c.cols = append(c.cols, col)
	}
	return c, nil
}

func parseColumn(c *config, f types.Field, attrs, keys map[string]string) (column, error) {
	col := column{name: f.Name, typ: f.Type, end: math.MaxInt64, length: 100}
	key := func(attr string) string {
		if k, ok := keys[attr]; ok {
			return k
		}
		return "fields." + f.Name + "." + attr
	}
	has := func(attr string) bool { _, ok := attrs[attr]; return ok }
	only := func(attr, what string) error {
		return errf(key(attr), "applies only to %s, but column %q is %s", what, f.Name, f.Type)
	}
	t := f.Type
	switch t.Kind {
	case types.Boolean, types.Int, types.BigInt, types.Float, types.Double, types.Decimal,
		types.String, types.Timestamp, types.TimestampLTZ, types.Interval:
	default:
		return col, &connectors.OptionError{Column: f.Name, Msg: fmt.Sprintf("datagen cannot generate values of type %s", t)}
	}

	// kind
	if t.IsTemporal() {
		col.kind = kindEventTime
	}
	if v, ok := attrs["kind"]; ok {
		switch k := strings.ToLower(strings.TrimSpace(v)); {
		case k == "random" && !t.IsTemporal():
			col.kind = kindRandom
		case k == "sequence" && t.IsTemporal():
			col.kind = kindEventTime
		case k == "sequence" && t.Kind != types.Boolean:
			col.kind = kindSequence
		case k == "now" && t.IsTemporal():
			col.kind = kindNow
		case t.IsTemporal():
			return col, errf(key("kind"), "expected 'sequence' (event time) or 'now' for %s column %q, got %q", t, f.Name, v)
		case t.Kind == types.Boolean:
			return col, errf(key("kind"), "expected 'random' for BOOLEAN column %q, got %q", f.Name, v)
		default:
			return col, errf(key("kind"), "expected 'random' or 'sequence', got %q", v)
		}
	}

	// null-rate
	if v, ok := attrs["null-rate"]; ok {
		r, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || r < 0 || r > 1 || math.IsNaN(r) {
			return col, errf(key("null-rate"), "expected a number between 0 and 1, got %q", v)
		}
		if r > 0 && t.NotNull {
			return col, errf(key("null-rate"), "column %q is NOT NULL", f.Name)
		}
		col.nullRate = r
		if r >= 1 {
			col.nullBelow = math.MaxUint64
		} else {
			col.nullBelow = uint64(r * (1 << 63) * 2)
		}
	}

	// min / max
	numeric := t.IsNumeric() || t.Kind == types.Interval
	if (has("min") || has("max")) && (!numeric || col.kind != kindRandom) {
		a := "min"
		if !has("min") {
			a = "max"
		}
		if !numeric {
			return col, only(a, "numeric columns")
		}
		return col, errf(key(a), "applies only to kind 'random'")
	}
	switch t.Kind {
	case types.Int:
		col.min, col.max = math.MinInt32, math.MaxInt32
	case types.BigInt:
		col.min, col.max = math.MinInt64, math.MaxInt64
	case types.Interval:
		col.min, col.max = 0, 86400000-1
	case types.Float, types.Double:
		col.fmin, col.fmax = 0, 1
	case types.Decimal:
		col.min, col.max = 0, math.MaxInt64
		if t.Precision < 19 {
			col.max = pow10(t.Precision) - 1
		}
	}
	for _, a := range []string{"min", "max"} {
		v, ok := attrs[a]
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		var n int64
		var fl float64
		var err error
		switch t.Kind {
		case types.Int:
			n, err = strconv.ParseInt(v, 10, 32)
		case types.BigInt:
			n, err = strconv.ParseInt(v, 10, 64)
		case types.Interval:
			n, err = types.ParseInterval(v)
		case types.Float, types.Double:
			fl, err = strconv.ParseFloat(v, 64)
			if err == nil && (math.IsNaN(fl) || math.IsInf(fl, 0)) {
				err = fmt.Errorf("not finite")
			}
		case types.Decimal:
			var d decimal128.Num
			d, err = decimal128.FromString(v, int32(t.Precision), int32(t.Scale))
			if err == nil && !fitsInt64(d) {
				err = fmt.Errorf("out of range")
			}
			n = int64(d.LowBits())
		}
		if err != nil {
			return col, errf(key(a), "expected a value of type %s, got %q", t.Nullable(), v)
		}
		if a == "min" {
			col.min, col.fmin = n, fl
		} else {
			col.max, col.fmax = n, fl
		}
	}
	if col.min > col.max || col.fmin > col.fmax {
		return col, errf(key("min"), "min is greater than max")
	}

	// length
	if v, ok := attrs["length"]; ok {
		if t.Kind != types.String {
			return col, only("length", "STRING columns")
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 || n > 1<<20 {
			return col, errf(key("length"), "expected a non-negative integer, got %q", v)
		}
		col.length = n
	}

	// start / end
	if t.IsTemporal() {
		if has("end") {
			return col, errf(key("end"), "does not apply to %s column %q (event time is unbounded; use 'number-of-rows')", t, f.Name)
		}
		col.start = defaultEventTimeStart
		if v, ok := attrs["start"]; ok {
			if col.kind != kindEventTime {
				return col, errf(key("start"), "applies only to kind 'sequence'")
			}
			v = strings.TrimSpace(v)
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				col.start = n
			} else if ms, err := types.ParseTimestamp(v); err == nil {
				col.start = ms
			} else {
				return col, errf(key("start"), "expected a timestamp ('2024-01-01 00:00:00') or epoch milliseconds, got %q", v)
			}
		}
		col.stepNum, col.stepDen = 1, 1
		if c.rate > 0 {
			col.stepNum, col.stepDen = 1000, c.rate
		}
		if v, ok := attrs["step"]; ok {
			if col.kind != kindEventTime {
				return col, errf(key("step"), "applies only to kind 'sequence'")
			}
			ms, err := types.ParseInterval(v)
			if err != nil || ms < 0 {
				return col, errf(key("step"), "expected a non-negative interval such as '1 ms' or '10 s', got %q", v)
			}
			col.stepNum, col.stepDen = ms, 1
		}
		if v, ok := attrs["max-out-of-orderness"]; ok {
			if col.kind != kindEventTime {
				return col, errf(key("max-out-of-orderness"), "applies only to kind 'sequence'")
			}
			ms, err := types.ParseInterval(v)
			if err != nil || ms < 0 {
				return col, errf(key("max-out-of-orderness"), "expected a non-negative number of milliseconds or an interval, got %q", v)
			}
			col.ooo = ms
		}
		return col, nil
	}
	for _, a := range []string{"step", "max-out-of-orderness"} {
		if has(a) {
			return col, only(a, "TIMESTAMP columns")
		}
	}
	if (has("start") || has("end")) && col.kind != kindSequence {
		a := "start"
		if !has("start") {
			a = "end"
		}
		return col, errf(key(a), "applies only to kind 'sequence' (set 'fields.%s.kind' = 'sequence')", f.Name)
	}
	if col.kind == kindSequence {
		for _, a := range []string{"start", "end"} {
			v, ok := attrs[a]
			if !ok {
				continue
			}
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return col, errf(key(a), "expected an integer, got %q", v)
			}
			if a == "start" {
				col.start = n
			} else {
				col.end = n
			}
		}
		if col.end < col.start {
			return col, errf(key("end"), "end %d is less than start %d", col.end, col.start)
		}
		if col.end-col.start < 0 { // overflow: treat as unbounded
			col.end = math.MaxInt64
		}
		var lo, hi int64 = math.MinInt64, math.MaxInt64
		if t.Kind == types.Int {
			lo, hi = math.MinInt32, math.MaxInt32
		}
		if t.Kind == types.Decimal && t.Precision-t.Scale < 19 {
			hi = pow10(t.Precision-t.Scale) - 1
			lo = -hi
		}
		if col.start < lo || col.start > hi {
			return col, errf(key("start"), "%d is out of range for %s", col.start, t.Nullable())
		}
		if col.end != math.MaxInt64 && col.end > hi {
			return col, errf(key("end"), "%d is out of range for %s", col.end, t.Nullable())
		}
	}
	return col, nil
}

func pow10(n int) int64 {
	v := int64(1)
	for i := 0; i < n && i < 18; i++ {
		v *= 10
	}
	return v
}

func fitsInt64(d decimal128.Num) bool {
	return d.HighBits() == 0 && d.LowBits() <= math.MaxInt64 ||
		d.HighBits() == -1 && d.LowBits() > math.MaxInt64
}
