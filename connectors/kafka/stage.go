package kafka

// The internal topics of a stateful job on several processes (a keyed
// stage behind a repartition hop, see package engine's distributed
// runtime):
//
//   - the repartition topic: the exactly-once sink of stage 0 writes each
//     row into the partition that owns its key's key group (a partition
//     owns a contiguous range of key groups, state.RangeFor), and, at
//     every checkpoint, a watermark marker into every partition per source
//     partition it owns (a record with the header "streamsql.watermark",
//     key "topic/partition", no value). While every input of stage 0 is
//     idle (the source's 'scan.watermark.idle-timeout'), its markers carry
//     the header "streamsql.idle" too; when an input becomes active again,
//     the sink writes plain markers at once, before its next rows. Stage
//     1's source reads it read_committed: its watermark is, per partition
//     it reads, the minimum over the upstream source partitions that are
//     not idle of the highest marker seen (all idle: the maximum), never
//     going back, and over its partitions the minimum of those; it has none
//     until every upstream partition has sent a marker, idle or not, into
//     every partition it reads. This is the local runtime's idleness rule
//     (package exec's watermark valve) across the hop, except that an
//     upstream partition that wakes up counts at once, holding the
//     watermark where it is until it catches up. Markers are not rows.
//   - the changelog topic (compacted, one partition per repartition
//     partition): the exactly-once sink of stage 1 writes, in the
//     checkpoint's transaction, what its keyed operator wrote to the
//     checkpoint (its changed entries, tombstones for deleted ones), each
//     into the partition that owns the entry's key group. ReadChangelog
//     reads a partition back for a process that takes it over.
//
// The engine sets the options below on the tables it derives for the
// stages; they are not user options.

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/state"
)

// Internal options of the stage tables of a job on several processes.
const (
	// OptRepartitionKeys (sink): the key columns, by index, separated by
	// ';': the sink writes each row into the partition owning its key
	// group, and watermark markers (see OptUpstream).
	OptRepartitionKeys = "streamsql.repartition.keys"
	// OptMaxParallelism (sink): the number of key groups.
	OptMaxParallelism = "streamsql.max-parallelism"
	// OptUpstream: the source topics of stage 0 with their partition
	// counts, "topic:n;topic:n". The stage 0 sink writes markers for the
	// partitions of these topics the process owns; the stage 1 source
	// waits for a marker of every one of them.
	OptUpstream = "streamsql.repartition.upstream"
	// OptChangelogTopic, OptChangelogOperator (sink): the changelog topic
	// of the keyed operator, whose checkpoint writes the sink commits.
	OptChangelogTopic    = "streamsql.changelog.topic"
	OptChangelogOperator = "streamsql.changelog.operator"
	// OptChangelogOwner (sink): the repartition topic: the process owns the
	// changelog partitions of the repartition partitions it owns.
	OptChangelogOwner = "streamsql.changelog.owner"
	// OptChangelogCatalog (sink): the operator's state catalog entry (hex),
	// when the process restored it: written into every changelog partition
	// the process owns, so that each can be restored alone.
	OptChangelogCatalog = "streamsql.changelog.catalog"
)

// markerHeader is the header of a watermark marker record; idleHeader
// marks one from an idle upstream task.
const (
	markerHeader = "streamsql.watermark"
	idleHeader   = "streamsql.idle"
)

// The marks of a repartition partition (split.marks) hold, besides the
// highest marker per upstream partition "topic/partition", an entry
// idlePrefix+"topic/partition" while that upstream partition is idle, and
// the partition's watermark so far under outKey: what the committed
// offset carries, so that a process that takes the partition over goes on
// from the same state. Topic names have neither character.
const (
	idlePrefix = "!"
	outKey     = "~"
)

// catalogKey is the state key of an operator's table catalog (package
// state), the one non-keyed entry the changelog keeps.
var catalogKey = []byte{0x80, 0x00}

// stageSink is what a sink of a stage adds to the kafka sink.
type stageSink struct {
	// Repartition writer.
	hasher   *state.KeyHasher
	hashes   []uint64
	maxP     int
	parts    int      // partitions of the repartition topic
	upstream []string // source topics whose owned partitions get markers
	wm       exec.Watermark
	idle     bool // every input of the stage is idle (IdleSink)
	marked   bool // markers were written in this run

	// Changelog writer.
	changelog   string
	op          string
	owner       string
	clParts     int
	catalog     []byte
	catalogSent map[int32]bool
	pos         *positions // OptChangelogPositions (positions.go)
}

