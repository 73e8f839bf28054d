package print

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// Name is the connector's name in WITH ('connector' = 'print').
const Name = "print"

const optIdentifier = "print-identifier"

// factory holds the writer that all its sinks share, and the lock that
// keeps their batches whole.
type factory struct {
	mu *sync.Mutex
	w  io.Writer
}

var _ connectors.Factory = factory{}

// New returns the print connector writing to w (os.Stdout in the CLI).
func New(w io.Writer) connectors.Factory { return factory{mu: new(sync.Mutex), w: w} }

// Name implements connectors.Factory.
func (factory) Name() string { return Name }

// Options implements connectors.Factory.
func (factory) Options() []connectors.Option {
	return []connectors.Option{
		{Key: optIdentifier, Sink: true, Help: "prefix of every printed line ('<identifier>> +I[…]')"},
	}
}

// Validate implements connectors.Factory.
func (factory) Validate(_ map[string]string, _ types.Schema, sink bool) error {
	if !sink {
		return &connectors.OptionError{Key: "connector", Msg: "connector 'print' can only be used as a sink"}
	}
	return nil
}

// NewSource implements connectors.Factory.
func (factory) NewSource(exec.SourceConfig) (exec.Source, error) {
	return nil, errors.New("print: connector 'print' can only be used as a sink")
}

// NewSink implements connectors.Factory.
func (f factory) NewSink(cfg exec.SinkConfig) (exec.Sink, error) {
	s := &sink{f: f}
	if id, ok := cfg.Options[optIdentifier]; ok {
		s.prefix = id + "> "
	}
	return s, nil
}

type sink struct {
	f      factory
	prefix string
	buf    []byte
}

var _ exec.Sink = (*sink)(nil)

// Open implements exec.Sink.
func (s *sink) Open(context.Context, []byte) error { return nil }

// Write implements exec.Sink: it prints the batch at once.
func (s *sink) Write(_ context.Context, rec arrow.Record) error {
	b := s.buf[:0]
	kinds := exec.RowKinds(rec)
	cols := rec.Columns()[:exec.DataColumns(rec)]
	for r := 0; r < int(rec.NumRows()); r++ {
		b = append(b, s.prefix...)
		b = append(b, exec.RowKindAt(kinds, r).String()...)
		b = append(b, '[')
		for i, c := range cols {
			if i > 0 {
				b = append(b, ", "...)
			}
			if c.IsNull(r) {
				b = append(b, "null"...)
			} else {
				b = format.AppendValue(b, c, r)
			}
		}
		b = append(b, "]\n"...)
	}
	s.buf = b
	if len(b) == 0 {
		return nil
	}
	s.f.mu.Lock()
	_, err := s.f.w.Write(b)
	s.f.mu.Unlock()
	if err != nil {
		return fmt.Errorf("print: %w", err)
	}
	return nil
}

// PreCommit implements exec.Sink. Rows are written as they come, so there
// is nothing to flush, and no handle: print is at-least-once.
func (s *sink) PreCommit(context.Context, int64) ([]byte, error) { return nil, nil }

// Commit implements exec.Sink.
func (s *sink) Commit(context.Context, int64) error { return nil }

// Close implements exec.Sink.
func (s *sink) Close() error { return nil }
