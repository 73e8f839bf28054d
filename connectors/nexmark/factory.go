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
		{Key: optSeed, Default: "0", Source: true,
			Help: "seed of the generated values; the same seed gives the same events"},
		{Key: optRate, Default: "10000", Source: true,
			Help: "events per second of event time (and of wall-clock time when rate-limited)"},
		{Key: optRateLimit, Default: "false", Source: true,
			Help: "emit events no faster than 'rate' per second of wall-clock time"},
		{Key: optBaseTime, Default: "2024-01-01 00:00:00", Source: true,
			Help: "event time of the first event: a timestamp or epoch milliseconds"},
		{Key: optPersonProp, Default: "1", Source: true, Help: "share of person events"},
		{Key: optAuctionPro, Default: "3", Source: true, Help: "share of auction events"},
		{Key: optBidProp, Default: "46", Source: true, Help: "share of bid events"},
		{Key: optGroupSize, Default: "1", Source: true,
			Help: "events are shuffled in groups of this many (1: in order of event time)"},
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
