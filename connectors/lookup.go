package connectors

import (
	"container/list"
	"context"
	"fmt"
	"time"

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

// LookupConfig is what a connector gets to build a lookup source.
type LookupConfig struct {
	Table   string
	Schema  types.Schema      // the table's columns, the rows' layout
	Options map[string]string // the WITH clause, validated by the planner
	// KeyColumns are the indexes in Schema of the columns looked up by.
	KeyColumns []int
	Clock      exec.Clock
}

// LookupFactory is implemented by connectors whose tables can be the
// lookup side of a lookup join.
type LookupFactory interface {
	NewLookup(cfg LookupConfig) (LookupSource, error)
}

// NewLookup builds a lookup source for a table of connector name.
func (r *Registry) NewLookup(name string, cfg LookupConfig) (LookupSource, error) {
	f, ok := r.m[name].(LookupFactory)
	if !ok {
		return nil, fmt.Errorf("connectors: connector %q cannot be the lookup side of a lookup join", name)
	}
	return f.NewLookup(cfg)
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
	c.buf = c.buf[:0]
	for _, v := range key {
		c.buf = fmt.Appendf(c.buf, "%T:%v\x00", v, v)
	}
	return string(c.buf)
}
