package expr

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// regexPlan speeds up the search of a pattern that contains a literal
// every match must hold (channel_id= in '(&|^)channel_id=([^&]*)'): a row
// without it has no match, found with strings.Index instead of the regexp
// engine; a row with it is searched only from w bytes before its first
// occurrence, since no match can start earlier. Go's engine is linear in
// the text it is given, so the window is what saves. A window that does
// not start at the text's beginning is searched with tail, the pattern
// with \A (^ outside multi-line mode) made never to match, which is what
// \A does at any position after the first; a pattern whose result could
// depend on the character before the window (multi-line ^, \b, \B) gets
// no window.
type regexPlan struct {
	re   *regexp.Regexp
	lit  string // "" when no literal qualifies
	w    int    // the most bytes a match can start before lit
	tail *regexp.Regexp
	fast *litMatcher // the hand matcher, when the pattern is of its class
}

func planRegex(re *regexp.Regexp) *regexPlan {
	p := &regexPlan{re: re}
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return p
	}
	p.fast = newLitMatcher(t, re.NumSubexp())
	if hasContextOps(t) {
		return p
	}
	if t.Op != syntax.OpConcat {
		return p
	}
	w := 0
	for _, sub := range t.Sub {
		if sub.Op == syntax.OpLiteral && sub.Flags&syntax.FoldCase == 0 && len(sub.Rune) > 0 {
			p.lit = string(sub.Rune)
			break
		}
		sw, ok := maxWidth(sub)
		if !ok {
			return p
		}
		w += sw
	}
	if p.lit == "" {
		return p
	}
	tail, err := regexp.Compile(withoutBeginText(t).String())
	if err != nil {
		p.lit = ""
		return p
	}
	p.w, p.tail = w, tail
	return p
}

// hasContextOps reports whether t looks at the character before a
// position other than through \A: multi-line ^ and word boundaries.
func hasContextOps(t *syntax.Regexp) bool {
	switch t.Op {
	case syntax.OpBeginLine, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true
	}
	for _, s := range t.Sub {
		if hasContextOps(s) {
			return true
		}
	}
	return false
}

// maxWidth is the most bytes t can match; ok is false when unbounded.
func maxWidth(t *syntax.Regexp) (int, bool) {
	switch t.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary, syntax.OpNoMatch:
		return 0, true
	case syntax.OpLiteral:
		if t.Flags&syntax.FoldCase != 0 {
			return len(t.Rune) * utf8.UTFMax, true
		}
		n := 0
		for _, r := range t.Rune {
			n += utf8.RuneLen(r)
		}
		return n, true
	case syntax.OpCharClass, syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		return utf8.UTFMax, true
	case syntax.OpCapture, syntax.OpQuest:
		return maxWidth(t.Sub[0])
	case syntax.OpConcat, syntax.OpAlternate:
		n := 0
		for _, s := range t.Sub {
			w, ok := maxWidth(s)
			if !ok {
				return 0, false
			}
			if t.Op == syntax.OpConcat {
				n += w
			} else {
				n = max(n, w)
			}
		}
		return n, true
	case syntax.OpRepeat:
		if t.Max < 0 {
			return 0, false
		}
		w, ok := maxWidth(t.Sub[0])
		return w * t.Max, ok
	}
	return 0, false // star, plus
}

// withoutBeginText returns a copy of t with \A never matching.
func withoutBeginText(t *syntax.Regexp) *syntax.Regexp {
	c := *t
	if c.Op == syntax.OpBeginText {
		return &syntax.Regexp{Op: syntax.OpNoMatch}
	}
	c.Sub = make([]*syntax.Regexp, len(t.Sub))
	for i, s := range t.Sub {
		c.Sub[i] = withoutBeginText(s)
	}
	return &c
}

// window returns the offset to search s from and the pattern to search it
// with; ok is false when s cannot match.
func (p *regexPlan) window(s string) (int, *regexp.Regexp, bool) {
	if p.lit == "" {
		return 0, p.re, true
	}
	k := strings.Index(s, p.lit)
	if k < 0 {
		return 0, nil, false
	}
	if start := k - p.w; start > 0 {
		return start, p.tail, true
	}
	return 0, p.re, true
}

// match is re.MatchString(s).
func (p *regexPlan) match(s string) bool {
	if p.fast != nil {
		start, _, _ := p.fast.locate(s)
		return start >= 0
	}
	start, re, ok := p.window(s)
	return ok && re.MatchString(s[start:])
}

// find is re.FindStringIndex(s) (whole) or re.FindStringSubmatchIndex(s).
func (p *regexPlan) find(s string, whole bool) []int {
	return p.findInto(s, whole, nil)
}

// findInto is find, in dst's storage when the hand matcher serves.
func (p *regexPlan) findInto(s string, whole bool, dst []int) []int {
	if p.fast != nil {
		return p.fast.find(s, whole, dst)
	}
	start, re, ok := p.window(s)
	if !ok {
		return nil
	}
	var loc []int
	if whole {
		loc = re.FindStringIndex(s[start:])
	} else {
		loc = re.FindStringSubmatchIndex(s[start:])
	}
	if start > 0 {
		for i, x := range loc {
			if x >= 0 {
				loc[i] = x + start
			}
		}
	}
	return loc
}

// replaceAll is re.ReplaceAllString(s, tmpl).
func (p *regexPlan) replaceAll(s, tmpl string) string {
	if p.lit != "" && !strings.Contains(s, p.lit) {
		// No match can hold the literal; but an empty match is possible
		// only if the literal is not required, which it is: s is kept.
		return s
	}
	return p.re.ReplaceAllString(s, tmpl)
}
