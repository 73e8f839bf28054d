package format

import (
	"fmt"
	"strconv"
)

// ParseTimestamp parses a timestamp into milliseconds since the epoch
// (UTC): "YYYY-MM-DD", "YYYY-MM-DD HH:MM[:SS[.fff…]]", or the same with
// 'T' for the space and an optional zone ("Z", "+02:00", "-0530"), which
// is converted to UTC. Fraction digits beyond milliseconds are truncated.
func ParseTimestamp(s string) (int64, error) { return parseTimestamp([]byte(s)) }

func parseTimestamp(b []byte) (int64, error) {
	orig := b
	bad := func() (int64, error) {
		return 0, fmt.Errorf("invalid timestamp %q: expected 'YYYY-MM-DD HH:MM:SS[.fff]' or ISO-8601", orig)
	}
	if len(b) < 10 || b[4] != '-' || b[7] != '-' {
		return bad()
	}
	y, ok1 := digits(b[0:4])
	mo, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	if !ok1 || !ok2 || !ok3 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) {
		return bad()
	}
	ms := daysFromCivil(int64(y), mo, d) * msPerDay
	b = b[10:]
	if len(b) == 0 {
		return ms, nil
	}
	if b[0] != ' ' && b[0] != 'T' || len(b) < 6 || b[3] != ':' {
		return bad()
	}
	h, ok1 := digits(b[1:3])
	mi, ok2 := digits(b[4:6])
	if !ok1 || !ok2 || h > 23 || mi > 59 {
		return bad()
	}
	ms += int64(h)*3600000 + int64(mi)*60000
	b = b[6:]
	if len(b) >= 3 && b[0] == ':' {
		sec, ok := digits(b[1:3])
		if !ok || sec > 59 {
			return bad()
		}
		ms += int64(sec) * 1000
		b = b[3:]
		if len(b) > 0 && b[0] == '.' {
			i := 1
			scale := int64(100)
			for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
				ms += int64(b[i]-'0') * scale
				scale /= 10
			}
			if i == 1 {
				return bad()
			}
			b = b[i:]
		}
	}
	switch {
	case len(b) == 0:
		return ms, nil
	case len(b) == 1 && (b[0] == 'Z' || b[0] == 'z'):
		return ms, nil
	case b[0] == '+' || b[0] == '-':
		var oh, om int
		var ok1, ok2 bool
		switch len(b) {
		case 3:
			oh, ok1 = digits(b[1:3])
			ok2 = true
		case 5:
			oh, ok1 = digits(b[1:3])
			om, ok2 = digits(b[3:5])
		case 6:
			if b[3] != ':' {
				return bad()
			}
			oh, ok1 = digits(b[1:3])
			om, ok2 = digits(b[4:6])
		}
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return bad()
		}
		off := int64(oh)*3600000 + int64(om)*60000
		if b[0] == '+' {
			return ms - off, nil
		}
		return ms + off, nil
	}
	return bad()
}

func digits(b []byte) (int, bool) {
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// FormatTimestamp returns ms milliseconds since the epoch as
// "2024-01-01 12:00:05.000".
func FormatTimestamp(ms int64) string { return string(AppendTimestamp(nil, ms)) }

// ParseInterval parses a duration option value into milliseconds: a plain
// number of milliseconds ("250"), or a number and a unit ("1 ms", "10s",
// "2 minutes", "1 h", "1 day"), also in the SQL form "INTERVAL '5' SECOND".
func ParseInterval(s string) (int64, error) {
	orig := s
	s = trimSpace(s)
	if len(s) > 8 && equalFoldASCII(s[:8], "interval") {
		s = trimSpace(s[8:])
		if len(s) > 0 && s[0] == '\'' {
			if j := indexByte(s[1:], '\''); j >= 0 {
				s = s[1:j+1] + " " + s[j+2:]
			}
		}
	}
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '-' && i == 0) {
		i++
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid interval %q: expected a number of milliseconds or '<n> <unit>'", orig)
	}
	unit := trimSpace(s[i:])
	var mult int64
	switch lower(unit) {
	case "", "ms", "milli", "millis", "millisecond", "milliseconds":
		mult = 1
	case "s", "sec", "secs", "second", "seconds":
		mult = 1000
	case "m", "min", "mins", "minute", "minutes":
		mult = 60000
	case "h", "hour", "hours":
		mult = 3600000
	case "d", "day", "days":
		mult = msPerDay
	default:
		return 0, fmt.Errorf("invalid interval %q: unknown unit %q (expected ms, s, min, h or day)", orig, unit)
	}
	return n * mult, nil
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func equalFoldASCII(a, b string) bool { return len(a) == len(b) && lower(a) == lower(b) }
