package expr

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// mapStrings builds a STRING array from a's rows: f appends row i's
// result to dst. NULL rows stay NULL.
func mapStrings(alloc memory.Allocator, valid arrow.Array, n int, f func(i int, dst []byte) []byte) arrow.Array {
	b := array.NewStringBuilder(alloc)
	defer b.Release()
	b.Reserve(n)
	bm, off := validity(valid)
	var scratch []byte
	for i := 0; i < n; i++ {
		if !isValid(bm, off, i) {
			b.AppendNull()
			continue
		}
		scratch = f(i, scratch[:0])
		b.BinaryBuilder.Append(scratch)
	}
	return b.NewArray()
}

// concat is || and CONCAT: NULL when any argument is NULL.
type concat struct {
	args  []Evaluator
	alloc memory.Allocator
}

func (e *concat) Type() types.Type      { return types.StringType }
func (e *concat) operands() []Evaluator { return e.args }

// Eval implements Evaluator.
func (e *concat) Eval(rec arrow.Record) (arrow.Array, error) {
	n := int(rec.NumRows())
	strs := make([]*array.String, 0, len(e.args))
	defer func() {
		for _, s := range strs {
			s.Release()
		}
	}()
	for _, a := range e.args {
		x, err := a.Eval(rec)
		if err != nil {
			return nil, err
		}
		strs = append(strs, x.(*array.String))
	}
	// The validity of the first argument, narrowed by the others.
	valid := arrow.Array(strs[0])
	var tmp arrow.Array
	for _, s := range strs[1:] {
		if s.NullN() == 0 {
			continue
		}
		vb, nulls := andValidity(e.alloc, valid, s)
		vbuf, _ := newFixed[byte](e.alloc, 0)
		next := makeArray(arrow.FixedWidthTypes.Boolean, n, nulls, vb, vbuf)
		release(tmp)
		tmp, valid = next, next
	}
	defer release(tmp)
	return mapStrings(e.alloc, valid, n, func(i int, dst []byte) []byte {
		for _, s := range strs {
			dst = append(dst, s.Value(i)...)
		}
		return dst
	}), nil
}

// strFunc is UPPER, LOWER, TRIM or CHAR_LENGTH.
type strFunc struct {
	fn    string
	arg   Evaluator
	t     types.Type
	alloc memory.Allocator
}

func (e *strFunc) Type() types.Type      { return e.t }
func (e *strFunc) operands() []Evaluator { return []Evaluator{e.arg} }

// Eval implements Evaluator.
func (e *strFunc) Eval(rec arrow.Record) (arrow.Array, error) {
	a, err := e.arg.Eval(rec)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	s := a.(*array.String)
	n := s.Len()
	switch e.fn {
	case "CHAR_LENGTH":
		valid, nulls := copyValidity(e.alloc, a)
		buf, out := newFixed[int32](e.alloc, n)
		for i := range out {
			out[i] = int32(utf8.RuneCountInString(s.Value(i)))
		}
		return makeArray(arrow.PrimitiveTypes.Int32, n, nulls, valid, buf), nil
	case "UPPER", "LOWER":
		if out := asciiCase(e.alloc, s, e.fn == "UPPER"); out != nil {
			return out, nil
		}
	}
	switch e.fn {
	case "UPPER":
		return mapStrings(e.alloc, a, n, func(i int, dst []byte) []byte { return appendCase(dst, s.Value(i), true) }), nil
	case "LOWER":
		return mapStrings(e.alloc, a, n, func(i int, dst []byte) []byte { return appendCase(dst, s.Value(i), false) }), nil
	case "TRIM":
		return mapStrings(e.alloc, a, n, func(i int, dst []byte) []byte { return append(dst, strings.Trim(s.Value(i), " ")...) }), nil
	}
	return nil, fmt.Errorf("expr: unknown string function %s", e.fn)
}

