package expr

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// cmpOp is a comparison operator.
type cmpOp uint8

const (
	cmpeq cmpOp = iota
	cmpne
	cmplt
	cmple
	cmpgt
	cmpge
)

var cmpOps = map[string]cmpOp{"=": cmpeq, "<>": cmpne, "!=": cmpne, "<": cmplt, "<=": cmple, ">": cmpgt, ">=": cmpge}

// flip returns the operator with its operands swapped: a < b is b > a.
func (op cmpOp) flip() cmpOp {
	switch op {
	case cmplt:
		return cmpgt
	case cmple:
		return cmpge
	case cmpgt:
		return cmplt
	case cmpge:
		return cmple
	}
	return op
}

// holds reports whether the operator holds for a three-way comparison
// result c (<0, 0, >0).
func (op cmpOp) holds(c int) bool {
	switch op {
	case cmpeq:
		return c == 0
	case cmpne:
		return c != 0
	case cmplt:
		return c < 0
	case cmple:
		return c <= 0
	case cmpgt:
		return c > 0
	}
	return c >= 0
}

// compare is a comparison of two same-typed operands; the result is NULL
// when either is.
type compare struct {
	op     cmpOp
	src    plan.Expr // printed only for an error
	l, r   Evaluator
	ph     phys
	ls, rs int // DECIMAL scales
	alloc  memory.Allocator
}

func (e *compare) Type() types.Type      { return types.BooleanType }
func (e *compare) operands() []Evaluator { return []Evaluator{e.l, e.r} }

// Eval implements Evaluator.
func (e *compare) Eval(rec arrow.Record) (arrow.Array, error) {
	n := int(rec.NumRows())
	var la, ra arrow.Array
	var lc, rc *literal
	var err error
	if e.ph == pStr {
		if c := asConst(e.r); c != nil {
			return e.cmpStrConst(rec, e.l, c, e.op)
		}
		if c := asConst(e.l); c != nil {
			return e.cmpStrConst(rec, e.r, c, e.op.flip())
		}
	}
	if e.ph == pDec {
		if c := asConst(e.r); c != nil {
			return e.cmpDecConst(rec, e.l, e.ls, c, e.rs, e.op)
		}
		if c := asConst(e.l); c != nil {
			return e.cmpDecConst(rec, e.r, e.rs, c, e.ls, e.op.flip())
		}
	}
	if e.ph == pI32 || e.ph == pI64 || e.ph == pF32 || e.ph == pF64 {
		la, ra, lc, rc, err = binOperands(e.l, e.r, rec)
	} else {
		la, err = e.l.Eval(rec)
		if err == nil {
			ra, err = e.r.Eval(rec)
			if err != nil {
				la.Release()
			}
		}
	}
	if err != nil {
		return nil, err
	}
	defer release(la, ra)
	valid, nulls := binValidity(e.alloc, la, ra)
	buf, out := newBitmap(e.alloc, n)
	switch e.ph {
	case pI32:
		cmpNum[int32](e.op, la, ra, lc, rc, out)
	case pI64:
		cmpNum[int64](e.op, la, ra, lc, rc, out)
	case pF32:
		cmpNum[float32](e.op, la, ra, lc, rc, out)
	case pF64:
		cmpNum[float64](e.op, la, ra, lc, rc, out)
	case pBool:
		e.cmpBool(la, ra, out)
	case pStr:
		a, b := la.(*array.String), ra.(*array.String)
		for i := 0; i < n; i++ {
			setBitTo(out, i, e.op.holds(strings.Compare(a.Value(i), b.Value(i))))
		}
	case pDec:
		a, b := la.(*array.Decimal128).Values(), ra.(*array.Decimal128).Values()
		cs := max(e.ls, e.rs)
		for i := 0; i < n; i++ {
			setBitTo(out, i, e.op.holds(rescale(a[i], e.ls, cs).Cmp(rescale(b[i], e.rs, cs))))
		}
	default:
		buf.Release()
		if valid != nil {
			valid.Release()
		}
		return nil, fmt.Errorf("expr: %s: cannot compare values of this type", exprText(e.src))
	}
	return makeArray(arrow.FixedWidthTypes.Boolean, n, nulls, valid, buf), nil
}

