package nexmark

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/internal/suggest"
	"github.com/streamsql/streamsql/types"
)

// Option keys.
const (
	optEventType  = "event.type"
	optEventsNum  = "events.num"
	optSeed       = "seed"
	optRate       = "rate"
	optRateLimit  = "rate-limited"
	optBaseTime   = "base-time"
	optPersonProp = "person.proportion"
	optAuctionPro = "auction.proportion"
	optBidProp    = "bid.proportion"
	optGroupSize  = "out-of-order.group-size"
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
	if m.rate, err = positive(opts, optRate, m.rate); err != nil {
		return nil, err
	}
	if 1_000_000%m.rate == 0 {
		m.usPerEvent = 1_000_000 / m.rate
	}
	if v, ok := opts[optRateLimit]; ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return nil, errf(optRateLimit, "expected 'true' or 'false', got %q", v)
		}
		c.rateLimited = b
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
	if m.total > 1<<20 {
		return nil, errf(optBidProp, "the proportions add up to %d; keep them below 2^20", m.total)
	}
	if m.groupSize, err = positive(opts, optGroupSize, 1); err != nil {
		return nil, err
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
