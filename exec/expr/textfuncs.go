package expr

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

var (
	strT  = types.StringType
	boolT = types.BooleanType
	intT  = types.IntType
	i64T  = types.BigIntType
)

// funcAliases are Flink's other names of functions.
var funcAliases = map[string]string{"SUBSTR": "SUBSTRING", "CHARACTER_LENGTH": "CHAR_LENGTH"}

// maxResultBytes bounds one value built by REPEAT, LPAD and RPAD: a longer
// result is an error naming the function, not an exhausted memory.
const maxResultBytes = 64 << 20

// argSpec is the kind each argument of a function must have: 's' STRING,
// 'i' an integer (converted to BIGINT), 't' a timestamp.
func (c *compiler) checkArgs(f string, args []Evaluator, spec string) error {
	for i, a := range args {
		k := spec[min(i, len(spec)-1)]
		t := a.Type()
		switch k {
		case 's':
			if t.Kind != types.String {
				return fmt.Errorf("expr: %s: argument %d must be STRING, got %s", f, i+1, t)
			}
		case 'i':
			if !t.IsInteger() {
				return fmt.Errorf("expr: %s: argument %d must be an integer, got %s", f, i+1, t)
			}
			var err error
			if args[i], err = c.convert(a, i64T); err != nil {
				return err
			}
		case 't':
			if !t.IsTemporal() {
				return fmt.Errorf("expr: %s: argument %d must be a timestamp, got %s", f, i+1, t)
			}
		}
	}
	return nil
}

// compileMore builds the string, regular-expression and date-time
// functions beyond compileFunc's; ok is false for an unknown name. Each
// returns NULL when an argument is NULL (CONCAT_WS: when the separator
// is), and the Flink NULLs its documentation names.
func (c *compiler) compileMore(f string, e *plan.Call, args []Evaluator, arity func(lo, hi int) error, nullIn func() bool) (ev Evaluator, ok bool, err error) {
	type sig struct {
		lo, hi int
		spec   string
	}
	sigs := map[string]sig{
		"REGEXP": {2, 2, "s"}, "REGEXP_EXTRACT": {2, 3, "ssi"}, "REGEXP_REPLACE": {3, 3, "s"},
		"SPLIT_INDEX": {3, 3, "ssi"}, "CONCAT_WS": {1, 250, "s"}, "LPAD": {3, 3, "sis"}, "RPAD": {3, 3, "sis"},
		"INITCAP": {1, 1, "s"}, "REVERSE": {1, 1, "s"}, "REPEAT": {2, 2, "si"}, "INSTR": {2, 2, "s"},
		"LOCATE": {2, 3, "ssi"}, "LEFT": {2, 2, "si"}, "RIGHT": {2, 2, "si"}, "LTRIM": {1, 2, "s"},
		"RTRIM": {1, 2, "s"}, "TRIM": {2, 2, "s"}, "REPLACE": {3, 3, "s"}, "MD5": {1, 1, "s"}, "SHA1": {1, 1, "s"},
		"SHA256": {1, 1, "s"}, "SHA512": {1, 1, "s"},
		"DATE_FORMAT": {2, 2, "ts"}, "FROM_UNIXTIME": {1, 2, "is"}, "TO_TIMESTAMP": {1, 2, "s"},
		"UNIX_TIMESTAMP": {1, 2, "s"},
		"DAYOFWEEK":      {1, 1, "t"}, "DAYOFYEAR": {1, 1, "t"}, "QUARTER": {1, 1, "t"}, "WEEK": {1, 1, "t"},
		"NULLIF": {2, 2, ""}, "GREATEST": {1, 250, ""}, "LEAST": {1, 250, ""},
	}
	s, known := sigs[f]
	if !known {
		return nil, false, nil
	}
	done := func(ev Evaluator, err error) (Evaluator, bool, error) {
		if err != nil {
			return nil, true, err
		}
		ev, err = c.convert(ev, e.T)
		return ev, true, err
	}
	if err := arity(s.lo, s.hi); err != nil {
		return done(nil, err)
	}
	switch f {
	case "NULLIF":
		return done(c.compileNullIf(e, args))
	case "GREATEST", "LEAST":
		return done(c.compileGreatest(f, e, args, nullIn))
	case "CONCAT_WS":
		if err := c.checkArgs(f, args, s.spec); err != nil {
			return done(nil, err)
		}
		if isNullLit(args[0]) {
			return done(newLiteral(nil, strT))
		}
		return done(c.concatWS(args), nil)
	}
	if nullIn() {
		return done(newLiteral(nil, e.T))
	}
	if err := c.checkArgs(f, args, s.spec); err != nil {
		return done(nil, err)
	}
	switch f {
	case "REGEXP", "REGEXP_EXTRACT", "REGEXP_REPLACE":
		return done(c.compileRegexp(f, args))
	case "DATE_FORMAT", "FROM_UNIXTIME", "TO_TIMESTAMP", "UNIX_TIMESTAMP":
		return done(c.compileDateTime(f, args))
	case "DAYOFWEEK", "DAYOFYEAR", "QUARTER", "WEEK":
		return done(&timePart{arg: args[0], part: timePartFuncs[f], t: i64T, alloc: c.alloc}, nil)
	}
	if f == "SPLIT_INDEX" {
		if ev := c.sharedSplit(e, args); ev != nil {
			return done(ev, nil)
		}
	}
	return done(c.textFunc(f, args), nil)
}

