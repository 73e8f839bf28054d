package nexmark

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/internal/suggest"
	"github.com/streamsql/streamsql/types"
)

// Option keys: the reference's (nexmark-flink's NexmarkSourceOptions),
// then StreamSQL's own.
const (
	optEventsNum     = "events.num"
	optFirstRate     = "first-event.rate"
	optNextRate      = "next-event.rate"
	optRateLimited   = "rate.limited"
	optMaxEmitSpeed  = "max-emit-speed"
	optRateShape     = "rate.shape"
	optRatePeriod    = "rate.period"
	optPersonProp    = "person.proportion"
	optAuctionPro    = "auction.proportion"
	optBidProp       = "bid.proportion"
	optPersonSize    = "person.avg-size"
	optAuctionSize   = "auction.avg-size"
	optBidSize       = "bid.avg-size"
	optHotAuctions   = "bid.hot-ratio.auctions"
	optHotBidders    = "bid.hot-ratio.bidders"
	optHotSellers    = "auction.hot-ratio.sellers"
	optKeepAlive     = "keep-alive"
	optStopAt        = "stop-at"
	optEventType     = "event.type"
	optSeed          = "seed"
	optBaseTime      = "base-time"
	optGroupSize     = "out-of-order.group-size"
	optRateAlias     = "rate"         // StreamSQL's earlier name of first-event.rate
	optLimitAlias    = "rate-limited" // StreamSQL's earlier name of rate.limited
	maxAvgSize       = 32 << 10       // extra strings are cut from a 65 KiB pool
	maxProportionSum = 1 << 20
)

// defaultBaseTime is the event time of event 0: 2024-01-01 00:00:00.
const defaultBaseTime = 1704067200000

// A field is one column of a Nexmark stream.
type field uint8

const (
	// bid
	fBidAuction field = iota
	fBidBidder
	fBidPrice
	fBidChannel
	fBidURL
	fBidDateTime
	fBidExtra
	// auction
	fAuctionID
	fAuctionItemName
	fAuctionDescription
	fAuctionInitialBid
	fAuctionReserve
	fAuctionDateTime
	fAuctionExpires
	fAuctionSeller
	fAuctionCategory
	fAuctionExtra
	// person
	fPersonID
	fPersonName
	fPersonEmail
	fPersonCreditCard
	fPersonCity
	fPersonState
	fPersonDateTime
	fPersonExtra
)

type column struct {
	name string
	kind types.Kind // BigInt, String or Timestamp
	f    field
}

// streamColumns are the columns of each stream, named as in the Flink
// Nexmark views.
var streamColumns = [...][]column{
	bid: {
		{"auction", types.BigInt, fBidAuction},
		{"bidder", types.BigInt, fBidBidder},
		{"price", types.BigInt, fBidPrice},
		{"channel", types.String, fBidChannel},
		{"url", types.String, fBidURL},
		{"dateTime", types.Timestamp, fBidDateTime},
		{"extra", types.String, fBidExtra},
	},
	auction: {
		{"id", types.BigInt, fAuctionID},
		{"itemName", types.String, fAuctionItemName},
		{"description", types.String, fAuctionDescription},
		{"initialBid", types.BigInt, fAuctionInitialBid},
		{"reserve", types.BigInt, fAuctionReserve},
		{"dateTime", types.Timestamp, fAuctionDateTime},
		{"expires", types.Timestamp, fAuctionExpires},
		{"seller", types.BigInt, fAuctionSeller},
		{"category", types.BigInt, fAuctionCategory},
		{"extra", types.String, fAuctionExtra},
	},
	person: {
		{"id", types.BigInt, fPersonID},
		{"name", types.String, fPersonName},
		{"emailAddress", types.String, fPersonEmail},
		{"creditCard", types.String, fPersonCreditCard},
		{"city", types.String, fPersonCity},
		{"state", types.String, fPersonState},
		{"dateTime", types.Timestamp, fPersonDateTime},
		{"extra", types.String, fPersonExtra},
	},
}

// config is the parsed, validated WITH clause of a nexmark table.
type config struct {
	stream      int
	total       int64 // events to generate in all, of every type; -1: unbounded
	rateLimited bool
	fields      []field // per column of the table's schema
	m           *model
}

