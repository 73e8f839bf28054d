package connectors

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"

	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// LookupRow is one row of a lookup table: a Go value per column of the
// table's schema (nil for NULL; BOOLEAN bool, INT int32, BIGINT int64,
// FLOAT float32, DOUBLE float64, DECIMAL decimal128.Num, STRING string,
// TIMESTAMP and TIMESTAMP_LTZ epoch milliseconds as int64, INTERVAL
// time.Duration).
type LookupRow = []any

// LookupSource answers point queries on a table, for the lookup join
// (`JOIN t FOR SYSTEM_TIME AS OF o.proc_time ON …`): given values of the
// table's key columns, the rows that have them.
//
// Contract: Lookup is called from one goroutine; keys[i] holds one value
// per key column (never NULL: a NULL key matches nothing and is not
// asked), and the result's i-th element the rows matching keys[i]
// (empty when none), each a full row of the table's schema. An error
// is the query's failure (after the source's own retries). Close
// releases the source.
type LookupSource interface {
	Lookup(ctx context.Context, keys [][]any) ([][]LookupRow, error)
	Close() error
}

// Int64LookupSource is implemented by lookup sources that also take the
// keys of a lookup by one column whose values are int64s (BIGINT,
// TIMESTAMP) unboxed: LookupInt64s(ctx, keys) returns what Lookup returns
// for the keys {keys[0]}, {keys[1]}, …, without an interface value (and
// its allocation) per key. The lookup join uses it when it can (Nexmark
// q13's lookup by mod(auction, 10000)); a source that cannot do better
// than Lookup need not implement it.
type Int64LookupSource interface {
	LookupSource
	LookupInt64s(ctx context.Context, keys []int64) ([][]LookupRow, error)
}

// LookupConfig is what a connector gets to build a lookup source.
type LookupConfig struct {
	Table   string
	Schema  types.Schema      // the table's columns, the rows' layout
	Options map[string]string // the WITH clause, validated by the planner
	// KeyColumns are the indexes in Schema of the columns looked up by.
	KeyColumns []int
	Clock      exec.Clock
	// Zone is the session time zone TIMESTAMP_LTZ text is read in
	// (exec.SourceConfig.Zone); nil is UTC.
	Zone *types.Zone
}

// LookupFactory is implemented by connectors whose tables can be the
// lookup side of a lookup join.
type LookupFactory interface {
	// LookupCache checks, when a query is planned, that a table with
	// these (already validated) options can serve lookups, and describes
	// how its rows are cached, for EXPLAIN ("lru max-rows=1000 ttl=10s").
	LookupCache(opts map[string]string) (string, error)
	// NewLookup builds the lookup source of one subtask.
	NewLookup(cfg LookupConfig) (LookupSource, error)
}

// LookupCache checks that the table with options opts can be the lookup
// side of a lookup join and describes its cache (see LookupFactory).
func (r *Registry) LookupCache(opts map[string]string) (string, error) {
	name := opts["connector"]
	f, ok := r.m[name].(LookupFactory)
	if !ok {
		return "", fmt.Errorf("connector %q cannot serve lookups (lookup joins read a table by key: jdbc, or a bounded filesystem table)", name)
	}
	return f.LookupCache(opts)
}

// NewLookup builds a lookup source for a table of connector name; a
// relative path of a file connector is resolved as a source's is.
func (r *Registry) NewLookup(name string, cfg LookupConfig) (LookupSource, error) {
	f, ok := r.m[name].(LookupFactory)
	if !ok {
		return nil, fmt.Errorf("connectors: connector %q cannot be the lookup side of a lookup join", name)
	}
	cfg.Options = r.resolvePaths(r.m[name], cfg.Options, false)
	return f.NewLookup(cfg)
}

// BoundedLookup serves lookups from every row of a bounded source, read
// once, at the first Lookup, and kept in memory by key: the lookup source
// of tables that cannot be queried by key (a filesystem table), as Flink
// caches a filesystem lookup table whole.
type BoundedLookup struct {
	cfg    LookupConfig
	open   func() (exec.Source, error)
	rows   map[string][]LookupRow
	ints   map[int64][]LookupRow // with one key column: the rows whose key is an int64
	loaded bool
	buf    []byte
}

var _ Int64LookupSource = (*BoundedLookup)(nil)

// NewBoundedLookup returns the lookup source over the rows of the bounded
// source open builds (of cfg.Schema's columns).
func NewBoundedLookup(cfg LookupConfig, open func() (exec.Source, error)) *BoundedLookup {
	return &BoundedLookup{cfg: cfg, open: open}
}

