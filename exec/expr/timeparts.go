package expr

import (
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/types"
)

// timePartFuncs are the functions that take a field of a timestamp, in
// UTC, as BIGINT: YEAR(ts), MONTH, DAYOFMONTH, HOUR, MINUTE, SECOND, and
// DAYOFWEEK (1 for Sunday to 7 for Saturday), DAYOFYEAR (1 to 366),
// QUARTER (1 to 4) and WEEK (the ISO 8601 week of the year, 1 to 53).
var timePartFuncs = map[string]func(t time.Time) int64{
	"YEAR":       func(t time.Time) int64 { return int64(t.Year()) },
	"MONTH":      func(t time.Time) int64 { return int64(t.Month()) },
	"DAYOFMONTH": func(t time.Time) int64 { return int64(t.Day()) },
	"HOUR":       func(t time.Time) int64 { return int64(t.Hour()) },
	"MINUTE":     func(t time.Time) int64 { return int64(t.Minute()) },
	"SECOND":     func(t time.Time) int64 { return int64(t.Second()) },
	"DAYOFWEEK":  func(t time.Time) int64 { return int64(t.Weekday()) + 1 },
	"DAYOFYEAR":  func(t time.Time) int64 { return int64(t.YearDay()) },
	"QUARTER":    func(t time.Time) int64 { return (int64(t.Month())-1)/3 + 1 },
	"WEEK": func(t time.Time) int64 {
		_, w := t.ISOWeek()
		return int64(w)
	},
}

// timePart evaluates one of timePartFuncs.
type timePart struct {
	arg   Evaluator
	part  func(time.Time) int64
	t     types.Type
	alloc memory.Allocator
}

func (e *timePart) Type() types.Type      { return e.t }
func (e *timePart) operands() []Evaluator { return []Evaluator{e.arg} }

// Eval implements Evaluator.
func (e *timePart) Eval(rec arrow.Record) (arrow.Array, error) {
	a, err := e.arg.Eval(rec)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	valid, nulls := copyValidity(e.alloc, a)
	buf, out := newFixed[int64](e.alloc, a.Len())
	in := fixedValues[int64](a)[:len(out)]
	for i, ms := range in {
		out[i] = e.part(time.UnixMilli(ms).UTC())
	}
	return makeArray(arrow.PrimitiveTypes.Int64, a.Len(), nulls, valid, buf), nil
}
