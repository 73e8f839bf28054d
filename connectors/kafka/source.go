package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/exec"
)

const (
	// idleWait is how long Read waits for a message before returning
	// nothing, so the runtime can inject barriers.
	idleWait = 100 * time.Millisecond
	// stuckAfter is how long a partition may keep failing (broker gone,
	// leader unavailable) before the source gives up with its last error;
	// until then sarama retries with backoff and the errors are logged.
	stuckAfter = 60 * time.Second
)

// split is one topic partition being read.
type split struct {
	topic     string
	partition int32
	name      string // "topic/partition", its split name
	next      int64  // offset after the last message in a returned batch
	pc        sarama.PartitionConsumer
	pending   *sarama.ConsumerMessage // received by the idle wait, not yet decoded
	// state is upsert-kafka's last value per record key of the partition
	// (checkpointed with next, see appendUpsertOffset); nil otherwise.
	state map[string][]byte
	// marks are the highest watermark marker seen per upstream partition
	// (a repartition topic's partition, see stage.go); nil otherwise.
	marks map[string]exec.Watermark

	failingSince time.Time // first error of the current run of errors
	lastErr      error
	lastLog      time.Time
}

// source reads the partitions of one or more topics. Read, Offsets and
// CheckpointComplete are called from one goroutine; a discovery goroutine
// only sends partition lists over a channel.
type source struct {
	cfg     exec.SourceConfig
	conf    config
	sconf   *sarama.Config
	rb      *rowBuilder
	batch   int
	metrics *exec.SourceMetrics
	log     *slog.Logger
	pattern *regexp.Regexp

	client   sarama.Client
	consumer sarama.Consumer
	splits   []*split
	index    map[topicPartition]int
	rr       int          // the split Read looks at first
	ignore   bool         // skip malformed records ('<format>.ignore-parse-errors')
	upsert   bool         // upsert-kafka: records are a changelog by key (see upsertAdd)
	stage    *stageSource // a repartition topic's reader (stage.go); nil otherwise
	// taken are the watermarks of the member's splits, by split number,
	// committed with their offsets by the process that read them before.
	taken map[int]exec.Watermark
	buf   []byte

	cases      []reflect.SelectCase // for the idle wait; rebuilt when splits change
	discovered chan []topicPartition
	stop       chan struct{}
	wg         sync.WaitGroup
}

var (
	_ exec.Source             = (*source)(nil)
	_ exec.SplitReporter      = (*source)(nil)
	_ exec.CheckpointListener = (*source)(nil)
)

type topicPartition struct {
	topic     string
	partition int32
}

func compilePattern(p string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + p + ")$")
}

func newSource(cfg exec.SourceConfig) (*source, error) {
	cfg = cfg.WithDefaults()
	conf, err := parseConfig(cfg.Options, cfg.Schema, false)
	if err != nil {
		return nil, fmt.Errorf("kafka: table %q: %w", cfg.Table, err)
	}
	sconf, err := saramaConfig(cfg.Options, false)
	if err != nil {
		return nil, fmt.Errorf("kafka: table %q: %w", cfg.Table, err)
	}
	s := &source{cfg: cfg, conf: conf, sconf: sconf, batch: cfg.BatchSize, metrics: cfg.Metrics,
		log: cfg.Logger.With("connector", "kafka", "table", cfg.Table), index: map[topicPartition]int{}}

	if cfg.Member != nil {
		s.conf.groupID = cfg.Member.Group // the job's group, whose offsets count
	}
	if s.stage, err = newStageSource(cfg.Options); err != nil {
		return nil, fmt.Errorf("kafka: table %q: %w", cfg.Table, err)
	}
	s.ignore, _ = boolOpt(cfg.Options, conf.formats.value+".ignore-parse-errors", false)
	if conf.pattern != "" {
		s.pattern, _ = compilePattern(conf.pattern)
	}
	if s.rb, err = newRowBuilder(cfg.Schema, cfg.Metadata, conf.formats, cfg.Alloc, cfg.EventTime, cfg.Clock); err != nil {
		return nil, fmt.Errorf("kafka: table %q: %w", cfg.Table, err)
	}
	s.rb.setZone(cfg.Zone)
	return s, nil
}

// Splits implements exec.SplitReporter.
func (s *source) Splits() int { return len(s.splits) }

// SplitName implements exec.SplitReporter: "topic/partition".
func (s *source) SplitName(i int) string { return s.splits[i].name }