// parseUpstream parses OptUpstream.
func parseUpstream(v string) (map[string]int, error) {
	out := map[string]int{}
	for _, f := range strings.Split(v, ";") {
		t, n, ok := strings.Cut(strings.TrimSpace(f), ":")
		c, err := strconv.Atoi(n)
		if !ok || err != nil || c < 1 || t == "" {
			return nil, fmt.Errorf("invalid %s %q", OptUpstream, v)
		}
		out[t] = c
	}
	return out, nil
}

// newStageSink reads the stage options of a sink, nil when it has none.
func newStageSink(cfg exec.SinkConfig, sconf *sarama.Config) (*stageSink, error) {
	o := cfg.Options
	if o[OptRepartitionKeys] == "" && o[OptChangelogTopic] == "" {
		return nil, nil
	}
	st := &stageSink{wm: exec.MinWatermark, catalogSent: map[int32]bool{}}
	var err error
	if st.maxP, err = strconv.Atoi(o[OptMaxParallelism]); err != nil || st.maxP < 1 {
		return nil, fmt.Errorf("invalid %s %q", OptMaxParallelism, o[OptMaxParallelism])
	}
	if v := o[OptRepartitionKeys]; v != "" {
		var keys []int
		for _, f := range strings.Split(v, ";") {
			k, err := strconv.Atoi(f)
			if err != nil || k < 0 || k >= len(cfg.Schema.Fields) {
				return nil, fmt.Errorf("invalid %s %q", OptRepartitionKeys, v)
			}
			keys = append(keys, k)
		}
		if st.hasher, err = state.NewKeyHasher(cfg.Schema, keys); err != nil {
			return nil, err
		}
		up, err := parseUpstream(o[OptUpstream])
		if err != nil {
			return nil, err
		}
		for t := range up {
			st.upstream = append(st.upstream, t)
		}
		sconf.Producer.Partitioner = sarama.NewManualPartitioner
	}
	if st.changelog = o[OptChangelogTopic]; st.changelog != "" {
		st.op, st.owner = o[OptChangelogOperator], o[OptChangelogOwner]
		if st.op == "" || st.owner == "" {
			return nil, fmt.Errorf("%s needs %s and %s", OptChangelogTopic, OptChangelogOperator, OptChangelogOwner)
		}
		if v := o[OptChangelogCatalog]; v != "" {
			if st.catalog, err = hex.DecodeString(v); err != nil {
				return nil, fmt.Errorf("invalid %s: %w", OptChangelogCatalog, err)
			}
		}
		if v := o[OptChangelogPositions]; v != "" {
			st.pos = &positions{path: v, pending: map[int32]int64{}, committed: map[int32]int64{}, last: map[int32]int64{}}
			// The positions the restore found: the offsets committed before
			// this run's first transaction.
			if prev, err := ReadPositions(v); err == nil && prev.Changelog == st.changelog {
				for p, c := range prev.Partitions {
					if c.Offset >= 0 {
						st.pos.committed[p] = c.Offset
					}
				}
			}
		}
		base, topic := sconf.Producer.Partitioner, st.changelog
		sconf.Producer.Partitioner = func(t string) sarama.Partitioner {
			if t == topic {
				return sarama.NewManualPartitioner(t)
			}
			return base(t)
		}
	}
	return st, nil
}

// open learns the partition counts of the stage's topics.
func (st *stageSink) open(client sarama.Client, topic string) error {
	if st.hasher != nil {
		ps, err := client.Partitions(topic)
		if err != nil {
			return fmt.Errorf("repartition topic %q: %w", topic, err)
		}
		st.parts = len(ps)
	}
	if st.changelog != "" {
		ps, err := client.Partitions(st.changelog)
		if err != nil {
			return fmt.Errorf("changelog topic %q: %w", st.changelog, err)
		}
		st.clParts = len(ps)
	}
	return nil
}

// partitions returns the repartition partition of every row of rec.
func (st *stageSink) partitions(rec arrow.Record) ([]int32, error) {
	n := int(rec.NumRows())
	if cap(st.hashes) < n {
		st.hashes = make([]uint64, n)
	}
	h := st.hashes[:n]
	if err := st.hasher.Hash(rec, h); err != nil {
		return nil, err
	}
	out := make([]int32, n)
	for i, x := range h {
		out[i] = int32(state.SubtaskOf(state.KeyGroupOf(x, st.maxP), st.parts, st.maxP))
	}
	return out, nil
}