// Lookup implements LookupSource.
func (l *BoundedLookup) Lookup(ctx context.Context, keys [][]any) ([][]LookupRow, error) {
	if !l.loaded {
		if err := l.load(ctx); err != nil {
			return nil, fmt.Errorf("connectors: lookup table %q: %w", l.cfg.Table, err)
		}
	}
	out := make([][]LookupRow, len(keys))
	for i, k := range keys {
		l.buf = appendLookupKey(l.buf[:0], k)
		out[i] = l.rows[string(l.buf)]
	}
	return out, nil
}

// LookupInt64s implements Int64LookupSource.
func (l *BoundedLookup) LookupInt64s(ctx context.Context, keys []int64) ([][]LookupRow, error) {
	if len(l.cfg.KeyColumns) != 1 {
		return nil, fmt.Errorf("connectors: lookup table %q: a lookup by one int64 column of a table keyed by %d", l.cfg.Table, len(l.cfg.KeyColumns))
	}
	if !l.loaded {
		if err := l.load(ctx); err != nil {
			return nil, fmt.Errorf("connectors: lookup table %q: %w", l.cfg.Table, err)
		}
	}
	out := make([][]LookupRow, len(keys))
	for i, k := range keys {
		out[i] = l.ints[k]
	}
	return out, nil
}

// Len returns the number of keys loaded.
func (l *BoundedLookup) Len() int { return len(l.rows) }

func (l *BoundedLookup) load(ctx context.Context) error {
	src, err := l.open()
	if err != nil {
		return err
	}
	defer src.Close()
	if err := src.Open(ctx, nil); err != nil {
		return err
	}
	rows := map[string][]LookupRow{}
	ints := map[int64][]LookupRow{}
	key := make([]any, len(l.cfg.KeyColumns))
	for {
		rec, _, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if rec == nil {
			if err := ctx.Err(); err != nil {
				return err
			}
			continue
		}
		if int(rec.NumCols()) != l.cfg.Schema.Len() {
			rec.Release()
			return fmt.Errorf("the source produced %d columns, want %d", rec.NumCols(), l.cfg.Schema.Len())
		}
		for r := 0; r < int(rec.NumRows()); r++ {
			row := make(LookupRow, rec.NumCols())
			for c := range row {
				row[c] = LookupValue(rec.Column(c), r)
			}
			null := false
			for j, k := range l.cfg.KeyColumns {
				key[j] = row[k]
				null = null || row[k] == nil
			}
			if null {
				continue // a NULL key is never looked up
			}
			l.buf = appendLookupKey(l.buf[:0], key)
			rows[string(l.buf)] = append(rows[string(l.buf)], row)
			if x, ok := key[0].(int64); ok && len(key) == 1 {
				ints[x] = rows[string(l.buf)]
			}
		}
		rec.Release()
	}
	l.rows, l.ints, l.loaded = rows, ints, true
	return nil
}

// Close implements LookupSource.
func (l *BoundedLookup) Close() error { return nil }

// appendLookupKey appends the encoding of key values (as LookupRow holds
// them) that the lookup caches index by: equal keys encode alike.
func appendLookupKey(b []byte, key []any) []byte {
	for _, v := range key {
		// The common types without fmt (13% of Nexmark q13), in the bytes
		// fmt writes.
		switch x := v.(type) {
		case int64:
			b = append(strconv.AppendInt(append(b, "int64:"...), x, 10), 0)
		case int32:
			b = append(strconv.AppendInt(append(b, "int32:"...), int64(x), 10), 0)
		case string:
			b = append(append(append(b, "string:"...), x...), 0)
		default:
			b = fmt.Appendf(b, "%T:%v\x00", v, v)
		}
	}
	return b
}

// LookupValue returns row r of col as LookupRow holds it (nil for NULL).
func LookupValue(col arrow.Array, r int) any {
	if col.IsNull(r) {
		return nil
	}
	switch c := col.(type) {
	case *array.Boolean:
		return c.Value(r)
	case *array.Int32:
		return c.Value(r)
	case *array.Int64:
		return c.Value(r)
	case *array.Float32:
		return c.Value(r)
	case *array.Float64:
		return c.Value(r)
	case *array.Decimal128:
		return c.Value(r)
	case *array.String:
		return c.Value(r)
	case *array.Timestamp:
		return int64(c.Value(r))
	case *array.Duration:
		return time.Duration(c.Value(r)) * time.Millisecond
	}
	return nil
}