// asciiCase is UPPER or LOWER of an array whose text is all ASCII: the
// rows keep their lengths, so the offsets are the input's (the same
// buffer when the array starts at its buffers' beginning, else rebased)
// and the data is converted in one pass, eight bytes at a time; nil when
// a byte is not ASCII.
func asciiCase(alloc memory.Allocator, s *array.String, upper bool) arrow.Array {
	n := s.Len()
	offs, data := offsetsOf(s), dataOf(s)
	lo, hi := offs[0], offs[n]
	src := data[lo:hi]
	if !isASCII(src) {
		return nil
	}
	var valid, obuf *memory.Buffer
	nulls := 0
	if d := s.Data(); d.Offset() == 0 && lo == 0 {
		// Same rows, same lengths: the input's offsets and validity serve.
		if b := d.Buffers()[0]; b != nil && s.NullN() > 0 {
			b.Retain()
			valid, nulls = b, s.NullN()
		}
		obuf = d.Buffers()[1]
		obuf.Retain()
	} else {
		valid, nulls = copyValidity(alloc, s)
		var o []int32
		obuf, o = newFixed[int32](alloc, n+1)
		for i, x := range offs {
			o[i] = x - lo
		}
	}
	dbuf, d := newFixed[byte](alloc, len(src))
	convertCase(d, src, upper)
	return makeArray(arrow.BinaryTypes.String, n, nulls, valid, obuf, dbuf)
}

const (
	ones8  = 0x0101010101010101
	highs8 = 0x8080808080808080
)

// isASCII reports whether every byte of b is below 0x80.
func isASCII(b []byte) bool {
	var acc uint64
	i := 0
	for ; i+8 <= len(b); i += 8 {
		acc |= binary.LittleEndian.Uint64(b[i:])
	}
	for ; i < len(b); i++ {
		acc |= uint64(b[i])
	}
	return acc&highs8 == 0
}

// convertCase writes src, all ASCII, to dst in upper or lower case: a
// word's letters of the other case are found by adding to each byte (no
// byte carries into the next, all being below 0x80) the distances that
// set its high bit at the range's bounds.
func convertCase(dst, src []byte, upper bool) {
	from, to := byte('A'), byte('Z')
	if upper {
		from, to = 'a', 'z'
	}
	ge := uint64(0x80-from) * ones8 // high bit: byte >= from
	gt := uint64(0x80-to-1) * ones8 // high bit: byte > to
	i := 0
	for ; i+8 <= len(src); i += 8 {
		w := binary.LittleEndian.Uint64(src[i:])
		m := (w + ge) &^ (w + gt) & highs8
		binary.LittleEndian.PutUint64(dst[i:], w^(m>>2))
	}
	for ; i < len(src); i++ {
		c := src[i]
		if from <= c && c <= to {
			c ^= 0x20
		}
		dst[i] = c
	}
}

// appendCase appends s in upper or lower case, without allocating for
// ASCII text.
func appendCase(dst []byte, s string, upper bool) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			if upper {
				return append(dst, strings.ToUpper(s)...)
			}
			return append(dst, strings.ToLower(s)...)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// substring is SUBSTRING(s, start[, length]) in characters: start is
// 1-based, a negative start counts from the end (as Flink does), 0 is
// treated as 1; a negative length gives the empty string.
type substring struct {
	s, start, length Evaluator
	alloc            memory.Allocator
}

func (e *substring) Type() types.Type { return types.StringType }
func (e *substring) operands() []Evaluator {
	if e.length != nil {
		return []Evaluator{e.s, e.start, e.length}
	}
	return []Evaluator{e.s, e.start}
}

