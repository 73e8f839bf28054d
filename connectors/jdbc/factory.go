package jdbc

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/internal/pace"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// Name is the connector's name in WITH ('connector' = 'jdbc').
const Name = "jdbc"

type factory struct{}

var (
	_ connectors.Factory        = factory{}
	_ connectors.LookupFactory  = factory{}
	_ connectors.StateDescriber = factory{}
)

// New returns the jdbc connector.
func New() connectors.Factory { return factory{} }

// Name implements connectors.Factory.
func (factory) Name() string { return Name }

// Options implements connectors.Factory.
func (factory) Options() []connectors.Option { return options }

// Validate implements connectors.Factory: it parses the options, then
// connects to the database and checks the table against its catalog
// (columns, types, the PRIMARY KEY's unique index, two-phase commit for
// exactly-once).
func (factory) Validate(opts map[string]string, schema types.Schema, sink bool) error {
	c, err := parseConfig(opts, sink)
	if err != nil {
		return err
	}
	return check(c, schema, sink)
}

// NewSource implements connectors.Factory.
func (factory) NewSource(cfg exec.SourceConfig) (exec.Source, error) { return newSource(cfg) }

// NewSink implements connectors.Factory.
func (factory) NewSink(cfg exec.SinkConfig) (exec.Sink, error) { return newSink(cfg) }

// LookupCache implements connectors.LookupFactory: every jdbc table can
// serve lookups, one query per batch of missed keys, behind an LRU cache
// when 'lookup.cache.max-rows' is set.
func (factory) LookupCache(opts map[string]string) (string, error) {
	c, err := parseConfig(opts, false)
	if err != nil {
		return "", err
	}
	if c.cacheRows <= 0 {
		return fmt.Sprintf("none (a query per batch of keys, %d retries)", c.lookupRetries), nil
	}
	s := fmt.Sprintf("lru max-rows=%d", c.cacheRows)
	if c.cacheTTL > 0 {
		s += " ttl=" + c.cacheTTL.String()
	}
	if !c.cacheMissing {
		s += " missing-keys=false"
	}
	return s + fmt.Sprintf(" retries=%d", c.lookupRetries), nil
}

// NewLookup implements connectors.LookupFactory.
func (factory) NewLookup(cfg connectors.LookupConfig) (connectors.LookupSource, error) {
	return newLookup(cfg)
}

// DescribeOffset implements connectors.StateDescriber.
func (factory) DescribeOffset(offset []byte) (string, error) {
	n, err := pace.DecodeOffset(offset)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d rows read", n), nil
}

// DescribeHandle implements connectors.StateDescriber.
func (factory) DescribeHandle(b []byte) (string, error) {
	if len(b) == 0 {
		return "no transaction (at-least-once)", nil
	}
	var h handle
	if err := json.Unmarshal(b, &h); err != nil {
		return "", err
	}
	if len(h.Prepared) == 0 {
		return "no prepared transaction", nil
	}
	var gids []string
	for _, p := range h.Prepared {
		gids = append(gids, fmt.Sprintf("%s (checkpoint %d)", p.GID, p.Checkpoint))
	}
	return "prepared transaction " + strings.Join(gids, ", "), nil
}
