package nexmark

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

var (
	str, big, ts = types.StringType, types.BigIntType, types.TimestampType
)

func schemaOf(stream int) types.Schema {
	var s types.Schema
	for _, c := range streamColumns[stream] {
		t := big
		switch c.kind {
		case types.String:
			t = str
		case types.Timestamp:
			t = ts
		}
		s.Fields = append(s.Fields, types.Field{Name: c.name, Type: t})
	}
	return s
}

func opts(kv ...string) map[string]string {
	m := map[string]string{"event.type": "bid", "events.num": "5000"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func open(t testing.TB, alloc memory.Allocator, schema types.Schema, o map[string]string, batch int, offset map[string][]byte) exec.Source {
	t.Helper()
	src, err := New().NewSource(exec.SourceConfig{Table: "t", Schema: schema, Options: o, BatchSize: batch, Alloc: alloc})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Open(context.Background(), offset); err != nil {
		t.Fatal(err)
	}
	return src
}

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
				continue
			}
			b = format.AppendValue(b, c, r)
		}
		out = append(out, string(b))
	}
	return out
}

// readN reads up to max rows (all when max < 0).
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

func TestStreams(t *testing.T) {
	for _, tc := range []struct {
		stream int
		want   int
		first  string
	}{
		{bid, 4600, "10"},
		{auction, 300, "1000|"},
		{person, 100, "1000|"},
	} {
		t.Run(streamNames[tc.stream], func(t *testing.T) {
			alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer alloc.AssertSize(t, 0)
			o := opts("event.type", streamNames[tc.stream])
			readAll := func(o map[string]string, batch int) []string {
				src := open(t, alloc, schemaOf(tc.stream), o, batch, nil)
				defer src.Close()
				return readN(t, src, -1)
			}
			got := readAll(o, 1000)
			if len(got) != tc.want {
				t.Fatalf("%d rows, want %d", len(got), tc.want)
			}
			if !strings.HasPrefix(got[0], tc.first) {
				t.Errorf("first row %q, want prefix %q", got[0], tc.first)
			}
			again := readAll(o, 333)
			if strings.Join(got, "\n") != strings.Join(again, "\n") {
				t.Error("not deterministic across batch sizes")
			}
			other := readAll(opts("event.type", streamNames[tc.stream], "seed", "7"), 1000)
			if strings.Join(got, "\n") == strings.Join(other, "\n") {
				t.Error("seed changes nothing")
			}
			t.Logf("%s:\n%s", streamNames[tc.stream], strings.Join(got[:3], "\n"))
		})
	}
}

