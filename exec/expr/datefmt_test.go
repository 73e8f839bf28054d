package expr

import (
	"math"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/types"
)

// TestDateTimeFormatMatchesGo compares DATE_FORMAT's patterns with Go's
// time formatting of the same instants (years 1 to 9999, before and after
// 1970), and checks that parsing the text back gives the instant again.
func TestDateTimeFormatMatchesGo(t *testing.T) {
	r := rand.New(rand.NewSource(time.Now().UnixNano()))
	lo := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	hi := time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli()
	for _, tc := range []struct {
		java, goLayout string
		exact          bool // the text holds the whole instant
	}{
		{"yyyy-MM-dd HH:mm:ss.SSS", "2006-01-02 15:04:05.000", true},
		{"yyyyMMddHHmmssSSS", "20060102150405.000", true},
		{"dd/MM/yyyy hh:mm:ss a", "02/01/2006 03:04:05 PM", false},
		{"EEE, d MMM yyyy HH:m:s", "Mon, 2 Jan 2006 15:4:5", false},
		{"EEEE MMMM dd yyyy'T'HH:mm", "Monday January 02 2006T15:04", false},
		{"yy-M-d", "06-1-2", false},
		{"DDD", "002", false},
	} {
		l, err := compileDateTime(tc.java)
		if err != nil {
			t.Fatalf("%s: %v", tc.java, err)
		}
		for i := 0; i < 2000; i++ {
			ms := lo + r.Int63n(hi-lo)
			tm := time.UnixMilli(ms).UTC()
			want := tm.Format(tc.goLayout)
			if tc.java == "yyyyMMddHHmmssSSS" {
				want = want[:14] + want[15:] // Go's layout needs the dot
			}
			got := string(l.appendFormat(nil, ms))
			if got != want {
				t.Fatalf("%s of %d: got %q, want %q", tc.java, ms, got, want)
			}
			if tc.java == "DDD" {
				continue
			}
			back, ok := l.parse(got)
			if !ok {
				t.Fatalf("%s: cannot parse back %q", tc.java, got)
			}
			if tc.exact && back != ms {
				t.Fatalf("%s: %q parses to %d, want %d", tc.java, got, back, ms)
			}
			if !tc.exact && string(l.appendFormat(nil, back)) != got {
				t.Fatalf("%s: %q parses to %d, which formats as %q", tc.java, got, back, l.appendFormat(nil, back))
			}
		}
	}
	// Random text never panics the parser and, when it parses, formats to
	// an instant that parses to itself.
	l, _ := compileDateTime("yyyy-MM-dd HH:mm:ss")
	const chars = "0123456789-: "
	for i := 0; i < 20000; i++ {
		b := make([]byte, r.Intn(22))
		for j := range b {
			b[j] = chars[r.Intn(len(chars))]
		}
		if ms, ok := l.parse(string(b)); ok {
			if back, ok := l.parse(string(l.appendFormat(nil, ms))); !ok || back != ms {
				t.Fatalf("%q parses to %d, which does not round-trip", b, ms)
			}
		}
	}
}

// TestDateFormatBatchReusesPeriods: DATE_FORMAT over a batch of close,
// increasing (and some NULL and pre-1970) timestamps, which reuses the text
// of the last row within a day, hour, minute or second, gives every row the
// text formatting it alone gives.
func TestDateFormatBatchReusesPeriods(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := types.Schema{Fields: []types.Field{{Name: "ts", Type: types.TimestampType}}}
	r := rand.New(rand.NewSource(time.Now().UnixNano()))
	b := array.NewTimestampBuilder(mem, types.TimestampType.Arrow().(*arrow.TimestampType))
	var ms []int64
	for _, start := range []int64{-86_400_000*3 - 1500, 1_700_000_000_000 - 59_990} {
		ts := start
		for i := 0; i < 3000; i++ {
			switch r.Intn(10) {
			case 0:
				b.AppendNull()
				ms = append(ms, math.MinInt64)
				continue
			case 1:
				ts += r.Int63n(100_000) // past a minute now and then
			default:
				ts += r.Int63n(300)
			}
			b.Append(arrow.Timestamp(ts))
			ms = append(ms, ts)
		}
	}
	col := b.NewArray()
	b.Release()
	rec := Project(schema.Arrow(), []arrow.Array{col}, int64(len(ms)))
	defer rec.Release()
	for _, p := range []string{"yyyy-MM-dd", "HH:mm", "HH", "mm:ss", "yyyy-MM-dd HH:mm:ss.SSS", "a", "'literal'"} {
		e, err := parseExprText("(DATE_FORMAT ts '"+strings.ReplaceAll(p, "'", "''")+"')", schema)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := Compile(e, schema, mem)
		if err != nil {
			t.Fatal(err)
		}
		a, err := ev.Eval(rec)
		if err != nil {
			t.Fatal(err)
		}
		l, _ := compileDateTime(p)
		got := a.(*array.String)
		for i, v := range ms {
			if v == math.MinInt64 {
				if !got.IsNull(i) {
					t.Fatalf("%s: row %d: got %q, want NULL", p, i, got.Value(i))
				}
				continue
			}
			if want := string(l.appendFormat(nil, v)); got.IsNull(i) || got.Value(i) != want {
				t.Fatalf("%s: row %d (%d): got %q, want %q", p, i, v, got.Value(i), want)
			}
		}
		a.Release()
	}
}
