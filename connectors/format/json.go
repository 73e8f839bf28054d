package format

import (
	"bytes"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/streamsql/streamsql/types"
)

// scanner is a hand-written JSON scanner over one record: it decodes
// straight into the decoder's slots, with no intermediate values.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) errf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", s.i, fmt.Sprintf(format, args...))
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// str scans a string whose opening quote is at s.i. It returns its
// content: raw (a slice of the line) when it has no escapes, else unescaped
// and appended to *arena with raw nil and [a0, a1) its place there.
func (s *scanner) str(arena *[]byte) (raw []byte, a0, a1 int, err error) {
	s.i++ // the opening quote
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c == '"' {
			raw = s.b[start:s.i]
			s.i++
			return raw, 0, 0, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return nil, 0, 0, s.errf("control character in string")
		}
		s.i++
	}
	if s.i >= len(s.b) {
		return nil, 0, 0, s.errf("unterminated string")
	}
	// Slow path: unescape.
	a := *arena
	a0 = len(a)
	a = append(a, s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			*arena = a
			return nil, a0, len(a), nil
		case c < 0x20:
			return nil, 0, 0, s.errf("control character in string")
		case c != '\\':
			a = append(a, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			break
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			a = append(a, e)
		case 'b':
			a = append(a, '\b')
		case 'f':
			a = append(a, '\f')
		case 'n':
			a = append(a, '\n')
		case 'r':
			a = append(a, '\r')
		case 't':
			a = append(a, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, 0, 0, s.errf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					s.i += 2
					if lo, ok := s.hex4(); ok {
						r2 = utf16.DecodeRune(r, lo)
					}
				}
				r = r2
			}
			a = utf8.AppendRune(a, r)
		default:
			return nil, 0, 0, s.errf("invalid escape '\\%c'", e)
		}
	}
	return nil, 0, 0, s.errf("unterminated string")
}

func (s *scanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	s.i += 4
	return r, true
}

// number scans a JSON number at s.i and returns its text.
func (s *scanner) number() ([]byte, error) {
	start := s.i
	if s.peek() == '-' {
		s.i++
	}
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if digits() == 0 {
		return nil, s.errf("invalid number")
	}
	if s.peek() == '.' {
		s.i++
		if digits() == 0 {
			return nil, s.errf("invalid number")
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if digits() == 0 {
			return nil, s.errf("invalid number")
		}
	}
	return s.b[start:s.i], nil
}

// literal scans true, false or null.
func (s *scanner) literal(lit string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return s.errf("invalid value")
	}
	s.i += len(lit)
	return nil
}

