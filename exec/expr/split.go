package expr

import (
	"math/bits"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// SPLIT_INDEX(s, sep, n) calls of a Calc with the same string operand and
// the same constant separator (Nexmark q22's three directories of a url)
// split each row once: the first of them over a batch records where the
// row's tokens end, up to the largest constant index any of them asks
// for, and each call then copies its token out of the row. The record is
// kept in the Calc's Shared (one goroutine) and is of one array: a call
// over another array (another batch, or the rows a CASE evaluates again)
// splits it anew.

// splitKey names the split of one string operand at one separator.
type splitKey struct {
	operand int // the operand's value number in Shared
	sep     string
}

// splitMemo holds the token ends of the rows of arr, the last array split.
type splitMemo struct {
	sep  string
	k    int         // the largest index a call asks for
	arr  arrow.Array // identity only: not retained, never read after the batch
	done int         // the largest index ends were computed for, over arr
	// ends[i*(done+1)+j] is where row i's token j ends (exclusive), or
	// -1 when the row has no token j (too few separators, an empty or
	// NULL row).
	ends []int32
}

// sharedSplit returns SPLIT_INDEX(args...) reading the split it shares
// with the other calls over the same operand and separator, or nil when
// the call does not qualify (no Shared, a separator or index that is not
// a constant, an empty separator, a negative index).
func (c *compiler) sharedSplit(e *plan.Call, args []Evaluator) Evaluator {
	s := c.opts.Shared
	if s == nil || len(args) != 3 || len(e.Args) != 3 {
		return nil
	}
	id, ok := s.ids[e.Args[0]]
	if !ok || id < 0 {
		return nil
	}
	sepL, idxL := asConst(args[1]), asConst(args[2])
	if sepL == nil || idxL == nil {
		return nil
	}
	sep := sepL.proto.(*array.String).Value(0)
	idx := scalar[int64](idxL)
	if sep == "" || idx < 0 || idx > 1<<16 {
		return nil
	}
	if s.splits == nil {
		s.splits = map[splitKey]*splitMemo{}
	}
	key := splitKey{operand: id, sep: sep}
	m := s.splits[key]
	if m == nil {
		m = &splitMemo{sep: sep}
		s.splits[key] = m
	}
	m.k = max(m.k, int(idx))
	return &splitIndexEval{arg: args[0], m: m, idx: int(idx), alloc: c.alloc}
}

// splitIndexEval is one SPLIT_INDEX call over a shared split.
type splitIndexEval struct {
	arg   Evaluator
	m     *splitMemo
	idx   int
	alloc memory.Allocator
}

func (e *splitIndexEval) Type() types.Type      { return strT }
func (e *splitIndexEval) operands() []Evaluator { return []Evaluator{e.arg} }

// Eval implements Evaluator.
func (e *splitIndexEval) Eval(rec arrow.Record) (arrow.Array, error) {
	a, err := e.arg.Eval(rec)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	s := a.(*array.String)
	m := e.m
	if m.arr != a || m.done < e.idx {
		m.split(s)
		m.arr = a
	}
	n, w, j := s.Len(), m.done+1, e.idx
	start := func(i int) int32 {
		if j == 0 {
			return 0
		}
		return m.ends[i*w+j-1] + int32(len(m.sep))
	}
	total, nulls := 0, 0
	for i := 0; i < n; i++ {
		if end := m.ends[i*w+j]; end >= 0 {
			total += int(end - start(i))
		} else {
			nulls++
		}
	}
	offBuf, offs := newFixed[int32](e.alloc, n+1)
	dataBuf, data := newFixed[byte](e.alloc, total)
	var vbuf *memory.Buffer
	var vb []byte
	if nulls > 0 {
		vbuf, vb = newBitmap(e.alloc, n)
	}
	at := int32(0)
	for i := 0; i < n; i++ {
		offs[i] = at
		end := m.ends[i*w+j]
		if end < 0 {
			continue
		}
		if vb != nil {
			vb[i>>3] |= 1 << (i & 7)
		}
		at += int32(copyShort(data[at:], s.Value(i)[start(i):end]))
	}
	offs[n] = at
	return makeArray(arrow.BinaryTypes.String, n, nulls, vbuf, offBuf, dataBuf), nil
}

// split records the token ends of s's rows up to token m.k.
func (m *splitMemo) split(s *array.String) {
	n, w := s.Len(), m.k+1
	if cap(m.ends) < n*w {
		m.ends = make([]int32, n*w)
	}
	ends := m.ends[:n*w]
	bm, off := validity(s)
	sep := m.sep
	for i := 0; i < n; i++ {
		row := ends[i*w : i*w+w]
		v := ""
		if isValid(bm, off, i) {
			v = s.Value(i)
		}
		j := 0
		if v != "" {
			p := 0
			for ; j < w; j++ {
				var q int
				if len(sep) == 1 {
					q = indexByteShort(v[p:], sep[0])
				} else {
					q = strings.Index(v[p:], sep)
				}
				if q < 0 {
					row[j] = int32(len(v))
					j++
					break
				}
				row[j] = int32(p + q)
				p += q + len(sep)
			}
		}
		for ; j < w; j++ {
			row[j] = -1
		}
	}
	m.ends, m.done = ends, m.k
}

// indexByteShort is strings.IndexByte for the short tokens of a split
// (a url's directories): eight bytes at a time, without the call and
// setup of the vectorized search, which pays off over long texts only.
// A word's first byte equal to c is the lowest whose high bit
// (x - 0x01…) &^ x sets, x being the word xor c in every byte: a borrow
// reaches only the bytes above a zero one.
func indexByteShort(v string, c byte) int {
	pat := uint64(c) * ones8
	i := 0
	for ; i+8 <= len(v); i += 8 {
		w := v[i : i+8]
		x := (uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56) ^ pat
		if t := (x - ones8) &^ x & highs8; t != 0 {
			return i + bits.TrailingZeros64(t)/8
		}
	}
	for ; i < len(v); i++ {
		if v[i] == c {
			return i
		}
	}
	return -1
}
