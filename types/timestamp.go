package types

import (
	"fmt"
	"strconv"
)

// Timestamps are milliseconds since 1970-01-01 00:00:00 UTC in the
// proleptic Gregorian calendar. The conversions are hand-written (no
// package time) so that decoding or casting a column of them allocates
// nothing per value.

const msPerDay = 86_400_000

// ParseTimestamp parses a timestamp into milliseconds since the epoch. It
// accepts, around optional ASCII white space:
//
//	YYYY-MM-DD
//	YYYY-MM-DD HH:MM[:SS[.fff…]]
//
// with 'T' or 't' for the space, a ',' for the '.', any number of fraction
// digits (truncated to milliseconds), a one-digit hour, a year of more than
// four digits or with a leading '-', and a zone: 'Z' or 'z', or an offset '+HH',
// '+HHMM' or '+HH:MM' (or with '-'), which is converted to UTC. Without a
// zone the text is read as UTC. Anything else is an error that names the
// value and the expected form.
func ParseTimestamp(s string) (int64, error) {
	if ms, ok := parseTimestamp(s); ok {
		return ms, nil
	}
	return 0, timestampError(s)
}

// ParseTimestampBytes is ParseTimestamp of a byte slice, for decoders; it
// allocates only to report an error.
func ParseTimestampBytes(b []byte) (int64, error) {
	if ms, ok := parseTimestamp(b); ok {
		return ms, nil
	}
	return 0, timestampError(string(b))
}

// ParseLocalTimestampBytes is ParseTimestampBytes of a TIMESTAMP_LTZ's
// text in zone z: text with a zone (Z or an offset) names its instant;
// text without one is a local time in z (z.ToUTC), as Flink's JSON and
// CSV formats read it in the session time zone. A nil z is UTC.
func ParseLocalTimestampBytes(b []byte, z *Zone) (int64, error) {
	ms, zoned, ok := parseTimestampZone(b)
	if !ok {
		return 0, timestampError(string(b))
	}
	if !zoned {
		ms = z.ToUTC(ms)
	}
	return ms, nil
}

func timestampError(s string) error {
	return fmt.Errorf("invalid timestamp %q: expected 'YYYY-MM-DD HH:MM:SS[.fff]' or ISO-8601", s)
}

// parseTimestamp is the one parser behind ParseTimestamp and
// ParseTimestampBytes. The fields are read at fixed places where they can
// be: this runs once per value of a decoded column.
func parseTimestamp[T string | []byte](s T) (int64, bool) {
	ms, _, ok := parseTimestampZone(s)
	return ms, ok
}

// parseTimestampZone is parseTimestamp, also telling whether the text
// named its zone.
func parseTimestampZone[T string | []byte](s T) (ms int64, zoned, ok bool) {
	s = trimSpace(s)
	// The year: four digits, or a '-' and more digits (nine reach as far
	// as int64 milliseconds do).
	var y int64
	p := 4 // the '-' after the year
	short := len(s) >= 10 && s[4] == '-'
	if short {
		hi, ok1 := twoDigits(s[0], s[1])
		lo, ok2 := twoDigits(s[2], s[3])
		if !ok1 || !ok2 {
			return 0, false, false
		}
		y = hi*100 + lo
	} else {
		p = 0
		if len(s) > 0 && s[0] == '-' {
			p = 1
		}
		start := p
		for p < len(s) && p-start < 9 && '0' <= s[p] && s[p] <= '9' {
			y = y*10 + int64(s[p]-'0')
			p++
		}
		if p-start < 4 {
			return 0, false, false
		}
		if start == 1 {
			y = -y
		}
	}
	if len(s) < p+6 || s[p] != '-' || s[p+3] != '-' {
		return 0, false, false
	}
	mo, ok1 := twoDigits(s[p+1], s[p+2])
	d, ok2 := twoDigits(s[p+4], s[p+5])
	if !ok1 || !ok2 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, int(mo)) {
		return 0, false, false
	}
	days := daysFromCivil(y, int(mo), int(d))
	p += 6

	// The time of day: [ T]H[H]:MM[:SS[.f…]].
	var tod int64
	if p < len(s) && (s[p] == ' ' || s[p] == 'T' || s[p] == 't') {
		p++
		var h int64
		switch {
		case p+1 < len(s) && s[p+1] == ':': // a one-digit hour
			c := s[p] - '0'
			if c > 9 {
				return 0, false, false
			}
			h = int64(c)
			p += 2
		case p+2 < len(s) && s[p+2] == ':':
			var ok bool
			if h, ok = twoDigits(s[p], s[p+1]); !ok || h > 23 {
				return 0, false, false
			}
			p += 3
		default:
			return 0, false, false
		}
		if p+1 >= len(s) {
			return 0, false, false
		}
		mi, ok := twoDigits(s[p], s[p+1])
		if !ok || mi > 59 {
			return 0, false, false
		}
		tod = h*3_600_000 + mi*60_000
		p += 2
		if p < len(s) && s[p] == ':' {
			if p+2 >= len(s) {
				return 0, false, false
			}
			sec, ok := twoDigits(s[p+1], s[p+2])
			if !ok || sec > 59 {
				return 0, false, false
			}
			tod += sec * 1000
			p += 3
			if p < len(s) && (s[p] == '.' || s[p] == ',') {
				p++
				start := p
				for scale := int64(100); p < len(s) && '0' <= s[p] && s[p] <= '9'; p++ {
					tod += int64(s[p]-'0') * scale
					scale /= 10
				}
				if p == start {
					return 0, false, false
				}
			}
		}
	}

	// The zone: Z, or an offset ±HH, ±HHMM or ±HH:MM.
	var off int64
	zoned = p < len(s)
	if zoned {
		switch rest := s[p:]; rest[0] {
		case 'Z', 'z':
			if len(rest) != 1 {
				return 0, false, false
			}
		case '+', '-':
			var oh, om int64
			ok1, ok2 := false, true
			switch len(rest) {
			case 3:
				oh, ok1 = twoDigits(rest[1], rest[2])
			case 5:
				oh, ok1 = twoDigits(rest[1], rest[2])
				om, ok2 = twoDigits(rest[3], rest[4])
			case 6:
				oh, ok1 = twoDigits(rest[1], rest[2])
				om, ok2 = twoDigits(rest[4], rest[5])
				ok2 = ok2 && rest[3] == ':'
			}
			if !ok1 || !ok2 || oh > 23 || om > 59 {
				return 0, false, false
			}
			off = oh*3_600_000 + om*60_000
			if rest[0] == '-' {
				off = -off
			}
		default:
			return 0, false, false
		}
	}

	if short {
		// A four-digit year is nowhere near overflowing.
		return days*msPerDay + tod - off, zoned, true
	}
	// days*msPerDay + x, without overflowing on the way to the last
	// milliseconds an int64 holds at either end.
	x := tod - off
	if days < 0 {
		days++
		x -= msPerDay
	}
	if days < -maxDays || days > maxDays {
		return 0, false, false
	}
	ms, ok = addOverflows(days*msPerDay, x)
	return ms, zoned, ok
}

