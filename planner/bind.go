package planner

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/streamsql/streamsql/internal/suggest"
	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// errorf returns a positioned SQL error.
func errorf(pos parser.Pos, format string, args ...any) error {
	return &parser.Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// scopeCol is a column visible to expressions.
type scopeCol struct {
	name  string
	table string // qualifier (table name or alias); "" when none
	t     types.Type
	// rowtime marks an event-time attribute (a column with a watermark),
	// usable as a window's DESCRIPTOR.
	rowtime bool
	// proctime marks a processing-time attribute (a PROCTIME() column),
	// usable as a window's DESCRIPTOR too; it is never also rowtime.
	proctime bool
	// notRowtime, when set, says why a column that looks like one is not
	// a time attribute (a UNION ALL whose terms do not all have one there).
	notRowtime string
	// expr, when set, is what the column stands for (a computed column
	// inlined into the watermark expression); otherwise the column is
	// input column index.
	expr  plan.Expr
	index int
	// window marks the virtual window_start/window_end/window_time columns
	// of a window TVF: they exist only once the window is planned.
	window bool
	// hidden columns are not expanded by * (a Top-N's rank number before
	// its select list names it).
	hidden bool
	// subquery, when set, is the scalar subquery, or the IN or EXISTS
	// predicate, whose value the (hidden) column is (scalarsubquery.go).
	subquery parser.Expr
}

// scope resolves names for expression binding.
type scope struct {
	cols  []scopeCol
	table string // the relation's name, for error messages
	// intercept, when set, is consulted first for every expression node
	// (aggregate context): it may bind the node itself (done true).
	intercept func(e parser.Expr) (b plan.Expr, done bool, err error)
	// what names the clause for "not allowed here" errors.
	what string
	// cat resolves user-defined functions; nil where none may be used.
	cat *Catalog
}

func (s *scope) resolve(c *parser.ColumnExpr) (*scopeCol, error) {
	var found *scopeCol
	for i := range s.cols {
		sc := &s.cols[i]
		if c.Table != "" && !strings.EqualFold(c.Table, sc.table) {
			continue
		}
		if sc.name == c.Name.Name || !c.Name.Quoted && strings.EqualFold(sc.name, c.Name.Name) {
			if found != nil && found.name == sc.name && found.table != sc.table {
				return nil, errorf(c.Pos, "column %q is ambiguous", c.Name.Name)
			}
			if found == nil {
				found = sc
			}
		}
	}
	if found != nil {
		return found, nil
	}
	if c.Table != "" {
		known := false
		for _, sc := range s.cols {
			if strings.EqualFold(c.Table, sc.table) {
				known = true
			}
		}
		if !known {
			return nil, errorf(c.Pos, "unknown table or alias %q", c.Table)
		}
	}
	var names []string
	for _, sc := range s.cols {
		names = append(names, sc.name)
	}
	msg := fmt.Sprintf("unknown column %q", c.Name.Name)
	if s.table != "" {
		msg += " in " + s.table
	}
	if hint := suggest.Closest(c.Name.Name, names); hint != "" {
		msg += fmt.Sprintf("; did you mean %q?", hint)
	} else if len(names) > 0 && len(names) <= 12 {
		msg += " (columns: " + strings.Join(names, ", ") + ")"
	}
	return nil, errorf(c.Pos, "%s", msg)
}

// aggregateFuncs are the aggregate function names.
var aggregateFuncs = map[string]plan.AggFunc{
	"COUNT": plan.Count, "SUM": plan.Sum, "AVG": plan.Avg, "MIN": plan.Min, "MAX": plan.Max,
}

// windowFuncs are the legacy group window functions and their properties.
var windowFuncs = map[string]bool{"TUMBLE": true, "HOP": true, "SESSION": true, "CUMULATE": true}

var windowProps = map[string]string{
	"TUMBLE_START": "window_start", "TUMBLE_END": "window_end", "TUMBLE_ROWTIME": "window_time",
	"HOP_START": "window_start", "HOP_END": "window_end", "HOP_ROWTIME": "window_time",
	"SESSION_START": "window_start", "SESSION_END": "window_end", "SESSION_ROWTIME": "window_time",
	"CUMULATE_START": "window_start", "CUMULATE_END": "window_end", "CUMULATE_ROWTIME": "window_time",
}

// bind resolves and type-checks e in scope s.
func (s *scope) bind(e parser.Expr) (plan.Expr, error) {
	if s.intercept != nil {
		b, done, err := s.intercept(e)
		if err != nil || done {
			return b, err
		}
	}
	switch e := e.(type) {
	case *parser.ColumnExpr:
		c, err := s.resolve(e)
		if err != nil {
			if f, ok, kerr := timeKeyword(e); ok {
				return f, kerr
			}
			return nil, err
		}
		if c.window {
			return nil, errorf(e.Pos, "%s can only be used in a window aggregation's GROUP BY and select list", c.name)
		}
		if c.expr != nil {
			return c.expr, nil
		}
		return &plan.ColumnRef{Index: c.index, Name: c.name, T: c.t}, nil
	case *parser.NumberLit:
		return numberLiteral(e)
	case *parser.StringLit:
		return &plan.Literal{Value: e.Value, T: types.StringType.WithNotNull(true)}, nil
	case *parser.BoolLit:
		return &plan.Literal{Value: e.Value, T: types.BooleanType.WithNotNull(true)}, nil
	case *parser.NullLit:
		return &plan.Literal{T: types.NullType}, nil
	case *parser.IntervalLit:
		ms, err := intervalMillis(e)
		if err != nil {
			return nil, err
		}
		return &plan.Literal{Value: ms, T: types.IntervalType.WithNotNull(true)}, nil
	case *parser.TimestampLit:
		ms, err := types.ParseTimestamp(e.Value)
		if err != nil {
			return nil, errorf(e.Pos, "%v", err)
		}
		return &plan.Literal{Value: ms, T: types.TimestampType.WithNotNull(true)}, nil
	case *parser.BinaryExpr:
		l, err := s.bind(e.Left)
		if err != nil {
			return nil, err
		}
		r, err := s.bind(e.Right)
		if err != nil {
			return nil, err
		}
		return binary(e.Pos, e.Op, l, r)
	case *parser.UnaryExpr:
		x, err := s.bind(e.X)
		if err != nil {
			return nil, err
		}
		switch e.Op {
		case "NOT":
			if x, err = toBool(e.X.Position(), x, "NOT"); err != nil {
				return nil, err
			}
			return &plan.Call{Func: "NOT", Args: []plan.Expr{x}, T: x.Type()}, nil
		case "-":
			if !x.Type().IsNumeric() && x.Type().Kind != types.Interval {
				return nil, errorf(e.Pos, "cannot negate a value of type %s", x.Type())
			}
			if l, ok := x.(*plan.Literal); ok {
				switch v := l.Value.(type) {
				case int64:
					return &plan.Literal{Value: -v, T: l.T}, nil
				case float64:
					return &plan.Literal{Value: -v, T: l.T}, nil
				}
			}
			return &plan.Call{Func: "NEG", Args: []plan.Expr{x}, T: x.Type()}, nil
		default:
			if !x.Type().IsNumeric() {
				return nil, errorf(e.Pos, "unary + needs a number, got %s", x.Type())
			}
			return x, nil
		}
	case *parser.IsExpr:
		x, err := s.bind(e.X)
		if err != nil {
			return nil, err
		}
		f := "IS_" + e.What
		if e.Not {
			f = "IS_NOT_" + e.What
		}
		if e.What != "NULL" {
			if x, err = toBool(e.X.Position(), x, "IS "+e.What); err != nil {
				return nil, err
			}
		}
		return &plan.Call{Func: f, Args: []plan.Expr{x}, T: types.BooleanType.WithNotNull(true)}, nil
	case *parser.LikeExpr:
		x, err := s.bind(e.X)
		if err != nil {
			return nil, err
		}
		p, err := s.bind(e.Pattern)
		if err != nil {
			return nil, err
		}
		for _, a := range []struct {
			pos parser.Pos
			x   plan.Expr
		}{{e.X.Position(), x}, {e.Pattern.Position(), p}} {
			if k := a.x.Type().Kind; k != types.String && k != types.Null {
				return nil, errorf(a.pos, "LIKE needs STRING operands, got %s", a.x.Type())
			}
		}
		f := "LIKE"
		if e.Not {
			f = "NOT_LIKE"
		}
		x, p = coerce(x, types.StringType), coerce(p, types.StringType)
		return &plan.Call{Func: f, Args: []plan.Expr{x, p}, T: boolOf(x, p)}, nil
	case *parser.InExpr:
		x, err := s.bind(e.X)
		if err != nil {
			return nil, err
		}
		var or plan.Expr
		for _, item := range e.List {
			v, err := s.bind(item)
			if err != nil {
				return nil, err
			}
			eq, err := binary(item.Position(), "=", x, v)
			if err != nil {
				return nil, err
			}
			if or == nil {
				or = eq
			} else {
				or = &plan.Call{Func: "OR", Args: []plan.Expr{or, eq}, T: boolOf(or, eq)}
			}
		}
		if e.Not {
			return &plan.Call{Func: "NOT", Args: []plan.Expr{or}, T: or.Type()}, nil
		}
		return or, nil
	case *parser.BetweenExpr:
		x, err := s.bind(e.X)
		if err != nil {
			return nil, err
		}
		lo, err := s.bind(e.Low)
		if err != nil {
			return nil, err
		}
		hi, err := s.bind(e.High)
		if err != nil {
			return nil, err
		}
		ge, err := binary(e.Low.Position(), ">=", x, lo)
		if err != nil {
			return nil, err
		}
		le, err := binary(e.High.Position(), "<=", x, hi)
		if err != nil {
			return nil, err
		}
		and := &plan.Call{Func: "AND", Args: []plan.Expr{ge, le}, T: boolOf(ge, le)}
		if e.Not {
			return &plan.Call{Func: "NOT", Args: []plan.Expr{and}, T: and.T}, nil
		}
		return and, nil
	case *parser.CaseExpr:
		return s.bindCase(e)
	case *parser.CastExpr:
		x, err := s.bind(e.X)
		if err != nil {
			return nil, err
		}
		t, err := typeOf(e.Type)
		if err != nil {
			return nil, err
		}
		if !castable(x.Type(), t) {
			return nil, errorf(e.Pos, "cannot cast %s to %s", x.Type(), t)
		}
		t.NotNull = x.Type().NotNull && !e.TryCast
		if types.Same(x.Type(), t) {
			return x, nil
		}
		if l, ok := x.(*plan.Literal); ok && !e.TryCast {
			if v, ok := foldCast(l, t); ok {
				return v, nil
			}
		}
		return &plan.Cast{Arg: x, T: t, Safe: e.TryCast}, nil
	case *parser.FuncCall:
		return s.bindFunc(e)
	case *parser.InSubquery, *parser.ExistsExpr, *parser.ScalarSubquery:
		for _, c := range s.cols {
			if c.subquery == e {
				return &plan.ColumnRef{Index: c.index, Name: c.name, T: c.t}, nil
			}
		}
		what := "a scalar subquery (SELECT …)"
		switch e.(type) {
		case *parser.InSubquery:
			what = "IN (SELECT …)"
		case *parser.ExistsExpr:
			what = "EXISTS (SELECT …)"
		}
		return nil, errorf(e.Position(), "%s is only supported in the select list, WHERE and HAVING of a query, not in %s", what, s.what)
	}
	return nil, errorf(e.Position(), "unsupported expression %T", e)
}

func (s *scope) bindCase(e *parser.CaseExpr) (plan.Expr, error) {
	var operand plan.Expr
	if e.Operand != nil {
		var err error
		if operand, err = s.bind(e.Operand); err != nil {
			return nil, err
		}
	}
	var whens []plan.When
	var results []plan.Expr
	var positions []parser.Pos
	for _, w := range e.Whens {
		c, err := s.bind(w.Cond)
		if err != nil {
			return nil, err
		}
		if operand != nil {
			if c, err = binary(w.Cond.Position(), "=", operand, c); err != nil {
				return nil, err
			}
		} else if c, err = toBool(w.Cond.Position(), c, "WHEN"); err != nil {
			return nil, err
		}
		r, err := s.bind(w.Result)
		if err != nil {
			return nil, err
		}
		whens = append(whens, plan.When{Cond: c})
		results = append(results, r)
		positions = append(positions, w.Result.Position())
	}
	var els plan.Expr = &plan.Literal{T: types.NullType}
	if e.Else != nil {
		var err error
		if els, err = s.bind(e.Else); err != nil {
			return nil, err
		}
	}
	results = append(results, els)
	positions = append(positions, e.Pos)
	t, err := commonOf(results, positions, "CASE results")
	if err != nil {
		return nil, err
	}
	notNull := true
	for i := range results {
		results[i] = coerce(results[i], t)
		notNull = notNull && results[i].Type().NotNull
	}
	for i := range whens {
		whens[i].Result = results[i]
	}
	return &plan.Case{Whens: whens, Else: results[len(results)-1], T: t.WithNotNull(notNull)}, nil
}

// commonOf returns the type all of xs can be coerced to.
func commonOf(xs []plan.Expr, pos []parser.Pos, what string) (types.Type, error) {
	t := types.NullType
	for i, x := range xs {
		c, ok := commonType(t, x.Type())
		if !ok {
			return t, errorf(pos[i], "%s have incompatible types %s and %s", what, t, x.Type())
		}
		t = c
	}
	if t.Kind == types.Null {
		t = types.StringType
	}
	return t.Nullable(), nil
}

// scalarFunc describes a scalar function's signature: the types its
// arguments are coerced to and its result type.
type scalarFunc struct {
	min, max int
	// sig checks the bound arguments and returns the coerced arguments and
	// the result type.
	sig func(args []plan.Expr) ([]plan.Expr, types.Type, error)
}

func fixed(t types.Type, argTypes ...types.Type) func([]plan.Expr) ([]plan.Expr, types.Type, error) {
	return func(args []plan.Expr) ([]plan.Expr, types.Type, error) {
		nn := true
		for i, a := range args {
			want := argTypes[min(i, len(argTypes)-1)]
			if !implicitly(a.Type(), want) {
				return nil, t, fmt.Errorf("argument %d must be %s, got %s", i+1, want, a.Type())
			}
			args[i] = coerce(a, want)
			nn = nn && a.Type().NotNull
		}
		return args, t.WithNotNull(nn), nil
	}
}

func sameAsArg(args []plan.Expr) ([]plan.Expr, types.Type, error) {
	if !args[0].Type().IsNumeric() {
		return nil, types.Type{}, fmt.Errorf("argument 1 must be a number, got %s", args[0].Type())
	}
	for i := 1; i < len(args); i++ {
		if !implicitly(args[i].Type(), types.IntType) {
			return nil, types.Type{}, fmt.Errorf("argument %d must be an INT, got %s", i+1, args[i].Type())
		}
		args[i] = coerce(args[i], types.IntType)
	}
	return args, args[0].Type(), nil
}

func common(args []plan.Expr) ([]plan.Expr, types.Type, error) {
	t := types.NullType
	nn := false
	for i, a := range args {
		c, ok := commonType(t, a.Type())
		if !ok {
			return nil, t, fmt.Errorf("argument %d has type %s, incompatible with %s", i+1, a.Type(), t)
		}
		t = c
		nn = nn || a.Type().NotNull
	}
	t = t.Nullable()
	for i := range args {
		args[i] = coerce(args[i], t)
	}
	return args, t.WithNotNull(nn), nil
}

var scalarFuncs = withMore(map[string]scalarFunc{
	"UPPER":       {1, 1, fixed(types.StringType, types.StringType)},
	"LOWER":       {1, 1, fixed(types.StringType, types.StringType)},
	"CHAR_LENGTH": {1, 1, fixed(types.IntType, types.StringType)},
	"SUBSTRING":   {2, 3, fixed(types.StringType, types.StringType, types.IntType)},
	"CONCAT":      {1, 64, fixed(types.StringType, types.StringType)},
	"ABS":         {1, 1, sameAsArg},
	"FLOOR":       {1, 1, sameAsArg},
	"CEIL":        {1, 1, sameAsArg},
	"ROUND":       {1, 2, sameAsArg},
	"POWER":       {2, 2, fixed(types.DoubleType, types.DoubleType)},
	"SQRT":        {1, 1, fixed(types.DoubleType, types.DoubleType)},
	"MOD": {2, 2, func(args []plan.Expr) ([]plan.Expr, types.Type, error) {
		args, t, err := common(args)
		if err == nil && !t.IsInteger() {
			err = fmt.Errorf("arguments must be integers, got %s", t)
		}
		return args, t, err
	}},
	"COALESCE": {1, 64, common},
	// Fields of a timestamp (UTC), as BIGINT.
	"YEAR":       {1, 1, fixed(types.BigIntType, types.TimestampType)},
	"MONTH":      {1, 1, fixed(types.BigIntType, types.TimestampType)},
	"DAYOFMONTH": {1, 1, fixed(types.BigIntType, types.TimestampType)},
	"HOUR":       {1, 1, fixed(types.BigIntType, types.TimestampType)},
	"MINUTE":     {1, 1, fixed(types.BigIntType, types.TimestampType)},
	"SECOND":     {1, 1, fixed(types.BigIntType, types.TimestampType)},
	"IF": {3, 3, func(args []plan.Expr) ([]plan.Expr, types.Type, error) {
		if !implicitly(args[0].Type(), types.BooleanType) {
			return nil, types.Type{}, fmt.Errorf("argument 1 must be BOOLEAN, got %s", args[0].Type())
		}
		rest, t, err := common(args[1:])
		if err != nil {
			return nil, t, err
		}
		return append([]plan.Expr{coerce(args[0], types.BooleanType)}, rest...), t.WithNotNull(rest[0].Type().NotNull && rest[1].Type().NotNull), nil
	}},
})

// ScalarFunctions returns the names of the scalar functions, for SHOW
// FUNCTIONS and completion.
func ScalarFunctions() []string {
	var out []string
	for n := range scalarFuncs {
		out = append(out, n)
	}
	for n := range timeFuncs {
		out = append(out, n)
	}
	return out
}

func (s *scope) bindFunc(e *parser.FuncCall) (plan.Expr, error) {
	if e.Over != nil {
		// Calls with OVER that a query shape supports are planned
		// before binding and never reach here.
		if _, ok := rankFuncs[e.Name]; ok {
			return nil, errorf(e.Pos, "%s() OVER (…) is only supported in a Top-N query: SELECT … FROM (SELECT …, %s() OVER (…) AS rn FROM …) WHERE rn <= N", e.Name, e.Name)
		}
		return nil, errorf(e.Pos, "%s … OVER is not supported yet", e.Name)
	}
	if e.Filter != nil {
		if _, ok := aggregateFuncs[e.Name]; !ok {
			return nil, errorf(e.Filter.Position(), "FILTER (WHERE …) is only allowed on aggregate functions, not on %s", e.Name)
		}
	}
	if _, ok := aggregateFuncs[e.Name]; ok {
		return nil, errorf(e.Pos, "aggregate function %s is not allowed in %s", e.Name, s.what)
	}
	if windowFuncs[e.Name] {
		return nil, errorf(e.Pos, "group window function %s is only allowed in GROUP BY", e.Name)
	}
	if _, ok := windowProps[e.Name]; ok {
		return nil, errorf(e.Pos, "%s needs a matching %s(...) in GROUP BY", e.Name, e.Name[:strings.IndexByte(e.Name, '_')])
	}
	if udf, ok := s.cat.Function(e.Name); ok {
		return s.bindUDF(e, udf)
	}
	if e.TimeUnit != "" {
		return s.bindFloorTo(e)
	}
	if tf, ok := timeFuncs[e.Name]; ok {
		return s.bindTimeFunc(e, tf)
	}
	f, ok := scalarFuncs[e.Name]
	if !ok {
		names := append(ScalarFunctions(), s.cat.Functions()...)
		msg := fmt.Sprintf("unknown function %s", e.Name)
		if hint := suggest.Closest(e.Name, names); hint != "" {
			msg += fmt.Sprintf("; did you mean %s?", hint)
		}
		return nil, errorf(e.Pos, "%s", msg)
	}
	if e.Star || e.Distinct {
		return nil, errorf(e.Pos, "%s does not take * or DISTINCT", e.Name)
	}
	if len(e.Args) < f.min || len(e.Args) > f.max {
		want := strconv.Itoa(f.min)
		if f.max != f.min {
			want = fmt.Sprintf("%d to %d", f.min, f.max)
		}
		return nil, errorf(e.Pos, "%s takes %s arguments, got %d", e.Name, want, len(e.Args))
	}
	args := make([]plan.Expr, len(e.Args))
	for i, a := range e.Args {
		b, err := s.bind(a)
		if err != nil {
			return nil, err
		}
		args[i] = b
	}
	args, t, err := f.sig(args)
	if err != nil {
		return nil, errorf(e.Pos, "%s: %v", e.Name, err)
	}
	return &plan.Call{Func: e.Name, Args: args, T: t}, nil
}

func (s *scope) bindUDF(e *parser.FuncCall, f *Function) (plan.Expr, error) {
	if e.Star || e.Distinct {
		return nil, errorf(e.Pos, "%s does not take * or DISTINCT", e.Name)
	}
	if len(e.Args) != len(f.Args) {
		return nil, errorf(e.Pos, "%s takes %d arguments, got %d", f.Name, len(f.Args), len(e.Args))
	}
	args := make([]plan.Expr, len(e.Args))
	for i, a := range e.Args {
		b, err := s.bind(a)
		if err != nil {
			return nil, err
		}
		if !implicitly(b.Type(), f.Args[i]) {
			return nil, errorf(a.Position(), "%s: argument %d must be %s, got %s", f.Name, i+1, f.Args[i], b.Type())
		}
		args[i] = coerce(b, f.Args[i])
	}
	return &plan.UDFCall{Name: f.Name, Args: args, T: f.Result.Nullable(), Fn: f.Eval}, nil
}

// binary types a binary operation, inserting casts so both operands have
// the same type.
func binary(pos parser.Pos, op string, l, r plan.Expr) (plan.Expr, error) {
	lt, rt := l.Type(), r.Type()
	nn := lt.NotNull && rt.NotNull
	switch op {
	case "AND", "OR":
		var err error
		if l, err = toBool(pos, l, op); err != nil {
			return nil, err
		}
		if r, err = toBool(pos, r, op); err != nil {
			return nil, err
		}
		return &plan.Call{Func: op, Args: []plan.Expr{l, r}, T: types.BooleanType.WithNotNull(nn)}, nil
	case "||":
		return &plan.Call{Func: "||", Args: []plan.Expr{toString(l), toString(r)}, T: types.StringType.WithNotNull(nn)}, nil
	case "+", "-":
		if lt.IsTemporal() && rt.Kind == types.Interval {
			return &plan.Call{Func: op, Args: []plan.Expr{l, r}, T: lt}, nil
		}
		if op == "+" && lt.Kind == types.Interval && rt.IsTemporal() {
			return &plan.Call{Func: op, Args: []plan.Expr{r, l}, T: rt}, nil
		}
		if lt.Kind == types.Interval && rt.Kind == types.Interval {
			return &plan.Call{Func: op, Args: []plan.Expr{l, r}, T: lt.WithNotNull(nn)}, nil
		}
		fallthrough
	case "*", "/", "%":
		if (!lt.IsNumeric() && lt.Kind != types.Null) || (!rt.IsNumeric() && rt.Kind != types.Null) {
			return nil, errorf(pos, "operator %s needs numbers, got %s and %s", op, lt, rt)
		}
		t, _ := commonType(lt, rt)
		if t.Kind == types.Null {
			t = types.BigIntType
		}
		if t.Kind == types.Decimal && (op == "/" || op == "%") {
			t = types.DoubleType
		}
		t = arithType(op, t, lt, rt)
		if op == "%" && !t.IsInteger() {
			return nil, errorf(pos, "operator %% needs integers, got %s and %s", lt, rt)
		}
		rr := coerce(r, t)
		if (op == "/" || op == "%") && isExactZero(r) && !types.Same(r.Type(), t) {
			// Keep the cast of an exact zero divisor (d / 0 divided as
			// DOUBLE): folded into a DOUBLE 0 it would give Infinity, while
			// the cast tells the kernel it divides by an exact zero, a
			// division-by-zero error for every row it reaches.
			rr = &plan.Cast{Arg: r, T: t.WithNotNull(r.Type().NotNull)}
		}
		return &plan.Call{Func: op, Args: []plan.Expr{coerce(l, t), rr}, T: t.WithNotNull(nn)}, nil
	case "=", "<>", "<", "<=", ">", ">=":
		// A string literal compared with a timestamp is a timestamp literal.
		if lt.IsTemporal() && rt.Kind == types.String {
			r2, err := stringToTimestamp(pos, r)
			if err != nil {
				return nil, err
			}
			r, rt = r2, r2.Type()
		} else if rt.IsTemporal() && lt.Kind == types.String {
			l2, err := stringToTimestamp(pos, l)
			if err != nil {
				return nil, err
			}
			l, lt = l2, l2.Type()
		}
		t, ok := commonType(lt, rt)
		if !ok {
			return nil, errorf(pos, "cannot compare %s with %s", lt, rt)
		}
		if t.Kind == types.Null {
			t = types.BooleanType
		}
		t = t.Nullable()
		return &plan.Call{Func: op, Args: []plan.Expr{coerce(l, t), coerce(r, t)}, T: types.BooleanType.WithNotNull(nn)}, nil
	}
	return nil, errorf(pos, "unknown operator %s", op)
}

func arithType(op string, t, lt, rt types.Type) types.Type {
	if t.Kind != types.Decimal {
		return t.Nullable()
	}
	ls, rs := scaleOf(lt), scaleOf(rt)
	switch op {
	case "*":
		return types.DecimalType(min(38, precOf(lt)+precOf(rt)), min(18, ls+rs))
	default:
		s := max(ls, rs)
		return types.DecimalType(min(38, max(precOf(lt)-ls, precOf(rt)-rs)+s+1), s)
	}
}

func scaleOf(t types.Type) int {
	if t.Kind == types.Decimal {
		return t.Scale
	}
	return 0
}

func precOf(t types.Type) int {
	switch t.Kind {
	case types.Decimal:
		return t.Precision
	case types.Int:
		return 10
	}
	return 19
}

func stringToTimestamp(pos parser.Pos, e plan.Expr) (plan.Expr, error) {
	if l, ok := e.(*plan.Literal); ok {
		if s, ok := l.Value.(string); ok {
			ms, err := types.ParseTimestamp(s)
			if err != nil {
				return nil, errorf(pos, "%v", err)
			}
			return &plan.Literal{Value: ms, T: types.TimestampType.WithNotNull(true)}, nil
		}
	}
	return &plan.Cast{Arg: e, T: types.TimestampType.WithNotNull(e.Type().NotNull)}, nil
}

func toBool(pos parser.Pos, e plan.Expr, what string) (plan.Expr, error) {
	switch e.Type().Kind {
	case types.Boolean:
		return e, nil
	case types.Null:
		return &plan.Literal{T: types.BooleanType}, nil
	}
	return nil, errorf(pos, "%s needs a BOOLEAN operand, got %s", what, e.Type())
}

func toString(e plan.Expr) plan.Expr {
	if e.Type().Kind == types.String {
		return e
	}
	return coerce(e, types.StringType)
}

func boolOf(xs ...plan.Expr) types.Type {
	nn := true
	for _, x := range xs {
		nn = nn && x.Type().NotNull
	}
	return types.BooleanType.WithNotNull(nn)
}

// numericRank orders numeric kinds for widening.
var numericRank = map[types.Kind]int{types.Int: 1, types.BigInt: 2, types.Decimal: 3, types.Float: 4, types.Double: 5}

// commonType returns the type both a and b widen to, if any.
func commonType(a, b types.Type) (types.Type, bool) {
	nn := a.NotNull && b.NotNull
	switch {
	case a.Kind == types.Null:
		return b, true
	case b.Kind == types.Null:
		return a, true
	case a.Kind == types.Decimal && b.Kind == types.Decimal:
		s := max(a.Scale, b.Scale)
		return types.DecimalType(min(38, max(a.Precision-a.Scale, b.Precision-b.Scale)+s), s).WithNotNull(nn), true
	case a.Kind == b.Kind:
		return a.WithNotNull(nn), true
	case a.IsNumeric() && b.IsNumeric():
		hi, lo := a, b
		if numericRank[b.Kind] > numericRank[a.Kind] {
			hi, lo = b, a
		}
		if hi.Kind == types.Decimal {
			p := max(hi.Precision, precOf(lo)+hi.Scale)
			return types.DecimalType(min(38, p), hi.Scale).WithNotNull(nn), true
		}
		return hi.WithNotNull(nn), true
	case a.IsTemporal() && b.IsTemporal():
		return types.TimestampType.WithNotNull(nn), true
	}
	return types.Type{}, false
}

// implicitly reports whether a value of type from may be used where to is
// expected without an explicit CAST.
func implicitly(from, to types.Type) bool {
	if from.Kind == types.Null || types.Same(from, to) || from.Kind == to.Kind {
		return true
	}
	if from.IsNumeric() && to.IsNumeric() {
		return numericRank[from.Kind] <= numericRank[to.Kind]
	}
	return from.IsTemporal() && to.IsTemporal()
}

// castable reports whether CAST(from AS to) is supported.
func castable(from, to types.Type) bool {
	if from.Kind == types.Null || from.Kind == to.Kind {
		return true
	}
	switch {
	case to.Kind == types.String:
		return from.Kind != types.Interval
	case from.Kind == types.String:
		return to.Kind != types.Interval
	case from.IsNumeric() && to.IsNumeric():
		return true
	case from.IsTemporal() && (to.IsTemporal() || to.Kind == types.BigInt):
		return true
	case from.Kind == types.BigInt && to.IsTemporal():
		return true
	case from.Kind == types.Boolean && to.IsInteger(), from.IsInteger() && to.Kind == types.Boolean:
		return true
	}
	return false
}

// fitsDigits reports whether the unscaled decimal u has at most p digits.
// A literal that does not fit is left to the run-time cast, which fails
// with an overflow error naming it (TRY_CAST: NULL).
func fitsDigits(u int64, p int) bool {
	if p >= 19 {
		return true
	}
	lim := int64(1)
	for range p {
		lim *= 10
	}
	return u > -lim && u < lim
}

// isExactZero reports whether e is an integer or DECIMAL literal 0.
func isExactZero(e plan.Expr) bool {
	l, ok := e.(*plan.Literal)
	if !ok || !(l.T.IsInteger() || l.T.Kind == types.Decimal) {
		return false
	}
	v, ok := l.Value.(int64)
	return ok && v == 0
}

// coerce returns e converted to t (ignoring nullability), folding literal
// conversions at plan time.
func coerce(e plan.Expr, t types.Type) plan.Expr {
	if types.Same(e.Type(), t) {
		return e
	}
	t = t.WithNotNull(e.Type().NotNull)
	if l, ok := e.(*plan.Literal); ok {
		if v, ok := foldCast(l, t); ok {
			return v
		}
	}
	return &plan.Cast{Arg: e, T: t}
}

// foldCast converts a literal at plan time where that is exact.
func foldCast(l *plan.Literal, t types.Type) (*plan.Literal, bool) {
	if l.Value == nil {
		return &plan.Literal{T: t.Nullable()}, true
	}
	switch v := l.Value.(type) {
	case int64:
		switch t.Kind {
		case types.Int, types.BigInt:
			if t.Kind == types.Int && (v < math.MinInt32 || v > math.MaxInt32) {
				return nil, false
			}
			if l.T.IsInteger() {
				return &plan.Literal{Value: v, T: t}, true
			}
		case types.Float, types.Double:
			if l.T.IsInteger() {
				return &plan.Literal{Value: float64(v), T: t}, true
			}
			if l.T.Kind == types.Decimal {
				return &plan.Literal{Value: float64(v) / math.Pow10(l.T.Scale), T: t}, true
			}
		case types.Decimal:
			if l.T.Kind == types.Decimal && t.Scale >= l.T.Scale {
				m := int64(math.Pow10(t.Scale - l.T.Scale))
				if t.Scale-l.T.Scale <= 18 && v < math.MaxInt64/m && v > math.MinInt64/m && fitsDigits(v*m, t.Precision) {
					return &plan.Literal{Value: v * m, T: t}, true
				}
			}
			if l.T.IsInteger() && t.Scale <= 18 {
				m := int64(1)
				for i := 0; i < t.Scale; i++ {
					m *= 10
				}
				if v < math.MaxInt64/m && v > math.MinInt64/m && fitsDigits(v*m, t.Precision) {
					return &plan.Literal{Value: v * m, T: t}, true
				}
			}
		case types.Timestamp, types.TimestampLTZ:
			// Between TIMESTAMP and TIMESTAMP_LTZ the session zone
			// decides (applyZone): cast at run time.
			if l.T.IsTemporal() && !plan.ZoneCast(l.T, t) {
				return &plan.Literal{Value: v, T: t}, true
			}
		}
	case float64:
		if t.Kind == types.Double || t.Kind == types.Float {
			return &plan.Literal{Value: v, T: t}, true
		}
	case string:
		if t.Kind == types.Timestamp {
			if ms, err := types.ParseTimestamp(v); err == nil {
				return &plan.Literal{Value: ms, T: t}, true
			}
		}
	}
	return nil, false
}

func numberLiteral(e *parser.NumberLit) (plan.Expr, error) {
	if !strings.ContainsAny(e.Text, ".eE") {
		v, err := strconv.ParseInt(e.Text, 10, 64)
		if err != nil {
			return nil, errorf(e.Pos, "number %s is out of range for BIGINT", e.Text)
		}
		t := types.IntType
		if v > math.MaxInt32 {
			t = types.BigIntType
		}
		return &plan.Literal{Value: v, T: t.WithNotNull(true)}, nil
	}
	// An exact decimal literal is DECIMAL(p, s), as in Flink (1.5 is
	// DECIMAL(2, 1)); one with an exponent, or too long for 18 digits, is
	// DOUBLE.
	if whole, frac, ok := strings.Cut(e.Text, "."); ok && !strings.ContainsAny(e.Text, "eE") {
		digits := strings.TrimLeft(whole+frac, "0")
		p := max(len(strings.TrimLeft(whole, "0"))+len(frac), len(frac), 1)
		if p <= 18 {
			unscaled := int64(0)
			if digits != "" {
				var err error
				if unscaled, err = strconv.ParseInt(digits, 10, 64); err != nil {
					return nil, errorf(e.Pos, "invalid number %s", e.Text)
				}
			}
			return &plan.Literal{Value: unscaled, T: types.DecimalType(p, len(frac)).WithNotNull(true)}, nil
		}
	}
	v, err := strconv.ParseFloat(e.Text, 64)
	if err != nil {
		return nil, errorf(e.Pos, "invalid number %s", e.Text)
	}
	return &plan.Literal{Value: v, T: types.DoubleType.WithNotNull(true)}, nil
}

var unitMillis = map[string]int64{
	"MILLISECOND": 1, "SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000,
}

func intervalMillis(e *parser.IntervalLit) (int64, error) {
	unit := strings.TrimSuffix(strings.ToUpper(e.Unit), "S")
	m, ok := unitMillis[unit]
	if !ok {
		return 0, errorf(e.Pos, "unsupported interval unit %s (use MILLISECOND, SECOND, MINUTE, HOUR or DAY)", e.Unit)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(e.Value), 64)
	if err != nil {
		return 0, errorf(e.Pos, "invalid interval value %q: expected a number", e.Value)
	}
	ms := math.Round(v * float64(m))
	if !(ms > math.MinInt64 && ms < math.MaxInt64) {
		return 0, errorf(e.Pos, "interval %s is out of range: at most %d milliseconds", e, int64(math.MaxInt64))
	}
	return int64(ms), nil
}

// typeOf converts a type as written to a SQL type.
func typeOf(n *parser.TypeName) (types.Type, error) {
	p := func(i, def int) int {
		if i < len(n.Params) {
			return n.Params[i]
		}
		return def
	}
	switch n.Name {
	case "BOOLEAN":
		return types.BooleanType, nil
	case "TINYINT", "SMALLINT", "INT", "INTEGER":
		return types.IntType, nil
	case "BIGINT":
		return types.BigIntType, nil
	case "FLOAT", "REAL":
		return types.FloatType, nil
	case "DOUBLE", "DOUBLE PRECISION":
		return types.DoubleType, nil
	case "DECIMAL", "NUMERIC", "DEC":
		prec, scale := p(0, 10), p(1, 0)
		if prec < 1 || prec > 38 || scale < 0 || scale > prec {
			return types.Type{}, errorf(n.Pos, "invalid DECIMAL(%d, %d): precision must be 1..38 and scale 0..precision", prec, scale)
		}
		return types.DecimalType(prec, scale), nil
	case "STRING", "VARCHAR", "CHAR":
		return types.StringType, nil
	case "TIMESTAMP", "TIMESTAMP_LTZ":
		if prec := p(0, 3); prec != 3 {
			return types.Type{}, errorf(n.Pos, "%s(%d) is not supported; use %s(3) (millisecond precision)", n.Name, prec, n.Name)
		}
		if n.Name == "TIMESTAMP_LTZ" || n.WithLocalTimeZone {
			return types.LTZType, nil
		}
		return types.TimestampType, nil
	}
	return types.Type{}, errorf(n.Pos, "type %s is not supported yet", n.Name)
}

// containsAgg reports whether e has an aggregate call outside subqueries.
func containsAgg(e parser.Expr) bool {
	found := false
	walkExpr(e, func(x parser.Expr) {
		if f, ok := x.(*parser.FuncCall); ok && f.Over == nil {
			if _, ok := aggregateFuncs[f.Name]; ok {
				found = true
			}
		}
	})
	return found
}

// walkExpr calls fn for e and its sub-expressions.
func walkExpr(e parser.Expr, fn func(parser.Expr)) {
	if e == nil {
		return
	}
	fn(e)
	switch e := e.(type) {
	case *parser.BinaryExpr:
		walkExpr(e.Left, fn)
		walkExpr(e.Right, fn)
	case *parser.UnaryExpr:
		walkExpr(e.X, fn)
	case *parser.IsExpr:
		walkExpr(e.X, fn)
	case *parser.LikeExpr:
		walkExpr(e.X, fn)
		walkExpr(e.Pattern, fn)
	case *parser.InExpr:
		walkExpr(e.X, fn)
		for _, x := range e.List {
			walkExpr(x, fn)
		}
	case *parser.BetweenExpr:
		walkExpr(e.X, fn)
		walkExpr(e.Low, fn)
		walkExpr(e.High, fn)
	case *parser.CaseExpr:
		walkExpr(e.Operand, fn)
		for _, w := range e.Whens {
			walkExpr(w.Cond, fn)
			walkExpr(w.Result, fn)
		}
		walkExpr(e.Else, fn)
	case *parser.CastExpr:
		walkExpr(e.X, fn)
	case *parser.FuncCall:
		for _, a := range e.Args {
			walkExpr(a, fn)
		}
	}
}