// Watermark implements exec.WatermarkSink: a repartition writer keeps its
// input's watermark for the markers of the next checkpoint.
func (s *sink) Watermark(_ context.Context, wm int64) error {
	if s.st != nil {
		s.st.wm = exec.Watermark(wm)
	}
	return nil
}

// send puts one message into the open transaction.
func (s *sink) send(ctx context.Context, msg *sarama.ProducerMessage) error {
	s.mu.Lock()
	s.inflight++
	s.mu.Unlock()
	select {
	case s.producer.Input() <- msg:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
		return ctx.Err()
	}
}

// Idle implements exec.IdleSink: a repartition writer whose inputs all
// went idle marks its next markers idle; one whose input woke up writes
// plain markers at once, so that its readers count it again before they
// read its next rows.
func (s *sink) Idle(ctx context.Context, idle bool) error {
	st := s.st
	if st == nil || st.hasher == nil || idle == st.idle {
		return nil
	}
	st.idle = idle
	if idle {
		return nil
	}
	return s.markers(ctx, true)
}

// writeMarkers writes, at every checkpoint once the input has a
// watermark or is idle, a marker per owned upstream partition into every
// repartition partition (also when it did not move: a reader that starts
// later needs markers after its offset).
func (s *sink) writeMarkers(ctx context.Context) error {
	return s.markers(ctx, false)
}

// markers writes the markers; always also when the input has no
// watermark yet.
func (s *sink) markers(ctx context.Context, always bool) error {
	st, m := s.st, s.cfg.Member
	if st == nil || st.hasher == nil || m == nil || st.wm == exec.MinWatermark && !st.idle && !always {
		return nil
	}
	v := binary.BigEndian.AppendUint64(nil, uint64(st.wm))
	hs := []sarama.RecordHeader{{Key: []byte(markerHeader), Value: v}}
	if st.idle {
		hs = append(hs, sarama.RecordHeader{Key: []byte(idleHeader)})
	}
	for _, t := range st.upstream {
		for _, p := range m.Partitions[t] {
			key := fmt.Appendf(nil, "%s/%d", t, p)
			for q := 0; q < st.parts; q++ {
				msg := &sarama.ProducerMessage{Topic: s.topic, Partition: int32(q), Key: sarama.ByteEncoder(key), Headers: hs}
				if err := s.send(ctx, msg); err != nil {
					return err
				}
			}
		}
	}
	st.marked = true
	return nil
}

// firstMarkers writes, before the first rows of a repartition writer's
// run that has a watermark (one resumed for the source partitions it
// took over), markers for them: a reader that saw their previous owner's
// idle markers counts them again before it reads their rows.
func (s *sink) firstMarkers(ctx context.Context) error {
	if st := s.st; st == nil || st.hasher == nil || st.marked || st.wm == exec.MinWatermark {
		return nil
	}
	return s.markers(ctx, false)
}

// AddState implements exec.StateCommitter: the writes of the changelog's
// operator go into the open transaction, each into the changelog partition
// of its key group; the catalog into every partition the process owns.
// Non-keyed entries (the operator's watermark, counters) are not kept: a
// process that takes a partition over starts them afresh.
func (s *sink) AddState(ctx context.Context, _ int64, op string, each func(fn func(key, value []byte, deleted bool) error) error) error {
	st, m := s.st, s.cfg.Member
	if st == nil || st.changelog == "" || m == nil || op != st.op {
		return nil
	}
	err := each(func(key, value []byte, deleted bool) error {
		if len(key) == 2 && key[0] == catalogKey[0] && key[1] == catalogKey[1] {
			if !deleted {
				st.catalog = append([]byte(nil), value...)
			}
			return nil
		}
		kg, ok := state.KeyGroupPrefix(key)
		if !ok || kg >= st.maxP {
			return nil // non-keyed (0x80…)
		}
		msg := &sarama.ProducerMessage{Topic: st.changelog, Partition: int32(state.SubtaskOf(kg, st.clParts, st.maxP)),
			Key: sarama.ByteEncoder(append([]byte(nil), key...))}
		if !deleted {
			msg.Value = sarama.ByteEncoder(append([]byte(nil), value...))
		}
		return s.send(ctx, msg)
	})
	if err != nil {
		return fmt.Errorf("kafka: table %q: changelog %q: %w", s.cfg.Table, st.changelog, err)
	}
	if st.catalog == nil {
		return nil
	}
	for _, p := range m.Partitions[st.owner] {
		if st.catalogSent[p] || int(p) >= st.clParts {
			continue
		}
		msg := &sarama.ProducerMessage{Topic: st.changelog, Partition: p, Key: sarama.ByteEncoder(catalogKey), Value: sarama.ByteEncoder(st.catalog)}
		if err := s.send(ctx, msg); err != nil {
			return err
		}
		st.catalogSent[p] = true
	}
	return nil
}

