package types

import (
	"fmt"
	"math"
	"strconv"
)

// ParseInterval parses a duration, as written in WITH options, SET values
// and connector options, into milliseconds: a bare number of milliseconds
// ("250"), a number and a unit ("500ms", "10 s", "1.5 min", "2 hours",
// "-1 day"; ms, s, min, h and day, also spelled out, in any case), or the
// SQL form "INTERVAL '5' SECOND". A fraction is rounded to the nearest
// millisecond.
func ParseInterval(s string) (int64, error) {
	v := trimSpace(s)
	// INTERVAL '<n>' <unit>, or INTERVAL '<n> <unit>'.
	var outer string
	if len(v) > 8 && equalFold(v[:8], "interval") {
		v = trimSpace(v[8:])
		if len(v) > 0 && v[0] == '\'' {
			j := 1
			for j < len(v) && v[j] != '\'' {
				j++
			}
			if j == len(v) {
				return 0, intervalError(s)
			}
			v, outer = trimSpace(v[1:j]), trimSpace(v[j+1:])
		}
	}

	i := 0
	neg := false
	if i < len(v) && (v[i] == '-' || v[i] == '+') {
		neg = v[i] == '-'
		i++
	}
	start := i
	var n int64
	for ; i < len(v) && '0' <= v[i] && v[i] <= '9'; i++ {
		d := int64(v[i] - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, fmt.Errorf("invalid interval %q: out of range", s)
		}
		n = n*10 + d
	}
	digits := i - start
	var frac float64 // the fraction digits, as a fraction
	if i < len(v) && v[i] == '.' {
		i++
		scale := 0.1
		for ; i < len(v) && '0' <= v[i] && v[i] <= '9'; i++ {
			frac += float64(v[i]-'0') * scale
			scale /= 10
			digits++
		}
	}
	if digits == 0 {
		return 0, intervalError(s)
	}

	unit := trimSpace(v[i:])
	if unit != "" && outer != "" {
		return 0, intervalError(s)
	}
	if unit == "" {
		unit = outer
	}
	mult := unitMillis(unit)
	if mult == 0 {
		return 0, fmt.Errorf("invalid interval %q: unknown unit %q (expected ms, s, min, h or day)", s, unit)
	}
	if n > math.MaxInt64/mult-1 {
		return 0, fmt.Errorf("invalid interval %q: out of range", s)
	}
	ms := n*mult + int64(math.Round(frac*float64(mult)))
	if neg {
		ms = -ms
	}
	return ms, nil
}

func intervalError(s string) error {
	return fmt.Errorf("invalid interval %q: expected a number of milliseconds or a number and a unit, such as '500 ms', '10 s' or '1 min'", s)
}

// unitMillis returns the milliseconds in a unit of ParseInterval, or 0.
func unitMillis(unit string) int64 {
	if len(unit) > len("milliseconds") {
		return 0
	}
	var buf [len("milliseconds")]byte
	for i := 0; i < len(unit); i++ {
		buf[i] = lowerASCII(unit[i])
	}
	switch string(buf[:len(unit)]) {
	case "", "ms", "milli", "millis", "millisecond", "milliseconds":
		return 1
	case "s", "sec", "secs", "second", "seconds":
		return 1000
	case "m", "min", "mins", "minute", "minutes":
		return 60_000
	case "h", "hour", "hours":
		return 3_600_000
	case "d", "day", "days":
		return msPerDay
	}
	return 0
}

// AppendInterval appends a day-to-second interval of ms milliseconds to dst
// as Flink prints it: sign, days, then the time of day, "+1 02:03:04.000".
func AppendInterval(dst []byte, ms int64) []byte {
	// Negate as uint64 so that the most negative interval prints too.
	u := uint64(ms)
	if ms < 0 {
		dst = append(dst, '-')
		u = -u
	} else {
		dst = append(dst, '+')
	}
	dst = strconv.AppendUint(dst, u/msPerDay, 10)
	dst = append(dst, ' ')
	return appendClock(dst, int64(u%msPerDay))
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