// TestValues checks the generated values against the reference's rules.
func TestValues(t *testing.T) {
	src := open(t, memory.DefaultAllocator, schemaOf(bid), opts("events.num", "200000"), 4096, nil)
	var n, hotChannels, bigPrices, hotAuctionBids, hotBidderBids int
	var lastTS int64
	auctions := map[int64]bool{}
	for {
		rec, _, err := src.Read(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		a := rec.Column(0).(*array.Int64)
		bidder := rec.Column(1).(*array.Int64)
		price := rec.Column(2).(*array.Int64)
		ch := rec.Column(3).(*array.String)
		url := rec.Column(4).(*array.String)
		dt := rec.Column(5).(*array.Timestamp)
		extra := rec.Column(6).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			n++
			auctions[a.Value(i)] = true
			if (a.Value(i)-firstAuctionID)%hotBatch == 0 {
				hotAuctionBids++
			}
			if (bidder.Value(i)-firstPersonID)%hotBatch == 1 {
				hotBidderBids++
			}
			if a.Value(i) < firstAuctionID || bidder.Value(i) < firstPersonID {
				t.Fatalf("ids below the first: %d %d", a.Value(i), bidder.Value(i))
			}
			if p := price.Value(i); p < 100 || p > 100_000_000 {
				t.Fatalf("price %d out of [100, 1e8]", p)
			} else if p >= 1_000_000 {
				bigPrices++
			}
			switch c := ch.Value(i); c {
			case "Google", "Facebook", "Baidu", "Apple":
				hotChannels++
			default:
				if !strings.HasPrefix(c, "channel-") {
					t.Fatalf("channel %q", c)
				}
			}
			if u := url.Value(i); !strings.HasPrefix(u, "https://www.nexmark.com/") || strings.Count(u, "/") != 6 {
				t.Fatalf("url %q", u)
			}
			if l := len(extra.Value(i)); l < 54 || l > 81 {
				t.Fatalf("extra of %d bytes", l)
			}
			if v := int64(dt.Value(i)); v < lastTS {
				t.Fatalf("event time went back: %d after %d", v, lastTS)
			} else {
				lastTS = v
			}
		}
		rec.Release()
	}
	if n != 184000 {
		t.Fatalf("%d bids", n)
	}
	// 200,000 events at 10,000/s: 20 s of event time.
	if want := int64(defaultBaseTime + 19_999); lastTS != want {
		t.Errorf("last event time %d, want %d", lastTS, want)
	}
	// The reference's HOT_CHANNELS_RATIO is 2: half the bids are in one of
	// the four hot channels.
	if f := float64(hotChannels) / float64(n); f < 0.49 || f > 0.51 {
		t.Errorf("hot channel share %.3f, want ~0.5", f)
	}
	// Hot auctions (ratio 2) get about half the bids, hot bidders (ratio 4)
	// about three quarters: the first auction and second person of each
	// batch of 100.
	if f := float64(hotAuctionBids) / float64(n); f < 0.49 || f > 0.53 {
		t.Errorf("share of bids for a hot auction %.3f, want ~0.5", f)
	}
	if f := float64(hotBidderBids) / float64(n); f < 0.74 || f > 0.78 {
		t.Errorf("share of bids by a hot bidder %.3f, want ~0.75", f)
	}
	// P(price >= 10^6 cents) = P(6x >= 4) = 1/3.
	if f := float64(bigPrices) / float64(n); f < 0.31 || f > 0.36 {
		t.Errorf("share of prices >= 1e6: %.3f, want ~1/3", f)
	}
	// 12,000 auctions were created; bids go to hot and in-flight ones.
	if len(auctions) < 1000 || len(auctions) > 12_100 {
		t.Errorf("%d distinct auctions", len(auctions))
	}
}

// TestSameEventsAcrossStreams: an auction's id and time are the same
// whether or not the other streams are read, and bids refer to auctions
// that exist (or soon will).
func TestReferences(t *testing.T) {
	o := opts("event.type", "auction", "events.num", "10000")
	sch := types.Schema{Fields: []types.Field{{Name: "ID", Type: big}, {Name: "dateTime", Type: ts}, {Name: "expires", Type: ts}, {Name: "seller", Type: big}, {Name: "category", Type: big}}}
	got := readN(t, open(t, memory.DefaultAllocator, sch, o, 100, nil), -1)
	if len(got) != 600 {
		t.Fatalf("%d auctions", len(got))
	}
	if got[0] != "1000|2024-01-01 00:00:00.000|"+got[0][len("1000|2024-01-01 00:00:00.000|"):] {
		t.Errorf("first auction %q", got[0])
	}
	// Event 1 is the first auction; event 51 the fourth.
	if !strings.HasPrefix(got[3], "1003|2024-01-01 00:00:00.005|") {
		t.Errorf("fourth auction %q", got[3])
	}
	for _, r := range got {
		f := strings.Split(r, "|")
		if f[4] < "10" || f[4] > "14" {
			t.Fatalf("category %q", f[4])
		}
		if f[2] <= f[1] {
			t.Fatalf("expires %s not after %s", f[2], f[1])
		}
	}
}

