package expr

import (
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// litMatcher matches a small class of patterns by hand, without Go's
// regexp engine: a concatenation of
//
//	[prefix] literal [run]
//
// where the prefix (optionally a group) is one alternation of literals,
// \A (^ outside multi-line mode) and the empty string, the literal is
// case-sensitive, and the run, last (optionally a group), is a greedy
// star of a character class, . or (?s).: Nexmark q21's
// '(&|^)channel_id=([^&]*)'. A run that ends the pattern always matches,
// as long as it can, so a match starts at the leftmost position where an
// alternative of the prefix is followed by the literal, the first such
// alternative in the pattern's order when several start there: the
// leftmost-first match Go's regexp finds (checked against it over random
// texts in TestRegexPlanSameAsRegexp).
type litMatcher struct {
	alts   []prefixAlt
	maxPre int // the longest alternative, bytes
	preCap int // the prefix's group, 0 for none
	lit    string
	run    bool // a run follows the literal
	class  []rune
	any    bool // the run is (?s). ; anyNL: it is .
	anyNL  bool
	runCap int // the run's group, 0 for none
	// asciiRun has bit c set when the run takes the ASCII byte c.
	asciiRun [2]uint64
	ncap     int // the pattern's groups
}

// prefixAlt is an alternative of the prefix: a literal, or \A.
type prefixAlt struct {
	lit   string
	begin bool
}

// newLitMatcher returns the matcher of t, the parsed pattern with ncap
// groups, or nil when t is not of the class.
func newLitMatcher(t *syntax.Regexp, ncap int) *litMatcher {
	if t.Op != syntax.OpConcat || len(t.Sub) < 2 || len(t.Sub) > 3 {
		return nil
	}
	m := &litMatcher{ncap: ncap}
	subs := t.Sub
	if len(subs) == 3 || !plainLiteral(subs[0]) {
		if !m.setPrefix(subs[0]) {
			return nil
		}
		subs = subs[1:]
	} else {
		m.alts = []prefixAlt{{}}
	}
	if !plainLiteral(subs[0]) {
		return nil
	}
	m.lit = string(subs[0].Rune)
	if len(subs) == 2 && !m.setRun(subs[1]) {
		return nil
	}
	return m
}

// plainLiteral: a case-sensitive literal without U+FFFD, which Go's
// regexp also matches on invalid UTF-8 that strings.Index would not.
func plainLiteral(t *syntax.Regexp) bool {
	if t.Op != syntax.OpLiteral || t.Flags&syntax.FoldCase != 0 || len(t.Rune) == 0 {
		return false
	}
	for _, r := range t.Rune {
		if r == utf8.RuneError {
			return false
		}
	}
	return true
}

func (m *litMatcher) setPrefix(t *syntax.Regexp) bool {
	if t.Op == syntax.OpCapture {
		m.preCap, t = t.Cap, t.Sub[0]
	}
	alts := []*syntax.Regexp{t}
	if t.Op == syntax.OpAlternate {
		alts = t.Sub
	}
	for _, a := range alts {
		switch {
		case a.Op == syntax.OpBeginText:
			m.alts = append(m.alts, prefixAlt{begin: true})
		case a.Op == syntax.OpEmptyMatch:
			m.alts = append(m.alts, prefixAlt{})
		case plainLiteral(a):
			s := string(a.Rune)
			m.alts = append(m.alts, prefixAlt{lit: s})
			m.maxPre = max(m.maxPre, len(s))
		default:
			return false
		}
	}
	return true
}

func (m *litMatcher) setRun(t *syntax.Regexp) bool {
	if t.Op == syntax.OpCapture {
		m.runCap, t = t.Cap, t.Sub[0]
	}
	if t.Op != syntax.OpStar || t.Flags&syntax.NonGreedy != 0 {
		return false
	}
	switch c := t.Sub[0]; c.Op {
	case syntax.OpCharClass:
		m.class = c.Rune
	case syntax.OpAnyChar:
		m.any = true
	case syntax.OpAnyCharNotNL:
		m.anyNL = true
	default:
		return false
	}
	m.run = true
	for c := rune(0); c < utf8.RuneSelf; c++ {
		if m.inRun(c) {
			m.asciiRun[c>>6] |= 1 << (c & 63)
		}
	}
	return true
}

// inRun reports whether the run takes r.
func (m *litMatcher) inRun(r rune) bool {
	switch {
	case m.any:
		return true
	case m.anyNL:
		return r != '\n'
	}
	for i := 0; i+1 < len(m.class); i += 2 {
		if r < m.class[i] {
			return false
		}
		if r <= m.class[i+1] {
			return true
		}
	}
	return false
}

// locate returns where the leftmost-first match of s starts, where its
// literal starts and where it ends; start is -1 when s has no match.
func (m *litMatcher) locate(s string) (start, litAt, end int) {
	best, bestAlt, bestK := -1, 0, 0
	for from := 0; from <= len(s); {
		k := strings.Index(s[from:], m.lit)
		if k < 0 {
			break
		}
		k += from
		if best >= 0 && k-m.maxPre > best {
			break // every later start is after best
		}
		for ai, a := range m.alts {
			p := k - len(a.lit)
			switch {
			case a.begin:
				if k != 0 {
					continue
				}
			case p < 0 || s[p:k] != a.lit:
				continue
			}
			if best < 0 || p < best || (p == best && ai < bestAlt) {
				best, bestAlt, bestK = p, ai, k
			}
		}
		from = k + 1
	}
	if best < 0 {
		return -1, 0, 0
	}
	end = bestK + len(m.lit)
	if m.run {
		for end < len(s) {
			if c := s[end]; c < utf8.RuneSelf {
				if m.asciiRun[c>>6]&(1<<(c&63)) == 0 {
					break
				}
				end++
				continue
			}
			r, w := utf8.DecodeRuneInString(s[end:])
			if !m.inRun(r) {
				break
			}
			end += w
		}
	}
	return best, bestK, end
}

// find returns the leftmost-first match of s as regexp's
// FindStringSubmatchIndex does (FindStringIndex when whole), in dst's
// storage, or nil.
func (m *litMatcher) find(s string, whole bool, dst []int) []int {
	start, litAt, end := m.locate(s)
	if start < 0 {
		return nil
	}
	n := 2
	if !whole {
		n = 2 * (m.ncap + 1)
	}
	loc := dst[:0]
	for i := 0; i < n; i++ {
		loc = append(loc, -1)
	}
	loc[0], loc[1] = start, end
	if !whole {
		if m.preCap > 0 {
			loc[2*m.preCap], loc[2*m.preCap+1] = start, litAt
		}
		if m.runCap > 0 {
			loc[2*m.runCap], loc[2*m.runCap+1] = litAt+len(m.lit), end
		}
	}
	return loc
}
