package expr

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/types"
)

// logic is AND or OR in three-valued logic, computed a byte (8 rows) at a
// time over the value and validity bitmaps.
type logic struct {
	and    bool
	l, r   Evaluator
	alloc  memory.Allocator
	shared *Shared // as caseEval's
}

func (e *logic) Type() types.Type      { return types.BooleanType }
func (e *logic) operands() []Evaluator { return []Evaluator{e.l, e.r} }

// Eval implements Evaluator.
func (e *logic) Eval(rec arrow.Record) (arrow.Array, error) {
	n := int(rec.NumRows())
	la, err := e.l.Eval(rec)
	if err != nil {
		return nil, err
	}
	defer la.Release()
	av, avl, s1 := boolBits(e.alloc, la)
	defer releaseBuf(s1...)
	ra, err := e.r.Eval(rec)
	if err != nil {
		// Evaluate the right side only where the left does not decide the
		// result, as Flink's short-circuit evaluation would.
		mbuf, mask := newBitmap(e.alloc, n)
		for i := range mask {
			x, xv := av[i], byte(0xff)
			if avl != nil {
				xv = avl[i]
			}
			if e.and {
				mask[i] = ^(^x & xv) // not known FALSE
			} else {
				mask[i] = ^(x & xv) // not known TRUE
			}
		}
		ra, err = evalOn(e.r, rec, mask, err, e.alloc, e.shared)
		mbuf.Release()
		if err != nil {
			return nil, err
		}
	}
	defer ra.Release()
	bv, bvl, s2 := boolBits(e.alloc, ra)
	defer releaseBuf(s2...)
	vbuf, vals := newBitmap(e.alloc, n)
	nbuf, valid := newBitmap(e.alloc, n)
	for i := range vals {
		x, y := av[i], bv[i]
		xv, yv := byte(0xff), byte(0xff)
		if avl != nil {
			xv = avl[i]
		}
		if bvl != nil {
			yv = bvl[i]
		}
		xt, xf := x&xv, ^x&xv
		yt, yf := y&yv, ^y&yv
		var t, f byte
		if e.and {
			t, f = xt&yt, xf|yf
		} else {
			t, f = xt|yt, xf&yf
		}
		vals[i] = t
		valid[i] = t | f
	}
	return finishBool(n, vbuf, nbuf), nil
}

// finishBool makes a boolean array, dropping the validity bitmap when it
// has no nulls.
func finishBool(n int, vals, valid *memory.Buffer) arrow.Array {
	nulls := 0
	if valid != nil {
		nulls = n - popcount(valid.Bytes(), n)
		if nulls == 0 {
			valid.Release()
			valid = nil
		}
	}
	return makeArray(arrow.FixedWidthTypes.Boolean, n, nulls, valid, vals)
}

// not is NOT: NULL stays NULL.
type not struct {
	arg   Evaluator
	alloc memory.Allocator
}

func (e *not) Type() types.Type      { return types.BooleanType }
func (e *not) operands() []Evaluator { return []Evaluator{e.arg} }

// Eval implements Evaluator.
func (e *not) Eval(rec arrow.Record) (arrow.Array, error) {
	a, err := e.arg.Eval(rec)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	n := a.Len()
	av, _, s := boolBits(e.alloc, a)
	defer releaseBuf(s...)
	vbuf, vals := newBitmap(e.alloc, n)
	for i := range vals {
		vals[i] = ^av[i]
	}
	valid, nulls := copyValidity(e.alloc, a)
	return makeArray(arrow.FixedWidthTypes.Boolean, n, nulls, valid, vbuf), nil
}

// isKind is one of the IS_* tests.
type isKind uint8

const (
	isNull isKind = iota
	isNotNull
	isTrue
	isNotTrue
	isFalse
	isNotFalse
)

var isKinds = map[string]isKind{
	"IS_NULL": isNull, "IS_NOT_NULL": isNotNull, "IS_TRUE": isTrue,
	"IS_NOT_TRUE": isNotTrue, "IS_FALSE": isFalse, "IS_NOT_FALSE": isNotFalse,
}

// isTest is IS [NOT] NULL / TRUE / FALSE; its result is never NULL.
type isTest struct {
	kind  isKind
	arg   Evaluator
	alloc memory.Allocator
}

func (e *isTest) Type() types.Type      { return types.BooleanType.WithNotNull(true) }
func (e *isTest) operands() []Evaluator { return []Evaluator{e.arg} }

// Eval implements Evaluator.
func (e *isTest) Eval(rec arrow.Record) (arrow.Array, error) {
	a, err := e.arg.Eval(rec)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	n := a.Len()
	vbuf, vals := newBitmap(e.alloc, n)
	var av, avl []byte
	switch e.kind {
	case isNull, isNotNull:
		if bm, off := validity(a); bm != nil {
			var s *memory.Buffer
			avl, s = bitmapAt0(e.alloc, bm, off, n)
			defer releaseBuf(s)
		}
	default:
		var s []*memory.Buffer
		av, avl, s = boolBits(e.alloc, a)
		defer releaseBuf(s...)
	}
	for i := range vals {
		xv := byte(0xff)
		if avl != nil {
			xv = avl[i]
		}
		var v byte
		switch e.kind {
		case isNull:
			v = ^xv
		case isNotNull:
			v = xv
		case isTrue:
			v = av[i] & xv
		case isNotTrue:
			v = ^(av[i] & xv)
		case isFalse:
			v = ^av[i] & xv
		case isNotFalse:
			v = ^(^av[i] & xv)
		}
		vals[i] = v
	}
	return makeArray(arrow.FixedWidthTypes.Boolean, n, 0, nil, vbuf), nil
}
