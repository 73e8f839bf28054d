package expr

import (
	"fmt"

	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// compileCall builds the evaluator of a function or operator call.
func (c *compiler) compileCall(e *plan.Call) (Evaluator, error) {
	f := funcName(e.Func)
	if canon, ok := funcAliases[f]; ok {
		f = canon
	}
	args, err := c.compileAll(e.Args)
	if err != nil {
		return nil, err
	}
	arity := func(lo, hi int) error {
		if len(args) < lo || len(args) > hi {
			if lo == hi {
				return fmt.Errorf("expr: %s takes %d arguments, got %d", f, lo, len(args))
			}
			return fmt.Errorf("expr: %s takes %d to %d arguments, got %d", f, lo, hi, len(args))
		}
		return nil
	}
	// Operators that return NULL when an operand is NULL fold a NULL
	// literal operand right away.
	nullIn := func() bool {
		for _, a := range args {
			if isNullLit(a) {
				return true
			}
		}
		return false
	}
	nullOf := func(t types.Type) (Evaluator, error) { return newLiteral(nil, t) }

	switch f {
	case "PROCTIME", "NOW":
		if err := arity(0, 0); err != nil {
			return nil, err
		}
		return &proctime{now: c.opts.Now, alloc: c.alloc}, nil
	case "+", "-", "*", "/", "%", "MOD":
		if err := arity(2, 2); err != nil {
			return nil, err
		}
		if nullIn() {
			return nullOf(e.T)
		}
		op := f[0]
		if f == "MOD" {
			op = '%'
		}
		return c.arith(e, op, args[0], args[1])
	case "NEG":
		if err := arity(1, 1); err != nil {
			return nil, err
		}
		if nullIn() {
			return nullOf(e.T)
		}
		zero, err := zeroOf(args[0].Type())
		if err != nil {
			return nil, err
		}
		return c.arith(e, '-', zero, args[0])
	case "=", "<>", "!=", "<", "<=", ">", ">=":
		if err := arity(2, 2); err != nil {
			return nil, err
		}
		if nullIn() {
			return nullOf(types.BooleanType)
		}
		return c.compare(e, cmpOps[f], args[0], args[1])
	case "AND", "OR":
		if err := arity(2, 2); err != nil {
			return nil, err
		}
		if err := wantBool(f, args...); err != nil {
			return nil, err
		}
		return &logic{and: f == "AND", l: args[0], r: args[1], alloc: c.alloc, shared: c.opts.Shared}, nil
	case "NOT":
		if err := arity(1, 1); err != nil {
			return nil, err
		}
		if err := wantBool(f, args...); err != nil {
			return nil, err
		}
		return &not{arg: args[0], alloc: c.alloc}, nil
	case "IS_NULL", "IS_NOT_NULL", "IS_TRUE", "IS_NOT_TRUE", "IS_FALSE", "IS_NOT_FALSE":
		if err := arity(1, 1); err != nil {
			return nil, err
		}
		k := isKinds[f]
		if k != isNull && k != isNotNull {
			if err := wantBool(f, args...); err != nil {
				return nil, err
			}
		}
		return &isTest{kind: k, arg: args[0], alloc: c.alloc}, nil
	}
	if ev, ok, err := c.compileFunc(f, e, args, arity, nullIn); ok || err != nil {
		return ev, err
	}
	if ev, ok, err := c.compileMore(f, e, args, arity, nullIn); ok || err != nil {
		return ev, err
	}
	return nil, fmt.Errorf("expr: unknown function %q", e.Func)
}

func wantBool(f string, args ...Evaluator) error {
	for _, a := range args {
		if k := a.Type().Kind; k != types.Boolean && k != types.Null {
			return fmt.Errorf("expr: %s needs BOOLEAN operands, got %s", f, a.Type())
		}
	}
	return nil
}

// zeroOf returns the literal 0 of a numeric or interval type.
func zeroOf(t types.Type) (Evaluator, error) {
	switch t.Kind {
	case types.Float, types.Double:
		return newLiteral(0.0, t.Nullable())
	case types.Int, types.BigInt, types.Decimal, types.Interval:
		return newLiteral(int64(0), t.Nullable())
	}
	return nil, fmt.Errorf("expr: cannot negate %s", t)
}

func (c *compiler) arith(e *plan.Call, op byte, l, r Evaluator) (Evaluator, error) {
	lt, rt := l.Type(), r.Type()
	lp, err := physOf(lt)
	if err != nil {
		return nil, err
	}
	rp, err := physOf(rt)
	if err != nil {
		return nil, err
	}
	tp, err := physOf(e.T)
	if err != nil {
		return nil, err
	}
	ok := false
	switch {
	case lt.Kind == types.Decimal || rt.Kind == types.Decimal:
		ok = lp == pDec && rp == pDec && tp == pDec
	case lt.IsTemporal() || rt.IsTemporal():
		// TIMESTAMP ± INTERVAL, INTERVAL + TIMESTAMP.
		ok = (op == '+' || op == '-') && lp == pI64 && rp == pI64 && tp == pI64 &&
			(rt.Kind == types.Interval || (op == '+' && lt.Kind == types.Interval))
	default:
		ok = (lt.IsNumeric() || lt.Kind == types.Interval) && lp == rp && lp == tp
	}
	if !ok {
		return nil, fmt.Errorf("expr: %s: unsupported operand types %s %c %s giving %s", e, lt, op, rt, e.T)
	}
	ar := &arith{
		op: op, src: e, l: l, r: r, t: e.T, dt: e.T.Arrow(), ph: tp, alloc: c.alloc,
		ls: lt.Scale, rs: rt.Scale, ts: e.T.Scale,
	}
	// The planner divides DECIMALs (and mixes of DECIMAL and integer) as
	// DOUBLE: a zero divisor that was exact in SQL is still a division by
	// zero, not Infinity.
	if op == '/' && (tp == pF32 || tp == pF64) && len(e.Args) == 2 {
		if k := exactKind(e.Args[1]); k == types.Decimal || k == types.Int || k == types.BigInt {
			ar.exactDivisor = true
		}
	}
	return ar, nil
}

func (c *compiler) compare(e *plan.Call, op cmpOp, l, r Evaluator) (Evaluator, error) {
	lt, rt := l.Type(), r.Type()
	lp, err := physOf(lt)
	if err != nil {
		return nil, err
	}
	rp, err := physOf(rt)
	if err != nil {
		return nil, err
	}
	if lp != rp || (lt.Kind != rt.Kind && !(lt.IsTemporal() && rt.IsTemporal())) {
		return nil, fmt.Errorf("expr: %s: cannot compare %s with %s", e, lt, rt)
	}
	return &compare{op: op, src: e, l: l, r: r, ph: lp, ls: lt.Scale, rs: rt.Scale, alloc: c.alloc}, nil
}

// exactKind is the kind of e before the planner's implicit casts to a
// floating-point type.
func exactKind(e plan.Expr) types.Kind {
	for {
		c, ok := e.(*plan.Cast)
		if !ok || c.Safe {
			return e.Type().Kind
		}
		if k := c.T.Kind; k != types.Float && k != types.Double {
			return e.Type().Kind
		}
		e = c.Arg
	}
}