// Open implements exec.Source. Offsets from a checkpoint win over the
// startup mode and the group's offsets; partitions they do not name
// (created since) start from the earliest offset. The restored partitions
// keep their split numbers.
func (s *source) Open(ctx context.Context, offsets map[string][]byte) error {
	restored, err := restoredOffsets(offsets)
	if err != nil {
		return fmt.Errorf("kafka: table %q: invalid checkpointed offset: %w", s.cfg.Table, err)
	}
	var states map[topicPartition]map[string][]byte
	if s.upsert {
		if states, err = restoredStates(offsets); err != nil {
			return fmt.Errorf("kafka: table %q: invalid checkpointed upsert state: %w", s.cfg.Table, err)
		}
	}
	client, err := newClientRetry(ctx, s.conf.brokers, s.sconf)
	if err != nil {
		return fmt.Errorf("kafka: table %q: cannot connect to %v: %w", s.cfg.Table, s.conf.brokers, err)
	}
	s.client = client
	if s.consumer, err = sarama.NewConsumerFromClient(client); err != nil {
		return fmt.Errorf("kafka: table %q: %w", s.cfg.Table, err)
	}
	current, err := s.listPartitions()
	if err != nil {
		return err
	}
	if s.cfg.Member != nil {
		return s.openMember(current)
	}
	if len(offsets) > 0 {
		for _, po := range restored {
			if err := s.startSplit(po.topic, po.partition, po.offset); err != nil {
				return err
			}
			if s.upsert {
				s.splits[len(s.splits)-1].state = states[topicPartition{po.topic, po.partition}]
			}
		}
		if err := s.addDiscovered(current); err != nil {
			return err
		}
	} else {
		for _, tp := range current {
			off, err := s.startOffset(tp)
			if err != nil {
				return err
			}
			if err := s.startSplit(tp.topic, tp.partition, off); err != nil {
				return err
			}
		}
	}
	if s.conf.discovery > 0 {
		s.discovered = make(chan []topicPartition, 1)
		s.stop = make(chan struct{})
		s.wg.Add(1)
		go s.discover(time.Duration(s.conf.discovery) * time.Millisecond)
	}
	return nil
}

// listPartitions returns the partitions of the table's topics, sorted by
// topic, then partition.
func (s *source) listPartitions() ([]topicPartition, error) {
	var names []string
	if s.pattern != nil {
		if err := s.client.RefreshMetadata(); err != nil {
			return nil, fmt.Errorf("kafka: table %q: metadata: %w", s.cfg.Table, err)
		}
		all, err := s.client.Topics()
		if err != nil {
			return nil, fmt.Errorf("kafka: table %q: metadata: %w", s.cfg.Table, err)
		}
		for _, t := range all {
			if s.pattern.MatchString(t) {
				names = append(names, t)
			}
		}
	} else {
		names = s.conf.topics
		if err := s.client.RefreshMetadata(names...); err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			return nil, fmt.Errorf("kafka: table %q: metadata: %w", s.cfg.Table, err)
		}
	}
	var out []topicPartition
	for _, t := range names {
		ps, err := s.client.Partitions(t)
		if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			return nil, fmt.Errorf("kafka: table %q: topic %q does not exist on %v", s.cfg.Table, t, s.conf.brokers)
		}
		if err != nil {
			return nil, fmt.Errorf("kafka: table %q: topic %q: %w", s.cfg.Table, t, err)
		}
		for _, p := range ps {
			out = append(out, topicPartition{t, p})
		}
	}
	slices.SortFunc(out, func(a, b topicPartition) int {
		return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})
	return out, nil
}

// startOffset resolves the startup mode to a concrete offset of tp.
func (s *source) startOffset(tp topicPartition) (int64, error) {
	get := func(at int64) (int64, error) {
		off, err := s.client.GetOffset(tp.topic, tp.partition, at)
		if err != nil {
			return 0, fmt.Errorf("kafka: table %q: topic %q partition %d: list offsets: %w", s.cfg.Table, tp.topic, tp.partition, err)
		}
		return off, nil
	}
	switch s.conf.startup {
	case startEarliest:
		return get(sarama.OffsetOldest)
	case startLatest:
		return get(sarama.OffsetNewest)
	case startTime:
		off, err := get(s.conf.startTS)
		if err == nil && off < 0 {
			return get(sarama.OffsetNewest)
		}
		return off, err
	case startSpecific:
		if off, ok := s.conf.specific[tp.partition]; ok {
			return off, nil
		}
		return get(sarama.OffsetOldest)
	case startGroup:
		off, err := s.committedOffset(tp)
		if err != nil {
			return 0, err
		}
		if off >= 0 {
			return off, nil
		}
		switch s.conf.resetTo {
		case "earliest":
			return get(sarama.OffsetOldest)
		case "none":
			return 0, fmt.Errorf("kafka: table %q: group %q has no committed offset for topic %q partition %d and 'properties.auto.offset.reset' is 'none'", s.cfg.Table, s.conf.groupID, tp.topic, tp.partition)
		}
		return get(sarama.OffsetNewest)
	}
	return 0, fmt.Errorf("kafka: unknown startup mode %q", s.conf.startup)
}

