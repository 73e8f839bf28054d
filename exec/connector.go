package exec

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/types"
)

// Source reads one table. It is pulled by the runtime from one goroutine.
//
// Contract: Open once, then Read until it returns io.EOF (a bounded source
// is exhausted) or the job stops, with Offsets called only between Reads;
// then Close once, also after a failure. A batch returned by Read belongs
// to the caller, who releases it. Offsets must describe exactly the
// position after the last batch Read returned: restoring them with Open
// and reading on yields the rows after that batch, none before, none
// skipped.
//
// A source's position is kept per split (a Kafka partition, the file being
// read), each under a stable split name, so that a checkpoint stores one
// offset record per split and a split added later (a partition discovered)
// gets its own record.
type Source interface {
	// Open prepares reading. offsets holds, by split name, what Offsets
	// reported at the restored checkpoint; it is empty on a fresh start. A
	// checkpoint written before offsets were kept per split holds the
	// source's one offset under LegacySplit, which the source still
	// decodes. A source restored from offsets numbers the splits it
	// restored as it did when they were checkpointed (the runtime keeps
	// per-split state such as watermarks by split index).
	Open(ctx context.Context, offsets map[string][]byte) error
	// Read returns the next batch and the index of the split it came from
	// (0 for a source with one split), (nil, 0, nil) when no row is available
	// right now, or io.EOF when a bounded source has no more rows. Read
	// should not block for long: at most about 100ms when no data comes, so
	// the runtime can inject barriers and notice cancellation.
	Read(ctx context.Context) (rec arrow.Record, split int, err error)
	// Offsets calls fn with the name and encoded position of every split,
	// for the position after the last batch returned, and returns the
	// first error fn returns. The bytes are valid only during the call (a
	// source may reuse its buffer); names are unique and non-empty. It is
	// called at checkpoints, and after every batch when the runtime reads
	// ahead, so it should not allocate.
	Offsets(fn func(split string, offset []byte) error) error
	// Close releases the source's resources.
	Close() error
}

// LegacySplit is the split name under which checkpoints written before
// offsets were kept per split hold a source's one offset blob.
const LegacySplit = "all"

// SplitReporter is implemented by sources with several splits (Kafka
// partitions). Splits returns how many there are now (it may grow when
// partitions are discovered); Read reports splits as 0..Splits()-1. The
// runtime then holds the source's watermark at the minimum over all its
// splits, including those that have not produced a row yet, except splits
// idle for longer than the table's idle timeout; when every split is idle,
// at the maximum among them (see watermarkValve). A source that does not
// implement it has one split.
type SplitReporter interface {
	Splits() int
	// SplitName is the stable name of split i < Splits() (Kafka's
	// "topic/partition"), the name its offset has in Offsets.
	SplitName(i int) string
}

// WatermarkReporter is implemented by sources that carry their event time
// themselves rather than derive it from a rowtime column: the repartition
// topics of a job on several processes, whose upstream processes write
// their watermarks into them as markers. After each Read (with or without
// rows) the runtime advances the source's watermark to what Watermark
// returns when ok; it must cover only the batches Read returned so far.
// It applies to sources of a table without a WATERMARK declaration.
// Such a source is not read ahead (it should implement StatefulOffsets).
type WatermarkReporter interface {
	Watermark() (wm Watermark, ok bool)
}

// StatefulOffsets is implemented by sources whose offsets hold state that
// grows with the data they read (upsert-kafka's last value per key), so
// that taking them costs time in proportion to it. When StatefulOffsets
// returns true the runtime takes them only at barriers: it does not
// prefetch the source (the prefetcher takes the offsets after every
// batch).
type StatefulOffsets interface {
	StatefulOffsets() bool
}

// prefetchable reports whether src may be read ahead by a prefetcher.
func prefetchable(src Source) bool {
	so, ok := src.(StatefulOffsets)
	return !ok || !so.StatefulOffsets()
}

