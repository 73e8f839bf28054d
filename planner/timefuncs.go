package planner

import (
	"fmt"
	"strings"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// The time functions whose result depends on the session time zone or the
// processing time, planned as compositions of casts (whose zone applyZone
// sets) and NOW(), the processing time of the batch (as PROCTIME() is, but
// never a time attribute). Their types are Flink's: CURRENT_TIMESTAMP,
// NOW() and CURRENT_ROW_TIMESTAMP() are TIMESTAMP_LTZ(3), LOCALTIMESTAMP is
// TIMESTAMP(3), all NOT NULL and evaluated per row (per batch here), as in
// Flink's streaming mode.

// timeFunc plans a call of a time function from its bound arguments.
type timeFunc struct {
	min, max int
	plan     func(args []plan.Expr) (plan.Expr, error)
}

var timeFuncs = map[string]timeFunc{
	"NOW":                   {0, 0, func([]plan.Expr) (plan.Expr, error) { return now(), nil }},
	"CURRENT_ROW_TIMESTAMP": {0, 0, func([]plan.Expr) (plan.Expr, error) { return now(), nil }},
	"TO_TIMESTAMP_LTZ":      {2, 2, toTimestampLTZ},
}

// now is the processing time, a TIMESTAMP_LTZ(3) NOT NULL.
func now() plan.Expr { return &plan.Call{Func: "NOW", T: types.LTZType.WithNotNull(true)} }

// timeKeyword plans the niladic time functions written without
// parentheses (an unquoted, unqualified name that is no column).
func timeKeyword(c *parser.ColumnExpr) (plan.Expr, bool, error) {
	if c.Table != "" || c.Name.Quoted {
		return nil, false, nil
	}
	switch n := strings.ToUpper(c.Name.Name); n {
	case "CURRENT_TIMESTAMP":
		return now(), true, nil
	case "LOCALTIMESTAMP":
		return &plan.Cast{Arg: now(), T: types.TimestampType.WithNotNull(true)}, true, nil
	case "CURRENT_DATE", "CURRENT_TIME", "LOCALTIME":
		return nil, true, errorf(c.Pos, "%s is of type %s, which is not supported yet; use DATE_FORMAT(CURRENT_TIMESTAMP, '%s') or LOCALTIMESTAMP", n, map[bool]string{true: "DATE", false: "TIME"}[n == "CURRENT_DATE"], map[bool]string{true: "yyyy-MM-dd", false: "HH:mm:ss"}[n == "CURRENT_DATE"])
	}
	return nil, false, nil
}

// toTimestampLTZ is TO_TIMESTAMP_LTZ(epoch, precision): epoch seconds
// (precision 0) or milliseconds (3) as a TIMESTAMP_LTZ(3).
func toTimestampLTZ(args []plan.Expr) (plan.Expr, error) {
	x, p := args[0], args[1]
	l, ok := p.(*plan.Literal)
	prec, isInt := int64(0), false
	if ok {
		prec, isInt = l.Value.(int64)
	}
	if !ok || !isInt || !l.T.IsInteger() || prec != 0 && prec != 3 {
		return nil, fmt.Errorf("argument 2 must be the precision 0 (epoch seconds) or 3 (epoch milliseconds), as an integer literal")
	}
	if k := x.Type().Kind; k != types.Null && !x.Type().IsInteger() {
		return nil, fmt.Errorf("argument 1 must be an integer (epoch seconds or milliseconds), got %s", x.Type())
	}
	x = coerce(x, types.BigIntType)
	if prec == 0 {
		x = &plan.Call{Func: "*", Args: []plan.Expr{x, &plan.Literal{Value: int64(1000), T: types.BigIntType.WithNotNull(true)}}, T: x.Type()}
	}
	return coerce(x, types.LTZType), nil
}

// bindTimeFunc binds a call of a time function.
func (s *scope) bindTimeFunc(e *parser.FuncCall, f timeFunc) (plan.Expr, error) {
	if e.Star || e.Distinct {
		return nil, errorf(e.Pos, "%s does not take * or DISTINCT", e.Name)
	}
	if len(e.Args) < f.min || len(e.Args) > f.max {
		return nil, errorf(e.Pos, "%s takes %d arguments, got %d", e.Name, f.max, len(e.Args))
	}
	args := make([]plan.Expr, len(e.Args))
	for i, a := range e.Args {
		b, err := s.bind(a)
		if err != nil {
			return nil, err
		}
		args[i] = b
	}
	out, err := f.plan(args)
	if err != nil {
		return nil, errorf(e.Pos, "%s: %v", e.Name, err)
	}
	return out, nil
}

// floorUnits are the units of FLOOR(ts TO unit) and CEIL(ts TO unit), in
// ms.
var floorUnits = map[string]int64{"MILLISECOND": 1, "SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}

// bindFloorTo binds FLOOR(ts TO unit) and CEIL(ts TO unit): ts rounded
// down (up) to a whole unit, of ts's type. A TIMESTAMP_LTZ is rounded in
// the session zone (its local time is rounded, then seen as an instant
// again), so FLOOR(ltz TO DAY) is local midnight.
func (s *scope) bindFloorTo(e *parser.FuncCall) (plan.Expr, error) {
	unit, ok := floorUnits[e.TimeUnit]
	if !ok {
		return nil, errorf(e.Pos, "%s(… TO %s): unsupported unit; one of SECOND, MINUTE, HOUR, DAY", e.Name, e.TimeUnit)
	}
	if len(e.Args) != 1 || e.Star || e.Distinct {
		return nil, errorf(e.Pos, "%s(ts TO %s) takes one timestamp", e.Name, e.TimeUnit)
	}
	x, err := s.bind(e.Args[0])
	if err != nil {
		return nil, err
	}
	t := x.Type()
	if !t.IsTemporal() {
		return nil, errorf(e.Args[0].Position(), "%s(… TO %s): argument must be a TIMESTAMP or TIMESTAMP_LTZ, got %s", e.Name, e.TimeUnit, t)
	}
	local := coerce(x, types.TimestampType)
	lt := local.Type()
	if e.Name != "FLOOR" && unit > 1 {
		local = &plan.Call{Func: "+", Args: []plan.Expr{local, &plan.Literal{Value: unit - 1, T: types.IntervalType.WithNotNull(true)}}, T: lt}
	}
	var out plan.Expr = &plan.Call{Func: "FLOOR_TS", Args: []plan.Expr{local, &plan.Literal{Value: unit, T: types.BigIntType.WithNotNull(true)}}, T: lt}
	return coerce(out, t), nil
}