func TestResume(t *testing.T) {
	for _, group := range []string{"1", "100"} {
		for _, stream := range []string{"bid", "person"} {
			o := opts("event.type", stream, "out-of-order.group-size", group, "events.num", "20000")
			var st int
			for i, n := range streamNames {
				if n == stream {
					st = i
				}
			}
			all := readN(t, open(t, memory.DefaultAllocator, schemaOf(st), o, 64, nil), -1)
			src := open(t, memory.DefaultAllocator, schemaOf(st), o, 64, nil)
			head := readN(t, src, 130)
			off, err := exec.SourceOffsets(src)
			if err != nil {
				t.Fatal(err)
			}
			tail := readN(t, open(t, memory.DefaultAllocator, schemaOf(st), o, 50, off), -1)
			if got := append(head, tail...); strings.Join(got, "\n") != strings.Join(all, "\n") {
				t.Errorf("%s group %s: resumed run differs (%d vs %d rows)", stream, group, len(got), len(all))
			}
		}
	}
}

func TestOutOfOrder(t *testing.T) {
	sch := types.Schema{Fields: []types.Field{{Name: "dateTime", Type: ts}}}
	src := open(t, memory.DefaultAllocator, sch, opts("out-of-order.group-size", "1000", "events.num", "100000"), 4096, nil)
	var back, n int
	var last int64
	for {
		rec, _, err := src.Read(context.Background())
		if err == io.EOF {
			break
		}
		c := rec.Column(0).(*array.Timestamp)
		for i := 0; i < c.Len(); i++ {
			n++
			if v := int64(c.Value(i)); v < last {
				back++
				if last-v > 100 { // 1000 events at 10/ms
					t.Fatalf("went back %d ms", last-v)
				}
			} else {
				last = v
			}
		}
		rec.Release()
	}
	if n < 91000 || n > 93000 || back == 0 {
		t.Errorf("%d rows, %d out of order", n, back)
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func TestRateLimited(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	s, err := newSource(exec.SourceConfig{Table: "t", Schema: schemaOf(bid),
		Options: opts("rate.limited", "true", "first-event.rate", "1000", "events.num", "3000"), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	var slept time.Duration
	s.pace.Sleep = func(_ context.Context, d time.Duration) error { slept += d; clk.t = clk.t.Add(d); return nil }
	if err := s.Open(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	rows := len(readN(t, s, -1))
	if rows != 2760 {
		t.Errorf("%d rows, want 2760", rows)
	}
	if slept < 2900*time.Millisecond || slept > 3200*time.Millisecond {
		t.Errorf("slept %v for 3000 events at 1000/s", slept)
	}
}

func TestValidate(t *testing.T) {
	r := connectors.NewRegistry(New())
	bidSchema := schemaOf(bid)
	for _, tc := range []struct {
		opts   map[string]string
		schema types.Schema
		want   string
	}{
		{map[string]string{"connector": "nexmark"}, bidSchema, `option "event.type": missing required option of connector "nexmark"`},
		{map[string]string{"connector": "nexmark", "event.type": "bids"}, bidSchema, `option "event.type": expected 'person', 'auction' or 'bid', got "bids"; did you mean "bid"?`},
		{map[string]string{"connector": "nexmark", "event.type": "bid", "events.num": "-1"}, bidSchema, `option "events.num": expected a positive integer, got "-1"`},
		{map[string]string{"connector": "nexmark", "event.type": "bid", "rate-limited": "yes"}, bidSchema, `option "rate-limited": expected 'true' or 'false', got "yes"`},
		{map[string]string{"connector": "nexmark", "event.type": "bid", "rows-per-second": "1"}, bidSchema, `option "rows-per-second": unknown option for connector "nexmark"`},
		{map[string]string{"connector": "nexmark", "event.type": "bid", "first_event.rate": "1"}, bidSchema, `option "first_event.rate": unknown option for connector "nexmark"; did you mean "first-event.rate"?`},
		{map[string]string{"connector": "nexmark", "event.type": "bid", "first-event.rate": "0"}, bidSchema, `option "first-event.rate": expected a positive integer, got "0"`},
		{map[string]string{"connector": "nexmark", "event.type": "bid", "first-event.rate": "10", "rate": "10"}, bidSchema, `option "rate": set either 'first-event.rate' or its alias 'rate', not both`},
		{map[string]string{"connector": "nexmark", "event.type": "bid", "rate.limited": "1x"}, bidSchema, `option "rate.limited": expected 'true' or 'false', got "1x"`},
		{map[string]string{"connector": "nexmark", "event.type": "bid", "rate.shape": "TRIANGLE"}, bidSchema, `option "rate.shape": expected 'SQUARE' or 'SINE', got "TRIANGLE"`},
		{map[string]string{"connector": "nexmark", "event.type": "bid", "bid.avg-size": "100 mb"}, bidSchema, `option "bid.avg-size": expected a size in bytes from 1 to 32 kb (e.g. '100b'), got "100 mb"`},
		{map[string]string{"connector": "nexmark", "event.type": "bid", "bid.hot-ratio.auctions": "0"}, bidSchema, `option "bid.hot-ratio.auctions": expected a positive integer, got "0"`},
		{map[string]string{"connector": "nexmark", "event.type": "bid", "keep-alive": "true"}, bidSchema, `option "keep-alive": 'true' is not supported: the source ends after 'events.num' events (leave 'events.num' unset for an unbounded source)`},
		{map[string]string{"connector": "nexmark", "event.type": "bid", "stop-at": "100"}, bidSchema, `option "stop-at": only -1 (the default: do not stop early) is supported, got "100"; bound the source with 'events.num'`},
		{map[string]string{"connector": "nexmark", "event.type": "auction"}, bidSchema, `column "auction": not a column of the nexmark auction stream (its columns: id, itemName, description, initialBid, reserve, dateTime, expires, seller, category, extra)`},
		{map[string]string{"connector": "nexmark", "event.type": "bid"},
			types.Schema{Fields: []types.Field{{Name: "bidr", Type: big}}}, `column "bidr": not a column of the nexmark bid stream; did you mean "bidder"?`},
		{map[string]string{"connector": "nexmark", "event.type": "bid"},
			types.Schema{Fields: []types.Field{{Name: "price", Type: types.DoubleType}}}, `column "price": the nexmark bid column "price" is BIGINT, but it is declared DOUBLE`},
		{map[string]string{"connector": "nexmark", "event.type": "bid"},
			types.Schema{Fields: []types.Field{{Name: "price", Type: big}, {Name: "PRICE", Type: big}}}, `column "PRICE": the nexmark bid column "price" is already declared as "price"`},
	} {
		err := r.Validate(tc.opts, tc.schema, false)
		if err == nil || err.Error() != tc.want {
			t.Errorf("got %v\nwant %s", err, tc.want)
		}
		var oe *connectors.OptionError
		if err != nil && !errors.As(err, &oe) {
			t.Errorf("%v is not an OptionError", err)
		}
	}
	// A subset in any order, NOT NULL and TIMESTAMP_LTZ are fine.
	ok := types.Schema{Fields: []types.Field{{Name: "dateTime", Type: types.LTZType}, {Name: "PRICE", Type: big.WithNotNull(true)}}}
	if err := r.Validate(map[string]string{"connector": "nexmark", "event.type": "bid"}, ok, false); err != nil {
		t.Error(err)
	}
	if err := r.Validate(map[string]string{"connector": "nexmark", "event.type": "bid"}, ok, true); err == nil {
		t.Error("accepted as a sink")
	}
}

// BenchmarkBids generates all seven bid columns (q0's read); b.N bids.
func BenchmarkBids(b *testing.B) {
	for _, tc := range []struct {
		name string
		cols []string
	}{{"all", nil}, {"no-strings", []string{"auction", "bidder", "price", "dateTime"}}} {
		b.Run(tc.name, func(b *testing.B) {
			sch := schemaOf(bid)
			if tc.cols != nil {
				var f []types.Field
				for _, c := range tc.cols {
					f = append(f, sch.Fields[sch.Index(c)])
				}
				sch = types.Schema{Fields: f}
			}
			src := open(b, memory.DefaultAllocator, sch, map[string]string{"event.type": "bid"}, 4096, nil)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for n := 0; n < b.N; {
				rec, _, err := src.Read(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				n += int(rec.NumRows())
				rec.Release()
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "bids/s")
		})
	}
}

func TestBidExtraSize(t *testing.T) {
	for _, avg := range []int64{defAvgBidBytes, 32, 33, 36, 1000} {
		m := newModel(0)
		m.setAvgBid(avg)
		for h := uint64(0); h < 1<<32; h += 1<<32/1000 + 7 {
			b := m.bidExtraMin
			if m.bidExtraSpan > 0 {
				b += below(uint32(h), m.bidExtraSpan)
			}
			if a := extraSize(h, bidFixedBytes, avg); a != b {
				t.Fatalf("avg %d, h=%d: extraSize %d, bid %d", avg, h, a, b)
			}
		}
	}
}

// TestReferenceOptions: the reference's option names set what they name;
// StreamSQL's earlier names are aliases giving the same events.
func TestReferenceOptions(t *testing.T) {
	sch := types.Schema{Fields: []types.Field{{Name: "auction", Type: big}, {Name: "bidder", Type: big}, {Name: "dateTime", Type: ts}, {Name: "extra", Type: types.StringType}}}
	read := func(kv ...string) []string {
		return readN(t, open(t, memory.DefaultAllocator, sch, opts(append(kv, "events.num", "5000")...), 512, nil), -1)
	}
	base := read()
	if got := read("first-event.rate", "10000", "next-event.rate", "5", "rate.shape", "sine", "rate.period", "10 s",
		"max-emit-speed", "true", "keep-alive", "false", "stop-at", "-1"); strings.Join(got, "\n") != strings.Join(base, "\n") {
		t.Error("the defaults, set explicitly, change the events")
	}
	fast := read("first-event.rate", "10000000")
	if strings.Join(read("rate", "10000000"), "\n") != strings.Join(fast, "\n") {
		t.Error("'rate' is not an alias of 'first-event.rate'")
	}
	// 5,000 events at 10M/s: all within the first millisecond.
	if last := fast[len(fast)-1]; !strings.Contains(last, "|2024-01-01 00:00:00.000|") {
		t.Errorf("last bid at 10M events/s: %q", last)
	}
	// With ratio 1 no bid is for a hot auction or by a hot bidder (the
	// chance is 1 - 1/1): few auction ids are then a multiple of 100, few
	// bidders the second of a batch of 100.
	var hotA, hotB int
	cold := read("bid.hot-ratio.auctions", "1", "bid.hot-ratio.bidders", "1")
	for _, r := range cold {
		f := strings.Split(r, "|")
		a, _ := strconv.ParseInt(f[0], 10, 64)
		b, _ := strconv.ParseInt(f[1], 10, 64)
		if (a-firstAuctionID)%hotBatch == 0 {
			hotA++
		}
		if (b-firstPersonID)%hotBatch == 1 {
			hotB++
		}
	}
	if hotA > len(cold)/20 || hotB > len(cold)/20 {
		t.Errorf("ratio 1: %d of %d bids for a hot auction, %d by a hot bidder", hotA, len(cold), hotB)
	}
	small := read("bid.avg-size", "40b")
	for _, r := range small {
		f := strings.Split(r, "|")
		if l := len(f[3]); l < 6 || l > 10 {
			t.Fatalf("bid.avg-size 40b: extra of %d bytes", l)
		}
	}
}

func TestCountChar(t *testing.T) {
	sb := array.NewStringBuilder(memory.DefaultAllocator)
	sb.AppendValues([]string{"abcabc", "", "ccc"}, nil)
	sb.AppendNull()
	s := sb.NewArray()
	defer s.Release()
	cb := array.NewStringBuilder(memory.DefaultAllocator)
	cb.AppendValues([]string{"c", "c", "cx", "c"}, nil)
	c := cb.NewArray()
	defer c.Release()
	got, err := CountChar([]arrow.Array{s, c}, 4, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if v := got.(*array.Int64).Int64Values(); fmt.Sprint(v) != "[2 0 3 0]" {
		t.Errorf("count_char: %v, want [2 0 3 0] (a NULL string counts 0; only the first byte of the character is used)", v)
	}
	cb.AppendValues([]string{"", "", "", ""}, nil)
	empty := cb.NewArray()
	defer empty.Release()
	if _, err := CountChar([]arrow.Array{s, empty}, 4, memory.DefaultAllocator); err == nil {
		t.Error("an empty character is accepted")
	}
}
