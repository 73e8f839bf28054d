package datagen

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/connectors/internal/pace"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

var testSchema = types.Schema{Fields: []types.Field{
	{Name: "id", Type: types.BigIntType},
	{Name: "k", Type: types.IntType},
	{Name: "price", Type: types.DoubleType},
	{Name: "amount", Type: types.DecimalType(10, 2)},
	{Name: "name", Type: types.StringType},
	{Name: "flag", Type: types.BooleanType},
	{Name: "ts", Type: types.TimestampType},
}}

func testOpts(extra ...string) map[string]string {
	m := map[string]string{
		"rows-per-second":                "unlimited",
		"number-of-rows":                 "1000",
		"seed":                           "42",
		"fields.id.kind":                 "sequence",
		"fields.id.start":                "1",
		"fields.k.min":                   "0",
		"fields.k.max":                   "9",
		"fields.name.length":             "5",
		"fields.name.null-rate":          "0.2",
		"fields.ts.step":                 "10 ms",
		"fields.ts.max-out-of-orderness": "5",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

// rows renders a record as text rows.
func rows(rec arrow.Record) []string {
	var out []string
	for r := 0; r < int(rec.NumRows()); r++ {
		var b []byte
		for i, c := range rec.Columns() {
			if i > 0 {
				b = append(b, '|')
			}
			if c.IsNull(r) {
				b = append(b, "NULL"...)
			} else {
				b = format.AppendValue(b, c, r)
			}
		}
		out = append(out, string(b))
	}
	return out
}

func open(t testing.TB, alloc memory.Allocator, opts map[string]string, batch int, offset map[string][]byte) exec.Source {
	t.Helper()
	src, err := New().NewSource(exec.SourceConfig{Table: "t", Schema: testSchema, Options: opts,
		BatchSize: batch, Alloc: alloc, Metrics: new(exec.SourceMetrics)})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Open(context.Background(), offset); err != nil {
		t.Fatal(err)
	}
	return src
}

// readAll reads up to max rows (all when max < 0) and returns them.
func readN(t testing.TB, src exec.Source, max int) []string {
	t.Helper()
	var out []string
	for max < 0 || len(out) < max {
		rec, _, err := src.Read(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec == nil {
			continue
		}
		out = append(out, rows(rec)...)
		rec.Release()
	}
	return out
}

func TestDeterministicAndBounded(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	a := readN(t, open(t, alloc, testOpts(), 64, nil), -1)
	b := readN(t, open(t, alloc, testOpts(), 100, nil), -1)
	if len(a) != 1000 {
		t.Fatalf("got %d rows, want 1000", len(a))
	}
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatal("same seed, different batch size: different rows")
	}
	c := readN(t, open(t, alloc, testOpts("seed", "43"), 64, nil), -1)
	if a[5] == c[5] {
		t.Fatalf("different seeds gave the same row %q", a[5])
	}
	if !strings.HasPrefix(a[0], "1|") || !strings.HasPrefix(a[999], "1000|") {
		t.Fatalf("sequence: first %q last %q", a[0], a[999])
	}
	t.Logf("first rows:\n%s", strings.Join(a[:3], "\n"))
}

func TestValues(t *testing.T) {
	src := open(t, memory.DefaultAllocator, testOpts(), 1000, nil)
	rec, _, err := src.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	ks := rec.Column(1).(interface{ Value(int) int32 })
	ts := rec.Column(6).(interface{ Value(int) arrow.Timestamp })
	nulls := rec.Column(4).NullN()
	if nulls < 150 || nulls > 250 {
		t.Errorf("null-rate 0.2 gave %d NULLs in 1000", nulls)
	}
	seen := map[int32]bool{}
	for i := 0; i < 1000; i++ {
		k := ks.Value(i)
		if k < 0 || k > 9 {
			t.Fatalf("k = %d out of [0, 9]", k)
		}
		seen[k] = true
		want := int64(defaultEventTimeStart + 10*i)
		if got := int64(ts.Value(i)); got > want || got < want-5 {
			t.Fatalf("row %d: ts %d not in [%d, %d]", i, got, want-5, want)
		}
		if s, ok := format.FormatValue(rec.Column(4), i); ok && len(s) != 5 {
			t.Fatalf("name %q: want length 5", s)
		}
		if s, _ := format.FormatValue(rec.Column(2), i); !inUnit(s) {
			t.Fatalf("price %q not in [0, 1)", s)
		}
	}
	if len(seen) != 10 {
		t.Errorf("k took %d distinct values, want 10", len(seen))
	}
}

// TestResume reads some rows, takes the offset, and resumes a new source
// from it at many cut points: the continuation equals the uninterrupted run.
func TestResume(t *testing.T) {
	all := readN(t, open(t, memory.DefaultAllocator, testOpts(), 37, nil), -1)
	for _, cut := range []int{0, 1, 37, 370, 999, 1000} {
		src := open(t, memory.DefaultAllocator, testOpts(), 37, nil)
		first := readN(t, src, cut)
		off, err := exec.SourceOffsets(src)
		if err != nil {
			t.Fatal(err)
		}
		src.Close()
		rest := readN(t, open(t, memory.DefaultAllocator, testOpts(), 50, off), -1)
		got := append(first, rest...)
		if strings.Join(got, "\n") != strings.Join(all, "\n") {
			t.Fatalf("cut %d: resumed run differs (%d rows, want %d)", cut, len(got), len(all))
		}
	}
	// The one offset of a checkpoint written before offsets were kept per
	// split is the same sequence number.
	first := readN(t, open(t, memory.DefaultAllocator, testOpts(), 37, nil), 370)
	rest := readN(t, open(t, memory.DefaultAllocator, testOpts(), 50, map[string][]byte{exec.LegacySplit: pace.EncodeOffset(370)}), -1)
	if got := append(first, rest...); strings.Join(got, "\n") != strings.Join(all, "\n") {
		t.Fatalf("resumed from a legacy offset: %d rows, want %d", len(got), len(all))
	}
	src := New()
	s, _ := src.NewSource(exec.SourceConfig{Schema: testSchema, Options: testOpts()})
	if err := s.Open(context.Background(), map[string][]byte{pace.Split: {9, 9}}); err == nil {
		t.Fatal("garbage offset accepted")
	}
}

func TestSequenceEndBounds(t *testing.T) {
	schema := types.Schema{Fields: []types.Field{{Name: "n", Type: types.StringType}}}
	src, err := New().NewSource(exec.SourceConfig{Schema: schema, Options: map[string]string{
		"rows-per-second": "unlimited", "fields.n.kind": "sequence", "fields.n.start": "5", "fields.n.end": "7"}})
	if err != nil {
		t.Fatal(err)
	}
	src.Open(context.Background(), nil)
	if got := strings.Join(readN(t, src, -1), ","); got != "5,6,7" {
		t.Fatalf("got %s", got)
	}
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestRateLimit(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	s, err := newSource(exec.SourceConfig{Schema: testSchema, Clock: clock,
		Options: map[string]string{"rows-per-second": "100"}})
	if err != nil {
		t.Fatal(err)
	}
	// Sleeping advances the fake clock by the requested amount, so the test
	// runs instantly.
	slept := time.Duration(0)
	s.pace.Sleep = func(_ context.Context, d time.Duration) error { slept += d; clock.advance(d); return nil }
	s.Open(context.Background(), nil)
	total := 0
	for total < 300 {
		rec, _, err := s.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if rec != nil {
			if rec.NumRows() > 10 {
				t.Fatalf("batch of %d rows at 100 rows/s; want at most 10", rec.NumRows())
			}
			total += int(rec.NumRows())
			rec.Release()
		}
	}
	if elapsed := clock.Now().Sub(time.Unix(1000, 0)); elapsed < 2900*time.Millisecond || elapsed > 3100*time.Millisecond {
		t.Fatalf("300 rows at 100 rows/s took %v of clock time", elapsed)
	}
	// With a clock that does not move, Read gives up after a bounded wait.
	s.pace.Sleep = func(context.Context, time.Duration) error { return nil }
	if rec, _, err := s.Read(context.Background()); rec != nil || err != nil {
		t.Fatalf("stalled clock: got %v, %v; want nil, nil", rec, err)
	}
	// Cancellation is noticed.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.pace.Sleep = pace.Sleep
	if _, _, err := s.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: got %v", err)
	}
}

func TestNowKind(t *testing.T) {
	clock := &fakeClock{now: time.UnixMilli(1234567)}
	schema := types.Schema{Fields: []types.Field{{Name: "ts", Type: types.LTZType}}}
	src, _ := New().NewSource(exec.SourceConfig{Schema: schema, Clock: clock, Options: map[string]string{
		"rows-per-second": "unlimited", "number-of-rows": "2", "fields.ts.kind": "now"}})
	src.Open(context.Background(), nil)
	if got := strings.Join(readN(t, src, -1), ","); got != "1970-01-01 00:20:34.567,1970-01-01 00:20:34.567" {
		t.Fatalf("got %s", got)
	}
}

func TestDefaultStep(t *testing.T) {
	schema := types.Schema{Fields: []types.Field{{Name: "ts", Type: types.TimestampType}}}
	clock := &fakeClock{now: time.Unix(0, 0)}
	src, _ := New().NewSource(exec.SourceConfig{Schema: schema, Options: map[string]string{
		"rows-per-second": "4000", "number-of-rows": "5", "fields.ts.start": "2024-06-01 10:00:00"},
		Clock: clock})
	s := src.(*source)
	s.pace.Sleep = func(_ context.Context, d time.Duration) error { clock.advance(d); return nil }
	s.Open(context.Background(), nil)
	want := "2024-06-01 10:00:00.000,2024-06-01 10:00:00.000,2024-06-01 10:00:00.000,2024-06-01 10:00:00.000,2024-06-01 10:00:00.001"
	if got := strings.Join(readN(t, src, -1), ","); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		opts map[string]string
		sink bool
		want string
	}{
		{opts: map[string]string{"number-of-rows": "abc"}, want: `option "number-of-rows": expected a positive integer, got "abc"`},
		{opts: map[string]string{"number-of-rows": "0"}, want: `option "number-of-rows": expected a positive integer, got "0"`},
		{opts: map[string]string{"rows-per-second": "0"}, want: `option "rows-per-second": expected a positive integer or 'unlimited', got "0"`},
		{opts: map[string]string{"rows-per-second": "-5"}, want: `option "rows-per-second": expected a positive integer or 'unlimited', got "-5"`},
		{opts: map[string]string{"seed": "x"}, want: `option "seed": expected an integer, got "x"`},
		{opts: map[string]string{"fields.zzzzzz.min": "1"}, want: `option "fields.zzzzzz.min": unknown column "zzzzzz" in 'fields.zzzzzz.min'`},
		{opts: map[string]string{"fields.prise.min": "1"}, want: `option "fields.prise.min": unknown column "prise" in 'fields.prise.min'; did you mean "price"?`},
		{opts: map[string]string{"fields.k.mni": "1"}, want: `option "fields.k.mni": unknown field option "mni"; did you mean "min"?`},
		{opts: map[string]string{"fields.name.min": "1"}, want: `option "fields.name.min": applies only to numeric columns, but column "name" is STRING`},
		{opts: map[string]string{"fields.k.length": "1"}, want: `option "fields.k.length": applies only to STRING columns, but column "k" is INT`},
		{opts: map[string]string{"fields.k.min": "1.5"}, want: `option "fields.k.min": expected a value of type INT, got "1.5"`},
		{opts: map[string]string{"fields.k.max": "99999999999"}, want: `option "fields.k.max": expected a value of type INT, got "99999999999"`},
		{opts: map[string]string{"fields.k.min": "5", "fields.k.max": "1"}, want: `option "fields.k.min": min is greater than max`},
		{opts: map[string]string{"fields.k.kind": "zipf"}, want: `option "fields.k.kind": expected 'random' or 'sequence', got "zipf"`},
		{opts: map[string]string{"fields.ts.kind": "random"}, want: `option "fields.ts.kind": expected 'sequence' (event time) or 'now' for TIMESTAMP(3) column "ts", got "random"`},
		{opts: map[string]string{"fields.k.start": "1"}, want: `option "fields.k.start": applies only to kind 'sequence' (set 'fields.k.kind' = 'sequence')`},
		{opts: map[string]string{"fields.k.kind": "sequence", "fields.k.start": "5", "fields.k.end": "1"}, want: `option "fields.k.end": end 1 is less than start 5`},
		{opts: map[string]string{"fields.k.kind": "sequence", "fields.k.min": "5"}, want: `option "fields.k.min": applies only to kind 'random'`},
		{opts: map[string]string{"fields.name.null-rate": "2"}, want: `option "fields.name.null-rate": expected a number between 0 and 1, got "2"`},
		{opts: map[string]string{"fields.ts.step": "soon"}, want: `option "fields.ts.step": expected a non-negative interval such as '1 ms' or '10 s', got "soon"`},
		{opts: map[string]string{"fields.ts.start": "yesterday"}, want: `option "fields.ts.start": expected a timestamp ('2024-01-01 00:00:00') or epoch milliseconds, got "yesterday"`},
		{opts: map[string]string{"fields.ts.end": "1"}, want: `option "fields.ts.end": does not apply to TIMESTAMP(3) column "ts" (event time is unbounded; use 'number-of-rows')`},
		{opts: map[string]string{"fields.id.step": "1"}, want: `option "fields.id.step": applies only to TIMESTAMP columns, but column "id" is BIGINT`},
		{opts: map[string]string{"fields.flag.kind": "sequence"}, want: `option "fields.flag.kind": expected 'random' for BOOLEAN column "flag", got "sequence"`},
		{sink: true, want: `option "connector": connector 'datagen' can only be used as a source`},
		{opts: map[string]string{"fields.ts.step": "1 s", "fields.ts.max-out-of-orderness": "INTERVAL '2' SECOND", "fields.PRICE.min": "-1.5", "fields.amount.max": "99.99"}},
	} {
		err := New().Validate(tc.opts, testSchema, tc.sink)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%v: unexpected error %v", tc.opts, err)
			}
			continue
		}
		var oe *connectors.OptionError
		if !errors.As(err, &oe) {
			t.Errorf("%v: got %v, want an *OptionError", tc.opts, err)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("%v:\n got  %s\n want %s", tc.opts, err, tc.want)
		}
	}
}

