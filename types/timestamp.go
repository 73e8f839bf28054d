package types

import (
	"fmt"
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
