package types

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // zone names resolve the same on every machine

	"github.com/apache/arrow/go/v17/arrow"
)

// Zone is a session time zone ('table.local-time-zone'): how a
// TIMESTAMP_LTZ instant (ms since the epoch) is seen as a local TIMESTAMP
// and back. The zero Zone, and a nil *Zone, is UTC, where both
// conversions are the identity.
type Zone struct {
	name string
	loc  *time.Location
	// fixed is set for a zone without transitions (UTC, '+08:00'): off is
	// then its offset in ms.
	fixed bool
	off   int64
}

// UTCZone is the default session time zone.
var UTCZone = &Zone{name: "UTC", fixed: true}

// ParseZone reads a zone as Flink's table.local-time-zone does: an IANA
// name ('Asia/Shanghai', 'America/Los_Angeles'), 'UTC' (or 'Z', 'GMT'),
// an offset ('+08:00', '-0530', '+8') or one after 'UTC'/'GMT'
// ('GMT+08:00'). An unknown name is an error that says what is expected.
func ParseZone(s string) (*Zone, error) {
	t := strings.TrimSpace(s)
	switch u := strings.ToUpper(t); {
	case u == "UTC" || u == "Z" || u == "GMT" || u == "UT":
		return UTCZone, nil
	case strings.HasPrefix(u, "+") || strings.HasPrefix(u, "-"):
		return fixedZone(t, t)
	case (strings.HasPrefix(u, "UTC") || strings.HasPrefix(u, "GMT")) && len(u) > 3 && (u[3] == '+' || u[3] == '-'):
		return fixedZone(t, t[3:])
	}
	if t == "" || t == "Local" || strings.HasPrefix(t, "/") || strings.Contains(t, "..") {
		return nil, zoneError(s)
	}
	loc, err := time.LoadLocation(t)
	if err != nil {
		return nil, zoneError(s)
	}
	return &Zone{name: t, loc: loc}, nil
}

func zoneError(s string) error {
	return fmt.Errorf("unknown time zone %q: expected a zone name such as 'Asia/Shanghai' or 'UTC', or an offset such as '+08:00'", s)
}

// fixedZone reads an offset [+-]H[H][[:]MM]; name is the zone's name.
func fixedZone(name, off string) (*Zone, error) {
	sign := int64(1)
	if off[0] == '-' {
		sign = -1
	}
	digits := strings.ReplaceAll(off[1:], ":", "")
	var h, m int
	var err error
	switch len(digits) {
	case 1, 2:
		h, err = strconv.Atoi(digits)
	case 3, 4:
		h, err = strconv.Atoi(digits[:len(digits)-2])
		if err == nil {
			m, err = strconv.Atoi(digits[len(digits)-2:])
		}
	default:
		err = fmt.Errorf("bad offset")
	}
	if err != nil || h > 18 || m > 59 || strings.Count(off, ":") > 1 || strings.ContainsAny(digits, "+-") {
		return nil, zoneError(name)
	}
	ms := sign * int64(h*3600+m*60) * 1000
	if ms == 0 {
		return UTCZone, nil
	}
	return &Zone{name: name, fixed: true, off: ms}, nil
}

// String returns the zone's name as it was given.
func (z *Zone) String() string {
	if z == nil || z.name == "" {
		return "UTC"
	}
	return z.name
}

// IsUTC reports whether the zone is UTC (both conversions are the
// identity).
func (z *Zone) IsUTC() bool { return z == nil || z.fixed && z.off == 0 }

// Offset returns the zone's offset from UTC, in ms, at the instant ms.
func (z *Zone) Offset(ms int64) int64 {
	if z.IsUTC() {
		return 0
	}
	if z.fixed {
		return z.off
	}
	_, off := time.UnixMilli(ms).In(z.loc).Zone()
	return int64(off) * 1000
}

// ToLocal returns the local TIMESTAMP (ms, as read on a wall clock of the
// zone, counted as if in UTC) of the instant ms.
func (z *Zone) ToLocal(ms int64) int64 { return ms + z.Offset(ms) }

// ToUTC returns the instant of the local TIMESTAMP local, as Java's
// LocalDateTime.atZone does: a local time in a gap (the hour skipped when
// clocks go forward) is moved later by the gap's length; one in an overlap
// (the hour repeated when they go back) is the earlier instant.
func (z *Zone) ToUTC(local int64) int64 {
	if z.IsUTC() {
		return local
	}
	if z.fixed {
		return local - z.off
	}
	// The offsets in force a day either side bracket every transition
	// near local (zones change offset at most once a day).
	before := z.Offset(local - msPerDay)
	after := z.Offset(local + msPerDay)
	if before == after {
		return local - z.Offset(local-before)
	}
	// Earlier instant first: the one with the larger offset.
	hi, lo := before, after
	if lo > hi {
		hi, lo = lo, hi
	}
	if z.Offset(local-hi) == hi {
		return local - hi
	}
	if z.Offset(local-lo) == lo {
		return local - lo
	}
	// In a gap: neither offset reads back; Java moves the time later by
	// the gap, which is the instant local - before (the offset before it).
	return local - before
}

// ArrowLTZ is the Arrow type of a TIMESTAMP_LTZ(3) column shown in the
// zone: a millisecond timestamp whose TimeZone is the zone's name (the
// column's values are instants whatever it names). Sinks relabel their
// LTZ columns with it; text formats print them as local times (ArrowZone).
func (z *Zone) ArrowLTZ() arrow.DataType {
	return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: z.String()}
}

// arrowZones caches ArrowZone's lookups by name.
var arrowZones sync.Map // string → *Zone

// ArrowZone returns the zone a timestamp column's Arrow type shows its
// values in: nil for a TIMESTAMP (no TimeZone) or UTC, else the zone
// ArrowLTZ named.
func ArrowZone(t *arrow.TimestampType) *Zone {
	if t.TimeZone == "" || t.TimeZone == "UTC" {
		return nil
	}
	if z, ok := arrowZones.Load(t.TimeZone); ok {
		return z.(*Zone)
	}
	z, err := ParseZone(t.TimeZone)
	if err != nil {
		z = UTCZone
	}
	arrowZones.Store(t.TimeZone, z)
	return z
}