func TestRegistryValidation(t *testing.T) {
	r := connectors.NewRegistry(New())
	err := r.Validate(map[string]string{"connector": "datagen", "rows-per-secnd": "5"}, testSchema, false)
	if err == nil || err.Error() != `option "rows-per-secnd": unknown option for connector "datagen"; did you mean "rows-per-second"?` {
		t.Fatalf("got %v", err)
	}
	if err := r.Validate(map[string]string{"connector": "datagen", "fields.k.min": "3"}, testSchema, false); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkDatagen generates 3 random BIGINT columns and an event-time
// timestamp, unlimited.
func BenchmarkDatagen(b *testing.B) {
	schema := types.Schema{Fields: []types.Field{
		{Name: "a", Type: types.BigIntType}, {Name: "b", Type: types.BigIntType},
		{Name: "c", Type: types.BigIntType}, {Name: "ts", Type: types.TimestampType},
	}}
	src, err := New().NewSource(exec.SourceConfig{Schema: schema, BatchSize: 4096, Options: map[string]string{
		"rows-per-second": "unlimited", "fields.a.min": "0", "fields.a.max": "1000",
		"fields.b.min": "0", "fields.b.max": "1000000", "fields.ts.max-out-of-orderness": "100"}})
	if err != nil {
		b.Fatal(err)
	}
	src.Open(context.Background(), nil)
	b.ReportAllocs()
	b.ResetTimer()
	rowsN := 0
	for rowsN < b.N {
		rec, _, err := src.Read(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		rowsN += int(rec.NumRows())
		rec.Release()
	}
	b.ReportMetric(float64(rowsN)/b.Elapsed().Seconds(), "rows/s")
}

// inUnit reports whether s is a number in [0, 1).
func inUnit(s string) bool {
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && f >= 0 && f < 1
}