// textFunc builds the plain string functions, over STRING and BIGINT
// arguments.
func (c *compiler) textFunc(f string, args []Evaluator) Evaluator {
	ev := &rowFunc{name: f, args: args, t: strT, alloc: c.alloc}
	one := func(g func(s string, dst []byte) []byte) func([]arrow.Array) strRow {
		return func(cols []arrow.Array) strRow {
			s := strs(cols[0])
			return func(i int, dst []byte) ([]byte, bool, error) { return g(s.Value(i), dst), true, nil }
		}
	}
	switch f {
	case "INITCAP":
		ev.str = one(appendInitcap)
	case "REVERSE":
		ev.str = one(func(s string, dst []byte) []byte {
			for len(s) > 0 {
				r, size := utf8.DecodeLastRuneInString(s)
				dst = utf8.AppendRune(dst, r)
				s = s[:len(s)-size]
			}
			return dst
		})
	case "LTRIM", "RTRIM", "TRIM":
		// (s[, chars]): the characters of chars (default a space) removed
		// from the start, the end or both.
		trim := map[string]func(string, string) string{"LTRIM": strings.TrimLeft, "RTRIM": strings.TrimRight, "TRIM": strings.Trim}[f]
		ev.str = func(cols []arrow.Array) strRow {
			s := strs(cols[0])
			var chars *array.String
			if len(cols) == 2 {
				chars = strs(cols[1])
			}
			return func(i int, dst []byte) ([]byte, bool, error) {
				cut := " "
				if chars != nil {
					cut = chars.Value(i)
				}
				return append(dst, trim(s.Value(i), cut)...), true, nil
			}
		}
	case "MD5", "SHA1", "SHA256", "SHA512":
		ev.str = one(func(s string, dst []byte) []byte {
			b := unsafe.Slice(unsafe.StringData(s), len(s))
			switch f {
			case "MD5":
				h := md5.Sum(b)
				return hex.AppendEncode(dst, h[:])
			case "SHA1":
				h := sha1.Sum(b)
				return hex.AppendEncode(dst, h[:])
			case "SHA256":
				h := sha256.Sum256(b)
				return hex.AppendEncode(dst, h[:])
			}
			h := sha512.Sum512(b)
			return hex.AppendEncode(dst, h[:])
		})
	case "REPEAT":
		ev.str = func(cols []arrow.Array) strRow {
			s, ns := strs(cols[0]), ints(cols[1])
			return func(i int, dst []byte) ([]byte, bool, error) {
				v, n := s.Value(i), ns[i]
				if n <= 0 || v == "" {
					return dst, true, nil
				}
				if n > maxResultBytes/int64(len(v)) {
					return dst, false, fmt.Errorf("%d repetitions of %d bytes exceed the limit of %d bytes", n, len(v), maxResultBytes)
				}
				for ; n > 0; n-- {
					dst = append(dst, v...)
				}
				return dst, true, nil
			}
		}
	case "LEFT", "RIGHT":
		ev.str = func(cols []arrow.Array) strRow {
			s, ns := strs(cols[0]), ints(cols[1])
			return func(i int, dst []byte) ([]byte, bool, error) {
				v, n := s.Value(i), ns[i]
				if n <= 0 {
					return dst, true, nil
				}
				if f == "LEFT" {
					return append(dst, prefixChars(v, n)...), true, nil
				}
				return append(dst, suffixChars(v, n)...), true, nil
			}
		}
	case "LPAD", "RPAD":
		ev.str = func(cols []arrow.Array) strRow {
			s, ns, pads := strs(cols[0]), ints(cols[1]), strs(cols[2])
			return func(i int, dst []byte) ([]byte, bool, error) {
				return appendPad(dst, s.Value(i), ns[i], pads.Value(i), f == "LPAD")
			}
		}
	case "REPLACE":
		ev.str = func(cols []arrow.Array) strRow {
			s, from, to := strs(cols[0]), strs(cols[1]), strs(cols[2])
			return func(i int, dst []byte) ([]byte, bool, error) {
				return appendReplace(dst, s.Value(i), from.Value(i), to.Value(i)), true, nil
			}
		}
	case "SPLIT_INDEX":
		ev.str = func(cols []arrow.Array) strRow {
			s, sep, idx := strs(cols[0]), strs(cols[1]), ints(cols[2])
			return func(i int, dst []byte) ([]byte, bool, error) {
				tok, ok := splitIndex(s.Value(i), sep.Value(i), idx[i])
				return append(dst, tok...), ok, nil
			}
		}
	case "INSTR", "LOCATE":
		ev.t, ev.str = intT, nil
		ev.i64 = func(cols []arrow.Array) i64Row {
			a, b := strs(cols[0]), strs(cols[1])
			var from []int64
			if len(cols) == 3 {
				from = ints(cols[2])
			}
			return func(i int) (int64, bool, error) {
				if f == "INSTR" { // INSTR(s, sub)
					return locate(b.Value(i), a.Value(i), 1), true, nil
				}
				pos := int64(1) // LOCATE(sub, s[, from])
				if from != nil {
					pos = from[i]
				}
				return locate(a.Value(i), b.Value(i), pos), true, nil
			}
		}
	}
	return ev
}

