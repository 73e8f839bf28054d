package format

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// Decoder decodes text records, one per call, into Arrow builders for a
// schema, and hands out the rows decoded so far as a record batch.
//
// Decode is all or nothing: a record that fails to decode appends nothing,
// so the caller may skip it (see IgnoreParseErrors) and go on. A Decoder is
// not safe for concurrent use.
type Decoder struct {
	cfg    config
	schema types.Schema
	bld    *array.RecordBuilder
	cols   []colDec
	rows   int

	// exact maps column names to indexes, for JSON keys.
	exact map[string]int
	next  int // the column expected next in a JSON object

	slots []slot
	arena []byte // unescaped strings of the current record
	scan  scanner
	csv   []csvField

	ev eventTimeCheck

	// debezium-json: the kind of each row (see exec/rowkind.go), whether
	// the batch holds any row that is not an insert, and the slots of an
	// update's second image.
	kinds   *array.Int8Builder
	changes bool
	slots2  []slot
}

// eventTimeCheck is the check of the event-time column (see CheckEventTime).
type eventTimeCheck struct {
	col       int   // -1: none
	maxFuture int64 // ms; 0: no bound
	now       func() time.Time
	limit     int64 // latest event time accepted, refreshed at each batch
}

// colDec is one column: its name, type and builder.
type colDec struct {
	name string
	typ  types.Type
	b    array.Builder
	// zone, for a TIMESTAMP_LTZ column, is the zone its zone-less text is
	// local time in (SetZone); nil is UTC.
	zone *types.Zone
}

// slot holds the decoded value of one column of the current record until
// the whole record is known to be good.
type slot struct {
	state   uint8 // slotMissing, slotNull or slotValue
	inArena bool  // the string is arena[s0:s1], else line[s0:s1]
	folded  bool  // JSON: set by a key that matched the name case-insensitively
	b       bool
	i       int64
	f       float64
	d       decimal128.Num
	s0, s1  int
}

const (
	slotMissing uint8 = iota
	slotNull
	slotValue
)

// NewDecoder returns a decoder of records in format ("json", "csv" or
// "debezium-json"; ""
// means opts['format']) for schema, configured by the format options in
// opts. Arrays are allocated with alloc (memory.DefaultAllocator if nil).
func NewDecoder(format string, schema types.Schema, opts map[string]string, alloc memory.Allocator) (*Decoder, error) {
	cfg, err := parseConfig(format, opts)
	if err != nil {
		return nil, err
	}
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	d := &Decoder{cfg: cfg, schema: schema, exact: map[string]int{}, ev: eventTimeCheck{col: -1}}
	for _, f := range schema.Fields {
		switch f.Type.Kind {
		case types.Boolean, types.Int, types.BigInt, types.Float, types.Double, types.Decimal,
			types.String, types.Timestamp, types.TimestampLTZ, types.Interval:
		default:
			return nil, fmt.Errorf("format: column %q: cannot decode values of type %s", f.Name, f.Type)
		}
	}
	d.bld = array.NewRecordBuilder(alloc, schema.Arrow())
	for i, f := range schema.Fields {
		d.cols = append(d.cols, colDec{name: f.Name, typ: f.Type, b: d.bld.Field(i)})
		if _, dup := d.exact[f.Name]; !dup {
			d.exact[f.Name] = i
		}
	}
	d.slots = make([]slot, len(d.cols))
	if cfg.format == DebeziumJSON {
		d.kinds = array.NewInt8Builder(alloc)
		d.slots2 = make([]slot, len(d.cols))
	}
	return d, nil
}

// CheckEventTime makes column col (of the decoder's schema, a TIMESTAMP)
// the rows' event time: a record whose value there is NULL or missing is
// malformed, and so, when maxFuture is positive, is one whose event time
// lies more than maxFuture after now() (read once per batch). Decode
// returns such a record's error like any other, naming the column.
func (d *Decoder) CheckEventTime(col int, maxFuture time.Duration, now func() time.Time) error {
	if col < 0 || col >= len(d.cols) || !d.cols[col].typ.IsTemporal() {
		return fmt.Errorf("format: event-time column #%d is not a timestamp column of %s", col, d.schema)
	}
	if maxFuture > 0 && now == nil {
		return errors.New("format: an event-time bound needs a clock")
	}
	d.ev = eventTimeCheck{col: col, maxFuture: maxFuture.Milliseconds(), now: now}
	return nil
}