// Eval implements Evaluator.
func (e *substring) Eval(rec arrow.Record) (arrow.Array, error) {
	a, err := e.s.Eval(rec)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	st, err := e.start.Eval(rec)
	if err != nil {
		return nil, err
	}
	defer st.Release()
	vb, nulls := andValidity(e.alloc, a, st)
	var ln arrow.Array
	var lens []int64
	if e.length != nil {
		if ln, err = e.length.Eval(rec); err != nil {
			releaseBuf(vb)
			return nil, err
		}
		defer ln.Release()
		lens = fixedValues[int64](ln)
	}
	n := a.Len()
	mask := makeArray(arrow.FixedWidthTypes.Boolean, n, nulls, vb, memory.NewResizableBuffer(e.alloc))
	defer mask.Release()
	valid := mask
	if ln != nil && ln.NullN() > 0 {
		vb2, nulls2 := andValidity(e.alloc, mask, ln)
		valid = makeArray(arrow.FixedWidthTypes.Boolean, n, nulls2, vb2, memory.NewResizableBuffer(e.alloc))
		defer valid.Release()
	}
	s := a.(*array.String)
	starts := fixedValues[int64](st)
	return mapStrings(e.alloc, valid, n, func(i int, dst []byte) []byte {
		l := int64(-1)
		if lens != nil {
			l = lens[i]
			if l < 0 {
				return dst
			}
		}
		return append(dst, substr(s.Value(i), starts[i], l)...)
	}), nil
}

// substr returns length characters (all, if length is -1) of s from the
// 1-based character position start.
func substr(s string, start, length int64) string {
	chars := int64(utf8.RuneCountInString(s))
	switch {
	case start < 0:
		start = chars + start // from the end, 0-based
		if start < 0 {
			start = 0
		}
	case start > 0:
		start--
	}
	if start >= chars {
		return ""
	}
	end := chars
	if length >= 0 && start+length < chars {
		end = start + length
	}
	// Byte offsets of characters start and end.
	bs, be := -1, len(s)
	c := int64(0)
	for i := range s {
		if c == start {
			bs = i
		}
		if c == end {
			be = i
			break
		}
		c++
	}
	if bs < 0 {
		return ""
	}
	return s[bs:be]
}

// likeEval is [NOT] LIKE with % (any run of characters) and _ (one
// character); a backslash escapes the next pattern character. A constant
// pattern is compiled once.
type likeEval struct {
	s, pat Evaluator
	negate bool
	m      *likeMatcher // nil unless the pattern is constant
	alloc  memory.Allocator
}

func (e *likeEval) Type() types.Type      { return types.BooleanType }
func (e *likeEval) operands() []Evaluator { return []Evaluator{e.s, e.pat} }