var (
	_ exec.StateCommitter = (*sink)(nil)
	_ exec.WatermarkSink  = (*sink)(nil)
	_ exec.IdleSink       = (*sink)(nil)
)

// stageSource is what the source of stage 1 (a repartition topic) adds to
// the kafka source: the upstream partitions whose markers it waits for.
type stageSource struct {
	upstream []string // "topic/partition"
}

func newStageSource(opts map[string]string) (*stageSource, error) {
	v := opts[OptUpstream]
	if v == "" {
		return nil, nil
	}
	up, err := parseUpstream(v)
	if err != nil {
		return nil, err
	}
	st := &stageSource{}
	for t, n := range up {
		for p := 0; p < n; p++ {
			st.upstream = append(st.upstream, fmt.Sprintf("%s/%d", t, p))
		}
	}
	return st, nil
}

// marker reports whether msg is a watermark marker, and records it in
// sp: the upstream partition's highest marker, whether it is idle, and
// the partition's watermark that follows.
func (st *stageSource) marker(sp *split, msg *sarama.ConsumerMessage) bool {
	var wm exec.Watermark
	found, idle := false, false
	for _, h := range msg.Headers {
		switch {
		case h == nil:
		case string(h.Key) == markerHeader && len(h.Value) == 8:
			wm, found = exec.Watermark(binary.BigEndian.Uint64(h.Value)), true
		case string(h.Key) == idleHeader:
			idle = true
		}
	}
	if !found {
		return false
	}
	if sp.marks == nil {
		sp.marks = map[string]exec.Watermark{}
	}
	u := string(msg.Key)
	if old, ok := sp.marks[u]; !ok || wm > old {
		sp.marks[u] = wm
	}
	if idle {
		sp.marks[idlePrefix+u] = wm
	} else {
		delete(sp.marks, idlePrefix+u)
	}
	if out, ok := st.watermark(sp); ok {
		sp.marks[outKey] = out
	}
	return true
}

// watermark returns the watermark of partition sp: the minimum over the
// upstream partitions that are not idle of their highest marker, or, when
// all are idle, the maximum over them; never below what it was. Not ok
// until every upstream partition has sent a marker into it.
func (st *stageSource) watermark(sp *split) (exec.Watermark, bool) {
	lo, hi := exec.MaxWatermark, exec.MinWatermark
	active := false
	for _, u := range st.upstream {
		m, ok := sp.marks[u]
		if !ok {
			return 0, false
		}
		hi = max(hi, m)
		if _, idle := sp.marks[idlePrefix+u]; !idle {
			lo, active = min(lo, m), true
		}
	}
	wm := hi
	if active {
		wm = lo
	}
	if out, ok := sp.marks[outKey]; ok {
		wm = max(wm, out)
	}
	return wm, true
}

// Watermark implements exec.WatermarkReporter for the source of stage 1:
// the minimum over its partitions of their watermark (stageSource's
// watermark); not ok until every partition has a marker from every
// upstream partition.
func (s *source) Watermark() (exec.Watermark, bool) {
	if s.stage == nil || len(s.splits) == 0 {
		return 0, false
	}
	wm := exec.MaxWatermark
	for _, sp := range s.splits {
		m, ok := s.stage.watermark(sp)
		if !ok {
			return 0, false
		}
		wm = min(wm, m)
	}
	return wm, true
}

