package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

func msDuration(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }

// sink writes rows as messages of one topic. Driven from one goroutine;
// a helper goroutine per producer counts acknowledgements.
type sink struct {
	cfg   exec.SinkConfig
	conf  config
	sconf *sarama.Config
	topic string
	txnID string // exactly-once only

	valEnc  *format.Encoder // nil for 'raw'
	valCols []int
	valSch  *arrow.Schema
	keyEnc  *format.Encoder
	keyRaw  bool
	keyCols []int
	keySch  *arrow.Schema
	tsCol   int        // column written as the record timestamp, or -1
	upsert  bool       // upsert-kafka: -D and unpaired -U rows are tombstones (see Write)
	st      *stageSink // a stage of a job on several processes (stage.go); nil otherwise
	// splitWM are the input splits' watermarks at the checkpoint whose
	// offsets AddOffsets commits next (member.go).
	splitWM map[string]exec.Watermark

	client   sarama.Client
	admin    sarama.ClusterAdmin
	producer sarama.AsyncProducer
	acks     sync.WaitGroup // the producer's drain goroutine
	pid      int64          // exactly-once: the producer of the open transaction
	epoch    int16

	mu       sync.Mutex
	cond     *sync.Cond
	inflight int
	err      error              // first failed send since the last PreCommit
	parts    map[int32]struct{} // partitions written in the open transaction

	vbuf, kbuf []byte
	vcuts      []int
	kcuts      []int
}

var _ exec.Sink = (*sink)(nil)

func newSink(cfg exec.SinkConfig) (*sink, error) {
	conf, err := parseConfig(cfg.Options, cfg.Schema, true)
	if err != nil {
		return nil, fmt.Errorf("kafka: table %q: %w", cfg.Table, err)
	}
	sconf, err := saramaConfig(cfg.Options, true)
	if err != nil {
		return nil, fmt.Errorf("kafka: table %q: %w", cfg.Table, err)
	}
	s := &sink{cfg: cfg, conf: conf, sconf: sconf, topic: conf.topics[0], tsCol: -1, parts: map[int32]struct{}{}}
	s.cond = sync.NewCond(&s.mu)
	f := conf.formats
	var valSchema, keySchema types.Schema
	for i, fld := range cfg.Schema.Fields {
		if cfg.Metadata != nil && cfg.Metadata[i] != "" {
			if cfg.Metadata[i] != metaTimestamp {
				return nil, fmt.Errorf("kafka: table %q: metadata %q is read-only; a sink writes only 'timestamp'", cfg.Table, cfg.Metadata[i])
			}
			s.tsCol = i
			continue
		}
		isKey := slices.Contains(f.keyFields, fld.Name)
		if isKey {
			s.keyCols = append(s.keyCols, i)
			keySchema.Fields = append(keySchema.Fields, f.keyField(fld))
		}
		if !isKey || !f.exceptKey {
			s.valCols = append(s.valCols, i)
			valSchema.Fields = append(valSchema.Fields, fld)
		}
	}
	s.valSch, s.keySch = valSchema.Arrow(), keySchema.Arrow()
	if f.value == formatRaw {
		if len(valSchema.Fields) != 1 || valSchema.Fields[0].Type.Kind != types.String {
			return nil, fmt.Errorf("kafka: table %q: format 'raw' needs exactly one STRING value column, got %s", cfg.Table, valSchema)
		}
	} else if s.valEnc, err = format.NewEncoder(f.value, valSchema, f.valueOpts); err != nil {
		return nil, fmt.Errorf("kafka: table %q: %w", cfg.Table, err)
	}
	if f.key != "" {
		if f.key == formatRaw {
			if len(keySchema.Fields) != 1 || keySchema.Fields[0].Type.Kind != types.String {
				return nil, fmt.Errorf("kafka: table %q: key format 'raw' needs one STRING key column", cfg.Table)
			}
			s.keyRaw = true
		} else if s.keyEnc, err = format.NewEncoder(f.key, keySchema, f.keyOptions); err != nil {
			return nil, fmt.Errorf("kafka: table %q: %w", cfg.Table, err)
		}
	}
	switch conf.partition {
	case "fixed":
		sconf.Producer.Partitioner = sarama.NewManualPartitioner
	case "round-robin":
		sconf.Producer.Partitioner = sarama.NewRoundRobinPartitioner
	}
	if s.st, err = newStageSink(cfg, sconf); err != nil {
		return nil, fmt.Errorf("kafka: table %q: %w", cfg.Table, err)
	}
	if conf.guarantee == exactlyOnce {
		job := cfg.JobName
		if job == "" {
			job = cfg.Table
		}
		// One transactional id per job and sink subtask (0): the same in
		// every run, so a restarted job's InitProducerID fences the
		// crashed process and aborts its open transaction.
		s.txnID = fmt.Sprintf("%s-%s-0", conf.txnPrefix, job)
		if m := cfg.Member; m != nil {
			// One per process of a job on several: a restarted process
			// fences its own previous transaction, not another's.
			s.txnID = memberTxnID(conf.txnPrefix, job, m.InstanceID)
		}
		transactional(sconf, s.txnID, conf.txnTimeout)
		if err := sconf.Validate(); err != nil {
			return nil, fmt.Errorf("kafka: table %q: exactly-once producer: %w", cfg.Table, err)
		}
	} else if cfg.Member != nil {
		return nil, fmt.Errorf("kafka: table %q: a job on several processes needs 'sink.delivery-guarantee' = 'exactly-once', so that its output and input offsets commit together", cfg.Table)
	}
	if conf.guarantee != exactlyOnce && sconf.Producer.Idempotent {
		sconf.Net.MaxOpenRequests = 1
	}
	return s, nil
}

