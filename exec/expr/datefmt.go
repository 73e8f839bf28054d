package expr

import (
	"fmt"
	"strings"
	"time"
)

// This file holds the date-time patterns of DATE_FORMAT, FROM_UNIXTIME,
// TO_TIMESTAMP and UNIX_TIMESTAMP: the pattern letters of Java's
// DateTimeFormatter (which Flink uses; for the common patterns such as
// 'yyyy-MM-dd HH:mm:ss.SSS' they mean what SimpleDateFormat's do), in UTC.

// dtItem is one element of a compiled pattern: a run of literal text, or a
// pattern letter repeated count times.
type dtItem struct {
	letter byte // 0 for literal text
	count  int
	lit    string
}

// dtLayout is a compiled date-time pattern.
type dtLayout []dtItem

// DefaultDateTimePattern is the pattern of TO_TIMESTAMP, UNIX_TIMESTAMP
// and FROM_UNIXTIME without one, as in Flink.
const defaultDateTimePattern = "yyyy-MM-dd HH:mm:ss"

// maxLetters is the largest count of each supported pattern letter.
var maxLetters = map[byte]int{
	'G': 5, 'y': 9, 'u': 9, 'M': 5, 'L': 5, 'd': 2, 'D': 3, 'Q': 4, 'q': 4,
	'E': 5, 'a': 1, 'H': 2, 'h': 2, 'k': 2, 'K': 2, 'm': 2, 's': 2, 'S': 9,
	'X': 3, 'x': 3, 'Z': 5,
}

// compileDateTime compiles a pattern; an unsupported letter or an
// unterminated quote is an error naming it.
func compileDateTime(p string) (dtLayout, error) {
	var l dtLayout
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			l = append(l, dtItem{lit: string(lit)})
			lit = lit[:0]
		}
	}
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\'':
			if i+1 < len(p) && p[i+1] == '\'' {
				lit = append(lit, '\'')
				i += 2
				continue
			}
			j := i + 1
			for {
				k := strings.IndexByte(p[j:], '\'')
				if k < 0 {
					return nil, fmt.Errorf("pattern %q: unterminated quote at character %d", p, i+1)
				}
				lit = append(lit, p[j:j+k]...)
				j += k + 1
				if j < len(p) && p[j] == '\'' { // '' inside quotes
					lit = append(lit, '\'')
					j++
					continue
				}
				break
			}
			i = j
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			n := 1
			for i+n < len(p) && p[i+n] == c {
				n++
			}
			max, ok := maxLetters[c]
			if !ok {
				return nil, fmt.Errorf("pattern %q: unsupported pattern letter '%c' at character %d", p, c, i+1)
			}
			if n > max {
				return nil, fmt.Errorf("pattern %q: too many pattern letters '%c' at character %d (at most %d)", p, c, i+1, max)
			}
			flush()
			l = append(l, dtItem{letter: c, count: n})
			i += n
		case c == '[' || c == ']' || c == '{' || c == '}' || c == '#':
			return nil, fmt.Errorf("pattern %q: unsupported character '%c' at character %d", p, c, i+1)
		default:
			lit = append(lit, c)
			i++
		}
	}
	flush()
	return l, nil
}

var (
	monthNames = [...]string{"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December"}
	dayNames      = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	quarterOrdinl = [...]string{"1st quarter", "2nd quarter", "3rd quarter", "4th quarter"}
)

// appendPadded appends v in decimal with at least width digits.
func appendPadded(dst []byte, v int64, width int) []byte {
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	var buf [20]byte
	i := len(buf)
	for v >= 10 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	i--
	buf[i] = byte('0' + v)
	for d := len(buf) - i; d < width; d++ {
		dst = append(dst, '0')
	}
	return append(dst, buf[i:]...)
}

// appendText appends a name in its short (count <= 3), full (4) or
// narrow (5) form.
func appendText(dst []byte, name string, count int) []byte {
	switch {
	case count <= 3:
		return append(dst, name[:3]...)
	case count == 4:
		return append(dst, name...)
	}
	return append(dst, name[0])
}

// appendFormat appends the UTC time ms (milliseconds since the epoch)
// formatted by l.
// period is the length in milliseconds of the aligned intervals (UTC
// days, hours, minutes, seconds) over which l formats every instant the
// same: a day when l shows no time of day, a millisecond when it shows
// fractions of a second.
func (l dtLayout) period() int64 {
	p := int64(86_400_000)
	for _, it := range l {
		switch it.letter {
		case 'S':
			return 1
		case 's':
			p = min(p, 1000)
		case 'm':
			p = min(p, 60_000)
		case 'H', 'h', 'k', 'K', 'a':
			p = min(p, 3_600_000)
		}
	}
	return p
}