// EnsureTopic creates topic with partitions partitions on the brokers of
// a kafka table's options (compacted when compact is set), or checks that
// it exists with that many: a topic of another partition count is
// refused, since its partitions own other key groups.
func EnsureTopic(opts map[string]string, topic string, partitions int, compact bool) error {
	brokers, sc, err := GroupConfig(opts)
	if err != nil {
		return err
	}
	c := *sc
	c.Metadata.Full = true // the admin refreshes all
	client, err := sarama.NewClient(brokers, &c)
	if err != nil {
		return fmt.Errorf("kafka: internal topic %q: %w", topic, err)
	}
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		return fmt.Errorf("kafka: internal topic %q: %w", topic, err)
	}
	detail := &sarama.TopicDetail{NumPartitions: int32(partitions), ReplicationFactor: -1}
	if compact {
		policy := "compact"
		detail.ConfigEntries = map[string]*string{"cleanup.policy": &policy}
	}
	err = admin.CreateTopic(topic, detail, false)
	if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		var te *sarama.TopicError
		if !errors.As(err, &te) || te.Err != sarama.ErrTopicAlreadyExists {
			return fmt.Errorf("kafka: create internal topic %q: %w", topic, err)
		}
	}
	var ps []int32
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err = client.RefreshMetadata(topic); err == nil {
			if ps, err = client.Partitions(topic); err == nil && len(ps) > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kafka: internal topic %q: %w", topic, err)
		}
	}
	if len(ps) != partitions {
		return fmt.Errorf("kafka: internal topic %q exists with %d partitions, not %d: delete it, or give the job another 'pipeline.name'", topic, len(ps), partitions)
	}
	return nil
}

// PartitionCount returns how many partitions topic has.
func PartitionCount(opts map[string]string, topic string) (int, error) {
	brokers, sc, err := GroupConfig(opts)
	if err != nil {
		return 0, err
	}
	client, err := sarama.NewClient(brokers, sc)
	if err != nil {
		return 0, fmt.Errorf("kafka: topic %q: %w", topic, err)
	}
	defer client.Close()
	ps, err := client.Partitions(topic)
	if err != nil {
		return 0, fmt.Errorf("kafka: topic %q: %w", topic, err)
	}
	return len(ps), nil
}

// ReadChangelog reads partition p of a changelog topic read_committed from
// its start to its end, as it stands once no transaction that commits the
// offsets of partition p of owner (the repartition topic) for group is
// open, and calls fn with every entry's key and value (nil: deleted), in
// order. It returns the number of records read.
func ReadChangelog(ctx context.Context, opts map[string]string, group, owner, topic string, p int32, fn func(key, value []byte) error) (int64, error) {
	brokers, sc, err := GroupConfig(opts)
	if err != nil {
		return 0, err
	}
	c := *sc
	c.Consumer.IsolationLevel = sarama.ReadCommitted
	c.Consumer.Return.Errors = true
	c.Consumer.MaxWaitTime = 50 * time.Millisecond
	client, err := newClientRetry(ctx, brokers, &c)
	if err != nil {
		return 0, fmt.Errorf("kafka: changelog %q: %w", topic, err)
	}
	defer client.Close()
	// Until the owner partition's offsets are stable, a transaction that
	// wrote into the changelog may still commit.
	src := &source{client: client, sconf: &c, conf: config{groupID: group}, log: slog.New(slog.DiscardHandler)}
	if _, _, err := src.stableOffset(topicPartition{owner, p}); err != nil {
		return 0, fmt.Errorf("kafka: changelog %q: offsets of %s/%d: %w", topic, owner, p, err)
	}
	end, err := stableEnd(client, &c, topic, p)
	if err != nil {
		return 0, fmt.Errorf("kafka: changelog %q partition %d: %w", topic, p, err)
	}
	start, err := client.GetOffset(topic, p, sarama.OffsetOldest)
	if err != nil {
		return 0, fmt.Errorf("kafka: changelog %q partition %d: %w", topic, p, err)
	}
	if end <= start {
		return 0, nil
	}
	return readCommitted(ctx, client, topic, p, start, end, fn)
}