// appendInitcap upper-cases the first letter or digit of each word (a run
// of letters and digits) and lower-cases the rest.
func appendInitcap(s string, dst []byte) []byte {
	start := true
	for _, r := range s {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			start = true
		case start:
			r, start = unicode.ToUpper(r), false
		default:
			r = unicode.ToLower(r)
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// prefixChars returns the first n characters of s.
func prefixChars(s string, n int64) string {
	if n >= int64(len(s)) {
		return s
	}
	c := int64(0)
	for i := range s {
		if c == n {
			return s[:i]
		}
		c++
	}
	return s
}

// suffixChars returns the last n characters of s.
func suffixChars(s string, n int64) string {
	end := len(s)
	for c := int64(0); c < n && end > 0; c++ {
		_, size := utf8.DecodeLastRuneInString(s[:end])
		end -= size
	}
	return s[end:]
}

// appendPad is LPAD and RPAD as Flink has them: s padded with pad (or cut)
// to n characters; NULL for a negative n or an empty pad.
func appendPad(dst []byte, s string, n int64, pad string, left bool) ([]byte, bool, error) {
	if n < 0 || pad == "" {
		return dst, false, nil
	}
	if n > maxResultBytes {
		return dst, false, fmt.Errorf("a length of %d characters exceeds the limit of %d", n, maxResultBytes)
	}
	have := int64(utf8.RuneCountInString(s))
	base := prefixChars(s, n)
	need := max(n-have, 0)
	if !left {
		dst = append(dst, base...)
	}
	for need > 0 {
		for _, r := range pad {
			if need == 0 {
				break
			}
			dst = utf8.AppendRune(dst, r)
			need--
		}
	}
	if left {
		dst = append(dst, base...)
	}
	return dst, true, nil
}

// appendReplace appends s with every occurrence of from replaced by to;
// an empty from inserts to around every character, as Java's
// String.replace does.
func appendReplace(dst []byte, s, from, to string) []byte {
	if from == "" {
		dst = append(dst, to...)
		for _, r := range s {
			dst = utf8.AppendRune(dst, r)
			dst = append(dst, to...)
		}
		return dst
	}
	for {
		k := strings.Index(s, from)
		if k < 0 {
			return append(dst, s...)
		}
		dst = append(append(dst, s[:k]...), to...)
		s = s[k+len(from):]
	}
}

// splitIndex returns token idx (0-based) of s split at every sep, as
// Flink's SPLIT_INDEX (an empty sep splits at each whitespace character);
// ok is false for a negative idx, one past the last token, or an empty s.
func splitIndex(s, sep string, idx int64) (string, bool) {
	if idx < 0 || s == "" {
		return "", false
	}
	if sep == "" {
		for idx > 0 {
			k := strings.IndexFunc(s, unicode.IsSpace)
			if k < 0 {
				return "", false
			}
			_, size := utf8.DecodeRuneInString(s[k:])
			s = s[k+size:]
			idx--
		}
		if k := strings.IndexFunc(s, unicode.IsSpace); k >= 0 {
			s = s[:k]
		}
		return s, true
	}
	for ; idx > 0; idx-- {
		k := strings.Index(s, sep)
		if k < 0 {
			return "", false
		}
		s = s[k+len(sep):]
	}
	if k := strings.Index(s, sep); k >= 0 {
		s = s[:k]
	}
	return s, true
}

// locate is the 1-based character position of the first sub in s at or
// after character from (1-based), or 0.
func locate(sub, s string, from int64) int64 {
	if from < 1 {
		return 0
	}
	// Skip from-1 characters.
	start := 0
	for c := int64(1); c < from; c++ {
		if start >= len(s) {
			return 0
		}
		_, size := utf8.DecodeRuneInString(s[start:])
		start += size
	}
	k := strings.Index(s[start:], sub)
	if k < 0 {
		return 0
	}
	return from + int64(utf8.RuneCountInString(s[start:start+k]))
}

// concatWS is CONCAT_WS(sep, s...): NULL when sep is NULL; NULL strings
// are skipped.
func (c *compiler) concatWS(args []Evaluator) Evaluator {
	return &rowFunc{name: "CONCAT_WS", args: args, t: strT, seesNulls: true, alloc: c.alloc,
		str: func(cols []arrow.Array) strRow {
			sep := strs(cols[0])
			return func(i int, dst []byte) ([]byte, bool, error) {
				if sep.IsNull(i) {
					return dst, false, nil
				}
				first := true
				for _, col := range cols[1:] {
					if col.IsNull(i) {
						continue
					}
					if !first {
						dst = append(dst, sep.Value(i)...)
					}
					first = false
					dst = append(dst, strs(col).Value(i)...)
				}
				return dst, true, nil
			}
		}}
}

// compileNullIf is NULLIF(a, b): NULL when a = b, else a.
func (c *compiler) compileNullIf(e *plan.Call, args []Evaluator) (Evaluator, error) {
	if isNullLit(args[0]) {
		return newLiteral(nil, e.T)
	}
	a, err := c.convert(args[0], e.T)
	if err != nil {
		return nil, err
	}
	if isNullLit(args[1]) {
		return a, nil
	}
	b, err := c.convert(args[1], e.T)
	if err != nil {
		return nil, err
	}
	eq, err := c.compare(e, cmpOps["="], a, b)
	if err != nil {
		return nil, fmt.Errorf("expr: NULLIF: %w", err)
	}
	null, err := newLiteral(nil, e.T)
	if err != nil {
		return nil, err
	}
	return &caseEval{conds: []Evaluator{eq}, arms: []Evaluator{null, a}, t: e.T, alloc: c.alloc, shared: c.opts.Shared}, nil
}

// compileGreatest is GREATEST and LEAST: NULL when any argument is, as in
// Flink. The arguments are converted to the result type first.
func (c *compiler) compileGreatest(f string, e *plan.Call, args []Evaluator, nullIn func() bool) (Evaluator, error) {
	if nullIn() {
		return newLiteral(nil, e.T)
	}
	t := e.T.Nullable()
	for i := range args {
		var err error
		if args[i], err = c.convert(args[i], t); err != nil {
			return nil, err
		}
	}
	ph, err := physOf(t)
	if err != nil {
		return nil, err
	}
	if ph == pBool {
		return nil, fmt.Errorf("expr: %s: cannot order %s", f, t)
	}
	return &greatest{name: f, args: args, least: f == "LEAST", ph: ph, t: t, alloc: c.alloc}, nil
}

// greatest is GREATEST or LEAST over arguments of one type.
type greatest struct {
	name  string
	args  []Evaluator
	least bool
	ph    phys
	t     types.Type
	alloc memory.Allocator
}

func (e *greatest) Type() types.Type      { return e.t }
func (e *greatest) operands() []Evaluator { return e.args }

// Eval implements Evaluator.
func (e *greatest) Eval(rec arrow.Record) (arrow.Array, error) {
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
	vbuf, valid := andAll(e.alloc, cols, n)
	nulls := 0
	if valid != nil {
		nulls = n - bitutil.CountSetBits(valid, 0, n)
	}
	switch e.ph {
	case pI32:
		return makeArray(e.t.Arrow(), n, nulls, vbuf, pickFixed[int32](e.alloc, cols, e.least)), nil
	case pI64:
		return makeArray(e.t.Arrow(), n, nulls, vbuf, pickFixed[int64](e.alloc, cols, e.least)), nil
	case pF32:
		return makeArray(e.t.Arrow(), n, nulls, vbuf, pickFixed[float32](e.alloc, cols, e.least)), nil
	case pF64:
		return makeArray(e.t.Arrow(), n, nulls, vbuf, pickFixed[float64](e.alloc, cols, e.least)), nil
	case pDec:
		buf, out := newFixed[dec](e.alloc, n)
		copy(out, cols[0].(*array.Decimal128).Values())
		for _, c := range cols[1:] {
			for i, v := range c.(*array.Decimal128).Values() {
				if cmp := v.Cmp(out[i]); cmp > 0 != e.least && cmp != 0 {
					out[i] = v
				}
			}
		}
		return makeArray(e.t.Arrow(), n, nulls, vbuf, buf), nil
	}
	if vbuf != nil {
		defer vbuf.Release()
	}
	ss := make([]*array.String, len(cols))
	for i, c := range cols {
		ss[i] = strs(c)
	}
	b := array.NewStringBuilder(e.alloc)
	defer b.Release()
	b.Reserve(n)
	for i := 0; i < n; i++ {
		if valid != nil && !bitIsSet(valid, i) {
			b.AppendNull()
			continue
		}
		best := ss[0].Value(i)
		for _, s := range ss[1:] {
			if v := s.Value(i); v != best && (v > best) != e.least {
				best = v
			}
		}
		b.Append(best)
	}
	return b.NewArray(), nil
}

// pickFixed is the per-row greatest (or least) of fixed-width columns.
// NaN counts as the greatest value, as in Java's Double.compare.
func pickFixed[T ordered](alloc memory.Allocator, cols []arrow.Array, least bool) *memory.Buffer {
	n := cols[0].Len()
	buf, out := newFixed[T](alloc, n)
	copy(out, fixedValues[T](cols[0]))
	for _, c := range cols[1:] {
		for i, v := range fixedValues[T](c) {
			if least {
				if v < out[i] || out[i] != out[i] {
					out[i] = v
				}
			} else if v > out[i] || v != v {
				out[i] = v
			}
		}
	}
	return buf
}
