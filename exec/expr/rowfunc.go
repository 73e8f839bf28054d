package expr

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/types"
)

// rowFunc is the shape of most string and time functions: the arguments
// are evaluated over the batch, then a per-row kernel computes each result
// row. The kernel is bound once per batch (bind reads the typed views of
// the argument arrays, so no row pays for a type switch), and a row
// returns ok false for a NULL result (Flink's NULL for no match, a bad
// index, an unparsable value). Unless seesNulls, a row where any argument
// is NULL is NULL without calling the kernel.
//
// A STRING kernel appends its row's value to dst, the values of the rows
// before it, and returns the extended slice (on a NULL result or an
// error, what it returns is ignored): the values are built in place in
// the result's buffer, with no allocation or copy per row.
type rowFunc struct {
	name      string
	args      []Evaluator
	t         types.Type
	seesNulls bool
	alloc     memory.Allocator

	// Exactly one of these is set, matching t: STRING, or an integer kind
	// (INT as int32, BIGINT and TIMESTAMP as int64), or BOOLEAN.
	str  func(cols []arrow.Array) strRow
	i64  func(cols []arrow.Array) i64Row
	bool func(cols []arrow.Array) boolRow

	// lastSize is the size of the values of the last batch of a STRING
	// function, the first guess of the next one's.
	lastSize atomic.Int64
}

type (
	strRow  func(i int, dst []byte) ([]byte, bool, error)
	i64Row  func(i int) (int64, bool, error)
	boolRow func(i int) (bool, bool, error)
)

func (e *rowFunc) Type() types.Type      { return e.t }
func (e *rowFunc) operands() []Evaluator { return e.args }

// Eval implements Evaluator.
func (e *rowFunc) Eval(rec arrow.Record) (arrow.Array, error) {
	n := int(rec.NumRows())
	cols := make([]arrow.Array, 0, len(e.args))
	defer func() { release(cols...) }()
	for _, a := range e.args {
		x, err := a.Eval(rec)
		if err != nil {
			return nil, err
		}
		cols = append(cols, x)
	}
	var valid []byte // nil: every row is a candidate
	if !e.seesNulls {
		vbuf, v := andAll(e.alloc, cols, n)
		if vbuf != nil {
			defer vbuf.Release()
		}
		valid = v
	}
	switch {
	case e.str != nil:
		return e.evalStr(cols, valid, n)
	case e.i64 != nil:
		return e.evalI64(cols, valid, n)
	default:
		return e.evalBool(cols, valid, n)
	}
}

func (e *rowFunc) evalStr(cols []arrow.Array, valid []byte, n int) (arrow.Array, error) {
	f := e.str(cols)
	obuf, offs := newFixed[int32](e.alloc, n+1)
	vbuf, vb := newBitmap(e.alloc, n)
	// The rows append to data in place; it starts at the size of the
	// last batch's values, so that it seldom grows.
	hint := int(e.lastSize.Load())
	data := make([]byte, 0, hint+hint/8+64)
	null := 0
	for i := 0; i < n; i++ {
		offs[i] = int32(len(data))
		if valid != nil && !bitIsSet(valid, i) {
			null++
			continue
		}
		out, ok, err := f(i, data)
		if err != nil {
			releaseBuf(obuf, vbuf)
			return nil, fmt.Errorf("expr: %s: %w", e.name, err)
		}
		if !ok {
			null++
			continue
		}
		if len(out) > math.MaxInt32 {
			releaseBuf(obuf, vbuf)
			return nil, fmt.Errorf("expr: %s: results of more than 2 GiB in a batch", e.name)
		}
		data = out
		vb[i>>3] |= 1 << (i & 7)
	}
	offs[n] = int32(len(data))
	e.lastSize.Store(int64(len(data)))
	if null == 0 {
		vbuf.Release()
		vbuf = nil
	}
	return makeArray(arrow.BinaryTypes.String, n, null, vbuf, obuf, memory.NewBufferBytes(data)), nil
}

func (e *rowFunc) evalI64(cols []arrow.Array, valid []byte, n int) (arrow.Array, error) {
	f := e.i64(cols)
	vbuf, vb := newBitmap(e.alloc, n)
	var (
		buf  *memory.Buffer
		o64  []int64
		o32  []int32
		null int
	)
	if e.t.Kind == types.Int {
		buf, o32 = newFixedZero[int32](e.alloc, n)
	} else {
		buf, o64 = newFixedZero[int64](e.alloc, n)
	}
	for i := 0; i < n; i++ {
		if valid != nil && !bitIsSet(valid, i) {
			null++
			continue
		}
		v, ok, err := f(i)
		if err != nil {
			releaseBuf(buf, vbuf)
			return nil, fmt.Errorf("expr: %s: %w", e.name, err)
		}
		if !ok {
			null++
			continue
		}
		vb[i>>3] |= 1 << (i & 7)
		if o32 != nil {
			o32[i] = int32(v)
		} else {
			o64[i] = v
		}
	}
	if null == 0 {
		vbuf.Release()
		vbuf = nil
	}
	return makeArray(e.t.Arrow(), n, null, vbuf, buf), nil
}

func (e *rowFunc) evalBool(cols []arrow.Array, valid []byte, n int) (arrow.Array, error) {
	f := e.bool(cols)
	vbuf, vb := newBitmap(e.alloc, n)
	obuf, out := newBitmap(e.alloc, n)
	null := 0
	for i := 0; i < n; i++ {
		if valid != nil && !bitIsSet(valid, i) {
			null++
			continue
		}
		v, ok, err := f(i)
		if err != nil {
			releaseBuf(obuf, vbuf)
			return nil, fmt.Errorf("expr: %s: %w", e.name, err)
		}
		if !ok {
			null++
			continue
		}
		vb[i>>3] |= 1 << (i & 7)
		setBitTo(out, i, v)
	}
	if null == 0 {
		vbuf.Release()
		vbuf = nil
	}
	return makeArray(arrow.FixedWidthTypes.Boolean, n, null, vbuf, obuf), nil
}

// andAll returns the rows where every column is non-NULL as a bitmap at
// offset 0, or nil (and a nil buffer) when no column has a NULL.
func andAll(alloc memory.Allocator, cols []arrow.Array, n int) (*memory.Buffer, []byte) {
	var buf *memory.Buffer
	var out []byte
	for _, c := range cols {
		bm, off := validity(c)
		if bm == nil {
			continue
		}
		if out == nil {
			buf, out = newBitmap(alloc, n)
			bitutil.CopyBitmap(bm, off, n, out, 0)
			continue
		}
		tbuf, tmp := newBitmap(alloc, n)
		bitutil.BitmapAnd(out, bm, 0, int64(off), tmp, 0, int64(n))
		copy(out, tmp)
		tbuf.Release()
	}
	return buf, out
}

// strs returns the typed view of a STRING argument.
func strs(a arrow.Array) *array.String { return a.(*array.String) }

// ints returns the values of a BIGINT (or TIMESTAMP) argument.
func ints(a arrow.Array) []int64 { return fixedValues[int64](a) }