// checkEventTime applies the event-time check to the current record.
func (d *Decoder) checkEventTime() error {
	c, s := &d.cols[d.ev.col], &d.slots[d.ev.col]
	switch s.state {
	case slotMissing:
		return fmt.Errorf("field %q is missing: a row needs an event time (the table's WATERMARK is on it)", c.name)
	case slotNull:
		return fmt.Errorf("field %q is NULL: a row needs an event time (the table's WATERMARK is on it)", c.name)
	}
	if d.ev.maxFuture <= 0 {
		return nil
	}
	if d.rows == 0 || d.ev.limit == 0 {
		now := d.ev.now().UnixMilli()
		d.ev.limit = now + d.ev.maxFuture
		if d.ev.limit < now { // overflow
			d.ev.limit = math.MaxInt64
		}
	}
	if s.i > d.ev.limit {
		return fmt.Errorf("field %q: event time %s lies more than %s ahead of the wall clock (%s), beyond 'scan.watermark.max-future'",
			c.name, types.FormatTimestamp(s.i), time.Duration(d.ev.maxFuture)*time.Millisecond, types.FormatTimestamp(d.ev.limit-d.ev.maxFuture))
	}
	return nil
}

// IgnoreParseErrors reports whether the options ask to skip malformed
// records ('json.ignore-parse-errors', 'csv.ignore-parse-errors' or
// 'debezium-json.ignore-parse-errors'). The
// decoder returns their errors either way; the caller applies the policy.
func (d *Decoder) IgnoreParseErrors() bool { return d.cfg.ignoreErrors }

// Format returns the decoder's format, "json", "csv" or "debezium-json".
func (d *Decoder) Format() string { return d.cfg.format }

// Len returns the number of rows decoded since the last NewRecord.
func (d *Decoder) Len() int { return d.rows }

// NewRecord returns the rows decoded so far as a record batch, owned by the
// caller, and starts a new one.
func (d *Decoder) NewRecord() arrow.Record {
	d.rows = 0
	rec := d.bld.NewRecord()
	if d.kinds == nil {
		return rec
	}
	kinds := d.kinds.NewInt8Array()
	changes := d.changes
	d.changes = false
	if !changes { // all inserts: no kind column (exec/rowkind.go)
		kinds.Release()
		return rec
	}
	out := exec.WithRowKinds(rec, kinds)
	rec.Release()
	kinds.Release()
	return out
}

// Release releases the builders, dropping any rows not yet taken.
func (d *Decoder) Release() {
	d.bld.Release()
	if d.kinds != nil {
		d.kinds.Release()
	}
}

// Decode decodes one record — a JSON object or a CSV line, without its line
// terminator — and appends it as a row. It appends nothing and returns an
// error naming the field at fault for a malformed record. A CSV comment line
// (with 'csv.allow-comments') appends nothing and returns nil.
func (d *Decoder) Decode(line []byte) error {
	for i := range d.slots {
		d.slots[i].state = slotMissing
	}
	d.arena = d.arena[:0]
	var err error
	switch d.cfg.format {
	case JSON:
		err = d.decodeJSON(line)
	case DebeziumJSON:
		return d.decodeDebezium(line)
	default:
		var skip bool
		skip, err = d.decodeCSV(line)
		if skip {
			return nil
		}
	}
	if err != nil {
		return err
	}
	if err := d.checkRow(); err != nil {
		return err
	}
	d.appendRow(d.slots, line)
	return nil
}

// checkRow checks the decoded slots of the current record against the
// schema's constraints.
func (d *Decoder) checkRow() error {
	for i := range d.cols {
		c := &d.cols[i]
		s := &d.slots[i]
		if s.state == slotMissing && d.cfg.failOnMissing {
			return fmt.Errorf("field %q is missing", c.name)
		}
		if s.state != slotValue && c.typ.NotNull {
			return fmt.Errorf("field %q: NULL for a NOT NULL column", c.name)
		}
	}
	if d.ev.col >= 0 {
		if err := d.checkEventTime(); err != nil {
			return err
		}
	}
	return nil
}

