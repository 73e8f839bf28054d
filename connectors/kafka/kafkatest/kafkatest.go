// Package kafkatest runs an in-process Kafka-protocol broker (kfake) for
// tests and for `streamsql dev kafka`, with small helpers built on sarama:
// create topics, produce records, and read a topic as a read_committed
// consumer would. Everything lives in memory (about 1 GB per 4.5M
// messages); nothing here is for production.
package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Options configure a broker.
type Options struct {
	// Port to listen on at 127.0.0.1; 0 picks a free one.
	Port int
	// Topics are created at start with Partitions partitions each
	// (default 1).
	Topics     []string
	Partitions int
	// TxnMaxTimeout caps transaction timeouts (default: Kafka's 15 min).
	TxnMaxTimeout time.Duration
}

// Broker is a running in-memory broker.
type Broker struct {
	c *kfake.Cluster
	// Addrs are the host:port addresses of the broker.
	Addrs []string
}

// Start starts a broker. Close it when done.
func Start(o Options) (*Broker, error) {
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(o.Port)}
	if o.Partitions <= 0 {
		o.Partitions = 1
	}
	opts = append(opts, kfake.DefaultNumPartitions(o.Partitions))
	if len(o.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(o.Partitions), o.Topics...))
	}
	if o.TxnMaxTimeout > 0 {
		opts = append(opts, kfake.BrokerConfigs(map[string]string{
			"transaction.max.timeout.ms": fmt.Sprint(o.TxnMaxTimeout.Milliseconds()),
		}))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: start broker: %w", err)
	}
	return &Broker{c: c, Addrs: c.ListenAddrs()}, nil
}

// TB is the part of testing.TB that StartT uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// StartT starts a broker on a free port for a test and closes it when
// the test ends.
func StartT(t TB, o Options) *Broker {
	t.Helper()
	b, err := Start(o)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// Addr is the first broker address, for 'properties.bootstrap.servers'.
func (b *Broker) Addr() string { return b.Addrs[0] }

// Close stops the broker; everything it held is gone.
func (b *Broker) Close() { b.c.Close() }

// Cluster exposes kfake, e.g. to inject failures.
func (b *Broker) Cluster() *kfake.Cluster { return b.c }

// Config returns a sarama configuration suited to the broker.
func Config() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V3_6_0_0
	c.ClientID = "kafkatest"
	c.Metadata.AllowAutoTopicCreation = false
	c.Producer.Return.Successes = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Consumer.Return.Errors = true
	c.Consumer.MaxWaitTime = 50 * time.Millisecond
	return c
}

// CreateTopic creates a topic with partitions partitions.
func (b *Broker) CreateTopic(topic string, partitions int) error {
	admin, err := sarama.NewClusterAdmin(b.Addrs, Config())
	if err != nil {
		return fmt.Errorf("kafkatest: %w", err)
	}
	defer admin.Close()
	err = admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: int32(partitions), ReplicationFactor: 1}, false)
	if err != nil {
		return fmt.Errorf("kafkatest: create topic %q: %w", topic, err)
	}
	return nil
}

// AddPartitions grows topic to count partitions.
func (b *Broker) AddPartitions(topic string, count int) error {
	admin, err := sarama.NewClusterAdmin(b.Addrs, Config())
	if err != nil {
		return fmt.Errorf("kafkatest: %w", err)
	}
	defer admin.Close()
	if err := admin.CreatePartitions(topic, int32(count), nil, false); err != nil {
		return fmt.Errorf("kafkatest: create partitions of %q: %w", topic, err)
	}
	return nil
}

// Record is one message.
type Record struct {
	Partition int32
	Offset    int64 // set by Read
	Key       []byte
	Value     []byte
	Timestamp time.Time // zero: the broker's time
}

// Producer writes records fast (asynchronously, in large batches),
// idempotently: a batch the client resends (its connection was replaced
// under it, say) is written once and in order.
type Producer struct {
	p    sarama.AsyncProducer
	sent int
	mu   sync.Mutex
	acks int   // acknowledged or failed
	err  error // the first failure
	cond *sync.Cond
}

