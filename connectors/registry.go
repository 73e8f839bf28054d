// Package connectors is the registry of table connectors: each connector
// (datagen, filesystem, print, blackhole, kafka, …) is a Factory that states
// the WITH options it accepts, validates a table's options at planning time
// and builds exec sources and sinks at run time. The registry validates
// option keys generically (unknown keys with a "did you mean", required
// keys), so each connector only checks the meaning of its values.
//
// The registry is a value: an engine builds its own (see package builtin),
// there is no global registration.
package connectors

import (
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"sort"
	"strings"

	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/internal/suggest"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// PartitionFactory is implemented by connectors whose tables may be
// PARTITIONED BY (the filesystem sink writes a directory per partition).
type PartitionFactory interface {
	// ValidatePartitioning checks the partition columns (names of schema's
	// columns, in order) of a table used as a source (sink false) or sink.
	ValidatePartitioning(keys []string, schema types.Schema, sink bool) error
}

// Option describes one WITH option a connector accepts.
type Option struct {
	// Key is the option key. With Prefix set, it is a prefix ("fields.",
	// "properties.") and any key starting with it is accepted.
	Key    string
	Prefix bool
	// ColumnAttrs, for a Prefix option whose keys name a column of the
	// table (fields.<column>.<attr>), lists the attributes, for completion.
	ColumnAttrs []string
	Required    bool
	Default     string
	Help        string
	// Source and Sink tell where the option applies.
	Source, Sink bool
}

// WatermarkMaxFuture is the option 'scan.watermark.max-future' of the
// connectors that decode records (see exec.EventTime): how far a row's
// event time may lie ahead of the wall clock.
var WatermarkMaxFuture = Option{Key: "scan.watermark.max-future", Source: true,
	Help: "a row whose event time lies further ahead of the wall clock than this (e.g. '1 h') is malformed"}

// Factory is one connector.
type Factory interface {
	// Name is the value of 'connector' that selects this factory.
	Name() string
	// Options lists every option key the connector accepts ('connector'
	// itself excepted), for validation and for completion in the REPL.
	Options() []Option
	// Validate checks the meaning of opts for a table with this schema used
	// as a source (sink false) or a sink. Keys are already known to be
	// accepted and required ones present. Return an *OptionError to point at
	// one option.
	Validate(opts map[string]string, schema types.Schema, sink bool) error
	// NewSource builds a source; a connector that cannot read returns an
	// error (Validate will have refused it first).
	NewSource(cfg exec.SourceConfig) (exec.Source, error)
	// NewSink builds a sink.
	NewSink(cfg exec.SinkConfig) (exec.Sink, error)
}

// MetadataFactory is implemented by connectors whose sources expose
// metadata columns (`col TYPE METADATA FROM 'key'`).
type MetadataFactory interface {
	// ValidateMetadata checks that key is a metadata key of the connector
	// and that a column of type t can hold it.
	ValidateMetadata(key string, t types.Type) error
}

// ValidateMetadata checks a metadata column of a table of connector name.
func (r *Registry) ValidateMetadata(name, key string, t types.Type) error {
	f, ok := r.m[name]
	if !ok {
		return fmt.Errorf("unknown connector %q", name)
	}
	mf, ok := f.(MetadataFactory)
	if !ok {
		return fmt.Errorf("connector %q has no metadata columns", name)
	}
	return mf.ValidateMetadata(key, t)
}

// StateDescriber is implemented by connectors that can describe, for
// people (`streamsql checkpoints`), the source offsets and sink handles
// they write into checkpoints: each connector owns its encoding, so its
// decoder lives next to its encoder.
type StateDescriber interface {
	// DescribeOffset describes a source offset ("topic clicks partition 0
	// offset 1000, …").
	DescribeOffset(offset []byte) (string, error)
	// DescribeHandle describes a sink's pending-commit handle.
	DescribeHandle(handle []byte) (string, error)
}

// DescribeOffset describes an offset written by a source of connector
// name; ok is false when the connector is unknown, does not describe its
// offsets, or cannot decode this one (the text then says why).
func (r *Registry) DescribeOffset(name string, offset []byte) (text string, ok bool) {
	return r.describe(name, offset, StateDescriber.DescribeOffset)
}

// DescribeHandle describes a sink handle of connector name, as
// DescribeOffset does offsets.
func (r *Registry) DescribeHandle(name string, handle []byte) (text string, ok bool) {
	return r.describe(name, handle, StateDescriber.DescribeHandle)
}

func (r *Registry) describe(name string, b []byte, fn func(StateDescriber, []byte) (string, error)) (string, bool) {
	d, ok := r.m[name].(StateDescriber)
	if !ok {
		return "", false
	}
	s, err := fn(d, b)
	if err != nil {
		return fmt.Sprintf("undecodable %s encoding (%v)", name, err), false
	}
	return s, true
}

// OptionError is a problem with one WITH option (Key) or with the column
// Column of the table's schema; the planner adds the position.
type OptionError struct {
	Key    string // the option at fault, or ""
	Column string // the column at fault, or ""
	Msg    string
}

func (e *OptionError) Error() string {
	switch {
	case e.Key != "":
		return fmt.Sprintf("option %q: %s", e.Key, e.Msg)
	case e.Column != "":
		return fmt.Sprintf("column %q: %s", e.Column, e.Msg)
	}
	return e.Msg
}

// PathFactory is implemented by connectors whose tables name local files
// or directories in their options (filesystem's 'path'): with a path
// policy set (WithPathPolicy), Validate submits the value of each of
// these options to it before the connector sees them.
type PathFactory interface {
	// PathOptions returns the option keys whose values are paths.
	PathOptions() []string
}

// Registry maps connector names to factories. It is not safe for
// concurrent Register calls; lookups are read-only.
type Registry struct {
	m map[string]Factory
	// pathPolicy, when set, must accept every path of a table's options.
	pathPolicy func(path string) error
	// baseDir, when set, is where relative source paths are resolved.
	baseDir string
}

// WithPathPolicy returns a registry with the same factories (shared, so
// later Register calls show in both) whose Validate refuses a table
// when policy returns an error for one of the paths of its options (see
// PathFactory). The error becomes the message of an *OptionError for
// that option.
func (r *Registry) WithPathPolicy(policy func(path string) error) *Registry {
	c := *r
	c.pathPolicy = policy
	return &c
}

// WithBaseDir returns a registry with the same factories (shared) that
// resolves a relative path in a source table's options (see PathFactory)
// against dir, before validation, the path policy and the connector see
// it: `streamsql run FILE` passes the directory of FILE, so that a query
// file's input paths are relative to the file. A sink's relative path stays
// relative to the working directory: output lands where the command runs,
// not beside the query file.
func (r *Registry) WithBaseDir(dir string) *Registry {
	c := *r
	c.baseDir = dir
	return &c
}

// resolvePaths returns opts with its paths as local paths (a file:// URL,
// as Flink's filesystem tables are often written, becomes its path) and
// the relative paths of a source table resolved against the base dir (opts
// itself when nothing changes).
func (r *Registry) resolvePaths(f Factory, opts map[string]string, sink bool) map[string]string {
	pf, ok := f.(PathFactory)
	if !ok {
		return opts
	}
	var out map[string]string
	set := func(k, v string) {
		if out == nil {
			out = maps.Clone(opts)
		}
		out[k] = v
	}
	for _, k := range pf.PathOptions() {
		v, ok := opts[k]
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		if p, ok := fileURLPath(v); ok {
			v = p
			set(k, v)
		}
		if r.baseDir == "" || sink || filepath.IsAbs(v) {
			continue
		}
		set(k, filepath.Join(r.baseDir, v))
	}
	if out == nil {
		return opts
	}
	return out
}

// fileURLPath returns the local path of a file: URL (file:///a/b,
// file://localhost/a/b, file:/a/b), and false for anything else.
func fileURLPath(v string) (string, bool) {
	if !strings.HasPrefix(strings.ToLower(v), "file:") {
		return "", false
	}
	u, err := url.Parse(v)
	if err != nil || u.Path == "" || u.Host != "" && u.Host != "localhost" {
		return "", false
	}
	return filepath.FromSlash(u.Path), true
}

// NewRegistry returns a registry holding fs.
func NewRegistry(fs ...Factory) *Registry {
	r := &Registry{m: map[string]Factory{}}
	for _, f := range fs {
		r.m[f.Name()] = f
	}
	return r
}

// Register adds f, replacing any factory of the same name.
func (r *Registry) Register(f Factory) { r.m[f.Name()] = f }

// Lookup returns the factory named name.
func (r *Registry) Lookup(name string) (Factory, bool) {
	f, ok := r.m[name]
	return f, ok
}

// Names returns the registered connector names, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.m))
	for n := range r.m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Validate checks a table's WITH options for use as a source or a sink:
// the connector exists, every key is accepted, every required key is
// present, and the connector accepts the values.
func (r *Registry) Validate(opts map[string]string, schema types.Schema, sink bool) error {
	name, ok := opts["connector"]
	if !ok {
		return &OptionError{Msg: "missing required option 'connector'"}
	}
	f, ok := r.m[name]
	if !ok {
		msg := fmt.Sprintf("unknown connector %q (known: %s)", name, strings.Join(r.Names(), ", "))
		if s := suggest.Closest(name, r.Names()); s != "" {
			msg = fmt.Sprintf("unknown connector %q; did you mean %q?", name, s)
		}
		return &OptionError{Key: "connector", Msg: msg}
	}
	role := "source"
	if sink {
		role = "sink"
	}
	var keys []string
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	opts = r.resolvePaths(f, opts, sink)
	known := f.Options()
	var names []string
	for _, o := range known {
		names = append(names, o.Key)
	}
	for _, k := range keys {
		if k == "connector" || k == plan.PrimaryKeyOption || k == plan.PartitionKeysOption || k == plan.LateRowsOption {
			continue // the PRIMARY KEY and PARTITIONED BY, set by the planner, and the late-rows table, which it reads
		}
		o, ok := findOption(known, k)
		if !ok {
			msg := fmt.Sprintf("unknown option for connector %q", name)
			if s := suggest.Closest(k, names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			return &OptionError{Key: k, Msg: msg}
		}
		if sink && !o.Sink || !sink && !o.Source {
			return &OptionError{Key: k, Msg: fmt.Sprintf("option does not apply to a %s %s", name, role)}
		}
	}
	for _, o := range known {
		if o.Required && !o.Prefix && (sink && o.Sink || !sink && o.Source) {
			if _, ok := opts[o.Key]; !ok {
				return &OptionError{Key: o.Key, Msg: fmt.Sprintf("missing required option of connector %q", name)}
			}
		}
	}
	if keys := opts[plan.PartitionKeysOption]; keys != "" {
		pf, ok := f.(PartitionFactory)
		if !ok {
			return &OptionError{Key: "connector", Msg: fmt.Sprintf("connector %q does not support PARTITIONED BY (the filesystem connector does)", name)}
		}
		if err := pf.ValidatePartitioning(strings.Split(keys, ","), schema, sink); err != nil {
			return err
		}
	}
	if pf, ok := f.(PathFactory); ok && r.pathPolicy != nil {
		for _, k := range pf.PathOptions() {
			if v, ok := opts[k]; ok {
				if err := r.pathPolicy(v); err != nil {
					return &OptionError{Key: k, Msg: err.Error()}
				}
			}
		}
	}
	return f.Validate(opts, schema, sink)
}

func findOption(known []Option, key string) (Option, bool) {
	for _, o := range known {
		if o.Prefix && strings.HasPrefix(key, o.Key) || !o.Prefix && o.Key == key {
			return o, true
		}
	}
	return Option{}, false
}

// NewSource implements exec.Connectors.
func (r *Registry) NewSource(connector string, cfg exec.SourceConfig) (exec.Source, error) {
	f, ok := r.m[connector]
	if !ok {
		return nil, fmt.Errorf("connectors: unknown connector %q", connector)
	}
	cfg.Options = r.resolvePaths(f, cfg.Options, false)
	return f.NewSource(cfg)
}

// NewSink implements exec.Connectors.
func (r *Registry) NewSink(connector string, cfg exec.SinkConfig) (exec.Sink, error) {
	f, ok := r.m[connector]
	if !ok {
		return nil, fmt.Errorf("connectors: unknown connector %q", connector)
	}
	cfg.Options = r.resolvePaths(f, cfg.Options, true)
	return f.NewSink(cfg)
}

// OptionKey returns the option at fault, for callers that point at it
// without importing this package.
func (e *OptionError) OptionKey() string { return e.Key }

// ColumnName returns the column at fault.
func (e *OptionError) ColumnName() string { return e.Column }

// SourceChangelog reports the kind of rows a source table emits: a table
// whose 'format' (or Kafka's alias 'value.format') is a changelog format
// ('debezium-json'), and an 'upsert-kafka' table (whose source keeps the
// last value per key to retract it), emit retractions (inserts, update
// pairs and deletes); every other source is append-only.
func (r *Registry) SourceChangelog(opts map[string]string) plan.Changelog {
	if changelogFormat(opts) || opts["connector"] == "upsert-kafka" {
		return plan.Retract
	}
	return plan.AppendOnly
}

// changelogFormat reports whether the table's rows are written or read in
// a changelog format, one that holds every row kind: 'debezium-json'.
func changelogFormat(opts map[string]string) bool {
	return opts["format"] == "debezium-json" || opts["value.format"] == "debezium-json"
}

// SinkAccepts reports whether a sink table accepts rows of changelog mode
// c: print, blackhole and collect accept every mode, and so does a sink
// writing a changelog format ('debezium-json': updates and deletes become
// change events), and so does 'upsert-kafka' (updates by key, deletes as
// tombstones), and so does a 'jdbc' table with a PRIMARY KEY (upserts and
// deletes by the key); the others (kafka, filesystem, …) only append-only
// streams.
func (r *Registry) SinkAccepts(opts map[string]string, c plan.Changelog) bool {
	if c == plan.AppendOnly || changelogFormat(opts) {
		return true
	}
	name := opts["connector"]
	if name == "" {
		name = "collect"
	}
	// "collect" (the client of a bare SELECT) is not a registered
	// connector but is listed so the planner's check covers it too.
	switch name {
	case "print", "blackhole", "collect", "upsert-kafka":
		return true
	case "jdbc":
		return opts[plan.PrimaryKeyOption] != ""
	}
	return false
}

// SinkUpsertsByKey reports whether a sink table writes updates and
// deletes by its PRIMARY KEY: 'upsert-kafka' (a record per key, a
// tombstone to delete) and 'jdbc' with a PRIMARY KEY (an upsert or a
// delete of the key's row), unless they write a changelog format.
func (r *Registry) SinkUpsertsByKey(opts map[string]string) bool {
	if changelogFormat(opts) || opts[plan.PrimaryKeyOption] == "" {
		return false
	}
	return opts["connector"] == "upsert-kafka" || opts["connector"] == "jdbc"
}

// ProjectableSource is implemented by connectors whose sources can skip
// the columns a job does not read (exec.SourceConfig.Columns): the nexmark
// generator does not generate them. The planner pushes the columns a job
// reads into the sources of these connectors only; the others produce
// every column, and a Calc after them drops those it does not need.
type ProjectableSource interface {
	// ProjectsColumns reports whether a source table with these options
	// skips the columns outside SourceConfig.Columns.
	ProjectsColumns(opts map[string]string) bool
}

// SourceProjects reports whether a source table with these options skips
// the columns the job does not read (see ProjectableSource).
func (r *Registry) SourceProjects(opts map[string]string) bool {
	p, ok := r.m[opts["connector"]].(ProjectableSource)
	return ok && p.ProjectsColumns(opts)
}
