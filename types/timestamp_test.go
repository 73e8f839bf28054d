package types

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestDataDriven runs testdata/*: see the comment at the top of each file.
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "timestamp":
				var out strings.Builder
				for _, line := range strings.Split(d.Input, "\n") {
					ms, err := ParseTimestamp(line)
					if err != nil {
						fmt.Fprintf(&out, "%s -> error: %v\n", line, err)
					} else {
						fmt.Fprintf(&out, "%s -> %s (%d)\n", line, FormatTimestamp(ms), ms)
					}
					// The []byte parser agrees with the string one.
					if ms2, err2 := ParseTimestampBytes([]byte(line)); ms2 != ms || (err == nil) != (err2 == nil) {
						t.Errorf("ParseTimestampBytes(%q) = %d, %v; ParseTimestamp = %d, %v", line, ms2, err2, ms, err)
					}
				}
				return out.String()
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}

func TestParseTimestamp(t *testing.T) {
	for s, want := range map[string]int64{
		"1970-01-01 00:00:00":               0,
		"1970-01-01T00:00:01Z":              1000,
		"1970-01-01 00:00:00.5":             500,
		"1970-01-01 00:00:00.123456789":     123,
		"1970-01-01 00:00:00.1234567890123": 123,
		"1970-01-02":                        86400000,
		" 1970-01-01 00:01 ":                60000,
		"\t1970-01-01 00:00:00.001\n":       1,
		"2000-02-29 00:00:00.000":           951782400000,
		"1970-01-01T00:00:00+0100":          -3600000,
	} {
		if got, err := ParseTimestamp(s); err != nil || got != want {
			t.Errorf("ParseTimestamp(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", " ", "abc", "2024-02-30 00:00:00", "2023-02-29", "2024-00-01", "2024-13-01",
		"2024-01-00", "2024-01-01 24:00:00", "2024-01-01 00:60:00", "2024-01-01 00:00:00.", "2024-1-01",
		"2024-01-01 00:00:00 x", "2024-01-01 00:00:00ZZ", "2024-01-01 00:00:00+02:60", "2024-01-01  00:00",
		"+2024-01-01", "1234567890-01-01", "292278994-08-17 07:12:55.808", "-292275055-05-16 16:47:04.191"} {
		if _, err := ParseTimestamp(s); err == nil {
			t.Errorf("ParseTimestamp(%q) succeeded", s)
		}
	}
	for ms, want := range map[int64]string{
		0: "1970-01-01 00:00:00.000", -1: "1969-12-31 23:59:59.999", 1704067205123: "2024-01-01 00:00:05.123",
		951782400000: "2000-02-29 00:00:00.000", 1704110400000: "2024-01-01 12:00:00.000",
		math.MaxInt64: "292278994-08-17 07:12:55.807", math.MinInt64: "-292275055-05-16 16:47:04.192",
	} {
		if got := FormatTimestamp(ms); got != want {
			t.Errorf("FormatTimestamp(%d) = %q, want %q", ms, got, want)
		}
	}
}

// TestTimestampRoundTrip formats random milliseconds and parses them back:
// mostly in the years 0001 to 9999, then anywhere in an int64.
func TestTimestampRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	const y1, y10000 = -62135596800000, 253402300800000
	for i := 0; i < 100000; i++ {
		ms := y1 + r.Int63n(y10000-y1)
		if i%4 == 0 {
			ms = int64(r.Uint64())
		}
		s := FormatTimestamp(ms)
		got, err := ParseTimestamp(s)
		if err != nil || got != ms {
			t.Fatalf("%d → %q → %d, %v", ms, s, got, err)
		}
		if ms >= y1 && ms < y10000 && len(s) != len("2024-01-01 00:00:00.000") {
			t.Fatalf("%d → %q, not 23 characters", ms, s)
		}
	}
}

func TestTimestampAllocs(t *testing.T) {
	b := []byte("2024-01-01T12:00:05.250+02:00")
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() {
		ms, _ := ParseTimestampBytes(b)
		_, _ = ParseTimestamp("2024-01-01 12:00:05.250")
		buf = AppendTimestamp(buf[:0], ms)
	}); n != 0 {
		t.Errorf("%v allocations per parse and append, want 0", n)
	}
}

func BenchmarkParseTimestamp(b *testing.B) {
	for _, s := range []string{"2024-01-01 12:00:05.123", "2024-01-01T12:00:05.250+02:00", "2024-01-01"} {
		in := []byte(s)
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := ParseTimestampBytes(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendTimestamp(b *testing.B) {
	buf := make([]byte, 0, 32)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendTimestamp(buf[:0], 1704110405123+int64(i))
	}
}
