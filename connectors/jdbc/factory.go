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