// appendRow appends the checked slots, whose text lies in line (or the
// arena), as a row.
func (d *Decoder) appendRow(slots []slot, line []byte) {
	for i := range d.cols {
		d.appendSlot(&d.cols[i], &slots[i], line)
	}
	d.rows++
}

func (d *Decoder) appendSlot(c *colDec, s *slot, line []byte) {
	if s.state != slotValue {
		c.b.AppendNull()
		return
	}
	switch c.typ.Kind {
	case types.Boolean:
		c.b.(*array.BooleanBuilder).Append(s.b)
	case types.Int:
		c.b.(*array.Int32Builder).Append(int32(s.i))
	case types.BigInt:
		c.b.(*array.Int64Builder).Append(s.i)
	case types.Float:
		c.b.(*array.Float32Builder).Append(float32(s.f))
	case types.Double:
		c.b.(*array.Float64Builder).Append(s.f)
	case types.Decimal:
		c.b.(*array.Decimal128Builder).Append(s.d)
	case types.String:
		src := line
		if s.inArena {
			src = d.arena
		}
		c.b.(*array.StringBuilder).BinaryBuilder.Append(src[s.s0:s.s1])
	case types.Timestamp, types.TimestampLTZ:
		c.b.(*array.TimestampBuilder).Append(arrow.Timestamp(s.i))
	case types.Interval:
		c.b.(*array.DurationBuilder).Append(arrow.Duration(s.i))
	}
}

// SetZone sets the session time zone ('table.local-time-zone') in which
// the text of a TIMESTAMP_LTZ value without a zone is read, as Flink's JSON
// and CSV formats read it: "2026-03-08 02:30:00" is that local time there;
// text with Z or an offset ("…T10:00:00Z", "…+08:00") and epoch
// milliseconds are instants and keep them. The encoder writes LTZ values
// as local times in the zone (see the sink's plan.Sink.Zone), so what a
// sink wrote in a zone reads back the same in that zone. Nil (the
// default) is UTC. Call it before Decode.
func (d *Decoder) SetZone(z *types.Zone) {
	if z.IsUTC() {
		z = nil
	}
	for i := range d.cols {
		if d.cols[i].typ.Kind == types.TimestampLTZ {
			d.cols[i].zone = z
		}
	}
}

// Value conversion. Each sets slot s of column c from one JSON token or
// CSV field, or returns an error naming the field.

func typeErr(c *colDec, what string, text []byte) error {
	if len(text) > 64 {
		text = append(text[:61:61], "..."...)
	}
	return fmt.Errorf("field %q: expected %s, got %s", c.name, what, text)
}

func expected(t types.Type) string {
	switch t.Kind {
	case types.Boolean:
		return "a BOOLEAN"
	case types.Int, types.BigInt:
		return "an integer (" + t.Nullable().String() + ")"
	case types.Float, types.Double:
		return "a number (" + t.Nullable().String() + ")"
	case types.Decimal:
		return "a number (" + t.Nullable().String() + ")"
	case types.Timestamp, types.TimestampLTZ:
		return "a timestamp"
	case types.Interval:
		return "an interval in milliseconds"
	}
	return "a " + t.String()
}