func errf(key, format string, args ...any) error {
	return &connectors.OptionError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

func positive(opts map[string]string, key string, def int64) (int64, error) {
	v, ok := opts[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n <= 0 {
		return 0, errf(key, "expected a positive integer, got %q", v)
	}
	return n, nil
}

func boolOpt(key, v string) (bool, error) {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, errf(key, "expected 'true' or 'false', got %q", v)
	}
	return b, nil
}

// size reads an average row size as the reference's memory-size options
// are written: bytes, optionally with a unit ('200', '200b', '1 kb').
func size(opts map[string]string, key string, def int64) (int64, error) {
	v, ok := opts[key]
	if !ok {
		return def, nil
	}
	s := strings.ToLower(strings.TrimSpace(v))
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	mult, unit := int64(0), strings.TrimSpace(s[i:])
	switch unit {
	case "", "b", "bytes":
		mult = 1
	case "k", "kb", "kibibytes":
		mult = 1 << 10
	}
	if err != nil || mult == 0 || n <= 0 || n > maxAvgSize/mult {
		return 0, errf(key, "expected a size in bytes from 1 to 32 kb (e.g. '100b'), got %q", v)
	}
	return n * mult, nil
}

// parseRate reads the event-time pace and whether emission is paced by the
// wall clock. The reference's generator spaces events by first-event.rate
// alone (next-event.rate, rate.shape and rate.period are read but do not
// change event times), so they are checked and otherwise ignored here too.
func parseRate(opts map[string]string, c *config, m *model) error {
	key := optFirstRate
	if _, ok := opts[optRateAlias]; ok {
		if _, both := opts[optFirstRate]; both {
			return errf(optRateAlias, "set either 'first-event.rate' or its alias 'rate', not both")
		}
		key = optRateAlias
	}
	var err error
	if m.rate, err = positive(opts, key, m.rate); err != nil {
		return err
	}
	if 1_000_000%m.rate == 0 {
		m.usPerEvent = 1_000_000 / m.rate
	}
	if _, err := positive(opts, optNextRate, m.rate); err != nil {
		return err
	}
	if v, ok := opts[optRateShape]; ok {
		if u := strings.ToUpper(strings.TrimSpace(v)); u != "SQUARE" && u != "SINE" {
			return errf(optRateShape, "expected 'SQUARE' or 'SINE', got %q", v)
		}
	}
	if v, ok := opts[optRatePeriod]; ok {
		if ms, err := types.ParseInterval(v); err != nil || ms <= 0 {
			return errf(optRatePeriod, "expected a duration such as '600 s', got %q", v)
		}
	}
	key = optRateLimited
	if _, ok := opts[optLimitAlias]; ok {
		if _, both := opts[optRateLimited]; both {
			return errf(optLimitAlias, "set either 'rate.limited' or its alias 'rate-limited', not both")
		}
		key = optLimitAlias
	}
	if v, ok := opts[key]; ok {
		if c.rateLimited, err = boolOpt(key, v); err != nil {
			return err
		}
	}
	if v, ok := opts[optMaxEmitSpeed]; ok {
		maxSpeed, err := boolOpt(optMaxEmitSpeed, v)
		if err != nil {
			return err
		}
		c.rateLimited = c.rateLimited || !maxSpeed
	}
	return nil
}

// parseConfig validates opts for schema and returns the generator config.
func parseConfig(opts map[string]string, schema types.Schema) (*config, error) {
	c := &config{total: -1}
	v, ok := opts[optEventType]
	if !ok {
		return nil, errf(optEventType, "missing: expected 'person', 'auction' or 'bid' (the stream this table reads)")
	}
	c.stream = -1
	for i, n := range streamNames {
		if strings.EqualFold(strings.TrimSpace(v), n) {
			c.stream = i
		}
	}
	if c.stream < 0 {
		msg := fmt.Sprintf("expected 'person', 'auction' or 'bid', got %q", v)
		if s := suggest.Closest(v, streamNames[:]); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return nil, errf(optEventType, "%s", msg)
	}

	var seed uint64
	if v, ok := opts[optSeed]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			u, uerr := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if uerr != nil {
				return nil, errf(optSeed, "expected an integer, got %q", v)
			}
			n = int64(u)
		}
		seed = uint64(n)
	}
	m := newModel(seed)
	c.m = m
	var err error
	if _, ok := opts[optEventsNum]; ok {
		if c.total, err = positive(opts, optEventsNum, 0); err != nil {
			return nil, err
		}
	}
	if err := parseRate(opts, c, m); err != nil {
		return nil, err
	}
	m.baseTime = defaultBaseTime
	if v, ok := opts[optBaseTime]; ok {
		v = strings.TrimSpace(v)
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			m.baseTime = n
		} else if ms, err := types.ParseTimestamp(v); err == nil {
			m.baseTime = ms
		} else {
			return nil, errf(optBaseTime, "expected a timestamp ('2024-01-01 00:00:00') or epoch milliseconds, got %q", v)
		}
	}
	if m.pp, err = positive(opts, optPersonProp, m.pp); err != nil {
		return nil, err
	}
	if m.ap, err = positive(opts, optAuctionPro, m.ap); err != nil {
		return nil, err
	}
	if m.bp, err = positive(opts, optBidProp, m.bp); err != nil {
		return nil, err
	}
	m.total = m.pp + m.ap + m.bp
	if m.total > maxProportionSum {
		return nil, errf(optBidProp, "the proportions add up to %d; keep them below 2^20", m.total)
	}
	if m.groupSize, err = positive(opts, optGroupSize, 1); err != nil {
		return nil, err
	}
	for _, r := range []struct {
		key string
		v   *int64
	}{{optHotAuctions, &m.hotAuctionRatio}, {optHotBidders, &m.hotBidderRatio}, {optHotSellers, &m.hotSellerRatio}} {
		if *r.v, err = positive(opts, r.key, *r.v); err != nil {
			return nil, err
		}
		if *r.v > 1<<30 {
			return nil, errf(r.key, "expected at most 2^30, got %d", *r.v)
		}
	}
	if m.avgPerson, err = size(opts, optPersonSize, m.avgPerson); err != nil {
		return nil, err
	}
	if m.avgAuction, err = size(opts, optAuctionSize, m.avgAuction); err != nil {
		return nil, err
	}
	avgBid, err := size(opts, optBidSize, m.avgBid)
	if err != nil {
		return nil, err
	}
	m.setAvgBid(avgBid)
	if v, ok := opts[optKeepAlive]; ok {
		if b, err := boolOpt(optKeepAlive, v); err != nil {
			return nil, err
		} else if b {
			return nil, errf(optKeepAlive, "'true' is not supported: the source ends after 'events.num' events (leave 'events.num' unset for an unbounded source)")
		}
	}
	if v, ok := opts[optStopAt]; ok {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil || n != -1 {
			return nil, errf(optStopAt, "only -1 (the default: do not stop early) is supported, got %q; bound the source with 'events.num'", v)
		}
	}

	if err := c.bindColumns(schema); err != nil {
		return nil, err
	}
	return c, nil
}

