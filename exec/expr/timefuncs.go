package expr

import (
	"fmt"
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/streamsql/streamsql/types"
)

// CompileDateTimePattern checks a constant pattern of DATE_FORMAT,
// FROM_UNIXTIME, TO_TIMESTAMP or UNIX_TIMESTAMP (parse: the pattern reads
// text), for the planner to refuse a bad one.
func CompileDateTimePattern(p string, parse bool) error {
	l, err := compileDateTime(p)
	if err == nil && parse {
		err = l.checkParsable(p)
	}
	return err
}

// layoutSource gives the compiled pattern of each row: the constant one,
// or the row's own, compiled again only when it differs from the previous
// row's (nil for a bad one: the row is NULL).
type layoutSource struct {
	fixed    dtLayout
	pats     *array.String
	parse    bool
	last     string
	lastL    dtLayout
	lastOK   bool
	compiled bool
}

func (s *layoutSource) at(i int) (dtLayout, bool) {
	if s.pats == nil {
		return s.fixed, true
	}
	p := s.pats.Value(i)
	if !s.compiled || p != s.last {
		l, err := compileDateTime(p)
		if err == nil && s.parse {
			err = l.checkParsable(p)
		}
		s.last, s.lastL, s.lastOK, s.compiled = p, l, err == nil, true
	}
	return s.lastL, s.lastOK
}

// compileDateTime builds DATE_FORMAT(ts, fmt), FROM_UNIXTIME(seconds[,
// fmt]), TO_TIMESTAMP(s[, fmt]) and UNIX_TIMESTAMP(s[, fmt]), in UTC.
func (c *compiler) compileDateTime(f string, args []Evaluator) (Evaluator, error) {
	parse := f == "TO_TIMESTAMP" || f == "UNIX_TIMESTAMP"
	var fixed dtLayout
	constant := len(args) == 1
	if len(args) == 1 {
		if f != "TO_TIMESTAMP" {
			var err error
			if fixed, err = compileDateTime(defaultDateTimePattern); err != nil {
				return nil, err
			}
		}
	} else if l := asConst(args[1]); l != nil && !l.null {
		p := l.proto.(*array.String).Value(0)
		if err := CompileDateTimePattern(p, parse); err != nil {
			return nil, fmt.Errorf("expr: %s: argument 2: %w", f, err)
		}
		fixed, _ = compileDateTime(p)
		constant = true
	}
	source := func(cols []arrow.Array) *layoutSource {
		if constant {
			return &layoutSource{fixed: fixed}
		}
		return &layoutSource{pats: strs(cols[1]), parse: parse}
	}
	ev := &rowFunc{name: f, args: args, alloc: c.alloc}
	switch f {
	case "DATE_FORMAT", "FROM_UNIXTIME":
		ev.t = strT
		ev.str = func(cols []arrow.Array) strRow {
			ts, ls := ints(cols[0]), source(cols)
			// With a constant pattern, rows in the same period (a
			// minute for 'HH:mm') give the same text: the last one is
			// copied rather than formatted again.
			var period, lastKey int64
			var last []byte
			if constant {
				period = ls.fixed.period()
				if f == "FROM_UNIXTIME" {
					period = max(period, 1000) // whole seconds
				}
			}
			return func(i int, dst []byte) ([]byte, bool, error) {
				l, ok := ls.at(i)
				if !ok {
					return dst, false, nil
				}
				ms := ts[i]
				if f == "FROM_UNIXTIME" {
					if ms > math.MaxInt64/1000 || ms < math.MinInt64/1000 {
						return dst, false, fmt.Errorf("%d seconds is out of the range of TIMESTAMP", ms)
					}
					ms *= 1000
				}
				if period == 0 {
					return l.appendFormat(dst, ms), true, nil
				}
				if k := floorDiv(ms, period); last == nil || k != lastKey {
					n := len(dst)
					dst = l.appendFormat(dst, ms)
					last, lastKey = append(last[:0], dst[n:]...), k
					return dst, true, nil
				}
				return append(dst, last...), true, nil
			}
		}
	default:
		ev.t = types.TimestampType
		if f == "UNIX_TIMESTAMP" {
			ev.t = i64T
		}
		ev.i64 = func(cols []arrow.Array) i64Row {
			s, ls := strs(cols[0]), source(cols)
			return func(i int) (int64, bool, error) {
				var ms int64
				var ok bool
				if len(cols) == 1 && f == "TO_TIMESTAMP" {
					v, err := types.ParseTimestamp(s.Value(i))
					ms, ok = v, err == nil
				} else if l, lok := ls.at(i); lok {
					ms, ok = l.parse(s.Value(i))
				}
				if f == "UNIX_TIMESTAMP" {
					if !ok {
						return math.MinInt64, true, nil // Flink's value for unparsable text
					}
					return floorDiv(ms, 1000), true, nil
				}
				return ms, ok, nil
			}
		}
	}
	return ev, nil
}

func floorDiv(a, b int64) int64 { return (a - floorMod(a, b)) / b }