// readCommitted calls fn for every committed record of topic/p in
// [start, end), end a last stable offset: every transaction below it has
// ended. It fetches the partition itself rather than through a
// PartitionConsumer because it must know when its position reaches end,
// and a consumer tells only the records it delivers: after the last
// committed record may come aborted ones and transaction markers, which
// it skips without a word (waiting for a quiet spell instead cut a
// restore short when a fetch was slow: state lost). Aborted records are
// dropped as a read_committed consumer does (the fetch response lists the
// aborted transactions; each ends at its producer's abort marker).
func readCommitted(ctx context.Context, client sarama.Client, topic string, p int32, start, end int64, fn func(key, value []byte) error) (int64, error) {
	var n int64
	maxBytes := int32(1 << 20)
	retries := 0
	for off := start; off < end; {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		block, err := fetchBlock(client, topic, p, off, maxBytes)
		if err != nil {
			// A moved leader, a dropped connection: refresh and retry a few
			// times, then fail (the restore fails: nothing is half-read
			// silently).
			if retries++; retries > 5 {
				return n, fmt.Errorf("kafka: changelog %q partition %d at offset %d: %w", topic, p, off, err)
			}
			_ = client.RefreshMetadata(topic)
			time.Sleep(time.Duration(retries) * 100 * time.Millisecond)
			continue
		}
		retries = 0
		aborted := slices.Clone(block.AbortedTransactions)
		slices.SortFunc(aborted, func(a, b *sarama.AbortedTransaction) int { return cmp.Compare(a.FirstOffset, b.FirstOffset) })
		abortedPID := map[int64]bool{}
		next := off
		for _, rs := range block.RecordsSet {
			b := rs.RecordBatch
			if b == nil {
				return n, fmt.Errorf("kafka: changelog %q partition %d: a record set of the old message format", topic, p)
			}
			if b.PartialTrailingRecord {
				break
			}
			for len(aborted) > 0 && aborted[0].FirstOffset <= b.LastOffset() {
				abortedPID[aborted[0].ProducerID] = true
				aborted = aborted[1:]
			}
			switch {
			case b.Control:
				// A transaction marker: an abort ends its producer's
				// aborted transaction (key: version, then type 0 = abort).
				if len(b.Records) > 0 && len(b.Records[0].Key) >= 4 && binary.BigEndian.Uint16(b.Records[0].Key[2:4]) == 0 {
					delete(abortedPID, b.ProducerID)
				}
			case b.IsTransactional && abortedPID[b.ProducerID]:
			default:
				for _, r := range b.Records {
					if o := b.FirstOffset + r.OffsetDelta; o >= off && o < end {
						n++
						if err := fn(r.Key, r.Value); err != nil {
							return n, err
						}
					}
				}
			}
			next = max(next, b.LastOffset()+1)
		}
		if next == off {
			if len(block.RecordsSet) == 0 && !block.Partial {
				// Nothing at or after off below the stable end: the rest
				// was compacted away (an offset gap at the log's end).
				break
			}
			// Nothing whole came back: a batch larger than maxBytes.
			if maxBytes >= 1<<30 {
				return n, fmt.Errorf("kafka: changelog %q partition %d at offset %d: no record batch fits in %d bytes", topic, p, off, maxBytes)
			}
			maxBytes *= 2
			continue
		}
		off = next
	}
	return n, nil
}

// fetchBlock fetches topic/p from offset read_committed, from the
// partition's leader.
func fetchBlock(client sarama.Client, topic string, p int32, offset int64, maxBytes int32) (*sarama.FetchResponseBlock, error) {
	broker, err := client.Leader(topic, p)
	if err != nil {
		return nil, err
	}
	// The version sarama's consumer would use (4: the first with the
	// isolation level and the aborted transactions).
	var version int16 = 4
	switch v := client.Config().Version; {
	case v.IsAtLeast(sarama.V2_7_0_0):
		version = 12
	case v.IsAtLeast(sarama.V2_3_0_0):
		version = 11
	case v.IsAtLeast(sarama.V2_1_0_0):
		version = 10
	}
	// The response's limit above the partition's, as sarama's consumer
	// asks: a broker that stops at the response's limit may leave the
	// aborted transactions out (kfake does).
	req := &sarama.FetchRequest{Version: version, MaxWaitTime: 100, MinBytes: 1, MaxBytes: max(maxBytes, sarama.MaxResponseSize), Isolation: sarama.ReadCommitted}
	if version >= 7 {
		req.SessionEpoch = -1 // a full fetch, no fetch session
	}
	req.AddBlock(topic, p, offset, maxBytes, -1)
	resp, err := broker.Fetch(req)
	if err != nil {
		return nil, err
	}
	block := resp.GetBlock(topic, p)
	if block == nil {
		return nil, sarama.ErrIncompleteResponse
	}
	if block.Err != sarama.ErrNoError {
		return nil, block.Err
	}
	return block, nil
}