// bindColumns maps each column of schema to a field of the stream.
func (c *config) bindColumns(schema types.Schema) error {
	cols := streamColumns[c.stream]
	names := make([]string, len(cols))
	for i, col := range cols {
		names[i] = col.name
	}
	seen := map[field]string{}
	for _, f := range schema.Fields {
		var col *column
		for i := range cols {
			if strings.EqualFold(cols[i].name, f.Name) {
				col = &cols[i]
			}
		}
		if col == nil {
			msg := fmt.Sprintf("not a column of the nexmark %s stream (its columns: %s)",
				streamNames[c.stream], strings.Join(names, ", "))
			if s := suggest.Closest(f.Name, names); s != "" {
				msg = fmt.Sprintf("not a column of the nexmark %s stream; did you mean %q?", streamNames[c.stream], s)
			}
			return &connectors.OptionError{Column: f.Name, Msg: msg}
		}
		if prev, dup := seen[col.f]; dup {
			return &connectors.OptionError{Column: f.Name, Msg: fmt.Sprintf("the nexmark %s column %q is already declared as %q", streamNames[c.stream], col.name, prev)}
		}
		seen[col.f] = f.Name
		ok := f.Type.Kind == col.kind
		want := types.Type{Kind: col.kind}
		switch col.kind {
		case types.Timestamp:
			// TIMESTAMP_LTZ holds the same epoch milliseconds.
			ok = f.Type.IsTemporal() && f.Type.Precision == 3
			want = types.TimestampType
		}
		if !ok {
			return &connectors.OptionError{Column: f.Name, Msg: fmt.Sprintf("the nexmark %s column %q is %s, but it is declared %s",
				streamNames[c.stream], col.name, want, f.Type.Nullable())}
		}
		c.fields = append(c.fields, col.f)
	}
	return nil
}
