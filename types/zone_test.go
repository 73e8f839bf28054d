package types

import (
	"strings"
	"testing"
)

func TestParseZone(t *testing.T) {
	for _, c := range []struct{ in, name string }{
		{"UTC", "UTC"}, {"Z", "UTC"}, {"GMT", "UTC"}, {"+00:00", "UTC"},
		{"Asia/Shanghai", "Asia/Shanghai"}, {"+08:00", "+08:00"}, {"-0530", "-0530"}, {"+8", "+8"}, {"GMT+08:00", "GMT+08:00"},
	} {
		z, err := ParseZone(c.in)
		if err != nil {
			t.Fatalf("ParseZone(%q): %v", c.in, err)
		}
		if z.String() != c.name {
			t.Errorf("ParseZone(%q) = %s, want %s", c.in, z, c.name)
		}
	}
	for _, bad := range []string{"", "Mars/Olympus", "+25:00", "+08:00:00", "Local", "../etc/passwd", "GMT+x"} {
		if _, err := ParseZone(bad); err == nil || !strings.Contains(err.Error(), "unknown time zone") {
			t.Errorf("ParseZone(%q) = %v, want an unknown time zone error", bad, err)
		}
	}
}

func TestZoneConversions(t *testing.T) {
	ts := func(s string) int64 {
		ms, err := ParseTimestamp(s)
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	sh, _ := ParseZone("Asia/Shanghai")
	if got := FormatTimestamp(sh.ToLocal(4001)); got != "1970-01-01 08:00:04.001" {
		t.Errorf("Shanghai local of 4001 = %s", got)
	}
	if got := sh.ToUTC(ts("1970-01-01 08:00:04.001")); got != 4001 {
		t.Errorf("Shanghai instant = %d", got)
	}
	off, _ := ParseZone("-05:30")
	if got := FormatTimestamp(off.ToLocal(0)); got != "1969-12-31 18:30:00.000" {
		t.Errorf("-05:30 local of 0 = %s", got)
	}
	la, _ := ParseZone("America/Los_Angeles")
	for _, c := range []struct{ local, utc string }{
		{"2021-03-14 01:59:59.999", "2021-03-14 09:59:59.999"},
		{"2021-03-14 02:30:00", "2021-03-14 10:30:00"}, // in the gap: moved later by an hour
		{"2021-03-14 03:00:00", "2021-03-14 10:00:00"},
		{"2021-11-07 01:30:00", "2021-11-07 08:30:00"}, // in the overlap: the earlier instant
		{"2021-11-07 02:00:00", "2021-11-07 10:00:00"},
		{"2021-07-01 12:00:00", "2021-07-01 19:00:00"},
	} {
		if got := FormatTimestamp(la.ToUTC(ts(c.local))); got != FormatTimestamp(ts(c.utc)) {
			t.Errorf("LA ToUTC(%s) = %s, want %s", c.local, got, c.utc)
		}
	}
	// ToLocal then ToUTC is the identity outside overlaps.
	for ms := ts("2021-03-13 00:00:00"); ms < ts("2021-03-16 00:00:00"); ms += 15 * 60_000 {
		if got := la.ToUTC(la.ToLocal(ms)); got != ms {
			t.Fatalf("LA round trip of %s = %s", FormatTimestamp(ms), FormatTimestamp(got))
		}
	}
}