// NewProducer returns a producer to the broker.
func (b *Broker) NewProducer() (*Producer, error) {
	c := Config()
	c.ChannelBufferSize = 4096
	c.Producer.Flush.Bytes = 512 << 10
	c.Producer.Flush.Frequency = 2 * time.Millisecond
	c.Producer.Idempotent = true
	c.Net.MaxOpenRequests = 1
	c.Producer.Retry.Max = 10
	c.Producer.Retry.Backoff = 50 * time.Millisecond
	c.Producer.Return.Successes = true
	p, err := sarama.NewAsyncProducer(b.Addrs, c)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: producer: %w", err)
	}
	pr := &Producer{p: p}
	pr.cond = sync.NewCond(&pr.mu)
	ack := func(err error) {
		pr.mu.Lock()
		pr.acks++
		if err != nil && pr.err == nil {
			pr.err = err
		}
		pr.cond.Broadcast()
		pr.mu.Unlock()
	}
	go func() {
		for range p.Successes() {
			ack(nil)
		}
	}()
	go func() {
		for e := range p.Errors() {
			ack(e.Err)
		}
	}()
	return pr, nil
}

// Send queues records for topic, each to its Partition.
func (p *Producer) Send(topic string, recs ...Record) error {
	for _, r := range recs {
		if err := p.failed(); err != nil {
			return err
		}
		msg := &sarama.ProducerMessage{Topic: topic, Partition: r.Partition, Value: sarama.ByteEncoder(r.Value), Timestamp: r.Timestamp}
		if r.Key != nil {
			msg.Key = sarama.ByteEncoder(r.Key)
		}
		p.p.Input() <- msg
		p.sent++
	}
	return nil
}

func (p *Producer) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return fmt.Errorf("kafkatest: produce: %w", p.err)
	}
	return nil
}

// Close waits until every record sent is acknowledged, then closes the
// producer. (Closing first would fail the batches the client is still
// retrying: sarama gives up on them when it shuts down.)
func (p *Producer) Close() error {
	p.mu.Lock()
	for p.acks < p.sent {
		p.cond.Wait()
	}
	p.mu.Unlock()
	closeErr := p.p.Close()
	if err := p.failed(); err != nil {
		return err
	}
	if closeErr != nil {
		return fmt.Errorf("kafkatest: produce: %w", closeErr)
	}
	return nil
}

// Produce writes records to topic and waits until all are acknowledged.
func (b *Broker) Produce(topic string, recs ...Record) error {
	p, err := b.NewProducer()
	if err != nil {
		return err
	}
	err = p.Send(topic, recs...)
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	return err
}

// ProduceJSON writes each value as a message of partition.
func (b *Broker) ProduceJSON(topic string, partition int32, values ...string) error {
	recs := make([]Record, len(values))
	for i, v := range values {
		recs[i] = Record{Partition: partition, Value: []byte(v)}
	}
	return b.Produce(topic, recs...)
}

// ReadOptions configure Read.
type ReadOptions struct {
	// ReadUncommitted also returns records of open and aborted
	// transactions.
	ReadUncommitted bool
	// Quiet is how long a partition may deliver nothing before Read
	// takes it as read to its stable end (default 500 ms; the first
	// message of a partition is waited for up to 10 s).
	Quiet time.Duration
}

// Read returns every record of topic up to its current end (the last
// stable offset for read_committed), per partition in offset order,
// partitions in order.
func (b *Broker) Read(ctx context.Context, topic string, o ReadOptions) ([]Record, error) {
	c := Config()
	if !o.ReadUncommitted {
		c.Consumer.IsolationLevel = sarama.ReadCommitted
	}
	client, err := sarama.NewClient(b.Addrs, c)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: %w", err)
	}
	defer client.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: topic %q: %w", topic, err)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: %w", err)
	}
	defer consumer.Close()
	// The offsets are asked one partition at a time: sarama's client,
	// asked at once from several goroutines while it connects to a
	// broker, can answer "broker not connected".
	starts := make([]int64, len(parts))
	ends := make([]int64, len(parts))
	for i, p := range parts {
		if starts[i], ends[i], err = offsets(ctx, client, topic, p); err != nil {
			return nil, fmt.Errorf("kafkatest: topic %q partition %d: %w", topic, p, err)
		}
	}
	// The partitions are read at once, so that a read waits for one
	// quiet period, not for one per partition.
	recs := make([][]Record, len(parts))
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		if ends[i] <= starts[i] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs[i], errs[i] = readTopicPartition(ctx, consumer, topic, p, starts[i], ends[i], o.Quiet)
		}()
	}
	wg.Wait()
	var out []Record
	for i, p := range parts {
		if errs[i] != nil {
			return nil, fmt.Errorf("kafkatest: topic %q partition %d: %w", topic, p, errs[i])
		}
		out = append(out, recs[i]...)
	}
	return out, nil
}

