package planner

import (
	"fmt"

	"github.com/streamsql/streamsql/exec/expr"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// The signatures of the string, regular-expression and date-time functions
// of Flink that scalarFuncs binds; a constant pattern is checked here, so
// that a bad one is a planning error at the call.

type sigFunc = func([]plan.Expr) ([]plan.Expr, types.Type, error)

// constString returns the value of a STRING literal argument.
func constString(e plan.Expr) (string, bool) {
	l, ok := e.(*plan.Literal)
	if !ok {
		return "", false
	}
	s, ok := l.Value.(string)
	return s, ok
}

// withRegex checks the constant pattern at argument pat (0-based) and, if
// repl >= 0, the constant replacement at argument repl.
func withRegex(sig sigFunc, pat, repl int) sigFunc {
	return func(args []plan.Expr) ([]plan.Expr, types.Type, error) {
		args, t, err := sig(args)
		if err != nil {
			return args, t, err
		}
		p, ok := constString(args[pat])
		if !ok {
			return args, t, nil
		}
		re, err := expr.CompileRegex(p)
		if err != nil {
			return nil, t, fmt.Errorf("argument %d: %v", pat+1, err)
		}
		if repl >= 0 {
			if r, ok := constString(args[repl]); ok {
				if err := expr.CheckReplacement(re, r); err != nil {
					return nil, t, fmt.Errorf("argument %d: %v", repl+1, err)
				}
			}
		}
		if pat == 1 && len(args) == 3 && repl < 0 { // REGEXP_EXTRACT's group
			if l, ok := args[2].(*plan.Literal); ok && l.Value != nil {
				if g, ok := l.Value.(int64); ok && (g < 0 || g > int64(re.NumSubexp())) {
					return nil, t, fmt.Errorf("argument 3: group %d does not exist in %q (it has %d)", g, p, re.NumSubexp())
				}
			}
		}
		return args, t, nil
	}
}

// withPattern checks the constant date-time pattern at argument pat, if
// there is one; parse is for the functions that read text by it.
func withPattern(sig sigFunc, pat int, parse bool) sigFunc {
	return func(args []plan.Expr) ([]plan.Expr, types.Type, error) {
		args, t, err := sig(args)
		if err != nil || len(args) <= pat {
			return args, t, err
		}
		if p, ok := constString(args[pat]); ok {
			if err := expr.CompileDateTimePattern(p, parse); err != nil {
				return nil, t, fmt.Errorf("argument %d: %v", pat+1, err)
			}
		}
		return args, t, nil
	}
}

// dateFormatSig is DATE_FORMAT(ts, fmt): ts a timestamp, or a STRING read
// as one (NULL if it is not one, as in Flink).
func dateFormatSig(args []plan.Expr) ([]plan.Expr, types.Type, error) {
	if args[0].Type().Kind == types.String {
		args[0] = &plan.Cast{Arg: args[0], T: types.TimestampType, Safe: true}
	} else if k := args[0].Type().Kind; k != types.Null && !args[0].Type().IsTemporal() {
		return nil, types.Type{}, fmt.Errorf("argument 1 must be a TIMESTAMP or STRING, got %s", args[0].Type())
	} else if k == types.TimestampLTZ {
		args[0] = coerce(args[0], types.TimestampType) // in the session zone
	}
	if !implicitly(args[1].Type(), types.StringType) {
		return nil, types.Type{}, fmt.Errorf("argument 2 must be STRING, got %s", args[1].Type())
	}
	return args, types.StringType, nil
}

// nullIfSig is NULLIF(a, b): the common type, nullable.
func nullIfSig(args []plan.Expr) ([]plan.Expr, types.Type, error) {
	args, t, err := common(args)
	return args, t.Nullable(), err
}

// greatestSig is GREATEST and LEAST: the common type of orderable
// arguments, NOT NULL only if every argument is.
func greatestSig(args []plan.Expr) ([]plan.Expr, types.Type, error) {
	args, t, err := common(args)
	if err != nil {
		return args, t, err
	}
	if t.Kind == types.Boolean {
		return nil, t, fmt.Errorf("arguments must be numbers, strings or timestamps, got %s", t)
	}
	nn := true
	for _, a := range args {
		nn = nn && a.Type().NotNull
	}
	return args, t.WithNotNull(nn), nil
}

var (
	strOf    = types.StringType
	bigintOf = types.BigIntType
	tsOf     = types.TimestampType
)

// nullable makes the result of sig nullable: the function gives NULL for
// some non-NULL arguments (no match, a bad index, unparsable text).
func nullable(sig sigFunc) sigFunc {
	return func(args []plan.Expr) ([]plan.Expr, types.Type, error) {
		args, t, err := sig(args)
		return args, t.Nullable(), err
	}
}

// withMore returns base with moreScalarFuncs added.
func withMore(base map[string]scalarFunc) map[string]scalarFunc {
	for k, v := range moreScalarFuncs {
		base[k] = v
	}
	// Flink's other names.
	base["SUBSTR"] = base["SUBSTRING"]
	base["CHARACTER_LENGTH"] = base["CHAR_LENGTH"]
	return base
}

// moreScalarFuncs are merged into scalarFuncs.
var moreScalarFuncs = map[string]scalarFunc{
	"REGEXP":         {2, 2, nullable(withRegex(fixed(types.BooleanType, strOf), 1, -1))},
	"REGEXP_EXTRACT": {2, 3, nullable(withRegex(fixed(strOf, strOf, strOf, bigintOf), 1, -1))},
	"REGEXP_REPLACE": {3, 3, nullable(withRegex(fixed(strOf, strOf), 1, 2))},
	"SPLIT_INDEX":    {3, 3, nullable(fixed(strOf, strOf, strOf, bigintOf))},
	"CONCAT_WS":      {2, 64, fixed(strOf, strOf)},
	"LPAD":           {3, 3, nullable(fixed(strOf, strOf, bigintOf, strOf))},
	"RPAD":           {3, 3, nullable(fixed(strOf, strOf, bigintOf, strOf))},
	"INITCAP":        {1, 1, fixed(strOf, strOf)},
	"REVERSE":        {1, 1, fixed(strOf, strOf)},
	"REPEAT":         {2, 2, fixed(strOf, strOf, bigintOf)},
	"INSTR":          {2, 2, fixed(types.IntType, strOf)},
	"LOCATE":         {2, 3, fixed(types.IntType, strOf, strOf, bigintOf)},
	"LEFT":           {2, 2, fixed(strOf, strOf, bigintOf)},
	"RIGHT":          {2, 2, fixed(strOf, strOf, bigintOf)},
	"LTRIM":          {1, 2, fixed(strOf, strOf)},
	"RTRIM":          {1, 2, fixed(strOf, strOf)},
	"TRIM":           {1, 2, fixed(strOf, strOf)},
	"REPLACE":        {3, 3, fixed(strOf, strOf)},
	"MD5":            {1, 1, fixed(strOf, strOf)},
	"SHA1":           {1, 1, fixed(strOf, strOf)},
	"SHA256":         {1, 1, fixed(strOf, strOf)},
	"SHA512":         {1, 1, fixed(strOf, strOf)},
	"DATE_FORMAT":    {2, 2, nullable(withPattern(dateFormatSig, 1, false))},
	"FROM_UNIXTIME":  {1, 2, nullable(withPattern(fixed(strOf, bigintOf, strOf), 1, false))},
	"TO_TIMESTAMP":   {1, 2, nullable(withPattern(fixed(tsOf, strOf), 1, true))},
	"UNIX_TIMESTAMP": {1, 2, withPattern(fixed(bigintOf, strOf), 1, true)},
	"DAYOFWEEK":      {1, 1, fixed(bigintOf, tsOf)},
	"DAYOFYEAR":      {1, 1, fixed(bigintOf, tsOf)},
	"QUARTER":        {1, 1, fixed(bigintOf, tsOf)},
	"WEEK":           {1, 1, fixed(bigintOf, tsOf)},
	"NULLIF":         {2, 2, nullIfSig},
	// PROCTIME() is the processing time: a computed column declared with
	// it is a processing-time attribute (see Column.ProcTime).
	"PROCTIME": {0, 0, func(args []plan.Expr) ([]plan.Expr, types.Type, error) {
		return args, types.LTZType.WithNotNull(true), nil
	}},
	"GREATEST": {1, 64, greatestSig},
	"LEAST":    {1, 64, greatestSig},
}
