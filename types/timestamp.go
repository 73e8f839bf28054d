package types

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseTimestamp parses a SQL timestamp literal, 'YYYY-MM-DD HH:MM:SS[.fff]'
// (a 'T' separator and a trailing 'Z' are accepted, as is a bare date), as
// UTC, returning milliseconds since the epoch.
func ParseTimestamp(s string) (int64, error) {
	v := strings.TrimSuffix(strings.TrimSpace(s), "Z")
	v = strings.Replace(v, "T", " ", 1)
	for _, layout := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, fmt.Errorf("invalid timestamp %q: expected 'YYYY-MM-DD HH:MM:SS[.fff]'", s)
}

// FormatTimestamp prints milliseconds since the epoch as
// "2006-01-02 15:04:05.000" in UTC.
func FormatTimestamp(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05.000")
}

// ParseInterval parses a duration as written in WITH options and SET
// values — "10 s", "500ms", "1 min", "2 h", "1 day", or a bare number of
// milliseconds — and returns milliseconds.
func ParseInterval(s string) (int64, error) {
	v := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	i := 0
	for i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '.' || v[i] == '-' && i == 0) {
		i++
	}
	num, err := strconv.ParseFloat(v[:i], 64)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: expected a number and a unit such as '10 s', '500 ms' or '1 min'", s)
	}
	var unit float64
	switch v[i:] {
	case "", "ms", "milli", "millis", "millisecond", "milliseconds":
		unit = 1
	case "s", "sec", "secs", "second", "seconds":
		unit = 1000
	case "m", "min", "mins", "minute", "minutes":
		unit = 60_000
	case "h", "hour", "hours":
		unit = 3_600_000
	case "d", "day", "days":
		unit = 86_400_000
	default:
		return 0, fmt.Errorf("invalid duration %q: unknown unit %q (use ms, s, min, h or day)", s, v[i:])
	}
	return int64(math.Round(num * unit)), nil
}