func (l dtLayout) appendFormat(dst []byte, ms int64) []byte {
	t := time.UnixMilli(ms).UTC()
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	milli := floorMod(ms, 1000)
	for _, it := range l {
		n := it.count
		switch it.letter {
		case 0:
			dst = append(dst, it.lit...)
		case 'G':
			era := "AD"
			if year <= 0 {
				era = "BC"
			}
			if n == 4 {
				era = "Anno Domini"
				if year <= 0 {
					era = "Before Christ"
				}
			} else if n == 5 {
				era = era[:1]
			}
			dst = append(dst, era...)
		case 'y', 'u':
			y := int64(year)
			if it.letter == 'y' && y <= 0 {
				y = 1 - y // year of era
			}
			switch {
			case n == 2:
				dst = appendPadded(dst, floorMod(y, 100), 2)
			case n >= 4 && y > pow10(n)-1:
				dst = appendPadded(append(dst, '+'), y, n)
			default:
				dst = appendPadded(dst, y, n)
			}
		case 'M', 'L':
			if n <= 2 {
				dst = appendPadded(dst, int64(month), n)
			} else {
				dst = appendText(dst, monthNames[month-1], n)
			}
		case 'd':
			dst = appendPadded(dst, int64(day), n)
		case 'D':
			dst = appendPadded(dst, int64(t.YearDay()), n)
		case 'Q', 'q':
			q := (int(month)-1)/3 + 1
			switch n {
			case 1, 2:
				dst = appendPadded(dst, int64(q), n)
			case 3:
				dst = append(dst, 'Q', byte('0'+q))
			case 4:
				dst = append(dst, quarterOrdinl[q-1]...)
			default:
				dst = append(dst, byte('0'+q))
			}
		case 'E':
			dst = appendText(dst, dayNames[t.Weekday()], n)
		case 'a':
			if hour < 12 {
				dst = append(dst, "AM"...)
			} else {
				dst = append(dst, "PM"...)
			}
		case 'H':
			dst = appendPadded(dst, int64(hour), n)
		case 'k':
			h := hour
			if h == 0 {
				h = 24
			}
			dst = appendPadded(dst, int64(h), n)
		case 'K':
			dst = appendPadded(dst, int64(hour%12), n)
		case 'h':
			h := hour % 12
			if h == 0 {
				h = 12
			}
			dst = appendPadded(dst, int64(h), n)
		case 'm':
			dst = appendPadded(dst, int64(min), n)
		case 's':
			dst = appendPadded(dst, int64(sec), n)
		case 'S':
			// The fraction of the second, to n digits.
			frac := [3]byte{byte('0' + milli/100), byte('0' + milli/10%10), byte('0' + milli%10)}
			for i := 0; i < n; i++ {
				if i < 3 {
					dst = append(dst, frac[i])
				} else {
					dst = append(dst, '0')
				}
			}
		case 'X':
			dst = append(dst, 'Z')
		case 'x':
			dst = append(dst, [...]string{"+00", "+0000", "+00:00"}[n-1]...)
		case 'Z':
			dst = append(dst, [...]string{"+0000", "+0000", "+0000", "GMT", "Z"}[n-1]...)
		}
	}
	return dst
}

func pow10(n int) int64 {
	p := int64(1)
	for i := 0; i < n && i < 18; i++ {
		p *= 10
	}
	return p
}

// checkParsable refuses the letters that appendFormat prints but parse
// cannot read back (era, quarter, day of week are only printed).
func (l dtLayout) checkParsable(p string) error {
	for _, it := range l {
		switch it.letter {
		case 'G', 'Q', 'q':
			return fmt.Errorf("pattern %q: pattern letter '%c' cannot be parsed", p, it.letter)
		}
	}
	return nil
}

