package types

import (
	"math"
	"strings"
	"testing"
)

func TestParseInterval(t *testing.T) {
	for in, want := range map[string]int64{
		"250": 250, "0": 0, "-5": -5, "1 ms": 1, "500ms": 500, "10s": 10000, "10 s": 10000, "1 min": 60000,
		"2 minutes": 120000, "1 h": 3600000, "2 Hours": 7200000, "1 day": 86400000, "-1 DAY": -86400000,
		"1.5 s": 1500, ".5s": 500, "1.5": 2, " 3 sec ": 3000, "+2 m": 120000,
		"INTERVAL '5' SECOND": 5000, "interval '3' minutes": 180000, "INTERVAL '-2' HOUR": -7200000,
		"INTERVAL '10 s'": 10000, "9223372036854775806": 9223372036854775806,
	} {
		if got, err := ParseInterval(in); err != nil || got != want {
			t.Errorf("ParseInterval(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"":                      `invalid interval "": expected a number of milliseconds or a number and a unit, such as '500 ms', '10 s' or '1 min'`,
		"soon":                  `invalid interval "soon": expected`,
		"- 5 s":                 `invalid interval "- 5 s": expected`,
		"5 weeks":               `invalid interval "5 weeks": unknown unit "weeks" (expected ms, s, min, h or day)`,
		"5 secondss":            `unknown unit "secondss"`,
		"5 s s":                 `unknown unit "s s"`,
		"INTERVAL '5 s' SECOND": `expected a number`,
		"INTERVAL '5":           `expected a number`,
		"9223372036854775807 s": `out of range`,
		"99999999999999999999":  `out of range`,
		"1e3":                   `unknown unit "e3"`,
	} {
		if _, err := ParseInterval(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseInterval(%q): %v, want %q", in, err, want)
		}
	}
}

func TestAppendInterval(t *testing.T) {
	for ms, want := range map[int64]string{
		93784000: "+1 02:03:04.000", -5: "-0 00:00:00.005", 0: "+0 00:00:00.000",
		math.MinInt64: "-106751991167 07:12:55.808",
	} {
		if got := string(AppendInterval(nil, ms)); got != want {
			t.Errorf("AppendInterval(%d) = %q, want %q", ms, got, want)
		}
	}
}