// committedOffset returns the group's committed offset of tp, or -1.
func (s *source) committedOffset(tp topicPartition) (int64, error) {
	return s.fetchOffset(tp, false)
}

// fetchOffset returns the group's committed offset of tp, or -1. With
// stable, the broker answers UNSTABLE_OFFSET_COMMIT (returned as such)
// while a transaction that commits an offset of tp is open (KIP-447).
func (s *source) fetchOffset(tp topicPartition, stable bool) (int64, error) {
	off, _, err := s.fetchOffsetMeta(tp, stable)
	return off, err
}

// fetchOffsetMeta is fetchOffset, with the metadata committed with the
// offset.
func (s *source) fetchOffsetMeta(tp topicPartition, stable bool) (int64, string, error) {
	coord, err := s.client.Coordinator(s.conf.groupID)
	if err != nil {
		return 0, "", fmt.Errorf("kafka: table %q: coordinator of group %q: %w", s.cfg.Table, s.conf.groupID, err)
	}
	req := sarama.NewOffsetFetchRequest(s.sconf.Version, s.conf.groupID, map[string][]int32{tp.topic: {tp.partition}})
	req.RequireStable = stable
	resp, err := coord.FetchOffset(req)
	if err != nil {
		return 0, "", fmt.Errorf("kafka: table %q: offsets of group %q: %w", s.cfg.Table, s.conf.groupID, err)
	}
	if resp.Err == sarama.ErrGroupIDNotFound {
		return -1, "", nil // a group that never committed (kfake's answer)
	}
	if resp.Err == sarama.ErrUnstableOffsetCommit || resp.Err == sarama.ErrNotCoordinatorForConsumer || resp.Err == sarama.ErrOffsetsLoadInProgress {
		_ = s.client.RefreshCoordinator(s.conf.groupID)
		return 0, "", resp.Err
	}
	if resp.Err != sarama.ErrNoError {
		return 0, "", fmt.Errorf("kafka: table %q: offsets of group %q: %w", s.cfg.Table, s.conf.groupID, resp.Err)
	}
	b := resp.GetBlock(tp.topic, tp.partition)
	if b == nil {
		return -1, "", nil
	}
	if b.Err == sarama.ErrUnstableOffsetCommit {
		return 0, "", b.Err
	}
	if b.Err != sarama.ErrNoError && b.Err != sarama.ErrGroupIDNotFound {
		return 0, "", fmt.Errorf("kafka: table %q: offset of group %q for topic %q partition %d: %w", s.cfg.Table, s.conf.groupID, tp.topic, tp.partition, b.Err)
	}
	return b.Offset, b.Metadata, nil
}

func (s *source) startSplit(topic string, partition int32, offset int64) error {
	pc, err := s.consumer.ConsumePartition(topic, partition, offset)
	if err != nil {
		if errors.Is(err, sarama.ErrOffsetOutOfRange) {
			return fmt.Errorf("kafka: table %q: topic %q partition %d: offset %d is out of range (deleted by retention, or beyond the end)", s.cfg.Table, topic, partition, offset)
		}
		if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			return fmt.Errorf("kafka: table %q: topic %q partition %d does not exist on %v", s.cfg.Table, topic, partition, s.conf.brokers)
		}
		return fmt.Errorf("kafka: table %q: topic %q partition %d: %w", s.cfg.Table, topic, partition, err)
	}
	s.index[topicPartition{topic, partition}] = len(s.splits)
	s.splits = append(s.splits, &split{topic: topic, partition: partition, name: splitName(topic, partition), next: offset, pc: pc})
	s.cases = nil
	return nil
}

// addDiscovered starts the partitions of list that are not read yet, from
// their earliest offset, as new splits at the end.
func (s *source) addDiscovered(list []topicPartition) error {
	for _, tp := range list {
		if _, ok := s.index[tp]; ok {
			continue
		}
		off, err := s.client.GetOffset(tp.topic, tp.partition, sarama.OffsetOldest)
		if err != nil {
			return fmt.Errorf("kafka: table %q: topic %q partition %d: list offsets: %w", s.cfg.Table, tp.topic, tp.partition, err)
		}
		s.log.Info("new partition", "topic", tp.topic, "partition", tp.partition, "split", len(s.splits), "offset", off)
		if err := s.startSplit(tp.topic, tp.partition, off); err != nil {
			return err
		}
	}
	return nil
}

