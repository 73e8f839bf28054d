package kafka_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/types"
)

// runQuery runs the statements of sql through the engine; the last must
// be a SELECT, whose rows go to fn until it returns true or timeout
// passes. It returns the job's stats.
func runQuery(t testing.TB, sql string, timeout time.Duration, fn func(rec arrow.Record) bool) {
	t.Helper()
	stmts, err := engine.Parse("test.sql", sql)
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.Options{StateDir: t.TempDir(), CheckpointInterval: -1})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, st := range stmts {
		res, err := eng.Execute(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if res.Kind != engine.Query {
			continue
		}
		err = res.Query.Run(ctx, func(rec arrow.Record) error {
			if fn(rec) {
				cancel()
			}
			return nil
		})
		if err != nil && ctx.Err() == nil {
			t.Fatal(err)
		}
	}
}

func rows(rec arrow.Record) []string {
	var out []string
	for r := 0; r < int(rec.NumRows()); r++ {
		var cells []string
		for c := 0; c < int(rec.NumCols()); c++ {
			v, _ := format.FormatValue(rec.Column(c), r)
			cells = append(cells, v)
		}
		out = append(out, strings.Join(cells, ","))
	}
	return out
}

// TestPartitionWatermarksAndIdleness: the source's watermark is the
// minimum over its partitions, so a partition that had one early event and
// then went quiet holds every window open, until 'scan.watermark.idle-
// timeout' lets the busy partition's event time close them.
func TestPartitionWatermarksAndIdleness(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"ev1", "ev2"}, Partitions: 2})
	// Partition 1 has one early event and goes quiet; partition 0 keeps
	// producing, one event per 50 ms.
	var wg sync.WaitGroup
	defer wg.Wait()
	feed := func(topic string) {
		defer wg.Done()
		p, err := b.NewProducer()
		if err != nil {
			t.Error(err)
			return
		}
		defer p.Close()
		if err := p.Send(topic, kafkatest.Record{Partition: 1, Value: []byte(`{"k":9,"ts":"2024-01-01 00:00:00.500"}`)}); err != nil {
			t.Error(err)
			return
		}
		for i := 0; i < 30; i++ {
			v := fmt.Appendf(nil, `{"k":%d,"ts":"2024-01-01 00:00:%02d.000"}`, i%2, i)
			if err := p.Send(topic, kafkatest.Record{Partition: 0, Value: v}); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	query := func(topic, idle string) string {
		return fmt.Sprintf(`CREATE TABLE ev (k INT, ts TIMESTAMP(3), p INT METADATA FROM 'partition',
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'kafka', 'topic' = '%s', 'properties.bootstrap.servers' = '%s',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json' %s);
SELECT window_start, k, COUNT(*) AS n, MAX(p) AS p FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, k;`, topic, b.Addr(), idle)
	}
	// Without idleness: partition 1 (at 00:00:00.5) holds every window.
	var got []string
	wg.Add(1)
	go feed("ev1")
	runQuery(t, query("ev1", ""), 3*time.Second, func(rec arrow.Record) bool {
		got = append(got, rows(rec)...)
		return false
	})
	if len(got) != 0 {
		t.Fatalf("windows closed while partition 1 held the watermark: %v", got)
	}
	// With it, partition 1 is skipped after 300 ms: windows up to 00:00:20
	// close as partition 0's event time passes them.
	got = nil
	wg.Add(1)
	go feed("ev2")
	runQuery(t, query("ev2", ", 'scan.watermark.idle-timeout' = '300 ms'"), 10*time.Second, func(rec arrow.Record) bool {
		got = append(got, rows(rec)...)
		return len(got) >= 5
	})
	want := map[string]bool{
		"2024-01-01 00:00:00.000,0,5,0": true, "2024-01-01 00:00:00.000,1,5,0": true, "2024-01-01 00:00:00.000,9,1,1": true,
		"2024-01-01 00:00:10.000,0,5,0": true, "2024-01-01 00:00:10.000,1,5,0": true,
	}
	if len(got) != 5 {
		t.Fatalf("got %v", got)
	}
	for _, r := range got {
		if !want[r] {
			t.Fatalf("unexpected row %q in %v", r, got)
		}
	}
}

var benchSchema = types.Schema{Fields: []types.Field{
	{Name: "k", Type: types.Type{Kind: types.Int}},
	{Name: "v", Type: types.Type{Kind: types.BigInt}},
	{Name: "url", Type: types.Type{Kind: types.String}},
	{Name: "ts", Type: types.Type{Kind: types.Timestamp, Precision: 3}},
}}

var benchOnce struct {
	sync.Once
	b *kafkatest.Broker
	n int
}

// benchBroker holds n ~95-byte JSON events on 4 partitions, shared by
// the benchmarks of one run.
func benchBroker(tb testing.TB, n int) *kafkatest.Broker {
	benchOnce.Do(func() {
		b, err := kafkatest.Start(kafkatest.Options{Topics: []string{"bench"}, Partitions: 4})
		if err != nil {
			tb.Fatal(err)
		}
		p, err := b.NewProducer()
		if err != nil {
			tb.Fatal(err)
		}
		base := int64(1_704_067_200_000)
		recs := make([]kafkatest.Record, 0, 4096)
		for i := 0; i < n; i++ {
			recs = append(recs, kafkatest.Record{Partition: int32(i % 4),
				Value: fmt.Appendf(nil, `{"k":%d,"v":%d,"url":"/page/%d","ts":%d}`, i%1000, i%977, i%50, base+int64(i)/10)})
			if len(recs) == cap(recs) || i == n-1 {
				if err := p.Send("bench", recs...); err != nil {
					tb.Fatal(err)
				}
				recs = recs[:0]
			}
		}
		if err := p.Close(); err != nil {
			tb.Fatal(err)
		}
		benchOnce.b, benchOnce.n = b, n
	})
	return benchOnce.b
}

// BenchmarkKafkaSource compares, in one run, a JSON Kafka source into a
// tumbling window aggregate through the engine with its baseline: sarama
// consuming the same 4 partitions plus the same decoder decoding every
// message into Arrow batches, with no engine around them. The issue's
// bar is engine ≥ 70% of the baseline.
func BenchmarkKafkaSource(b *testing.B) {
	const n = 1_000_000
	br := benchBroker(b, n)
	b.Run("baseline=sarama+decoder", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			baseline(b, br, n)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("engine=tumble", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			engineRun(b, br, n)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

func baseline(b *testing.B, br *kafkatest.Broker, n int) {
	c := kafkatest.Config()
	c.Consumer.Fetch.Default = 1 << 20
	c.ChannelBufferSize = 1024
	consumer, err := sarama.NewConsumer(br.Addrs, c)
	if err != nil {
		b.Fatal(err)
	}
	defer consumer.Close()
	dec, err := format.NewDecoder("json", benchSchema, map[string]string{"format": "json"}, memory.DefaultAllocator)
	if err != nil {
		b.Fatal(err)
	}
	defer dec.Release()
	msgs := make(chan *sarama.ConsumerMessage, 4096)
	var pcs []sarama.PartitionConsumer
	for p := int32(0); p < 4; p++ {
		pc, err := consumer.ConsumePartition("bench", p, sarama.OffsetOldest)
		if err != nil {
			b.Fatal(err)
		}
		pcs = append(pcs, pc)
		go func() {
			for m := range pc.Messages() {
				msgs <- m
			}
		}()
	}
	for got := 0; got < n; got++ {
		if err := dec.Decode((<-msgs).Value); err != nil {
			b.Fatal(err)
		}
		if dec.Len() == 4096 {
			dec.NewRecord().Release()
		}
	}
	dec.NewRecord().Release()
	for _, pc := range pcs {
		pc.AsyncClose()
	}
}

func engineRun(b *testing.B, br *kafkatest.Broker, n int) {
	sql := fmt.Sprintf(`CREATE TABLE ev (k INT, v BIGINT, url STRING, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'kafka', 'topic' = 'bench', 'properties.bootstrap.servers' = '%s',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE out (window_start TIMESTAMP(3), k INT, n BIGINT, total BIGINT, top BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO out SELECT window_start, k, COUNT(*), SUM(v), MAX(v)
FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k;`, br.Addr())
	stmts, err := engine.Parse("bench.sql", sql)
	if err != nil {
		b.Fatal(err)
	}
	eng := engine.New(engine.Options{StateDir: b.TempDir(), CheckpointInterval: -1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, st := range stmts {
		res, err := eng.Execute(ctx, st)
		if err != nil {
			b.Fatal(err)
		}
		if res.Kind != engine.Query {
			continue
		}
		q := res.Query
		done := make(chan error, 1)
		go func() { done <- q.Run(ctx, nil) }()
		for q.Stats().RecordsIn < int64(n) {
			select {
			case err := <-done:
				b.Fatalf("query ended: %v", err)
			case <-time.After(time.Millisecond):
			}
		}
		cancel()
		<-done
	}
}
