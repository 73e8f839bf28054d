package expr

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// This file holds the tiny S-expression language of the datadriven tests
// (documented at the top of testdata/eval) and turns it into plan.Expr
// trees, inferring result types the way the planner would.

type sx struct {
	atom string // "" for a list
	str  bool   // atom was a quoted string
	list []*sx
}

func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(' || c == ')':
			toks = append(toks, string(c))
			i++
		case c == '\'':
			j := i + 1
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("unterminated string in %q", s)
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			toks = append(toks, s[i:j+1])
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n()", rune(s[j])) {
				j++
			}
			// Type names with parameters: DECIMAL(10,2), TIMESTAMP(3).
			if j < len(s) && s[j] == '(' && isTypeName(s[i:j]) {
				k := strings.IndexByte(s[j:], ')')
				if k < 0 {
					return nil, fmt.Errorf("unterminated type in %q", s)
				}
				j += k + 1
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

func isTypeName(s string) bool {
	switch strings.ToUpper(s) {
	case "DECIMAL", "TIMESTAMP", "TIMESTAMP_LTZ", "VARCHAR":
		return true
	}
	return false
}

func parseSx(toks []string) (*sx, []string, error) {
	if len(toks) == 0 {
		return nil, nil, fmt.Errorf("unexpected end of expression")
	}
	t := toks[0]
	switch t {
	case ")":
		return nil, nil, fmt.Errorf("unexpected )")
	case "(":
		l := &sx{}
		toks = toks[1:]
		for {
			if len(toks) == 0 {
				return nil, nil, fmt.Errorf("missing )")
			}
			if toks[0] == ")" {
				return l, toks[1:], nil
			}
			var e *sx
			var err error
			if e, toks, err = parseSx(toks); err != nil {
				return nil, nil, err
			}
			l.list = append(l.list, e)
		}
	}
	if t[0] == '\'' {
		return &sx{atom: strings.ReplaceAll(t[1:len(t)-1], "''", "'"), str: true}, toks[1:], nil
	}
	return &sx{atom: t}, toks[1:], nil
}

// parseExprText parses one expression; a bare "op a b" (as datadriven
// hands over the inside of expr=(...)) is read as the list (op a b).
func parseExprText(s string, schema types.Schema) (plan.Expr, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	var items []*sx
	for len(toks) > 0 {
		var e *sx
		if e, toks, err = parseSx(toks); err != nil {
			return nil, err
		}
		items = append(items, e)
	}
	var root *sx
	switch len(items) {
	case 0:
		return nil, fmt.Errorf("empty expression")
	case 1:
		root = items[0]
	default:
		root = &sx{list: items}
	}
	b := &exprBuilder{schema: schema}
	return b.build(root)
}

type exprBuilder struct{ schema types.Schema }

// parseType parses a type name of the test language.
func parseType(s string) (types.Type, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	notNull := false
	if strings.HasSuffix(u, " NOT NULL") {
		notNull = true
		u = strings.TrimSpace(strings.TrimSuffix(u, " NOT NULL"))
	}
	var t types.Type
	switch {
	case u == "BOOLEAN":
		t = types.BooleanType
	case u == "INT":
		t = types.IntType
	case u == "BIGINT":
		t = types.BigIntType
	case u == "FLOAT":
		t = types.FloatType
	case u == "DOUBLE":
		t = types.DoubleType
	case u == "STRING" || strings.HasPrefix(u, "VARCHAR"):
		t = types.StringType
	case u == "TIMESTAMP" || u == "TIMESTAMP(3)":
		t = types.TimestampType
	case u == "TIMESTAMP_LTZ" || u == "TIMESTAMP_LTZ(3)":
		t = types.LTZType
	case u == "INTERVAL":
		t = types.IntervalType
	case u == "NULL":
		t = types.NullType
	case strings.HasPrefix(u, "DECIMAL(") && strings.HasSuffix(u, ")"):
		ps := strings.Split(u[len("DECIMAL("):len(u)-1], ",")
		if len(ps) != 2 {
			return t, fmt.Errorf("bad type %q", s)
		}
		p, err1 := strconv.Atoi(strings.TrimSpace(ps[0]))
		sc, err2 := strconv.Atoi(strings.TrimSpace(ps[1]))
		if err1 != nil || err2 != nil {
			return t, fmt.Errorf("bad type %q", s)
		}
		t = types.DecimalType(p, sc)
	default:
		return t, fmt.Errorf("unknown type %q", s)
	}
	return t.WithNotNull(notNull), nil
}

func (b *exprBuilder) build(s *sx) (plan.Expr, error) {
	if s.list == nil {
		return b.atom(s)
	}
	if len(s.list) == 0 || s.list[0].list != nil {
		return nil, fmt.Errorf("a list must start with an operator")
	}
	op := strings.ToUpper(s.list[0].atom)
	rest := s.list[1:]
	switch op {
	case "CAST", "TRY_CAST":
		if len(rest) != 2 {
			return nil, fmt.Errorf("%s takes an expression and a type", op)
		}
		arg, err := b.build(rest[0])
		if err != nil {
			return nil, err
		}
		t, err := parseType(rest[1].atom)
		if err != nil {
			return nil, err
		}
		return &plan.Cast{Arg: arg, T: t, Safe: op == "TRY_CAST"}, nil
	case "INTERVAL":
		ms, err := strconv.ParseInt(rest[0].atom, 10, 64)
		if err != nil {
			return nil, err
		}
		return &plan.Literal{Value: ms, T: types.IntervalType}, nil
	case "TS":
		ms, err := types.ParseTimestamp(rest[0].atom)
		if err != nil {
			return nil, err
		}
		return &plan.Literal{Value: ms, T: types.TimestampType}, nil
	case "::":
		t, err := parseType(rest[0].atom)
		if err != nil {
			return nil, err
		}
		e, err := b.build(rest[1])
		if err != nil {
			return nil, err
		}
		switch e := e.(type) {
		case *plan.Call:
			e.T = t
		case *plan.Case:
			e.T = t
		case *plan.Literal:
			e.T = t
		default:
			return nil, fmt.Errorf(":: applies to calls, CASE and literals")
		}
		return e, nil
	}
	args := make([]plan.Expr, len(rest))
	for i, r := range rest {
		a, err := b.build(r)
		if err != nil {
			return nil, err
		}
		args[i] = a
	}
	if op == "CASE" {
		c := &plan.Case{}
		for i := 0; i+1 < len(args); i += 2 {
			c.Whens = append(c.Whens, plan.When{Cond: args[i], Result: args[i+1]})
		}
		if len(args)%2 == 1 {
			c.Else = args[len(args)-1]
		} else {
			c.Else = &plan.Literal{T: types.NullType}
		}
		var rs []plan.Expr
		for _, w := range c.Whens {
			rs = append(rs, w.Result)
		}
		rs = append(rs, c.Else)
		c.T = unify(rs)
		for i := range c.Whens {
			c.Whens[i].Result = coerce(c.Whens[i].Result, c.T)
		}
		c.Else = coerce(c.Else, c.T)
		return c, nil
	}
	call := &plan.Call{Func: op, Args: args}
	switch op {
	case "+", "-", "*", "/", "%", "MOD", "=", "<>", "<", "<=", ">", ">=":
		if len(args) == 2 {
			lt, rt := args[0].Type(), args[1].Type()
			if !(lt.IsTemporal() || rt.IsTemporal() || lt.Kind == types.Interval || rt.Kind == types.Interval) {
				t := unify(args)
				args[0], args[1] = coerce(args[0], t), coerce(args[1], t)
			}
		}
	case "COALESCE", "GREATEST", "LEAST", "NULLIF":
		t := unify(args)
		for i := range args {
			args[i] = coerce(args[i], t)
		}
	case "IF":
		if len(args) == 3 {
			t := unify(args[1:])
			args[1], args[2] = coerce(args[1], t), coerce(args[2], t)
		}
	}
	call.T = inferCall(op, args)
	return call, nil
}

func isLit(e plan.Expr) bool { _, ok := e.(*plan.Literal); return ok }

// unify picks the type of a set of same-typed operands: the type of the
// first non-literal, else of the first non-NULL literal.
func unify(es []plan.Expr) types.Type {
	for _, e := range es {
		if !isLit(e) && e.Type().Kind != types.Null {
			return e.Type().Nullable()
		}
	}
	for _, e := range es {
		if e.Type().Kind != types.Null {
			return e.Type().Nullable()
		}
	}
	return types.NullType
}

// coerce casts a literal to t, as the planner would.
func coerce(e plan.Expr, t types.Type) plan.Expr {
	if l, ok := e.(*plan.Literal); ok && !types.Same(l.T, t) && t.Kind != types.Null {
		if l.Value == nil {
			return &plan.Literal{T: t}
		}
		return &plan.Cast{Arg: e, T: t}
	}
	return e
}

func inferCall(op string, args []plan.Expr) types.Type {
	at := func(i int) types.Type {
		if i < len(args) {
			return args[i].Type().Nullable()
		}
		return types.NullType
	}
	switch op {
	case "=", "<>", "<", "<=", ">", ">=", "AND", "OR", "NOT", "LIKE", "NOT_LIKE":
		return types.BooleanType
	case "IS_NULL", "IS_NOT_NULL", "IS_TRUE", "IS_NOT_TRUE", "IS_FALSE", "IS_NOT_FALSE":
		return types.BooleanType.WithNotNull(true)
	case "+", "-", "*", "/", "%", "MOD":
		l, r := at(0), at(1)
		switch {
		case l.IsTemporal():
			return l
		case r.IsTemporal():
			return r
		case l.Kind == types.Decimal && r.Kind == types.Decimal:
			switch op {
			case "*":
				return types.DecimalType(min(38, l.Precision+r.Precision), l.Scale+r.Scale)
			case "/":
				return types.DecimalType(38, max(6, l.Scale))
			}
			return types.DecimalType(min(38, max(l.Precision, r.Precision)+1), max(l.Scale, r.Scale))
		}
		if l.Kind == types.Null {
			return r
		}
		return l
	case "POWER", "SQRT":
		return types.DoubleType
	case "UPPER", "LOWER", "TRIM", "SUBSTRING", "||", "CONCAT":
		return types.StringType
	case "CHAR_LENGTH", "INSTR", "LOCATE":
		return types.IntType
	case "REGEXP_EXTRACT", "REGEXP_REPLACE", "SPLIT_INDEX", "CONCAT_WS", "LPAD", "RPAD", "INITCAP",
		"REVERSE", "REPEAT", "LEFT", "RIGHT", "LTRIM", "RTRIM", "REPLACE", "MD5", "SHA1", "SHA256",
		"SHA512", "DATE_FORMAT", "FROM_UNIXTIME":
		return types.StringType
	case "REGEXP":
		return types.BooleanType
	case "TO_TIMESTAMP":
		return types.TimestampType
	case "UNIX_TIMESTAMP", "DAYOFWEEK", "DAYOFYEAR", "QUARTER", "WEEK":
		return types.BigIntType
	case "GREATEST", "LEAST", "NULLIF":
		return unify(args)
	case "IF":
		return at(1)
	case "COALESCE":
		return unify(args)
	}
	return at(0)
}

func (b *exprBuilder) atom(s *sx) (plan.Expr, error) {
	a := s.atom
	if s.str {
		return &plan.Literal{Value: a, T: types.StringType}, nil
	}
	switch strings.ToUpper(a) {
	case "NULL":
		return &plan.Literal{T: types.NullType}, nil
	case "TRUE":
		return &plan.Literal{Value: true, T: types.BooleanType}, nil
	case "FALSE":
		return &plan.Literal{Value: false, T: types.BooleanType}, nil
	}
	if c := a[0]; c == '-' || c == '+' || unicode.IsDigit(rune(c)) {
		if v, err := strconv.ParseInt(a, 10, 64); err == nil {
			return &plan.Literal{Value: v, T: types.BigIntType}, nil
		}
		if v, err := strconv.ParseFloat(a, 64); err == nil {
			return &plan.Literal{Value: v, T: types.DoubleType}, nil
		}
	}
	i := b.schema.Index(a)
	if i < 0 {
		return nil, fmt.Errorf("unknown column %q", a)
	}
	return &plan.ColumnRef{Index: i, Name: b.schema.Fields[i].Name, T: b.schema.Fields[i].Type}, nil
}
