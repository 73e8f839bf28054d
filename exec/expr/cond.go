package expr

import (
	"fmt"
	"math/bits"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// caseEval is a searched CASE (also IF): the conditions pick, per row, the
// first arm whose condition is TRUE, else the ELSE arm; then every arm that
// some row picked is evaluated and the rows are gathered from the arms.
//
// Arms are evaluated over the whole batch first (cheap, and usually
// correct); an arm that fails is evaluated again over only the rows that
// picked it, so that a failure on a row the arm does not apply to (say a
// division by zero the condition guards against) does not fail the batch.
type caseEval struct {
	conds []Evaluator
	arms  []Evaluator // len(conds)+1: the results, then ELSE
	t     types.Type
	alloc memory.Allocator
	// shared is the Shared the arms were compiled with, or nil (evalOn).
	shared *Shared
}

func (e *caseEval) Type() types.Type { return e.t }

func (e *caseEval) operands() []Evaluator {
	return append(append([]Evaluator(nil), e.conds...), e.arms...)
}

func (c *compiler) compileCase(e *plan.Case) (Evaluator, error) {
	if len(e.Whens) > 250 {
		return nil, fmt.Errorf("expr: CASE with %d arms, at most 250 are supported", len(e.Whens))
	}
	ce := &caseEval{t: e.T, alloc: c.alloc, shared: c.opts.Shared}
	for _, w := range e.Whens {
		cond, err := c.compile(w.Cond)
		if err != nil {
			return nil, err
		}
		if err := wantBool("CASE WHEN", cond); err != nil {
			return nil, err
		}
		res, err := c.compileTo(w.Result, e.T)
		if err != nil {
			return nil, err
		}
		ce.conds = append(ce.conds, cond)
		ce.arms = append(ce.arms, res)
	}
	var els Evaluator
	var err error
	if e.Else == nil {
		els, err = newLiteral(nil, e.T)
	} else {
		els, err = c.compileTo(e.Else, e.T)
	}
	if err != nil {
		return nil, err
	}
	ce.arms = append(ce.arms, els)
	return ce, nil
}

// compileTo compiles e and converts it to t: a NULL literal becomes the
// NULL of t, another type is cast.
func (c *compiler) compileTo(e plan.Expr, t types.Type) (Evaluator, error) {
	ev, err := c.compile(e)
	if err != nil {
		return nil, err
	}
	return c.convert(ev, t)
}

func (c *compiler) convert(ev Evaluator, t types.Type) (Evaluator, error) {
	switch {
	case types.Same(ev.Type(), t):
		return ev, nil
	case isNullLit(ev) || ev.Type().Kind == types.Null:
		return newLiteral(nil, t)
	}
	fp, err := physOf(ev.Type())
	if err != nil {
		return nil, err
	}
	tp, err := physOf(t)
	if err != nil {
		return nil, err
	}
	if !castable(ev.Type(), t) {
		return nil, fmt.Errorf("expr: cannot convert %s to %s", ev.Type(), t)
	}
	return fold(&castEval{arg: ev, from: ev.Type(), to: t, fp: fp, tp: tp, dt: t.Arrow(), alloc: c.alloc}), nil
}

// Eval implements Evaluator.
func (e *caseEval) Eval(rec arrow.Record) (arrow.Array, error) {
	n := int(rec.NumRows())
	sbuf, src := newFixed[uint8](e.alloc, n)
	defer sbuf.Release()
	rbuf, remaining := newBitmap(e.alloc, n)
	defer rbuf.Release()
	setAll(remaining, n)
	left := n
	for j, cond := range e.conds {
		if left == 0 {
			break
		}
		c, err := cond.Eval(rec)
		if err != nil {
			if c, err = evalOn(cond, rec, remaining, err, e.alloc, e.shared); err != nil {
				return nil, err
			}
		}
		cv, cvl, scratch := boolBits(e.alloc, c)
		for b := range remaining {
			hit := cv[b] & remaining[b]
			if cvl != nil {
				hit &= cvl[b]
			}
			if b == len(remaining)-1 && n%8 != 0 {
				hit &= 1<<(n%8) - 1
			}
			if hit == 0 {
				continue
			}
			remaining[b] &^= hit
			left -= bits.OnesCount8(hit)
			for ; hit != 0; hit &= hit - 1 {
				src[b*8+bits.TrailingZeros8(hit)] = uint8(j)
			}
		}
		releaseBuf(scratch...)
		c.Release()
	}
	elseArm := len(e.conds)
	if left > 0 {
		for b, r := range remaining {
			if b == len(remaining)-1 && n%8 != 0 {
				r &= 1<<(n%8) - 1
			}
			for ; r != 0; r &= r - 1 {
				src[b*8+bits.TrailingZeros8(r)] = uint8(elseArm)
			}
		}
	}
	// Which arms do rows use?
	used := make([]int, len(e.arms))
	for _, s := range src {
		used[s]++
	}
	if n == 0 {
		used[elseArm] = 1
	}
	arrays := make([]arrow.Array, 0, len(e.arms))
	slot := make([]uint8, len(e.arms))
	defer func() { release(arrays...) }()
	for k, arm := range e.arms {
		if used[k] == 0 {
			continue
		}
		if l := asConst(arm); l != nil && used[k] < n && n > 1 && arrow.TypeEqual(l.proto.DataType(), e.t.Arrow()) {
			// A constant arm is gathered from its one row, not
			// expanded to the batch.
			l.proto.Retain()
			slot[k] = uint8(len(arrays))
			arrays = append(arrays, l.proto)
			continue
		}
		a, err := arm.Eval(rec)
		if err != nil {
			mbuf, mask := newBitmap(e.alloc, n)
			for i, s := range src {
				if int(s) == k {
					mask[i>>3] |= 1 << (i & 7)
				}
			}
			a, err = evalOn(arm, rec, mask, err, e.alloc, e.shared)
			mbuf.Release()
			if err != nil {
				return nil, err
			}
		}
		if used[k] == n {
			return a, nil
		}
		slot[k] = uint8(len(arrays))
		arrays = append(arrays, a)
	}
	for i, s := range src {
		src[i] = slot[s]
	}
	return gather(e.alloc, e.t.Arrow(), arrays, src, nil, n)
}

// coalesce is COALESCE(a, b, ...): the first non-NULL argument per row.
// Later arguments are evaluated only as far as rows are still NULL.
type coalesce struct {
	args   []Evaluator
	t      types.Type
	alloc  memory.Allocator
	shared *Shared // as caseEval's
}

func (e *coalesce) Type() types.Type      { return e.t }
func (e *coalesce) operands() []Evaluator { return e.args }

// Eval implements Evaluator.
func (e *coalesce) Eval(rec arrow.Record) (arrow.Array, error) {
	n := int(rec.NumRows())
	sbuf, src := newFixed[uint8](e.alloc, n)
	defer sbuf.Release()
	rbuf, remaining := newBitmap(e.alloc, n)
	defer rbuf.Release()
	setAll(remaining, n)
	left := n
	var arrays []arrow.Array
	defer func() { release(arrays...) }()
	for _, arg := range e.args {
		if left == 0 && len(arrays) > 0 {
			break
		}
		a, err := arg.Eval(rec)
		if err != nil {
			if a, err = evalOn(arg, rec, remaining, err, e.alloc, e.shared); err != nil {
				return nil, err
			}
		}
		if len(arrays) == 0 && a.NullN() == 0 {
			return a, nil
		}
		j := uint8(len(arrays))
		arrays = append(arrays, a)
		bm, off := validity(a)
		for i := 0; i < n; i++ {
			// A row NULL in every argument ends up taking the last one,
			// where it is NULL too.
			if bitIsSet(remaining, i) {
				src[i] = j
				if isValid(bm, off, i) {
					setBitTo(remaining, i, false)
					left--
				}
			}
		}
	}
	return gather(e.alloc, e.t.Arrow(), arrays, src, nil, n)
}