// AppendLookupValue appends v (as LookupRow holds it) to b, the builder
// of a column of v's type; a value of another Go type is an error.
func AppendLookupValue(b array.Builder, v any) error {
	if v == nil {
		b.AppendNull()
		return nil
	}
	ok := true
	switch b := b.(type) {
	case *array.BooleanBuilder:
		var x bool
		if x, ok = v.(bool); ok {
			b.Append(x)
		}
	case *array.Int32Builder:
		var x int32
		if x, ok = v.(int32); ok {
			b.Append(x)
		}
	case *array.Int64Builder:
		var x int64
		if x, ok = v.(int64); ok {
			b.Append(x)
		}
	case *array.Float32Builder:
		var x float32
		if x, ok = v.(float32); ok {
			b.Append(x)
		}
	case *array.Float64Builder:
		var x float64
		if x, ok = v.(float64); ok {
			b.Append(x)
		}
	case *array.Decimal128Builder:
		var x decimal128.Num
		if x, ok = v.(decimal128.Num); ok {
			b.Append(x)
		}
	case *array.StringBuilder:
		var x string
		if x, ok = v.(string); ok {
			b.Append(x)
		}
	case *array.TimestampBuilder:
		var x int64
		if x, ok = v.(int64); ok {
			b.Append(arrow.Timestamp(x))
		}
	case *array.DurationBuilder:
		var x time.Duration
		if x, ok = v.(time.Duration); ok {
			b.Append(arrow.Duration(x / time.Millisecond))
		}
	default:
		ok = false
	}
	if !ok {
		return fmt.Errorf("connectors: a lookup value %v (%T) for a column of Arrow type %s", v, v, b.Type())
	}
	return nil
}

// LookupCache is an LRU cache in front of a LookupSource, as Flink's
// 'lookup.cache.max-rows' and 'lookup.cache.ttl' configure it: it holds
// the rows of at most MaxRows keys, each for at most TTL (0: until
// evicted), and, with CacheMissing, also keys without rows. It asks the
// source only for the keys it misses, in one call.
type LookupCache struct {
	src          LookupSource
	maxRows      int
	ttl          time.Duration
	cacheMissing bool
	clock        exec.Clock

	lru *list.List // of *cacheEntry, most recent first
	m   map[string]*list.Element
	buf []byte
}

type cacheEntry struct {
	key  string
	rows []LookupRow
	at   time.Time
}

// NewLookupCache returns src behind a cache of maxRows keys (> 0).
func NewLookupCache(src LookupSource, maxRows int, ttl time.Duration, cacheMissing bool, clock exec.Clock) *LookupCache {
	if clock == nil {
		clock = exec.SystemClock{}
	}
	return &LookupCache{src: src, maxRows: maxRows, ttl: ttl, cacheMissing: cacheMissing, clock: clock,
		lru: list.New(), m: map[string]*list.Element{}}
}

// Lookup implements LookupSource.
func (c *LookupCache) Lookup(ctx context.Context, keys [][]any) ([][]LookupRow, error) {
	out := make([][]LookupRow, len(keys))
	now := c.clock.Now()
	var miss [][]any
	var missAt []int
	var missKey []string
	for i, k := range keys {
		ks := c.encode(k)
		if e, ok := c.m[ks]; ok {
			ce := e.Value.(*cacheEntry)
			if c.ttl <= 0 || now.Sub(ce.at) < c.ttl {
				c.lru.MoveToFront(e)
				out[i] = ce.rows
				continue
			}
			c.lru.Remove(e)
			delete(c.m, ks)
		}
		miss = append(miss, k)
		missAt = append(missAt, i)
		missKey = append(missKey, ks)
	}
	if len(miss) == 0 {
		return out, nil
	}
	got, err := c.src.Lookup(ctx, miss)
	if err != nil {
		return nil, err
	}
	for j, rows := range got {
		out[missAt[j]] = rows
		if len(rows) == 0 && !c.cacheMissing {
			continue
		}
		if e, ok := c.m[missKey[j]]; ok { // the same key twice in keys
			e.Value.(*cacheEntry).rows = rows
			continue
		}
		c.m[missKey[j]] = c.lru.PushFront(&cacheEntry{key: missKey[j], rows: rows, at: now})
		for c.lru.Len() > c.maxRows {
			last := c.lru.Back()
			c.lru.Remove(last)
			delete(c.m, last.Value.(*cacheEntry).key)
		}
	}
	return out, nil
}

// Len returns the number of keys cached.
func (c *LookupCache) Len() int { return c.lru.Len() }

// Close implements LookupSource.
func (c *LookupCache) Close() error { return c.src.Close() }

func (c *LookupCache) encode(key []any) string {
	c.buf = appendLookupKey(c.buf[:0], key)
	return string(c.buf)
}