// parse reads s by l into milliseconds since the epoch (UTC unless the
// text has an offset); ok is false when s does not match or names an
// invalid date or time. Missing fields default to 1970-01-01 00:00:00.
func (l dtLayout) parse(s string) (ms int64, ok bool) {
	year, month, day, doy := int64(1970), int64(-1), int64(-1), int64(-1)
	hour, min, sec, milli := int64(0), int64(0), int64(0), int64(0)
	h12, pm, hasAmPm := int64(-1), false, false
	offset := int64(0) // minutes east of UTC
	for k, it := range l {
		n := it.count
		nextNum := k+1 < len(l) && isNumLetter(l[k+1].letter)
		var v int64
		var ok bool
		switch it.letter {
		case 0:
			if !strings.HasPrefix(s, it.lit) {
				return 0, false
			}
			s = s[len(it.lit):]
			continue
		case 'y', 'u':
			switch {
			case n == 2:
				if v, s, ok = digits(s, 2, 2); !ok {
					return 0, false
				}
				year = 2000 + v
			default:
				neg := false
				if it.letter == 'u' && strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
					neg = s[0] == '-'
					s = s[1:]
				}
				hi := 9
				if nextNum {
					hi = max(n, 4)
				}
				if v, s, ok = digits(s, n, hi); !ok {
					return 0, false
				}
				if neg {
					v = -v
				}
				year = v
			}
			continue
		case 'M', 'L':
			if n >= 3 {
				i, rest, ok := matchName(s, monthNames[:], n)
				if !ok {
					return 0, false
				}
				month, s = int64(i+1), rest
				continue
			}
		case 'E':
			_, rest, ok := matchName(s, dayNames[:], n)
			if !ok {
				return 0, false
			}
			s = rest
			continue
		case 'a':
			switch {
			case strings.HasPrefix(s, "AM"), strings.HasPrefix(s, "am"):
			case strings.HasPrefix(s, "PM"), strings.HasPrefix(s, "pm"):
				pm = true
			default:
				return 0, false
			}
			hasAmPm = true
			s = s[2:]
			continue
		case 'X', 'x', 'Z':
			var ok bool
			if offset, s, ok = parseOffset(s); !ok {
				return 0, false
			}
			continue
		case 'S':
			if v, s, ok = digits(s, n, n); !ok {
				return 0, false
			}
			for i := n; i < 3; i++ {
				v *= 10
			}
			for i := 3; i < n; i++ {
				v /= 10
			}
			milli = v
			continue
		}
		// The remaining numeric fields: one letter reads one or more
		// digits (as few as the next numeric field needs), two read two.
		lo, hi := n, n
		if n == 1 {
			hi = 2
			if it.letter == 'D' {
				hi = 3
			}
			if nextNum {
				hi = 1
			}
		}
		if v, s, ok = digits(s, lo, hi); !ok {
			return 0, false
		}
		switch it.letter {
		case 'M', 'L':
			month = v
		case 'd':
			day = v
		case 'D':
			doy = v
		case 'H':
			hour = v
		case 'k':
			if v == 24 {
				v = 0
			} else if v == 0 {
				return 0, false
			}
			hour = v
		case 'K':
			if v > 11 {
				return 0, false
			}
			h12 = v
		case 'h':
			if v < 1 || v > 12 {
				return 0, false
			}
			h12 = v % 12
		case 'm':
			min = v
		case 's':
			sec = v
		}
	}
	if s != "" {
		return 0, false
	}
	if h12 >= 0 {
		hour = h12
		if hasAmPm && pm {
			hour += 12
		}
	}
	if hour > 23 || min > 59 || sec > 59 || year < -290000000 || year > 290000000 {
		return 0, false
	}
	var t time.Time
	switch {
	case doy >= 0 && month < 0 && day < 0:
		days := int64(365)
		if isLeap(year) {
			days = 366
		}
		if doy < 1 || doy > days {
			return 0, false
		}
		t = time.Date(int(year), 1, int(doy), int(hour), int(min), int(sec), 0, time.UTC)
	default:
		if month < 0 {
			month = 1
		}
		if day < 0 {
			day = 1
		}
		if month < 1 || month > 12 || day < 1 || day > int64(daysIn(year, month)) {
			return 0, false
		}
		t = time.Date(int(year), time.Month(month), int(day), int(hour), int(min), int(sec), 0, time.UTC)
		if doy >= 0 && int64(t.YearDay()) != doy {
			return 0, false
		}
	}
	return t.Unix()*1000 + milli - offset*60000, true
}

func isNumLetter(c byte) bool {
	switch c {
	case 'y', 'u', 'd', 'D', 'H', 'h', 'k', 'K', 'm', 's', 'S', 'M':
		return true
	}
	return false
}

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int64) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// digits reads lo to hi decimal digits from the front of s.
func digits(s string, lo, hi int) (int64, string, bool) {
	var v int64
	i := 0
	for i < len(s) && i < hi && s[i] >= '0' && s[i] <= '9' {
		v = v*10 + int64(s[i]-'0')
		i++
	}
	if i < lo || i == 0 {
		return 0, s, false
	}
	return v, s[i:], true
}

// matchName matches the short (count <= 3) or full form of one of names at
// the front of s, ignoring case.
func matchName(s string, names []string, count int) (int, string, bool) {
	for i, name := range names {
		if count <= 3 {
			name = name[:3]
		}
		if len(s) >= len(name) && strings.EqualFold(s[:len(name)], name) {
			return i, s[len(name):], true
		}
	}
	return 0, s, false
}

// parseOffset reads Z, or ±HH, ±HHMM, ±HH:MM, at the front of s, as
// minutes east of UTC.
func parseOffset(s string) (int64, string, bool) {
	if strings.HasPrefix(s, "Z") {
		return 0, s[1:], true
	}
	if s == "" || (s[0] != '+' && s[0] != '-') {
		return 0, s, false
	}
	sign := int64(1)
	if s[0] == '-' {
		sign = -1
	}
	h, rest, ok := digits(s[1:], 2, 2)
	if !ok || h > 18 {
		return 0, s, false
	}
	m := int64(0)
	rest = strings.TrimPrefix(rest, ":")
	if len(rest) >= 2 && rest[0] >= '0' && rest[0] <= '9' {
		if m, rest, ok = digits(rest, 2, 2); !ok || m > 59 {
			return 0, s, false
		}
	}
	return sign * (h*60 + m), rest, true
}