// twoDigits returns the number written by two decimal digits.
func twoDigits(a, b byte) (int64, bool) {
	a, b = a-'0', b-'0'
	return int64(a)*10 + int64(b), a <= 9 && b <= 9
}

// maxDays is the most whole days whose milliseconds fit an int64.
const maxDays = (1<<63 - 1) / msPerDay

// addOverflows returns a+b and whether it did not overflow.
func addOverflows(a, b int64) (int64, bool) {
	c := a + b
	return c, (c > a) == (b > 0)
}

func trimSpace[T string | []byte](s T) T {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func daysIn(y int64, m int) int64 {
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

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (H. Hinnant's algorithm).
func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := int64(m+9) % 12
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(days int64) (y int64, m, d int) {
	z := days + 719468
	era := z
	if era < 0 {
		era -= 146096
	}
	era /= 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
		y++
	}
	return y, m, d
}

// floorDivMod returns a / b rounded toward negative infinity and the
// matching remainder in [0, b); b must be positive.
func floorDivMod(a, b int64) (int64, int64) {
	q, r := a/b, a%b
	if r < 0 {
		q--
		r += b
	}
	return q, r
}

// FormatTimestamp returns ms milliseconds since the epoch as
// "2024-01-01 12:00:05.000" (UTC).
func FormatTimestamp(ms int64) string {
	var buf [32]byte
	return string(AppendTimestamp(buf[:0], ms))
}

// AppendTimestamp appends ms milliseconds since the epoch to dst as
// "2024-01-01 12:00:05.000" (UTC). A year before 0 has a '-' and one after
// 9999 more than four digits; ParseTimestamp reads every form back.
func AppendTimestamp(dst []byte, ms int64) []byte {
	days, rem := floorDivMod(ms, msPerDay)
	y, m, d := civilFromDays(days)
	if y < 0 {
		dst = append(dst, '-')
		y = -y
	}
	if y > 9999 {
		dst = strconv.AppendInt(dst, y, 10)
	} else {
		dst = append(dst, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10))
	}
	dst = append(dst, '-', byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10), ' ')
	return appendClock(dst, rem)
}

// appendClock appends ms (within a day) as "HH:MM:SS.fff".
func appendClock(dst []byte, ms int64) []byte {
	h, mi, s, f := ms/3_600_000, ms/60_000%60, ms/1000%60, ms%1000
	return append(dst,
		byte('0'+h/10), byte('0'+h%10), ':',
		byte('0'+mi/10), byte('0'+mi%10), ':',
		byte('0'+s/10), byte('0'+s%10), '.',
		byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
}
