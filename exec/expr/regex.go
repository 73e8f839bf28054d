package expr

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// This file holds REGEXP, REGEXP_EXTRACT and REGEXP_REPLACE. Patterns are
// RE2 (Go's regexp), which reads the Java patterns of common use alike;
// Java's backreferences and lookaround are refused. A constant pattern is
// compiled once, when the expression is compiled, and a bad one is an
// error then; a pattern from a column is compiled once per distinct value
// in a batch, and a bad one gives NULL for its rows, as Flink does.

// CompileRegex compiles a pattern of REGEXP, REGEXP_EXTRACT or
// REGEXP_REPLACE, for the planner to refuse a bad constant pattern.
func CompileRegex(p string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression %q: %v", p, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	return re, nil
}

// CheckReplacement checks a replacement string of REGEXP_REPLACE (Java's
// syntax: $n and ${name} refer to groups, \ escapes the next character)
// against the compiled pattern.
func CheckReplacement(re *regexp.Regexp, r string) error {
	_, err := javaReplacement(re, r)
	return err
}

// regexSource gives the compiled pattern of each row: the constant one, or
// the row's own, compiled once per distinct value in the batch (nil for a
// bad one).
type regexSource struct {
	fixed *regexPlan
	pats  *array.String
	cache map[string]*regexPlan
}

// maxRegexCache bounds the distinct patterns kept per batch.
const maxRegexCache = 256

func newRegexSource(fixed *regexPlan, col arrow.Array) *regexSource {
	if fixed != nil {
		return &regexSource{fixed: fixed}
	}
	return &regexSource{pats: strs(col), cache: map[string]*regexPlan{}}
}

func (r *regexSource) at(i int) *regexPlan {
	if r.fixed != nil {
		return r.fixed
	}
	p := r.pats.Value(i)
	if rp, ok := r.cache[p]; ok {
		return rp
	}
	var rp *regexPlan
	if re, err := regexp.Compile(p); err == nil {
		rp = planRegex(re)
	}
	if len(r.cache) >= maxRegexCache {
		clear(r.cache)
	}
	r.cache[p] = rp
	return rp
}

// constRegex compiles the pattern argument when it is a constant; a NULL
// constant was folded before.
func constRegex(f string, arg Evaluator) (*regexp.Regexp, error) {
	l := asConst(arg)
	if l == nil || l.null {
		return nil, nil
	}
	re, err := CompileRegex(l.proto.(*array.String).Value(0))
	if err != nil {
		return nil, fmt.Errorf("expr: %s: argument 2: %w", f, err)
	}
	return re, nil
}