// transactional makes sc the configuration of a transactional producer
// with transactional id id and the transaction timeout txnTimeout (ms).
func transactional(sc *sarama.Config, id string, txnTimeout int64) {
	sc.Producer.Idempotent = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.Transaction.ID = id
	sc.Producer.Transaction.Timeout = msDuration(txnTimeout)
	sc.Net.MaxOpenRequests = 1
	if sc.Producer.Retry.Max < 1 {
		sc.Producer.Retry.Max = 1
	}
}

// Open implements exec.Sink. With exactly-once and a handle naming a
// pre-committed transaction, it first commits that transaction with a
// low-level EndTxn under the handle's producer id and epoch, then starts a
// new producer, whose InitProducerID fences the previous process and
// aborts whatever it wrote after the checkpoint.
func (s *sink) Open(ctx context.Context, handle []byte) error {
	client, err := newClientRetry(ctx, s.conf.brokers, s.sconf)
	if err != nil {
		return fmt.Errorf("kafka: table %q: cannot connect to %v: %w", s.cfg.Table, s.conf.brokers, err)
	}
	s.client = client
	if err := client.RefreshMetadata(s.topic); err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		return fmt.Errorf("kafka: table %q: metadata: %w", s.cfg.Table, err)
	}
	if _, err := client.Partitions(s.topic); err != nil {
		if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			return fmt.Errorf("kafka: table %q: topic %q does not exist on %v", s.cfg.Table, s.topic, s.conf.brokers)
		}
		return fmt.Errorf("kafka: table %q: topic %q: %w", s.cfg.Table, s.topic, err)
	}
	if s.st != nil {
		if err := s.st.open(client, s.topic); err != nil {
			return fmt.Errorf("kafka: table %q: %w", s.cfg.Table, err)
		}
	}
	if s.conf.guarantee != exactlyOnce {
		return s.startProducer()
	}
	if s.admin, err = sarama.NewClusterAdminFromClient(client); err != nil {
		return fmt.Errorf("kafka: table %q: %w", s.cfg.Table, err)
	}
	var h txnHandle
	if handle != nil {
		if h, err = decodeHandle(handle); err != nil {
			return fmt.Errorf("kafka: table %q: invalid sink handle: %w", s.cfg.Table, err)
		}
	}
	// Before anything is committed or fenced: a refused rollback leaves
	// the transactions as they are. A version 1 handle does not know its
	// checkpoint.
	// A member of a group starts each assignment fresh: its input
	// offsets, not a checkpoint, say where its output stands.
	if s.cfg.Member == nil && (handle == nil || h.checkpoint > 0) {
		if err := s.checkRollback(h.checkpoint); err != nil {
			return err
		}
	}
	if handle != nil {
		if err := resumeCommit(ctx, client, h, loggerOf(s.cfg.Logger).With("connector", "kafka", "table", s.cfg.Table)); err != nil {
			return fmt.Errorf("kafka: table %q: %w", s.cfg.Table, err)
		}
	}
	return s.startTxnProducer()
}

