// Package values is the connector behind VALUES (…), (…) and SELECT
// without FROM: a bounded source of 'rows' rows, numbered 0, 1, … in one
// BIGINT column, from which the planner computes each row's values (a
// Calc choosing row i's expressions by its number). The planner builds its
// tables; it is not meant for CREATE TABLE, though it works there too.
//
// Its offset is the number of the next row, so a source restored from a
// checkpoint taken after it finished stays finished, and one restored
// mid-way resumes with the next row.
package values

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/internal/pace"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// Name is the connector's name in WITH ('connector' = 'values').
const Name = "values"

// OptRows is the option holding the number of rows.
const OptRows = "rows"

// MaxRows is the most rows a values table may have.
const MaxRows = 1 << 20

type factory struct{ pace.Describer }

// New returns the values connector.
func New() connectors.Factory { return factory{} }

// Name implements connectors.Factory.
func (factory) Name() string { return Name }

// Options implements connectors.Factory.
func (factory) Options() []connectors.Option {
	return []connectors.Option{{Key: OptRows, Required: true, Source: true,
		Help: "the number of rows (numbered 0, 1, … in the table's one BIGINT column)"}}
}

// Validate implements connectors.Factory.
func (factory) Validate(opts map[string]string, schema types.Schema, sink bool) error {
	if sink {
		return &connectors.OptionError{Key: "connector", Msg: "connector 'values' can only be used as a source"}
	}
	if _, err := rows(opts); err != nil {
		return err
	}
	if schema.Len() != 1 || schema.Fields[0].Type.Kind != types.BigInt {
		return &connectors.OptionError{Msg: "a 'values' table has exactly one column, of type BIGINT (the row number)"}
	}
	return nil
}

func rows(opts map[string]string) (int64, error) {
	n, err := strconv.ParseInt(opts[OptRows], 10, 64)
	if err != nil || n < 0 || n > MaxRows {
		return 0, &connectors.OptionError{Key: OptRows, Msg: fmt.Sprintf("expected a number of rows from 0 to %d, got %q", MaxRows, opts[OptRows])}
	}
	return n, nil
}

// NewSource implements connectors.Factory.
func (factory) NewSource(cfg exec.SourceConfig) (exec.Source, error) {
	n, err := rows(cfg.Options)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	if cfg.Schema.Len() != 1 || cfg.Schema.Fields[0].Type.Kind != types.BigInt {
		return nil, errors.New("values: the table must have exactly one BIGINT column")
	}
	cfg = cfg.WithDefaults()
	return &source{cfg: cfg, total: n, schema: cfg.Schema.Arrow()}, nil
}

// NewSink implements connectors.Factory.
func (factory) NewSink(exec.SinkConfig) (exec.Sink, error) {
	return nil, errors.New("values: connector 'values' can only be used as a source")
}

type source struct {
	cfg    exec.SourceConfig
	schema *arrow.Schema
	total  int64
	next   int64
	off    pace.Offset
}

// Open implements exec.Source.
func (s *source) Open(ctx context.Context, offsets map[string][]byte) error {
	next, err := pace.Restored(offsets)
	if err != nil {
		return fmt.Errorf("values: %w", err)
	}
	if next < 0 || next > s.total {
		return fmt.Errorf("values: restored offset %d is outside the %d rows", next, s.total)
	}
	s.next = next
	return nil
}

// Read implements exec.Source.
func (s *source) Read(ctx context.Context) (arrow.Record, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if s.next >= s.total {
		return nil, 0, io.EOF
	}
	n := min(int64(s.cfg.BatchSize), s.total-s.next)
	b := array.NewInt64Builder(s.cfg.Alloc)
	defer b.Release()
	b.Reserve(int(n))
	for i := int64(0); i < n; i++ {
		b.UnsafeAppend(s.next + i)
	}
	col := b.NewArray()
	defer col.Release()
	rec := array.NewRecord(s.schema, []arrow.Array{col}, n)
	s.next += n
	s.cfg.Metrics.Records.Add(n)
	return rec, 0, nil
}

// Offsets implements exec.Source.
func (s *source) Offsets(fn func(split string, offset []byte) error) error {
	return s.off.Report(s.next, fn)
}

// Close implements exec.Source.
func (s *source) Close() error { return nil }