// discover lists the partitions every interval and hands the list to
// Read. It never touches the splits.
func (s *source) discover(interval time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		list, err := s.listPartitions()
		if err != nil {
			s.log.Warn("partition discovery failed", "err", err)
			continue
		}
		select {
		case <-s.discovered: // replace a list Read has not taken
		default:
		}
		s.discovered <- list
	}
}

// Read implements exec.Source: a batch of messages of one partition.
func (s *source) Read(ctx context.Context) (arrow.Record, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if s.discovered != nil {
		select {
		case list := <-s.discovered:
			if err := s.addDiscovered(list); err != nil {
				return nil, 0, err
			}
		default:
		}
	}
	if err := s.checkErrors(); err != nil {
		return nil, 0, err
	}
	for attempt := 0; attempt < 2; attempt++ {
		for i := range s.splits {
			idx := (s.rr + i) % len(s.splits)
			rec, err := s.fill(idx)
			if err != nil {
				return nil, 0, err
			}
			if rec != nil {
				s.rr = idx + 1
				return rec, idx, nil
			}
		}
		if attempt == 0 && !s.wait(ctx) {
			break
		}
	}
	return nil, 0, nil
}

// fill decodes the messages of split idx that are available now, up to a
// batch, and returns them (nil if none made a row).
func (s *source) fill(idx int) (arrow.Record, error) {
	sp := s.splits[idx]
	var bytes int64
	n := 0
	for n < s.batch {
		var msg *sarama.ConsumerMessage
		if sp.pending != nil {
			msg, sp.pending = sp.pending, nil
		} else {
			select {
			case m, ok := <-sp.pc.Messages():
				if !ok {
					return nil, fmt.Errorf("kafka: table %q: topic %q partition %d: the partition consumer stopped: %v", s.cfg.Table, sp.topic, sp.partition, sp.lastErr)
				}
				msg = m
			default:
			}
		}
		if msg == nil {
			break
		}
		n++
		sp.next = msg.Offset + 1
		sp.failingSince = time.Time{}
		bytes += int64(len(msg.Value) + len(msg.Key))
		var err error
		if s.stage != nil && s.stage.marker(sp, msg) {
			continue
		}
		switch {
		case s.upsert:
			err = s.upsertAdd(sp, msg)
		case msg.Value == nil && s.conf.formats.value != formatRaw:
			continue // a tombstone: no row
		default:
			err = s.rb.add(msg)
		}
		if err != nil {
			if s.ignoreErrors() {
				s.metrics.Malformed.Add(1)
				continue
			}
			return nil, fmt.Errorf("kafka: table %q: malformed record at topic %q partition %d offset %d: %w", s.cfg.Table, msg.Topic, msg.Partition, msg.Offset, err)
		}
	}
	s.metrics.Bytes.Add(bytes)
	if hw := sp.pc.HighWaterMarkOffset(); hw > 0 {
		lag := hw - sp.next
		if s.stage != nil {
			// A repartition topic is transactional: the commit marker of
			// the last transaction read is no record to read.
			lag--
		}
		s.metrics.SetLag(sp.name, lag)
	}
	if s.rb.rows == 0 {
		return nil, nil
	}
	rec, err := s.rb.record(s.cfg.Alloc)
	if err != nil {
		return nil, err
	}
	s.metrics.Records.Add(rec.NumRows())
	return rec, nil
}

func (s *source) ignoreErrors() bool { return s.ignore }

// wait blocks until a message arrives (kept as its split's pending one),
// ctx is done, or idleWait passes. It reports whether a message came.
func (s *source) wait(ctx context.Context) bool {
	if len(s.cases) != len(s.splits)+2 {
		s.cases = s.cases[:0]
		for _, sp := range s.splits {
			s.cases = append(s.cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(sp.pc.Messages())})
		}
		s.cases = append(s.cases, reflect.SelectCase{Dir: reflect.SelectRecv}, reflect.SelectCase{Dir: reflect.SelectRecv})
	}
	t := time.NewTimer(idleWait)
	defer t.Stop()
	n := len(s.splits)
	s.cases[n].Chan = reflect.ValueOf(ctx.Done())
	s.cases[n+1].Chan = reflect.ValueOf(t.C)
	i, v, ok := reflect.Select(s.cases)
	if i >= n {
		return false
	}
	if !ok {
		return true // closed: fill reports it
	}
	s.splits[i].pending = v.Interface().(*sarama.ConsumerMessage)
	return true
}

