package nexmark

import (
	"errors"

	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/internal/pace"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// Name is the connector's name in WITH ('connector' = 'nexmark').
const Name = "nexmark"

// factory describes its checkpointed offsets with pace.Describer.
type factory struct{ pace.Describer }

var _ connectors.Factory = factory{}

// New returns the nexmark connector.
func New() connectors.Factory { return factory{} }

// Name implements connectors.Factory.
func (factory) Name() string { return Name }

// Options implements connectors.Factory.
func (factory) Options() []connectors.Option {
	return []connectors.Option{
		{Key: optEventType, Required: true, Source: true,
			Help: "the stream the table reads: 'person', 'auction' or 'bid'"},
		{Key: optEventsNum, Source: true,
			Help: "events to generate, of all three types; the source is bounded when set"},
		{Key: optFirstRate, Default: "10000", Source: true,
			Help: "events per second of event time (and of wall-clock time when rate.limited)"},
		{Key: optNextRate, Default: "10000", Source: true,
			Help: "accepted as the reference takes it; its generator paces events by first-event.rate only"},
		{Key: optRateShape, Default: "SQUARE", Source: true, Help: "accepted as the reference takes it ('SQUARE' or 'SINE'); no effect"},
		{Key: optRatePeriod, Default: "600 s", Source: true, Help: "accepted as the reference takes it; no effect"},
		{Key: optRateLimited, Default: "false", Source: true,
			Help: "emit events no faster than first-event.rate per second of wall-clock time"},
		{Key: optMaxEmitSpeed, Default: "true", Source: true,
			Help: "'false' paces emission by the wall clock, as rate.limited does"},
		{Key: optPersonProp, Default: "1", Source: true, Help: "share of person events"},
		{Key: optAuctionPro, Default: "3", Source: true, Help: "share of auction events"},
		{Key: optBidProp, Default: "46", Source: true, Help: "share of bid events"},
		{Key: optPersonSize, Default: "200b", Source: true, Help: "average size of a person row; its extra string pads to it"},
		{Key: optAuctionSize, Default: "500b", Source: true, Help: "average size of an auction row; its extra string pads to it"},
		{Key: optBidSize, Default: "100b", Source: true, Help: "average size of a bid row; its extra string pads to it"},
		{Key: optHotAuctions, Default: "2", Source: true, Help: "a bid is for a hot auction with chance 1 - 1/ratio"},
		{Key: optHotBidders, Default: "4", Source: true, Help: "a bid is by a hot bidder with chance 1 - 1/ratio"},
		{Key: optHotSellers, Default: "4", Source: true, Help: "an auction is by a hot seller with chance 1 - 1/ratio"},
		{Key: optKeepAlive, Default: "false", Source: true, Help: "only 'false': the source ends after events.num"},
		{Key: optStopAt, Default: "-1", Source: true, Help: "only -1: bound the source with events.num"},
		{Key: optSeed, Default: "0", Source: true,
			Help: "seed of the generated values; the same seed gives the same events"},
		{Key: optBaseTime, Default: "2024-01-01 00:00:00", Source: true,
			Help: "event time of the first event: a timestamp or epoch milliseconds"},
		{Key: optGroupSize, Default: "1", Source: true,
			Help: "events are shuffled in groups of this many (1: in order of event time)"},
		{Key: optRateAlias, Source: true, Help: "alias of first-event.rate"},
		{Key: optLimitAlias, Source: true, Help: "alias of rate.limited"},
	}
}

// Validate implements connectors.Factory.
func (factory) Validate(opts map[string]string, schema types.Schema, sink bool) error {
	if sink {
		return &connectors.OptionError{Key: "connector", Msg: "connector 'nexmark' can only be used as a source"}
	}
	_, err := parseConfig(opts, schema)
	return err
}

// NewSource implements connectors.Factory.
func (factory) NewSource(cfg exec.SourceConfig) (exec.Source, error) { return newSource(cfg) }

// NewSink implements connectors.Factory.
func (factory) NewSink(exec.SinkConfig) (exec.Sink, error) {
	return nil, errors.New("nexmark: connector 'nexmark' can only be used as a source")
}

// ProjectsColumns implements connectors.ProjectableSource: the source does
// not generate the columns the job does not read.
func (factory) ProjectsColumns(map[string]string) bool { return true }
