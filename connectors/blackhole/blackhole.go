package blackhole

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// Name is the connector's name in WITH ('connector' = 'blackhole').
const Name = "blackhole"

type factory struct{}

var _ connectors.Factory = factory{}

// New returns the blackhole connector.
func New() connectors.Factory { return factory{} }

// Name implements connectors.Factory.
func (factory) Name() string { return Name }

// Options implements connectors.Factory: blackhole takes none.
func (factory) Options() []connectors.Option { return nil }

// Validate implements connectors.Factory.
func (factory) Validate(_ map[string]string, _ types.Schema, sink bool) error {
	if !sink {
		return &connectors.OptionError{Key: "connector", Msg: "connector 'blackhole' can only be used as a sink"}
	}
	return nil
}

// NewSource implements connectors.Factory.
func (factory) NewSource(exec.SourceConfig) (exec.Source, error) {
	return nil, errors.New("blackhole: connector 'blackhole' can only be used as a sink")
}

// NewSink implements connectors.Factory. The sink is a *Sink.
func (factory) NewSink(exec.SinkConfig) (exec.Sink, error) { return &Sink{}, nil }

// Sink discards rows and counts them.
type Sink struct {
	rows, batches atomic.Int64
}

var _ exec.Sink = (*Sink)(nil)

// Rows returns the number of rows written so far.
func (s *Sink) Rows() int64 { return s.rows.Load() }

// Batches returns the number of batches written so far.
func (s *Sink) Batches() int64 { return s.batches.Load() }

// Open implements exec.Sink.
func (s *Sink) Open(context.Context, []byte) error { return nil }

// Write implements exec.Sink.
func (s *Sink) Write(_ context.Context, rec arrow.Record) error {
	s.rows.Add(rec.NumRows())
	s.batches.Add(1)
	return nil
}

// PreCommit implements exec.Sink; there is nothing to commit.
func (s *Sink) PreCommit(context.Context, int64) ([]byte, error) { return nil, nil }

// Commit implements exec.Sink.
func (s *Sink) Commit(context.Context, int64) error { return nil }

// Close implements exec.Sink.
func (s *Sink) Close() error { return nil }
