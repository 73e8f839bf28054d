package jdbc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/jackc/pgx/v5"
	"github.com/streamsql/streamsql/connectors/internal/pace"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// source reads a table once (a bounded scan, for backfills): one SELECT in
// one REPEATABLE READ, READ ONLY transaction, so every row comes from one
// snapshot. Its offset is the number of rows emitted. The rows are read in
// the order of the table's primary key (or first unique index, else the
// order the server returns them): a restore mid-scan reads a new snapshot
// and skips the rows already emitted, which is exact when the table did not
// change meanwhile and the table has such a key. Driven from one
// goroutine.
type source struct {
	cfg  exec.SourceConfig
	c    *config
	sch  *arrow.Schema
	conn *pgx.Conn
	rows pgx.Rows
	dest []any
	next int64 // rows emitted
	off  pace.Offset
	done bool
}

var _ exec.Source = (*source)(nil)

func newSource(cfg exec.SourceConfig) (*source, error) {
	c, err := parseConfig(cfg.Options, false)
	if err != nil {
		return nil, fmt.Errorf("jdbc: table %q: %w", cfg.Table, err)
	}
	for i, m := range cfg.Metadata {
		if m != "" {
			return nil, fmt.Errorf("jdbc: table %q: column %q: the jdbc connector has no metadata columns", cfg.Table, cfg.Schema.Fields[i].Name)
		}
	}
	cfg = cfg.WithDefaults()
	if c.fetchSize > 0 {
		cfg.BatchSize = c.fetchSize
	}
	s := &source{cfg: cfg, c: c, sch: cfg.Schema.Arrow()}
	for _, f := range cfg.Schema.Fields {
		s.dest = append(s.dest, scanDest(f.Type))
	}
	return s, nil
}

// Open implements exec.Source: it connects, begins the snapshot and sends
// the SELECT, skipping the rows a restored offset says were emitted.
func (s *source) Open(ctx context.Context, offsets map[string][]byte) error {
	next, err := pace.Restored(offsets)
	if err != nil {
		return fmt.Errorf("jdbc: table %q: %w", s.cfg.Table, err)
	}
	s.next = next
	if s.conn, err = connect(ctx, s.c); err != nil {
		return fmt.Errorf("jdbc: table %q: %w", s.cfg.Table, err)
	}
	t, err := describe(ctx, s.conn, s.c.table)
	if err != nil {
		return fmt.Errorf("jdbc: table %q: %w", s.cfg.Table, err)
	}
	cols, err := t.bind(s.c.table, s.cfg.Schema, false)
	if err != nil {
		return fmt.Errorf("jdbc: table %q: %w", s.cfg.Table, err)
	}
	if _, err := s.conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return fmt.Errorf("jdbc: table %q: begin snapshot: %w", s.cfg.Table, err)
	}
	q := selectList(cols, s.cfg.Schema) + " FROM " + t.ident
	if order := t.order(); len(order) > 0 {
		q += " ORDER BY " + strings.Join(order, ", ")
	}
	if next > 0 {
		q += fmt.Sprintf(" OFFSET %d", next)
	}
	if s.rows, err = s.conn.Query(ctx, q); err != nil {
		return fmt.Errorf("jdbc: table %q: %w", s.cfg.Table, err)
	}
	return nil
}

// selectList is "SELECT expr, …" of the schema's columns.
func selectList(cols []pgColumn, schema types.Schema) string {
	var sb strings.Builder
	sb.WriteString("SELECT ")
	for i, c := range cols {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(selectExpr(pgx.Identifier{c.name}.Sanitize(), schema.Fields[i].Type))
	}
	return sb.String()
}

// order is the columns of the table's shortest unique index, quoted: a
// total order of its rows (nil when it has none).
func (t *pgTable) order() []string {
	var best []string
	for _, u := range t.unique {
		if best == nil || len(u) < len(best) {
			best = u
		}
	}
	out := make([]string, len(best))
	for i, c := range slices.Sorted(slices.Values(best)) {
		out[i] = pgx.Identifier{c}.Sanitize()
	}
	return out
}

// Read implements exec.Source.
func (s *source) Read(ctx context.Context) (arrow.Record, int, error) {
	if s.done {
		return nil, 0, io.EOF
	}
	bs := make([]array.Builder, len(s.cfg.Schema.Fields))
	for i, f := range s.sch.Fields() {
		bs[i] = array.NewBuilder(s.cfg.Alloc, f.Type)
	}
	defer func() {
		for _, b := range bs {
			b.Release()
		}
	}()
	n := 0
	for n < s.cfg.BatchSize && s.rows.Next() {
		if err := s.rows.Scan(s.dest...); err != nil {
			return nil, 0, fmt.Errorf("jdbc: table %q: row %d: %w", s.cfg.Table, s.next+int64(n)+1, err)
		}
		for i, d := range s.dest {
			v, err := scanned(d, s.cfg.Schema.Fields[i].Type)
			if err != nil {
				return nil, 0, fmt.Errorf("jdbc: table %q: row %d, column %q: %w", s.cfg.Table, s.next+int64(n)+1, s.cfg.Schema.Fields[i].Name, err)
			}
			appendValue(bs[i], v)
		}
		n++
	}
	if n < s.cfg.BatchSize {
		if err := s.rows.Err(); err != nil {
			return nil, 0, fmt.Errorf("jdbc: table %q: %w", s.cfg.Table, err)
		}
		s.done = true
		if n == 0 {
			return nil, 0, io.EOF
		}
	}
	cols := make([]arrow.Array, len(bs))
	for i, b := range bs {
		cols[i] = b.NewArray()
		defer cols[i].Release()
	}
	s.next += int64(n)
	s.cfg.Metrics.Records.Add(int64(n))
	return array.NewRecord(s.sch, cols, int64(n)), 0, nil
}

// Offsets implements exec.Source.
func (s *source) Offsets(fn func(split string, offset []byte) error) error {
	return s.off.Report(s.next, fn)
}

// Close implements exec.Source.
func (s *source) Close() error {
	if s.rows != nil {
		s.rows.Close()
	}
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close(context.Background())
	s.conn = nil
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