// newClientRetry connects, retrying with backoff for a while when no
// broker answers.
func newClientRetry(ctx context.Context, addrs []string, conf *sarama.Config) (sarama.Client, error) {
	backoff := 250 * time.Millisecond
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := sarama.NewClient(addrs, conf)
		if err == nil {
			return c, nil
		}
		if time.Now().Add(backoff).After(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 4*time.Second)
	}
}

// startProducer starts a producer on s.client and its drain goroutine.
func (s *sink) startProducer() error {
	p, err := sarama.NewAsyncProducerFromClient(s.client)
	if err != nil {
		return fmt.Errorf("kafka: table %q: producer: %w", s.cfg.Table, err)
	}
	s.producer = p
	s.acks.Add(1)
	go s.drain(p)
	return nil
}

// startTxnProducer starts a transactional producer (InitProducerID bumps
// the epoch: every transaction gets its own producer epoch, so a handle's
// (producer id, epoch) names exactly one transaction), learns its producer
// id and epoch from the coordinator, and begins a transaction.
func (s *sink) startTxnProducer() error {
	if err := s.startProducer(); err != nil {
		return err
	}
	states, err := s.admin.(sarama.TransactionClusterAdmin).DescribeTransactions([]string{s.txnID})
	if err != nil {
		return fmt.Errorf("kafka: table %q: describe transaction %q: %w", s.cfg.Table, s.txnID, err)
	}
	st, ok := states[s.txnID]
	if !ok || st.ErrorCode != sarama.ErrNoError {
		return fmt.Errorf("kafka: table %q: describe transaction %q: %v", s.cfg.Table, s.txnID, st.ErrorCode)
	}
	s.pid, s.epoch = st.ProducerID, st.ProducerEpoch
	if err := s.producer.BeginTxn(); err != nil {
		return fmt.Errorf("kafka: table %q: begin transaction: %w", s.cfg.Table, err)
	}
	return nil
}

// stopProducer closes the producer (without committing) and waits for
// its acknowledgements to drain.
func (s *sink) stopProducer() {
	if s.producer == nil {
		return
	}
	s.producer.AsyncClose()
	s.acks.Wait()
	s.producer = nil
}

// drain counts acknowledgements until the producer closes.
func (s *sink) drain(p sarama.AsyncProducer) {
	defer s.acks.Done()
	succ, errs := p.Successes(), p.Errors()
	for succ != nil || errs != nil {
		select {
		case m, ok := <-succ:
			if !ok {
				succ = nil
				continue
			}
			s.mu.Lock()
			s.parts[m.Partition] = struct{}{}
			s.st.acked(m)
			s.inflight--
			s.cond.Broadcast()
			s.mu.Unlock()
		case e, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			s.mu.Lock()
			if s.err == nil {
				s.err = fmt.Errorf("kafka: table %q: topic %q: send failed: %w", s.cfg.Table, s.topic, e.Err)
			}
			s.inflight--
			s.cond.Broadcast()
			s.mu.Unlock()
		}
	}
	s.mu.Lock()
	s.inflight = 0
	s.cond.Broadcast()
	s.mu.Unlock()
}