func (c *compiler) compileLike(e *plan.Call, negate bool, args []Evaluator) (Evaluator, error) {
	for _, a := range args[:2] {
		if err := wantString(e.Func, a); err != nil {
			return nil, err
		}
	}
	if len(args) == 3 {
		esc := asConst(args[2])
		if esc == nil || esc.ph != pStr || esc.proto.(*array.String).Value(0) != `\` {
			return nil, fmt.Errorf("expr: %s: only the escape character '\\' is supported", e.Func)
		}
	}
	l := &likeEval{s: args[0], pat: args[1], negate: negate, alloc: c.alloc}
	if p := asConst(args[1]); p != nil {
		l.m = compileLike(p.proto.(*array.String).Value(0))
	}
	return l, nil
}

// Eval implements Evaluator.
func (e *likeEval) Eval(rec arrow.Record) (arrow.Array, error) {
	a, err := e.s.Eval(rec)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	s := a.(*array.String)
	n := s.Len()
	obuf, out := newBitmap(e.alloc, n)
	if e.m != nil {
		valid, nulls := copyValidity(e.alloc, a)
		m := e.m
		for i := 0; i < n; i++ {
			setBitTo(out, i, m.match(s.Value(i)) != e.negate)
		}
		return makeArray(arrow.FixedWidthTypes.Boolean, n, nulls, valid, obuf), nil
	}
	pa, err := e.pat.Eval(rec)
	if err != nil {
		obuf.Release()
		return nil, err
	}
	defer pa.Release()
	p := pa.(*array.String)
	valid, nulls := andValidity(e.alloc, a, pa)
	var m *likeMatcher
	last := ""
	for i := 0; i < n; i++ {
		if pv := p.Value(i); m == nil || pv != last {
			m, last = compileLike(pv), pv
		}
		setBitTo(out, i, m.match(s.Value(i)) != e.negate)
	}
	return makeArray(arrow.FixedWidthTypes.Boolean, n, nulls, valid, obuf), nil
}

type likeKind uint8

const (
	likeEqual    likeKind = iota // no wildcards
	likePrefix                   // abc%
	likeSuffix                   // %abc
	likeContains                 // %abc%
	likeAny                      // %
	likeGeneral
)

// likeMatcher is a compiled LIKE pattern.
type likeMatcher struct {
	kind likeKind
	lit  string    // the literal of the fast paths
	toks []likeTok // the general pattern
}

// likeTok is a run of literal text, '_' or '%'.
type likeTok struct {
	op  byte // 'l' literal, '_' or '%'
	lit string
}

func compileLike(p string) *likeMatcher {
	var toks []likeTok
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			toks = append(toks, likeTok{op: 'l', lit: string(lit)})
			lit = lit[:0]
		}
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '\\':
			if i+1 < len(p) {
				i++
			}
			lit = append(lit, p[i])
		case '%':
			flush()
			if len(toks) == 0 || toks[len(toks)-1].op != '%' {
				toks = append(toks, likeTok{op: '%'})
			}
		case '_':
			flush()
			toks = append(toks, likeTok{op: '_'})
		default:
			lit = append(lit, c)
		}
	}
	flush()
	m := &likeMatcher{kind: likeGeneral, toks: toks}
	isLit := func(t likeTok) bool { return t.op == 'l' }
	isPct := func(t likeTok) bool { return t.op == '%' }
	switch {
	case len(toks) == 0:
		m.kind, m.lit = likeEqual, ""
	case len(toks) == 1 && isLit(toks[0]):
		m.kind, m.lit = likeEqual, toks[0].lit
	case len(toks) == 1 && isPct(toks[0]):
		m.kind = likeAny
	case len(toks) == 2 && isLit(toks[0]) && isPct(toks[1]):
		m.kind, m.lit = likePrefix, toks[0].lit
	case len(toks) == 2 && isPct(toks[0]) && isLit(toks[1]):
		m.kind, m.lit = likeSuffix, toks[1].lit
	case len(toks) == 3 && isPct(toks[0]) && isLit(toks[1]) && isPct(toks[2]):
		m.kind, m.lit = likeContains, toks[1].lit
	}
	return m
}

func (m *likeMatcher) match(s string) bool {
	switch m.kind {
	case likeEqual:
		return s == m.lit
	case likePrefix:
		return strings.HasPrefix(s, m.lit)
	case likeSuffix:
		return strings.HasSuffix(s, m.lit)
	case likeContains:
		return strings.Contains(s, m.lit)
	case likeAny:
		return true
	}
	return matchToks(m.toks, s)
}

// matchToks matches s against the tokens; after a '%' the next literal is
// searched for, backtracking over its later occurrences.
func matchToks(toks []likeTok, s string) bool {
	for len(toks) > 0 {
		t := toks[0]
		switch t.op {
		case 'l':
			if !strings.HasPrefix(s, t.lit) {
				return false
			}
			s = s[len(t.lit):]
		case '_':
			if s == "" {
				return false
			}
			_, size := utf8.DecodeRuneInString(s)
			s = s[size:]
		case '%':
			rest := toks[1:]
			if len(rest) == 0 {
				return true
			}
			if rest[0].op == 'l' {
				// Jump from one occurrence of the next literal to the next.
				lit := rest[0].lit
				for i := 0; i <= len(s); i++ {
					k := strings.Index(s[i:], lit)
					if k < 0 {
						return false
					}
					i += k
					if matchToks(rest, s[i:]) {
						return true
					}
				}
				return false
			}
			for i := 0; i <= len(s); {
				if matchToks(rest, s[i:]) {
					return true
				}
				if i == len(s) {
					break
				}
				_, size := utf8.DecodeRuneInString(s[i:])
				i += size
			}
			return false
		}
		toks = toks[1:]
	}
	return s == ""
}