// setNumber sets s from the text of a JSON number (or a number in a
// string, or a CSV field).
func setNumber(c *colDec, s *slot, text []byte, quoted bool) error {
	s.state = slotValue
	switch c.typ.Kind {
	case types.Int, types.BigInt, types.Interval:
		v, ok := parseInt(text)
		if !ok || c.typ.Kind == types.Int && (v < math.MinInt32 || v > math.MaxInt32) {
			return typeErr(c, expected(c.typ), quote(text, quoted))
		}
		s.i = v
	case types.Float, types.Double:
		v, err := strconv.ParseFloat(unsafeString(text), 64)
		if err != nil {
			switch string(text) {
			case "NaN":
				v = math.NaN()
			case "Infinity", "+Infinity":
				v = math.Inf(1)
			case "-Infinity":
				v = math.Inf(-1)
			default:
				return typeErr(c, expected(c.typ), quote(text, quoted))
			}
		}
		if c.typ.Kind == types.Float && !math.IsInf(v, 0) && math.Abs(v) > math.MaxFloat32 {
			return typeErr(c, expected(c.typ), quote(text, quoted))
		}
		s.f = v
	case types.Decimal:
		v, err := parseDecimal(text, int32(c.typ.Precision), int32(c.typ.Scale))
		if err != nil {
			return fmt.Errorf("field %q: %s %s for %s", c.name, err, quote(text, quoted), c.typ.Nullable())
		}
		s.d = v
	case types.Timestamp, types.TimestampLTZ:
		// Epoch milliseconds first: a failed timestamp parse allocates its
		// error, and no text is both.
		if v, ok := parseInt(text); ok {
			s.i = v
			return nil
		}
		if !quoted {
			return typeErr(c, "a timestamp string or epoch milliseconds", quote(text, quoted))
		}
		v, err := types.ParseLocalTimestampBytes(text, c.zone)
		if err != nil {
			return fmt.Errorf("field %q: %w", c.name, err)
		}
		s.i = v
	case types.Boolean:
		switch {
		case equalFoldBytes(text, "true"):
			s.b = true
		case equalFoldBytes(text, "false"):
			s.b = false
		default:
			return typeErr(c, expected(c.typ), quote(text, quoted))
		}
	default:
		panic("format: setNumber of " + c.typ.String())
	}
	return nil
}

func quote(text []byte, quoted bool) []byte {
	if !quoted {
		return text
	}
	return strconv.AppendQuote(nil, unsafeString(text))
}

func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func equalFoldBytes(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// parseInt parses an optionally signed decimal integer.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	neg := false
	switch b[0] {
	case '-':
		neg = true
		b = b[1:]
	case '+':
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

type decimalError string

func (e decimalError) Error() string { return string(e) }

// parseDecimal parses a decimal number, rounding half up to scale fraction
// digits, and fails when the result needs more than prec digits.
func parseDecimal(b []byte, prec, scale int32) (decimal128.Num, error) {
	const bad = decimalError("expected a decimal number, got")
	const overflow = decimalError("out of range:")
	orig := b
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	var v uint64
	nd := 0 // significant digits accumulated
	frac := int32(0)
	seenDot, any := false, false
	roundUp, dropped := false, 0
	i := 0
	for ; i < len(b); i++ {
		c := b[i]
		if c == '.' {
			if seenDot {
				return decimal128.Num{}, bad
			}
			seenDot = true
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		any = true
		if seenDot && frac == scale {
			// Beyond the scale: the first dropped digit decides rounding.
			if dropped == 0 && c >= '5' {
				roundUp = true
			}
			dropped++
			continue
		}
		if nd >= 18 {
			return slowDecimal(orig, prec, scale)
		}
		v = v*10 + uint64(c-'0')
		if v != 0 {
			nd++
		}
		if seenDot {
			frac++
		}
	}
	if !any {
		return decimal128.Num{}, bad
	}
	if i < len(b) {
		if b[i] == 'e' || b[i] == 'E' {
			return slowDecimal(orig, prec, scale)
		}
		return decimal128.Num{}, bad
	}
	if int32(nd)+scale-frac > prec {
		return decimal128.Num{}, overflow
	}
	n := decimal128.FromU64(v)
	if frac < scale {
		n = n.IncreaseScaleBy(scale - frac)
	}
	if roundUp {
		n = n.Add(decimal128.FromU64(1))
	}
	if !n.FitsInPrecision(prec) {
		return decimal128.Num{}, overflow
	}
	if neg {
		n = n.Negate()
	}
	return n, nil
}

// slowDecimal parses through arrow's decimal parser, for long numbers and
// exponents.
func slowDecimal(b []byte, prec, scale int32) (decimal128.Num, error) {
	n, err := decimal128.FromString(string(b), prec, scale)
	if err != nil {
		return decimal128.Num{}, decimalError("expected a decimal number in range, got")
	}
	return n, nil
}