func (s *sink) asyncErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Write implements exec.Sink.
func (s *sink) Write(ctx context.Context, rec arrow.Record) error {
	if s.producer == nil {
		return errors.New("kafka: sink not open")
	}
	if err := s.asyncErr(); err != nil {
		return err
	}
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	if err := s.firstMarkers(ctx); err != nil {
		return err
	}
	var kinds *array.Int8
	if s.upsert {
		// The formats write rows; the kinds decide what is sent.
		kinds = exec.RowKinds(rec)
		rec = exec.WithoutRowKinds(rec)
		defer rec.Release()
		if err := s.checkKeys(rec); err != nil {
			return err
		}
	}
	var err error
	s.vbuf, s.vcuts, err = s.encode(s.vbuf[:0], s.vcuts[:0], rec, s.valCols, s.valSch, s.valEnc, s.conf.formats.value)
	if err != nil {
		return err
	}
	// The messages keep slices of one copy of the encoded batch.
	vals := slices.Clone(s.vbuf)
	var keys []byte
	if len(s.keyCols) > 0 {
		s.kbuf, s.kcuts, err = s.encode(s.kbuf[:0], s.kcuts[:0], rec, s.keyCols, s.keySch, s.keyEnc, s.conf.formats.key)
		if err != nil {
			return err
		}
		keys = slices.Clone(s.kbuf)
	}
	var ts *array.Timestamp
	if s.tsCol >= 0 {
		ts = rec.Column(s.tsCol).(*array.Timestamp)
	}
	sends := n
	var skip, tomb []bool
	if kinds != nil {
		skip, tomb, sends = s.upsertPlan(kinds, keys)
	}
	s.mu.Lock()
	s.inflight += sends
	s.mu.Unlock()
	var parts []int32
	if s.st != nil && s.st.hasher != nil {
		if parts, err = s.st.partitions(rec); err != nil {
			s.mu.Lock()
			s.inflight -= sends
			s.mu.Unlock()
			return fmt.Errorf("kafka: table %q: %w", s.cfg.Table, err)
		}
	}
	for r := 0; r < n; r++ {
		if skip != nil && skip[r] {
			continue
		}
		msg := &sarama.ProducerMessage{Topic: s.topic}
		if parts != nil {
			msg.Partition = parts[r]
		}
		if v := vals[s.vcuts[r]:s.vcuts[r+1]]; tomb != nil && tomb[r] || s.valEnc == nil && rec.Column(s.valCols[0]).IsNull(r) {
			msg.Value = nil
		} else {
			msg.Value = sarama.ByteEncoder(v)
		}
		if keys != nil {
			msg.Key = sarama.ByteEncoder(keys[s.kcuts[r]:s.kcuts[r+1]])
		}
		if ts != nil && ts.IsValid(r) {
			msg.Timestamp = time.UnixMilli(int64(ts.Value(r)))
		}
		select {
		case s.producer.Input() <- msg:
		case <-ctx.Done():
			left := 0
			for ; r < n; r++ {
				if skip == nil || !skip[r] {
					left++
				}
			}
			s.mu.Lock()
			s.inflight -= left
			s.mu.Unlock()
			return ctx.Err()
		}
	}
	return nil
}

// encode appends the values of columns cols of rec, one row after the
// other, to dst, and the boundaries of the rows to cuts (len n+1).
func (s *sink) encode(dst []byte, cuts []int, rec arrow.Record, cols []int, sch *arrow.Schema, enc *format.Encoder, f string) ([]byte, []int, error) {
	n := int(rec.NumRows())
	if enc == nil { // raw: the STRING column itself
		c := rec.Column(cols[0]).(*array.String)
		cuts = append(cuts, 0)
		for r := 0; r < n; r++ {
			if c.IsValid(r) {
				dst = append(dst, c.Value(r)...)
			}
			cuts = append(cuts, len(dst))
		}
		return dst, cuts, nil
	}
	arrs := make([]arrow.Array, len(cols))
	for i, c := range cols {
		arrs[i] = rec.Column(c)
	}
	sub := array.NewRecord(sch, arrs, int64(n))
	if kinds := exec.RowKinds(rec); kinds != nil { // debezium-json writes them; others refuse updates
		with := exec.WithRowKinds(sub, kinds)
		sub.Release()
		sub = with
	}
	defer sub.Release()
	dst, err := enc.AppendRecord(dst, sub)
	if err != nil {
		return dst, cuts, fmt.Errorf("kafka: table %q: %w", s.cfg.Table, err)
	}
	// Every row ends in '\n'; JSON escapes newlines in strings, CSV may
	// hold one inside quotes.
	cuts = append(cuts, 0)
	quoted := false
	out := dst[:0]
	for _, c := range dst {
		if f == format.CSV && c == '"' {
			quoted = !quoted
		}
		if c == '\n' && !quoted {
			cuts = append(cuts, len(out))
			continue
		}
		out = append(out, c)
	}
	if len(cuts) != n+1 {
		return out, cuts, fmt.Errorf("kafka: table %q: encoded %d rows, expected %d", s.cfg.Table, len(cuts)-1, n)
	}
	return out, cuts, nil
}

