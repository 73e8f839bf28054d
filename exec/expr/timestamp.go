package expr

import (
	"fmt"
	"strings"
)

// Timestamps are milliseconds since 1970-01-01 00:00:00 UTC in a proleptic
// Gregorian calendar. The conversions here are hand-written (no package
// time) so that parsing and formatting a column does not allocate per row.

const msPerDay = 86_400_000

// ParseTimestamp parses 'YYYY-MM-DD HH:MM:SS[.fff]' (also with a 'T'
// between date and time, an optional trailing 'Z', a date alone, or up to
// nine fractional digits, truncated to milliseconds) into epoch
// milliseconds, UTC.
func ParseTimestamp(s string) (int64, error) {
	ms, ok := parseTimestamp(strings.TrimSpace(s))
	if !ok {
		return 0, fmt.Errorf("invalid timestamp %q, want 'YYYY-MM-DD HH:MM:SS[.fff]'", s)
	}
	return ms, nil
}

func parseTimestamp(s string) (int64, bool) {
	p := 0
	num := func(width int) (int, bool) {
		if p+width > len(s) {
			return 0, false
		}
		v := 0
		for i := 0; i < width; i++ {
			c := s[p+i]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		p += width
		return v, true
	}
	lit := func(c byte) bool {
		if p < len(s) && s[p] == c {
			p++
			return true
		}
		return false
	}
	neg := lit('-')
	y, ok := num(4)
	if !ok || !lit('-') {
		return 0, false
	}
	if neg {
		y = -y
	}
	mo, ok := num(2)
	if !ok || !lit('-') {
		return 0, false
	}
	d, ok := num(2)
	if !ok || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) {
		return 0, false
	}
	var h, mi, sec, frac int
	if p < len(s) && (s[p] == ' ' || s[p] == 'T') {
		p++
		if h, ok = num(2); !ok || !lit(':') {
			return 0, false
		}
		if mi, ok = num(2); !ok {
			return 0, false
		}
		if lit(':') {
			if sec, ok = num(2); !ok {
				return 0, false
			}
			if lit('.') {
				digits := 0
				for p < len(s) && s[p] >= '0' && s[p] <= '9' {
					if digits < 3 {
						frac = frac*10 + int(s[p]-'0')
					}
					digits++
					p++
				}
				if digits == 0 || digits > 9 {
					return 0, false
				}
				for ; digits < 3; digits++ {
					frac *= 10
				}
			}
		}
		if h > 23 || mi > 59 || sec > 59 {
			return 0, false
		}
	}
	lit('Z')
	if p != len(s) {
		return 0, false
	}
	days := daysFromCivil(y, mo, d)
	return days*msPerDay + int64(h)*3_600_000 + int64(mi)*60_000 + int64(sec)*1000 + int64(frac), true
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
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

// daysFromCivil returns the days since 1970-01-01 of a date (H. Hinnant's
// algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int) {
	z += 719468
	era := z
	if era < 0 {
		era -= 146096
	}
	era /= 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	yy := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		yy++
	}
	return int(yy), m, d
}

// FormatTimestamp prints epoch milliseconds as "2024-01-01 12:00:00.000"
// (UTC).
func FormatTimestamp(ms int64) string {
	return string(appendTimestamp(make([]byte, 0, 23), ms))
}

// floorDiv returns a / b rounded toward negative infinity, and the
// matching non-negative remainder.
func floorDiv(a, b int64) (int64, int64) {
	q, r := a/b, a%b
	if r < 0 {
		q--
		r += b
	}
	return q, r
}

func appendTimestamp(dst []byte, ms int64) []byte {
	days, rem := floorDiv(ms, msPerDay)
	y, m, d := civilFromDays(days)
	if y < 0 {
		dst = append(dst, '-')
		y = -y
	}
	dst = appendDigits(dst, y, 4)
	dst = append(dst, '-')
	dst = appendDigits(dst, m, 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, d, 2)
	dst = append(dst, ' ')
	dst = appendDigits(dst, int(rem/3_600_000), 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, int(rem/60_000%60), 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, int(rem/1000%60), 2)
	dst = append(dst, '.')
	return appendDigits(dst, int(rem%1000), 3)
}

// appendDigits appends v zero-padded to width digits.
func appendDigits(dst []byte, v, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for v > 0 || width > 0 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		width--
	}
	return append(dst, buf[i:]...)
}