// CheckpointListener is implemented by sources that act when a checkpoint
// is durable, such as committing offsets to a Kafka consumer group for lag
// tools. offsets is what Offsets reported at that checkpoint's barrier, by
// split name. Errors are logged, not fatal: the checkpoint, not the
// callback, is the source of truth.
type CheckpointListener interface {
	CheckpointComplete(ctx context.Context, id int64, offsets map[string][]byte) error
}

// Sink writes the rows of a query somewhere. It is driven from one
// goroutine.
//
// Contract: Open once; Write any number of times; at each checkpoint
// PreCommit, and Commit after the checkpoint is durable; Close once. A sink
// is exactly-once when rows written before PreCommit(n) become visible only
// at Commit(n), and Open(handle) with the handle PreCommit(n) returned
// restores the state of a completed checkpoint n: it completes the commit of
// n if needed and discards anything written after it.
type Sink interface {
	// Open prepares the sink. handle is what PreCommit returned at the
	// restored checkpoint, or nil on a fresh start.
	Open(ctx context.Context, handle []byte) error
	// Write writes the rows of rec. rec is valid only during the call.
	Write(ctx context.Context, rec arrow.Record) error
	// PreCommit flushes what was written and returns a handle to store in
	// checkpoint id.
	PreCommit(ctx context.Context, id int64) ([]byte, error)
	// Commit makes what PreCommit(id) covered visible.
	Commit(ctx context.Context, id int64) error
	// Close releases the sink's resources without committing.
	Close() error
}

// WatermarkSink is implemented by sinks that act on event time (the
// partitioned filesystem sink commits a partition once the watermark has
// passed its time). Watermark is called from the goroutine that calls
// Write, when the sink's input watermark advances, after every row before
// it was written; wm is in milliseconds since the epoch.
type WatermarkSink interface {
	Watermark(ctx context.Context, wm int64) error
}

// IdleSink is implemented by sinks that pass their input's idleness on
// (the repartition writer of a job on several processes, whose readers
// stop waiting for an idle writer's watermark). Idle is called from the
// goroutine that calls Write when every input of the sink's subtask goes
// idle (true), and when one becomes active again (false), before the rows
// that made it active are written.
type IdleSink interface {
	Idle(ctx context.Context, idle bool) error
}

// Clock tells time. Operators and sources get it injected, so tests can
// control it; nothing in exec calls time.Now directly.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// SourceMetrics counts what a source read. Safe for concurrent use.
type SourceMetrics struct {
	Records   atomic.Int64 // rows emitted
	Bytes     atomic.Int64 // bytes read, where known
	Malformed atomic.Int64 // records skipped as malformed

	lagMu sync.Mutex
	lag   map[string]int64
}

// SetLag records how many records split (e.g. "topic/3") has that the
// source has not read yet, for sources that know (Kafka: the partition's
// high watermark minus the next offset).
func (m *SourceMetrics) SetLag(split string, records int64) {
	m.lagMu.Lock()
	defer m.lagMu.Unlock()
	if m.lag == nil {
		m.lag = map[string]int64{}
	}
	m.lag[split] = max(records, 0)
}

// Lag returns a copy of the lag per split; nil when the source reports
// none.
func (m *SourceMetrics) Lag() map[string]int64 {
	m.lagMu.Lock()
	defer m.lagMu.Unlock()
	if m.lag == nil {
		return nil
	}
	out := make(map[string]int64, len(m.lag))
	for k, v := range m.lag {
		out[k] = v
	}
	return out
}

// DefaultBatchSize is the number of rows a source puts in a batch when
// nothing else is asked for.
const DefaultBatchSize = 4096

