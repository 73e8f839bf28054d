package datagen

import (
	"errors"

	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/internal/pace"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// Name is the connector's name in WITH ('connector' = 'datagen').
const Name = "datagen"

// factory describes its checkpointed offsets with pace.Describer.
type factory struct{ pace.Describer }

var _ connectors.Factory = factory{}

// New returns the datagen connector.
func New() connectors.Factory { return factory{} }

// Name implements connectors.Factory.
func (factory) Name() string { return Name }

// Options implements connectors.Factory.
func (factory) Options() []connectors.Option {
	return []connectors.Option{
		{Key: optRowsPerSecond, Default: "10000", Source: true,
			Help: "rows generated per second, or 'unlimited'"},
		{Key: optNumberOfRows, Source: true,
			Help: "total number of rows; the source is bounded when set"},
		{Key: optSeed, Default: "0", Source: true,
			Help: "seed of the generated values; the same seed gives the same rows"},
		{Key: optFields, Prefix: true, Source: true, ColumnAttrs: fieldAttrs,
			Help: "per-column generator: fields.<col>.kind|min|max|start|end|length|null-rate|step|max-out-of-orderness"},
	}
}

// Validate implements connectors.Factory.
func (factory) Validate(opts map[string]string, schema types.Schema, sink bool) error {
	if sink {
		return &connectors.OptionError{Key: "connector", Msg: "connector 'datagen' can only be used as a source"}
	}
	_, err := parseConfig(opts, schema)
	return err
}

// NewSource implements connectors.Factory.
func (factory) NewSource(cfg exec.SourceConfig) (exec.Source, error) { return newSource(cfg) }

// NewSink implements connectors.Factory.
func (factory) NewSink(exec.SinkConfig) (exec.Sink, error) {
	return nil, errors.New("datagen: connector 'datagen' can only be used as a source")
}