// stableEnd is the last stable offset of partition p of topic: the end of
// what a read_committed reader can read now.
func stableEnd(client sarama.Client, c *sarama.Config, topic string, p int32) (int64, error) {
	broker, err := client.Leader(topic, p)
	if err != nil {
		return 0, err
	}
	req := sarama.NewOffsetRequest(c.Version)
	req.IsolationLevel = sarama.ReadCommitted
	req.AddBlock(topic, p, sarama.OffsetNewest, 1)
	resp, err := broker.GetAvailableOffsets(req)
	if err != nil {
		return 0, err
	}
	b := resp.GetBlock(topic, p)
	if b == nil {
		return 0, sarama.ErrIncompleteResponse
	}
	if b.Err != sarama.ErrNoError {
		return 0, b.Err
	}
	if req.Version >= 1 {
		return b.Offset, nil
	}
	if len(b.Offsets) != 1 {
		return 0, sarama.ErrIncompleteResponse
	}
	return b.Offsets[0], nil
}

// marksState is a split's markers as upsert offset state: the offset of a
// repartition topic's partition carries the markers read up to it, which
// the group's committed offset keeps (encodeMarks) for the next reader.
func marksState(marks map[string]exec.Watermark) map[string][]byte {
	out := make(map[string][]byte, len(marks))
	for k, wm := range marks {
		out[k] = binary.BigEndian.AppendUint64(nil, uint64(wm))
	}
	return out
}

// marksPrefix starts the metadata of a repartition partition's committed
// offset.
const marksPrefix = "streamsql-wm1:"

// encodeMarks encodes markers (marksState) as committed offset metadata:
// "topic/partition=hex(watermark)" separated by ','.
func encodeMarks(marks map[string][]byte) string {
	keys := make([]string, 0, len(marks))
	for k := range marks {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(marksPrefix)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(hex.EncodeToString(marks[k]))
	}
	return b.String()
}

// decodeMarks decodes encodeMarks's metadata; other metadata (none) gives
// no markers.
func decodeMarks(meta string) (map[string]exec.Watermark, error) {
	rest, ok := strings.CutPrefix(meta, marksPrefix)
	if !ok {
		return nil, nil
	}
	out := map[string]exec.Watermark{}
	for _, f := range strings.Split(rest, ",") {
		if f == "" {
			continue
		}
		k, v, ok := strings.Cut(f, "=")
		b, err := hex.DecodeString(v)
		if !ok || err != nil || len(b) != 8 {
			return nil, fmt.Errorf("invalid watermark marker %q", f)
		}
		out[k] = exec.Watermark(binary.BigEndian.Uint64(b))
	}
	return out, nil
}

// splitWatermarkPrefix starts the metadata of a source partition's
// offset committed by a job on several processes: the partition's
// watermark then (exec.WatermarkCommitter), as 16 hex digits.
const splitWatermarkPrefix = "streamsql-swm1:"

// encodeSplitWatermark encodes a source partition's watermark as
// committed offset metadata.
func encodeSplitWatermark(wm exec.Watermark) string {
	return splitWatermarkPrefix + hex.EncodeToString(binary.BigEndian.AppendUint64(nil, uint64(wm)))
}

// decodeSplitWatermark decodes encodeSplitWatermark's metadata; other
// metadata gives none (ok false).
func decodeSplitWatermark(meta string) (wm exec.Watermark, ok bool, err error) {
	rest, ok := strings.CutPrefix(meta, splitWatermarkPrefix)
	if !ok {
		return 0, false, nil
	}
	b, err := hex.DecodeString(rest)
	if err != nil || len(b) != 8 {
		return 0, false, fmt.Errorf("invalid partition watermark %q", meta)
	}
	return exec.Watermark(binary.BigEndian.Uint64(b)), true, nil
}

// ClientOptions returns the options of a kafka table that say how to
// reach its brokers ('properties.bootstrap.servers' and the client
// properties that apply to a source, or with sink to a sink), for the
// internal tables derived from it.
func ClientOptions(opts map[string]string, sink bool) map[string]string {
	out := map[string]string{}
	for k, v := range opts {
		if k == optBootstrap {
			out[k] = v
			continue
		}
		name, ok := strings.CutPrefix(k, optProperties)
		if !ok || name == "group.id" || name == "isolation.level" {
			continue
		}
		if p, ok := findProperty(name); ok && (sink && p.sink || !sink && p.source) {
			out[k] = v
		}
	}
	return out
}