// cmpStrConst is ev op c for a constant string c (q21's LOWER(channel) =
// 'apple'): the constant is not expanded to a column, and = and <> look
// at a row's bytes only when its length is c's.
func (e *compare) cmpStrConst(rec arrow.Record, ev Evaluator, c *literal, op cmpOp) (arrow.Array, error) {
	a, err := ev.Eval(rec)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	n := a.Len()
	k := c.proto.(*array.String).Value(0)
	valid, nulls := copyValidity(e.alloc, a)
	buf, out := newBitmap(e.alloc, n)
	offs, data, kb := offsetsOf(a), dataOf(a), []byte(k)
	for i := 0; i < n; i++ {
		v := data[offs[i]:offs[i+1]]
		var hit bool
		switch op {
		case cmpeq:
			hit = len(v) == len(k) && string(v) == k
		case cmpne:
			hit = len(v) != len(k) || string(v) != k
		default:
			hit = op.holds(bytes.Compare(v, kb))
		}
		if hit {
			out[i>>3] |= 1 << (i & 7)
		}
	}
	return makeArray(arrow.FixedWidthTypes.Boolean, n, nulls, valid, buf), nil
}

// cmpDecConst is ev op c for a constant DECIMAL c (q14's 0.908 * price >
// 1000000): the constant is not expanded to a column and is brought to
// the common scale once; the rows are rescaled only when their scale is
// below it.
func (e *compare) cmpDecConst(rec arrow.Record, ev Evaluator, vs int, c *literal, cs int, op cmpOp) (arrow.Array, error) {
	a, err := ev.Eval(rec)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	n := a.Len()
	s := max(vs, cs)
	k := rescale(c.proto.(*array.Decimal128).Value(0), cs, s)
	vals := a.(*array.Decimal128).Values()
	valid, nulls := copyValidity(e.alloc, a)
	buf, out := newBitmap(e.alloc, n)
	for i, v := range vals[:n] {
		if vs != s {
			v = rescale(v, vs, s)
		}
		if op.holds(v.Cmp(k)) {
			out[i>>3] |= 1 << (i & 7)
		}
	}
	return makeArray(arrow.FixedWidthTypes.Boolean, n, nulls, valid, buf), nil
}

func cmpNum[T ordered](op cmpOp, la, ra arrow.Array, lc, rc *literal, out []byte) {
	switch {
	case lc != nil:
		cmpVS(op.flip(), fixedValues[T](ra), scalar[T](lc), out)
	case rc != nil:
		cmpVS(op, fixedValues[T](la), scalar[T](rc), out)
	default:
		cmpVV(op, fixedValues[T](la), fixedValues[T](ra), out)
	}
}

// cmpBool compares booleans (FALSE < TRUE) a byte at a time.
func (e *compare) cmpBool(la, ra arrow.Array, out []byte) {
	n := la.Len()
	a, abuf := bitmapAt0(e.alloc, valueBits(la), la.Data().Offset(), n)
	b, bbuf := bitmapAt0(e.alloc, valueBits(ra), ra.Data().Offset(), n)
	defer releaseBuf(abuf, bbuf)
	for i := range out {
		x, y := a[i], b[i]
		var v byte
		switch e.op {
		case cmpeq:
			v = ^(x ^ y)
		case cmpne:
			v = x ^ y
		case cmplt:
			v = ^x & y
		case cmple:
			v = ^x | y
		case cmpgt:
			v = x &^ y
		case cmpge:
			v = x | ^y
		}
		out[i] = v
	}
}

func releaseBuf(bs ...*memory.Buffer) {
	for _, b := range bs {
		if b != nil {
			b.Release()
		}
	}
}