// checkErrors drains the partition consumers' errors: sarama retries a
// broker that went away by itself; the errors are logged, and a partition
// that keeps failing for stuckAfter fails the source.
func (s *source) checkErrors() error {
	now := time.Now()
	for _, sp := range s.splits {
		for {
			var perr *sarama.ConsumerError
			select {
			case perr = <-sp.pc.Errors():
			default:
			}
			if perr == nil {
				break
			}
			if errors.Is(perr.Err, sarama.ErrOffsetOutOfRange) {
				return fmt.Errorf("kafka: table %q: topic %q partition %d: offset %d is out of range (deleted by retention?): %w", s.cfg.Table, sp.topic, sp.partition, sp.next, perr.Err)
			}
			if sp.failingSince.IsZero() {
				sp.failingSince = now
			}
			sp.lastErr = perr.Err
			if now.Sub(sp.lastLog) > 5*time.Second {
				sp.lastLog = now
				s.log.Warn("kafka partition failing, retrying", "topic", sp.topic, "partition", sp.partition, "err", perr.Err)
			}
		}
		if !sp.failingSince.IsZero() && now.Sub(sp.failingSince) > stuckAfter {
			return fmt.Errorf("kafka: table %q: topic %q partition %d: no progress for %v, last error: %w", s.cfg.Table, sp.topic, sp.partition, stuckAfter, sp.lastErr)
		}
	}
	return nil
}

// Offsets implements exec.Source: every partition's next offset, under
// its split name, with its split number.
func (s *source) Offsets(fn func(split string, offset []byte) error) error {
	for i, sp := range s.splits {
		if s.stage != nil {
			s.buf = appendUpsertOffset(s.buf[:0], i, sp.next, marksState(sp.marks))
		} else if s.upsert {
			s.buf = appendUpsertOffset(s.buf[:0], i, sp.next, sp.state)
		} else {
			s.buf = appendSplitOffset(s.buf[:0], i, sp.next)
		}
		if err := fn(sp.name, s.buf); err != nil {
			return err
		}
	}
	return nil
}

// CheckpointComplete implements exec.CheckpointListener: it commits the
// checkpoint's offsets to the consumer group, for lag tools only.
func (s *source) CheckpointComplete(_ context.Context, _ int64, offsets map[string][]byte) error {
	if s.conf.groupID == "" || !s.conf.commitCP || s.client == nil || s.cfg.Member != nil {
		return nil
	}
	pos, err := restoredOffsets(offsets)
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	return commitGroupOffsets(s.client, s.sconf, s.conf.groupID, pos)
}

// commitGroupOffsets commits pos to group as a standalone (generation -1)
// commit, which also creates the group.
func commitGroupOffsets(client sarama.Client, conf *sarama.Config, group string, pos []partitionOffset) error {
	coord, err := client.Coordinator(group)
	if err != nil {
		return fmt.Errorf("kafka: coordinator of group %q: %w", group, err)
	}
	req := sarama.NewOffsetCommitRequest(conf, group)
	for _, p := range pos {
		req.AddBlock(p.topic, p.partition, p.offset, 0, "")
	}
	resp, err := coord.CommitOffset(req)
	if err != nil {
		_ = client.RefreshCoordinator(group)
		return fmt.Errorf("kafka: commit offsets of group %q: %w", group, err)
	}
	for t, ps := range resp.Errors {
		for p, kerr := range ps {
			if kerr != sarama.ErrNoError {
				return fmt.Errorf("kafka: commit offsets of group %q: topic %q partition %d: %w", group, t, p, kerr)
			}
		}
	}
	return nil
}

// Close implements exec.Source.
func (s *source) Close() error {
	if s.stop != nil {
		close(s.stop)
		s.wg.Wait()
		s.stop = nil
	}
	var errs []error
	var wg sync.WaitGroup
	for _, sp := range s.splits {
		sp.pc.AsyncClose()
		wg.Go(func() {
			for range sp.pc.Messages() {
			}
		})
		wg.Go(func() {
			for range sp.pc.Errors() {
			}
		})
	}
	wg.Wait()
	if s.consumer != nil {
		errs = append(errs, s.consumer.Close())
	}
	if s.client != nil {
		errs = append(errs, s.client.Close())
	}
	s.splits, s.consumer, s.client = nil, nil, nil
	if s.rb != nil {
		s.rb.release()
		s.rb = nil
	}
	return errors.Join(errs...)
}