// compileRegexp builds REGEXP(s, p), REGEXP_EXTRACT(s, p[, idx]) and
// REGEXP_REPLACE(s, p, r); the arguments are STRING (idx BIGINT).
func (c *compiler) compileRegexp(f string, args []Evaluator) (Evaluator, error) {
	fixedRe, err := constRegex(f, args[1])
	if err != nil {
		return nil, err
	}
	var fixed *regexPlan
	if fixedRe != nil {
		fixed = planRegex(fixedRe)
	}
	ev := &rowFunc{name: f, args: args, alloc: c.alloc}
	switch f {
	case "REGEXP":
		ev.t = boolT
		ev.bool = func(cols []arrow.Array) boolRow {
			s, res := strs(cols[0]), newRegexSource(fixed, cols[1])
			return func(i int) (bool, bool, error) {
				re := res.at(i)
				if re == nil {
					return false, false, nil
				}
				return re.match(s.Value(i)), true, nil
			}
		}
	case "REGEXP_EXTRACT":
		ev.t = strT
		if fixed != nil && len(args) == 3 {
			if l := asConst(args[2]); l != nil && !l.null {
				if idx := scalar[int64](l); idx < 0 || idx > int64(fixedRe.NumSubexp()) {
					return nil, fmt.Errorf("expr: %s: argument 3: group %d does not exist in %q (it has %d)", f, idx, fixedRe.String(), fixedRe.NumSubexp())
				}
			}
		}
		ev.str = func(cols []arrow.Array) strRow {
			s, res := strs(cols[0]), newRegexSource(fixed, cols[1])
			var idxs []int64
			if len(cols) == 3 {
				idxs = ints(cols[2])
			}
			var loc []int // scratch of the hand matcher's results
			return func(i int, dst []byte) ([]byte, bool, error) {
				re := res.at(i)
				if re == nil {
					return dst, false, nil
				}
				idx := 0
				if idxs != nil {
					x := idxs[i]
					if x < 0 || x > int64(re.re.NumSubexp()) {
						return dst, false, nil
					}
					idx = int(x)
				}
				v := s.Value(i)
				got := re.findInto(v, idx == 0, loc)
				if got == nil || got[2*idx] < 0 {
					return dst, false, nil // no match, or the group took no part
				}
				loc = got
				return append(dst, v[got[2*idx]:got[2*idx+1]]...), true, nil
			}
		}
	case "REGEXP_REPLACE":
		ev.t = strT
		var fixedTmpl string
		haveTmpl := false
		if l := asConst(args[2]); fixed != nil && l != nil && !l.null {
			if fixedTmpl, err = javaReplacement(fixedRe, l.proto.(*array.String).Value(0)); err != nil {
				return nil, fmt.Errorf("expr: %s: argument 3: %w", f, err)
			}
			haveTmpl = true
		}
		ev.str = func(cols []arrow.Array) strRow {
			s, res, rep := strs(cols[0]), newRegexSource(fixed, cols[1]), strs(cols[2])
			var lastRe *regexPlan
			lastRep, lastTmpl, lastOK, cached := "", "", false, false
			return func(i int, dst []byte) ([]byte, bool, error) {
				re := res.at(i)
				if re == nil {
					return dst, false, nil
				}
				tmpl := fixedTmpl
				if !haveTmpl {
					if r := rep.Value(i); !cached || re != lastRe || r != lastRep {
						t, err := javaReplacement(re.re, r)
						lastRe, lastRep, lastTmpl, lastOK, cached = re, r, t, err == nil, true
					}
					if !lastOK {
						return dst, false, nil
					}
					tmpl = lastTmpl
				}
				return append(dst, re.replaceAll(s.Value(i), tmpl)...), true, nil
			}
		}
	}
	return ev, nil
}

// javaReplacement translates a Java replacement string (Matcher's: $n
// takes as many digits as still name a group, ${name} a named group, \c is
// c) into a template of Go's regexp.Expand.
func javaReplacement(re *regexp.Regexp, r string) (string, error) {
	if !strings.ContainsAny(r, `$\`) {
		return r, nil
	}
	var b strings.Builder
	groups := re.NumSubexp()
	for i := 0; i < len(r); i++ {
		switch c := r[i]; c {
		case '\\':
			i++
			if i == len(r) {
				return "", fmt.Errorf("replacement %q: character to be escaped is missing", r)
			}
			if r[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(r[i])
			}
		case '$':
			i++
			if i == len(r) {
				return "", fmt.Errorf("replacement %q: group index is missing after $", r)
			}
			if r[i] == '{' {
				j := strings.IndexByte(r[i:], '}')
				if j < 0 {
					return "", fmt.Errorf("replacement %q: missing } of a group name", r)
				}
				name := r[i+1 : i+j]
				if name == "" || re.SubexpIndex(name) < 0 {
					return "", fmt.Errorf("replacement %q: no group named %q", r, name)
				}
				b.WriteString("${" + name + "}")
				i += j
				continue
			}
			if r[i] < '0' || r[i] > '9' {
				return "", fmt.Errorf("replacement %q: illegal group reference at character %d", r, i)
			}
			g := int(r[i] - '0')
			if g > groups {
				return "", fmt.Errorf("replacement %q: no group %d (the pattern has %d)", r, g, groups)
			}
			for i+1 < len(r) && r[i+1] >= '0' && r[i+1] <= '9' && g*10+int(r[i+1]-'0') <= groups {
				i++
				g = g*10 + int(r[i]-'0')
			}
			fmt.Fprintf(&b, "${%d}", g)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