// SourceConfig is what a connector gets to build a source.
type SourceConfig struct {
	Table   string
	Schema  types.Schema      // the columns to produce, in order
	Options map[string]string // the WITH clause, validated by the planner
	// Metadata holds, for each column of Schema, the metadata key the
	// connector fills it from, or "" for a physical column (decoded from
	// the record). Nil when every column is physical.
	Metadata []string
	// Columns, when not nil, lists (ascending) the columns of Schema the
	// job reads (plan.Source.Columns): a connector may fill the others with
	// NULLs instead of producing them. Nil: every column is read.
	Columns []int
	// BatchSize is the preferred number of rows per batch.
	BatchSize int
	Alloc     memory.Allocator
	Clock     Clock
	Metrics   *SourceMetrics
	// Logger receives the connector's warnings (retries, reconnects).
	Logger *slog.Logger
	// EventTime, when not nil, names the column that holds the rows' event
	// time (see EventTime); nil when the table declares no WATERMARK or its
	// rowtime is a computed column.
	EventTime *EventTime
	// Member, when the job runs on several processes as one consumer
	// group, names the partitions this process reads (see Member); the
	// source then starts each from the group's committed offset (else as
	// its startup mode says) and commits nothing itself. Nil otherwise.
	Member *Member
	// Zone, when not UTC, is the session time zone: a connector that
	// decodes text reads a TIMESTAMP_LTZ value without a zone as the local
	// time there (format.Decoder.SetZone). Nil is UTC.
	Zone *types.Zone
}

// EventTime tells a source which column holds the rows' event time (the
// rowtime column of the table's WATERMARK) and how far ahead of the wall
// clock it may lie. A connector that decodes records treats a record whose
// event time is NULL or missing, or lies more than MaxFuture (when
// positive) after Clock's time when it is read, as malformed: it fails the
// query naming the record's position and the column, or, when the format's
// 'ignore-parse-errors' option is set, skips it and counts it in
// Metrics.Malformed. (As in Flink, a row without an event time cannot be
// placed in time; a row from the far future would push the watermark past
// every row still to come, which would all be dropped as late.)
type EventTime struct {
	Column    int           // index in Schema
	MaxFuture time.Duration // 0: no bound
}

// WithDefaults returns c with its unset fields filled in: the default
// allocator, the system clock, DefaultBatchSize, fresh metrics and a
// discarding logger. The runtime sets them all; connectors call it so that
// they can be built with a partial config in tests and embeddings.
func (c SourceConfig) WithDefaults() SourceConfig {
	if c.Alloc == nil {
		c.Alloc = memory.DefaultAllocator
	}
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Metrics == nil {
		c.Metrics = new(SourceMetrics)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// SinkConfig is what a connector gets to build a sink.
type SinkConfig struct {
	Table   string
	Schema  types.Schema
	Options map[string]string
	// Metadata holds, per column of Schema, the metadata key the sink
	// writes it to (e.g. Kafka's "timestamp"), or ""; nil when none.
	Metadata []string
	Alloc    memory.Allocator
	Clock    Clock
	// JobName names the running job (for file names, transactional ids).
	JobName string
	// Logger receives the connector's warnings (retries, reconnects).
	Logger *slog.Logger
	// AllowRollback is set when the run knowingly starts from older state
	// than the output the sink may have committed already: --allow-rollback,
	// --fresh (or a finished job started over), a savepoint, or a job
	// without checkpoints. A sink that records the newest checkpoint whose
	// output it committed (the Kafka exactly-once sink) refuses to open
	// from an older checkpoint, or fresh, unless it is set: the output
	// committed since would be repeated.
	AllowRollback bool
	// Member, when the job runs on several processes as one consumer
	// group, is this process's membership: the sink commits the input
	// offsets in its transactions under it (see OffsetCommitter). Nil
	// otherwise.
	Member *Member
}

// Connectors builds sources and sinks by connector name. The connectors
// registry implements it; exec never imports a connector.
type Connectors interface {
	NewSource(connector string, cfg SourceConfig) (Source, error)
	NewSink(connector string, cfg SinkConfig) (Sink, error)
}