// flush waits until every message sent is acknowledged.
func (s *sink) flush(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.cond.Broadcast()
			s.mu.Unlock()
		case <-done:
		}
	}()
	defer close(done)
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.inflight > 0 && ctx.Err() == nil {
		s.cond.Wait()
	}
	if s.err != nil {
		return s.err
	}
	return ctx.Err()
}

// PreCommit implements exec.Sink: it waits until every row written is
// acknowledged. With exactly-once the rows are in the open transaction,
// not yet committed; the handle names that transaction.
//
// A transaction that wrote output also records checkpoint id in the
// sink's checkpoint group (see recordCheckpoint).
func (s *sink) PreCommit(ctx context.Context, id int64) ([]byte, error) {
	if s.producer == nil {
		return nil, errors.New("kafka: sink not open")
	}
	if s.conf.guarantee == noGuarantee {
		return nil, s.asyncErr()
	}
	if err := s.writeMarkers(ctx); err != nil {
		return nil, err
	}
	if err := s.flush(ctx); err != nil {
		return nil, err
	}
	if s.conf.guarantee != exactlyOnce {
		return nil, nil
	}
	h := txnHandle{txnID: s.txnID, pid: s.pid, epoch: s.epoch, topic: s.topic, checkpoint: id}
	s.mu.Lock()
	for p := range s.parts {
		h.partitions = append(h.partitions, p)
	}
	s.mu.Unlock()
	slices.Sort(h.partitions)
	if len(h.partitions) > 0 && id > 0 && s.cfg.Member == nil {
		if err := s.recordCheckpoint(id); err != nil {
			return nil, err
		}
	}
	return h.encode(), nil
}

// Commit implements exec.Sink: with exactly-once it commits the open
// transaction and begins the next one under a new producer epoch.
func (s *sink) Commit(_ context.Context, id int64) error {
	if s.conf.guarantee != exactlyOnce {
		return nil
	}
	s.mu.Lock()
	empty := len(s.parts) == 0
	s.mu.Unlock()
	if err := s.producer.CommitTxn(); err != nil {
		return fmt.Errorf("kafka: table %q: commit transaction %q: %w", s.cfg.Table, s.txnID, err)
	}
	s.committedTxn(id)
	s.mu.Lock()
	s.parts = map[int32]struct{}{}
	s.mu.Unlock()
	if empty {
		// Nothing was written under this epoch: it may go on.
		if err := s.producer.BeginTxn(); err != nil {
			return fmt.Errorf("kafka: table %q: begin transaction: %w", s.cfg.Table, err)
		}
		return nil
	}
	s.stopProducer()
	return s.startTxnProducer()
}

// Close implements exec.Sink. It does not commit: an open transaction is
// aborted by the next run's InitProducerID, or committed by it when the
// checkpoint it belongs to completed. A member of a group aborts it here
// (abortOpen).
func (s *sink) Close() error {
	s.abortOpen()
	s.stopProducer()
	if s.client != nil {
		err := s.client.Close()
		s.client = nil
		return err
	}
	return nil
}

// abortOpen aborts the open transaction of a group member's sink that
// wrote into it. A member's output stands where its committed input
// offsets say, never where a checkpoint's handle does, so nothing will
// commit that transaction; left open, it would hold back every
// read_committed reader of the partitions it wrote (the sink's, the
// repartition and changelog topics) until the broker's transaction
// timeout, since the transactional id may never be used again (a process
// that left the group) or only after the next assignment's restore. Best
// effort: a failed abort leaves it to that timeout.
func (s *sink) abortOpen() {
	if s.cfg.Member == nil || s.conf.guarantee != exactlyOnce || s.producer == nil {
		return
	}
	// Also a transaction whose commit failed (a fenced zombie's).
	if s.producer.TxnStatus()&(sarama.ProducerTxnFlagInTransaction|sarama.ProducerTxnFlagAbortableError) == 0 {
		return
	}
	if err := s.producer.AbortTxn(); err != nil {
		loggerOf(s.cfg.Logger).Warn("kafka: aborting the open transaction at close failed; the broker aborts it at its timeout",
			"table", s.cfg.Table, "txn", s.txnID, "err", err)
	}
}
