package expr

import (
	"math/rand"
	"testing"
	"time"
)

// TestDateTimeFormatMatchesGo compares DATE_FORMAT's patterns with Go's
// time formatting of the same instants (years 1 to 9999, before and after
// 1970), and checks that parsing the text back gives the instant again.
func TestDateTimeFormatMatchesGo(t *testing.T) {
	r := rand.New(rand.NewSource(time.Now().UnixNano()))
	lo := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	hi := time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli()
	for _, tc := range []struct {
		java, goLayout string
		exact          bool // the text holds the whole instant
	}{
		{"yyyy-MM-dd HH:mm:ss.SSS", "2006-01-02 15:04:05.000", true},
		{"yyyyMMddHHmmssSSS", "20060102150405.000", true},
		{"dd/MM/yyyy hh:mm:ss a", "02/01/2006 03:04:05 PM", false},
		{"EEE, d MMM yyyy HH:m:s", "Mon, 2 Jan 2006 15:4:5", false},
		{"EEEE MMMM dd yyyy'T'HH:mm", "Monday January 02 2006T15:04", false},
		{"yy-M-d", "06-1-2", false},
		{"DDD", "002", false},
	} {
		l, err := compileDateTime(tc.java)
		if err != nil {
			t.Fatalf("%s: %v", tc.java, err)
		}
		for i := 0; i < 2000; i++ {
			ms := lo + r.Int63n(hi-lo)
			tm := time.UnixMilli(ms).UTC()
			want := tm.Format(tc.goLayout)
			if tc.java == "yyyyMMddHHmmssSSS" {
				want = want[:14] + want[15:] // Go's layout needs the dot
			}
			got := string(l.appendFormat(nil, ms))
			if got != want {
				t.Fatalf("%s of %d: got %q, want %q", tc.java, ms, got, want)
			}
			if tc.java == "DDD" {
				continue
			}
			back, ok := l.parse(got)
			if !ok {
				t.Fatalf("%s: cannot parse back %q", tc.java, got)
			}
			if tc.exact && back != ms {
				t.Fatalf("%s: %q parses to %d, want %d", tc.java, got, back, ms)
			}
			if !tc.exact && string(l.appendFormat(nil, back)) != got {
				t.Fatalf("%s: %q parses to %d, which formats as %q", tc.java, got, back, l.appendFormat(nil, back))
			}
		}
	}
	// Random text never panics the parser and, when it parses, formats to
	// an instant that parses to itself.
	l, _ := compileDateTime("yyyy-MM-dd HH:mm:ss")
	const chars = "0123456789-: "
	for i := 0; i < 20000; i++ {
		b := make([]byte, r.Intn(22))
		for j := range b {
			b[j] = chars[r.Intn(len(chars))]
		}
		if ms, ok := l.parse(string(b)); ok {
			if back, ok := l.parse(string(l.appendFormat(nil, ms))); !ok || back != ms {
				t.Fatalf("%q parses to %d, which does not round-trip", b, ms)
			}
		}
	}
}
