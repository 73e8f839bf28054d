package filesystem

import (
	"fmt"
	"os"
	"strings"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// Name is the connector's name in WITH ('connector' = 'filesystem').
const Name = "filesystem"

const optPath = "path"

type factory struct{}

var (
	_ connectors.Factory          = factory{}
	_ connectors.PathFactory      = factory{}
	_ connectors.PartitionFactory = factory{}
	_ connectors.LookupFactory    = factory{}
)

// New returns the filesystem connector.
func New() connectors.Factory { return factory{} }

// Name implements connectors.Factory.
func (factory) Name() string { return Name }

// Options implements connectors.Factory.
func (factory) Options() []connectors.Option {
	return append([]connectors.Option{
		{Key: optPath, Required: true, Source: true, Sink: true,
			Help: "source: a file, or a directory of files read in name order; sink: the directory of the part file"},
		connectors.WatermarkMaxFuture,
	}, append(format.WithRequired(), partitionOptions...)...)
}

// LookupCache implements connectors.LookupFactory: a filesystem table is
// read whole at the first lookup and kept in memory (Flink's FileSystem
// lookup source caches all of it too).
func (factory) LookupCache(map[string]string) (string, error) {
	return "all rows, loaded once", nil
}

// NewLookup implements connectors.LookupFactory.
func (f factory) NewLookup(cfg connectors.LookupConfig) (connectors.LookupSource, error) {
	return connectors.NewBoundedLookup(cfg, func() (exec.Source, error) {
		return f.NewSource(exec.SourceConfig{Table: cfg.Table, Schema: cfg.Schema, Options: cfg.Options, Clock: cfg.Clock, Zone: cfg.Zone})
	}), nil
}

// PathOptions implements connectors.PathFactory.
func (factory) PathOptions() []string { return []string{optPath} }

// Validate implements connectors.Factory.
func (factory) Validate(opts map[string]string, schema types.Schema, sink bool) error {
	path := opts[optPath]
	if strings.TrimSpace(path) == "" {
		return &connectors.OptionError{Key: optPath, Msg: "expected a file or directory path, got \"\""}
	}
	if err := format.Validate("", opts); err != nil {
		return err
	}
	if err := validatePartitioned(opts, sink); err != nil {
		return err
	}
	dec, err := format.NewDecoder("", schema, opts, memory.DefaultAllocator)
	if err != nil {
		return &connectors.OptionError{Key: format.KeyFormat, Msg: err.Error()}
	}
	dec.Release()
	st, err := os.Stat(path)
	switch {
	case !sink && err != nil:
		return &connectors.OptionError{Key: optPath, Msg: fmt.Sprintf("cannot read %q: %v", path, unwrapPathError(err))}
	case sink && err == nil && !st.IsDir():
		return &connectors.OptionError{Key: optPath, Msg: fmt.Sprintf("%q is a file; the filesystem sink writes a part file into a directory", path)}
	}
	return nil
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// NewSource implements connectors.Factory.
func (factory) NewSource(cfg exec.SourceConfig) (exec.Source, error) { return newSource(cfg) }

// NewSink implements connectors.Factory.
func (factory) NewSink(cfg exec.SinkConfig) (exec.Sink, error) {
	if cfg.Options[plan.PartitionKeysOption] != "" {
		return newPartitionedSink(cfg)
	}
	return newSink(cfg)
}

// DescribeOffset implements connectors.StateDescriber: the offset of the
// file being read, or of a checkpoint from before offsets were kept per
// split.
func (factory) DescribeOffset(b []byte) (string, error) {
	if len(b) > 0 && b[0] == legacyOffsetVersion {
		o, err := decodeLegacyOffset(b)
		if err != nil {
			return "", err
		}
		if o.name == "" {
			return fmt.Sprintf("all %d file(s) read", o.idx), nil
		}
		return fmt.Sprintf("file %s (#%d): %d lines read, next at line %d (byte %d)", o.name, o.idx+1, o.line, o.line+1, o.pos), nil
	}
	o, err := decodeOffset(b)
	if err != nil {
		return "", err
	}
	if o.done {
		return fmt.Sprintf("read to the end, and every file before it (#%d)", o.idx+1), nil
	}
	return fmt.Sprintf("file #%d: %d lines read, next at line %d (byte %d)", o.idx+1, o.line, o.line+1, o.pos), nil
}

// DescribeHandle implements connectors.StateDescriber.
func (factory) DescribeHandle(b []byte) (string, error) {
	if len(b) > 0 && b[0] == partitionedHandleVersion {
		return describePartitionedHandle(b)
	}
	name, n, err := decodeHandle(b)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("part file %s committed length %d bytes", name, n), nil
}