// offsets returns the first offset of partition p of topic and its end
// (the high watermark, or for read_committed the last stable offset),
// retrying a while when the client is not connected yet.
func offsets(ctx context.Context, client sarama.Client, topic string, p int32) (start, end int64, err error) {
	for attempt := 0; ; attempt++ {
		if end, err = client.GetOffset(topic, p, sarama.OffsetNewest); err == nil {
			if start, err = client.GetOffset(topic, p, sarama.OffsetOldest); err == nil {
				return start, end, nil
			}
		}
		if attempt == 20 || !errors.Is(err, sarama.ErrNotConnected) {
			return 0, 0, err
		}
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readTopicPartition reads partition p of topic from start up to end:
// until a message at the end came, or none came for a moment (the
// records left are aborted ones or transaction markers, which are not
// delivered).
func readTopicPartition(ctx context.Context, consumer sarama.Consumer, topic string, p int32, start, end int64, quiet time.Duration) ([]Record, error) {
	pc, err := consumer.ConsumePartition(topic, p, start)
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	return readPartition(ctx, pc, end, quiet)
}

// readPartition reads messages up to end, or until none comes for a
// while (the rest is not yet stable, or aborted). The first message may
// take longer (firstWait): on a loaded machine a new consumer's first
// fetch can take seconds, and giving up then would return nothing.
func readPartition(ctx context.Context, pc sarama.PartitionConsumer, end int64, wait time.Duration) ([]Record, error) {
	const firstWait = 10 * time.Second
	var out []Record
	if wait <= 0 {
		wait = 500 * time.Millisecond
	}
	quiet := time.NewTimer(max(wait, firstWait))
	defer quiet.Stop()
	for {
		select {
		case m := <-pc.Messages():
			out = append(out, Record{Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Timestamp: m.Timestamp})
			if m.Offset+1 >= end {
				return out, nil
			}
			quiet.Reset(wait)
		case e := <-pc.Errors():
			return out, e.Err
		case <-quiet.C:
			return out, nil
		case <-ctx.Done():
			return out, ctx.Err()
		}
	}
}

// Values returns the values of recs as strings.
func Values(recs []Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Value)
	}
	return out
}

// CommittedOffsets returns the offsets group committed for topic's
// partitions (-1 where none).
func (b *Broker) CommittedOffsets(group, topic string) (map[int32]int64, error) {
	admin, err := sarama.NewClusterAdmin(b.Addrs, Config())
	if err != nil {
		return nil, fmt.Errorf("kafkatest: %w", err)
	}
	defer admin.Close()
	resp, err := admin.ListConsumerGroupOffsets(group, nil)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: offsets of group %q: %w", group, err)
	}
	if resp.Err != sarama.ErrNoError && !errors.Is(resp.Err, sarama.ErrGroupIDNotFound) {
		return nil, fmt.Errorf("kafkatest: offsets of group %q: %w", group, resp.Err)
	}
	out := map[int32]int64{}
	for p, blk := range resp.Blocks[topic] {
		out[p] = blk.Offset
	}
	return out, nil
}

// CommitOffsets commits offsets for group (creating it), as a consumer
// outside any generation would.
func (b *Broker) CommitOffsets(group, topic string, offsets map[int32]int64) error {
	c := Config()
	client, err := sarama.NewClient(b.Addrs, c)
	if err != nil {
		return fmt.Errorf("kafkatest: %w", err)
	}
	defer client.Close()
	coord, err := client.Coordinator(group)
	if err != nil {
		return fmt.Errorf("kafkatest: %w", err)
	}
	req := sarama.NewOffsetCommitRequest(c, group)
	for p, o := range offsets {
		req.AddBlock(topic, p, o, 0, "")
	}
	resp, err := coord.CommitOffset(req)
	if err != nil {
		return fmt.Errorf("kafkatest: %w", err)
	}
	for _, ps := range resp.Errors {
		for _, e := range ps {
			if e != sarama.ErrNoError {
				return fmt.Errorf("kafkatest: commit offsets: %w", e)
			}
		}
	}
	return nil
}
