package expr

import (
	"math/rand"
	"regexp"
	"slices"
	"testing"
	"time"
)

// TestRegexPlanSameAsRegexp checks the windowed search against Go's
// regexp over random texts, for patterns with and without a usable
// literal, anchors, alternations and groups.
func TestRegexPlanSameAsRegexp(t *testing.T) {
	r := rand.New(rand.NewSource(time.Now().UnixNano()))
	for _, pat := range []string{
		`(&|^)channel_id=([^&]*)`, `^ab`, `ab$`, `(a|^b)c+d`, `x?ab(c)`, `(?:a|bb){1,3}ab([a-c]*)$`,
		`\Aab`, `(?m)^ab`, `\bab`, `.ab`, `[a-c]{2}ab(.)`, `a*ab`, `(?i)ab`, `é{0,2}ab`, `(^|a)(^|b)ab`,
		// The hand matcher's class (see fast below).
		`(|a|^)ab(.*)`, `(a|ab|^)b([a-c]*)`, `ab[^b]*`, `(?s)(bb|b|^)ab(.*)`, `(^)ab`, `(?:a|)ab`, `(&|d)a([^&é]*)`,
		`(?:cd|^|c)d_([^\n]*)`, `(ab|c|^)b([a-c]*)`, `(?s)(bb|c|^)ab(.*)`, `(b|)bb([a-c]*)`, `(|b|cc)bb(.*)`, `x*ab`, `ab(b)`, `ab*?`,
	} {
		re := regexp.MustCompile(pat)
		p := planRegex(re)
		for i := 0; i < 3000; i++ {
			b := make([]byte, r.Intn(14))
			for j := range b {
				b[j] = "abcd&\n_"[r.Intn(7)]
			}
			s := string(b)
			if r.Intn(4) == 0 {
				s += "channel_id=" + s
			}
			if r.Intn(8) == 0 {
				s = "é" + s
			}
			if r.Intn(8) == 0 {
				k := r.Intn(len(s) + 1)
				s = s[:k] + "\xff" + s[k:] // invalid UTF-8
			}
			if got, want := p.find(s, false), re.FindStringSubmatchIndex(s); !slices.Equal(got, want) {
				t.Fatalf("%s on %q: got %v, want %v (literal %q, width %d)", pat, s, got, want, p.lit, p.w)
			}
			if got, want := p.find(s, true), re.FindStringIndex(s); !slices.Equal(got, want) {
				t.Fatalf("%s whole on %q: got %v, want %v", pat, s, got, want)
			}
			if got, want := p.match(s), re.MatchString(s); got != want {
				t.Fatalf("%s match %q: got %v, want %v", pat, s, got, want)
			}
			if got, want := p.replaceAll(s, "<$0>"), re.ReplaceAllString(s, "<$0>"); got != want {
				t.Fatalf("%s replace %q: got %q, want %q", pat, s, got, want)
			}
		}
	}
	if p := planRegex(regexp.MustCompile(`(&|^)channel_id=([^&]*)`)); p.lit != "channel_id=" || p.w != 1 {
		t.Fatalf("Nexmark's q21 pattern: literal %q, width %d; want channel_id= and 1", p.lit, p.w)
	}
	for _, pat := range []string{`(&|^)channel_id=([^&]*)`, `(|a|^)ab(.*)`, `(ab|c|^)b([a-c]*)`, `ab[^b]*`, `(?s)(bb|c|^)ab(.*)`, `(^)ab`, `(?:a|)ab`, `(b|)bb([a-c]*)`, `(|b|cc)bb(.*)`} {
		if planRegex(regexp.MustCompile(pat)).fast == nil {
			t.Errorf("%s is not matched by hand", pat)
		}
	}
	for _, pat := range []string{`x*ab`, `ab(b)`, `ab*?`, `(?i)ab`, `\bab`, `ab$`} {
		if planRegex(regexp.MustCompile(pat)).fast != nil {
			t.Errorf("%s is matched by hand; it is not of the class", pat)
		}
	}
}
