package jdbc

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/types"
)

// lookup answers a lookup join's point queries with one SELECT … WHERE
// (key columns) IN (…) per call, retried ('lookup.max-retries') over a
// new connection after a failure. Driven from one goroutine.
type lookup struct {
	cfg  connectors.LookupConfig
	c    *config
	conn *pgx.Conn
	sel  string // SELECT … FROM table
	keys []string
	dest []any

	// queries counts the queries sent (for tests of the cache).
	queries atomic.Int64
}

var _ connectors.LookupSource = (*lookup)(nil)

// newLookup returns the table's lookup source, behind a cache when
// 'lookup.cache.max-rows' is set.
func newLookup(cfg connectors.LookupConfig) (connectors.LookupSource, error) {
	l, err := newLookupSource(cfg)
	if err != nil {
		return nil, err
	}
	if l.c.cacheRows > 0 {
		return connectors.NewLookupCache(l, l.c.cacheRows, l.c.cacheTTL, l.c.cacheMissing, cfg.Clock), nil
	}
	return l, nil
}

func newLookupSource(cfg connectors.LookupConfig) (*lookup, error) {
	c, err := parseConfig(cfg.Options, false)
	if err != nil {
		return nil, fmt.Errorf("jdbc: table %q: %w", cfg.Table, err)
	}
	if len(cfg.KeyColumns) == 0 {
		return nil, fmt.Errorf("jdbc: table %q: a lookup needs key columns", cfg.Table)
	}
	l := &lookup{cfg: cfg, c: c}
	for _, f := range cfg.Schema.Fields {
		l.dest = append(l.dest, scanDest(f.Type))
	}
	return l, nil
}

func (l *lookup) open(ctx context.Context) error {
	if l.conn != nil {
		_ = l.conn.Close(context.Background())
		l.conn = nil
	}
	conn, err := connect(ctx, l.c)
	if err != nil {
		return err
	}
	t, err := describe(ctx, conn, l.c.table)
	if err != nil {
		_ = conn.Close(context.Background())
		return err
	}
	cols, err := t.bind(l.c.table, l.cfg.Schema, false)
	if err != nil {
		_ = conn.Close(context.Background())
		return err
	}
	l.sel = selectList(cols, l.cfg.Schema) + " FROM " + t.ident
	l.keys = l.keys[:0]
	for _, k := range l.cfg.KeyColumns {
		l.keys = append(l.keys, pgx.Identifier{cols[k].name}.Sanitize())
	}
	l.conn = conn
	return nil
}

// Lookup implements connectors.LookupSource.
func (l *lookup) Lookup(ctx context.Context, keys [][]any) ([][]connectors.LookupRow, error) {
	out := make([][]connectors.LookupRow, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	at := map[string][]int{}
	var args []any
	var sb strings.Builder
	sb.WriteString(") IN (")
	for i, k := range keys {
		ks := keyString(k)
		if _, ok := at[ks]; !ok {
			if len(args) > 0 {
				sb.WriteString(", ")
			}
			sb.WriteByte('(')
			for j, v := range k {
				if j > 0 {
					sb.WriteString(", ")
				}
				args = append(args, param(v, l.cfg.Schema.Fields[l.cfg.KeyColumns[j]].Type))
				fmt.Fprintf(&sb, "$%d", len(args))
			}
			sb.WriteByte(')')
		}
		at[ks] = append(at[ks], i)
	}
	sb.WriteByte(')')
	var err error
	for attempt := 0; ; attempt++ {
		if l.conn == nil {
			err = l.open(ctx)
		}
		if err == nil {
			// The key columns are known once the table was described.
			err = l.query(ctx, " WHERE ("+strings.Join(l.keys, ", ")+sb.String(), args, at, out)
		}
		if err == nil {
			return out, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if attempt >= l.c.lookupRetries || !retryable(err) {
			return nil, fmt.Errorf("jdbc: table %q: lookup: %w", l.cfg.Table, err)
		}
		if l.conn != nil {
			_ = l.conn.Close(context.Background())
			l.conn = nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
		}
	}
}

func (l *lookup) query(ctx context.Context, where string, args []any, at map[string][]int, out [][]connectors.LookupRow) error {
	clear(out)
	l.queries.Add(1)
	rows, err := l.conn.Query(ctx, l.sel+where, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(l.dest...); err != nil {
			return err
		}
		row := make(connectors.LookupRow, len(l.dest))
		for i, d := range l.dest {
			if row[i], err = scanned(d, l.cfg.Schema.Fields[i].Type); err != nil {
				return fmt.Errorf("column %q: %w", l.cfg.Schema.Fields[i].Name, err)
			}
		}
		key := make([]any, len(l.cfg.KeyColumns))
		for j, k := range l.cfg.KeyColumns {
			key[j] = row[k]
		}
		for _, i := range at[keyString(key)] {
			out[i] = append(out[i], row)
		}
	}
	return rows.Err()
}

// Close implements connectors.LookupSource.
func (l *lookup) Close() error {
	if l.conn == nil {
		return nil
	}
	err := l.conn.Close(context.Background())
	l.conn = nil
	return err
}

// keyString encodes key values (as connectors.LookupRow holds them) for
// comparison.
func keyString(k []any) string {
	var b []byte
	for _, v := range k {
		b = fmt.Appendf(b, "%T:%v\x00", v, v)
	}
	return string(b)
}

// param turns a lookup key value (connectors.LookupRow's representation)
// into what pgx writes into a column of type t.
func param(v any, t types.Type) any {
	switch x := v.(type) {
	case int64:
		if t.IsTemporal() {
			return time.UnixMilli(x).UTC()
		}
	case decimal128.Num:
		return string(types.AppendDecimal(nil, x, int32(t.Scale)))
	case time.Duration:
		return pgtype.Interval{Microseconds: x.Microseconds(), Valid: true}
	}
	return v
}