// skip scans any value, returning its raw text.
func (s *scanner) skip(depth int) ([]byte, error) {
	start := s.i
	switch c := s.peek(); {
	case c == '"':
		for s.i++; s.i < len(s.b); s.i++ {
			switch s.b[s.i] {
			case '\\':
				s.i++
			case '"':
				s.i++
				return s.b[start:s.i], nil
			}
		}
		return nil, s.errf("unterminated string")
	case c == '{' || c == '[':
		if depth > 1000 {
			return nil, s.errf("nested too deeply")
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		s.i++
		s.ws()
		if s.peek() == end {
			s.i++
			return s.b[start:s.i], nil
		}
		for {
			if c == '{' {
				if s.peek() != '"' {
					return nil, s.errf("expected a string key")
				}
				if _, err := s.skip(depth + 1); err != nil {
					return nil, err
				}
				s.ws()
				if s.peek() != ':' {
					return nil, s.errf("expected ':' after object key")
				}
				s.i++
				s.ws()
			}
			if _, err := s.skip(depth + 1); err != nil {
				return nil, err
			}
			s.ws()
			switch s.peek() {
			case ',':
				s.i++
				s.ws()
				continue
			case end:
				s.i++
				return s.b[start:s.i], nil
			}
			return nil, s.errf("expected ',' or '%c'", end)
		}
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == 't':
		return s.b[start : start+4], s.literal("true")
	case c == 'f':
		return s.b[start : start+5], s.literal("false")
	case c == 'n':
		return s.b[start : start+4], s.literal("null")
	case c == 0:
		return nil, s.errf("unexpected end of input")
	}
	return nil, s.errf("unexpected character %q", s.peek())
}

// column returns the index of the column named key and whether the name
// matched exactly: an exact match (trying the expected next column first),
// else a case-insensitive one, else -1.
func (d *Decoder) column(key []byte) (int, bool) {
	if d.next < len(d.cols) && unsafeString(key) == d.cols[d.next].name {
		return d.next, true
	}
	if i, ok := d.exact[unsafeString(key)]; ok {
		return i, true
	}
	for i := range d.cols {
		if equalFoldBytes2(key, d.cols[i].name) {
			return i, false
		}
	}
	return -1, false
}

func equalFoldBytes2(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func (d *Decoder) decodeJSON(line []byte) error {
	s := &d.scan
	s.b, s.i = line, 0
	d.next = 0
	s.ws()
	if s.peek() != '{' {
		if s.i >= len(s.b) {
			return s.errf("empty record")
		}
		return s.errf("expected '{'")
	}
	s.i++
	s.ws()
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			if s.peek() != '"' {
				return s.errf("expected a string key")
			}
			key, a0, a1, err := s.str(&d.arena)
			if err != nil {
				return err
			}
			if key == nil {
				key = d.arena[a0:a1]
			}
			s.ws()
			if s.peek() != ':' {
				return s.errf("expected ':' after object key")
			}
			s.i++
			s.ws()
			col, exact := d.column(key)
			if col >= 0 && !exact && d.slots[col].state != slotMissing && !d.slots[col].folded {
				col = -1 // an exact match of the name wins over a folded one
			}
			if col < 0 {
				if _, err := s.skip(0); err != nil {
					return err
				}
			} else {
				d.next = col + 1
				d.slots[col].folded = !exact
				if err := d.jsonValue(&d.cols[col], &d.slots[col]); err != nil {
					return err
				}
			}
			s.ws()
			c := s.peek()
			s.i++
			if c == ',' {
				s.ws()
				continue
			}
			if c == '}' {
				break
			}
			s.i--
			return s.errf("expected ',' or '}'")
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return s.errf("unexpected data after the object")
	}
	return nil
}

// jsonValue scans the value at s.i into slot sl of column c.
func (d *Decoder) jsonValue(c *colDec, sl *slot) error {
	s := &d.scan
	switch ch := s.peek(); {
	case ch == 'n':
		if err := s.literal("null"); err != nil {
			return err
		}
		sl.state = slotNull
		return nil
	case ch == '"':
		start := s.i
		raw, a0, a1, err := s.str(&d.arena)
		if err != nil {
			return err
		}
		if c.typ.Kind == types.String {
			sl.state = slotValue
			if raw != nil {
				sl.inArena, sl.s0, sl.s1 = false, start+1, start+1+len(raw)
			} else {
				sl.inArena, sl.s0, sl.s1 = true, a0, a1
			}
			return nil
		}
		if raw == nil {
			raw = d.arena[a0:a1]
		}
		return setNumber(c, sl, trimBytes(raw), true)
	case ch == '-' || ch >= '0' && ch <= '9':
		start := s.i
		num, err := s.number()
		if err != nil {
			return err
		}
		if c.typ.Kind == types.String {
			sl.state, sl.inArena, sl.s0, sl.s1 = slotValue, false, start, s.i
			return nil
		}
		if c.typ.Kind == types.Boolean {
			return typeErr(c, expected(c.typ), num)
		}
		return setNumber(c, sl, num, false)
	case ch == 't' || ch == 'f':
		start := s.i
		v := ch == 't'
		lit := "false"
		if v {
			lit = "true"
		}
		if err := s.literal(lit); err != nil {
			return err
		}
		switch c.typ.Kind {
		case types.Boolean:
			sl.state, sl.b = slotValue, v
		case types.String:
			sl.state, sl.inArena, sl.s0, sl.s1 = slotValue, false, start, s.i
		default:
			return typeErr(c, expected(c.typ), []byte(lit))
		}
		return nil
	case ch == '{' || ch == '[':
		start := s.i
		raw, err := s.skip(0)
		if err != nil {
			return err
		}
		if c.typ.Kind != types.String {
			return typeErr(c, expected(c.typ), raw)
		}
		// A nested value read into a STRING column keeps its JSON text.
		sl.state, sl.inArena, sl.s0, sl.s1 = slotValue, false, start, s.i
		return nil
	}
	_, err := s.skip(0)
	return err
}

func trimBytes(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
