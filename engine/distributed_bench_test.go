package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/engine"
)

// hopSQL is stageSQL's aggregation with the job name, sink topic and
// whether it runs on several processes as parameters: %[1]s broker, %[2]s
// job, %[3]s sink topic, %[4]s 'true' or 'false'.
const hopSQL = `SET 'pipeline.name' = '%[2]s';
SET 'execution.distributed' = '%[4]s';
SET 'execution.checkpointing.interval' = '200 ms';
CREATE TABLE ev (id BIGINT, k INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'kafka',
  'topic' = 'events', 'properties.bootstrap.servers' = '%[1]s', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json',
  'properties.session.timeout.ms' = '6000', 'properties.heartbeat.interval.ms' = '300');
CREATE TABLE out (ws TIMESTAMP(3), we TIMESTAMP(3), k INT, n BIGINT) WITH ('connector' = 'kafka', 'topic' = '%[3]s',
  'properties.bootstrap.servers' = '%[1]s', 'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'tx');
INSERT INTO out SELECT window_start, window_end, k, COUNT(*) FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '%[5]d' SECOND))
GROUP BY window_start, window_end, k;`

// submitTB is execAll and Submit for a benchmark.
func submitTB(tb testing.TB, eng *engine.Engine, sql string) *engine.Job {
	tb.Helper()
	stmts, err := engine.Parse("b.sql", sql)
	if err != nil {
		tb.Fatal(err)
	}
	var last *engine.Result
	for _, st := range stmts {
		if last, err = eng.Execute(context.Background(), st); err != nil {
			tb.Fatal(err)
		}
	}
	job, err := eng.Submit(last.Query, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return job
}

// endOffsets sums the end offsets of topic's partitions (for a
// transactional topic, records plus commit markers).
func endOffsets(tb testing.TB, b *kafkatest.Broker, topic string) int64 {
	tb.Helper()
	c, err := sarama.NewClient(b.Addrs, kafkatest.Config())
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	ps, err := c.Partitions(topic)
	if err != nil {
		tb.Fatal(err)
	}
	var sum int64
	for _, p := range ps {
		off, err := c.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			tb.Fatal(err)
		}
		sum += off
	}
	return sum
}

// produceEvents writes n events (stageEvent's keys and times, key k%keys)
// into 4 partitions and a last one per partition far ahead.
func produceEvents(tb testing.TB, b *kafkatest.Broker, n int, key func(i int) int) {
	tb.Helper()
	p, err := b.NewProducer()
	if err != nil {
		tb.Fatal(err)
	}
	var recs []kafkatest.Record
	for i := 0; i < n; i++ {
		_, ts := stageEvent(i)
		recs = append(recs, kafkatest.Record{Partition: int32(i % 4),
			Value: fmt.Appendf(nil, `{"id":%d,"k":%d,"ts":%q}`, i, key(i), time.UnixMilli(ts).UTC().Format("2006-01-02 15:04:05.000"))})
		if len(recs) == 10_000 || i == n-1 {
			if err := p.Send("events", recs...); err != nil {
				tb.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	for q := int32(0); q < 4; q++ {
		recs = append(recs, kafkatest.Record{Partition: q, Value: []byte(`{"id":-1,"k":-1,"ts":"2000-01-01 00:00:00.000"}`)})
	}
	if err := p.Send("events", recs...); err != nil {
		tb.Fatal(err)
	}
	if err := p.Close(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkDistributedHop: the cost of the repartition hop. One process
// runs the keyed window aggregation over 100,000 events in 4 partitions
// to its last window, as a local job and as a job on several processes
// (its only member: stage 0 writes every row into the repartition topic
// in a transaction, stage 1 reads it read_committed and writes the
// changelog), same events, same run; events/s per variant, from the
// job's submission (local) or its first assignment (distributed: the group
// join, a few seconds of session setup, is left out).
func BenchmarkDistributedHop(b *testing.B) {
	br := kafkatest.StartT(b, kafkatest.Options{})
	if err := br.CreateTopic("events", 4); err != nil {
		b.Fatal(err)
	}
	const n = 100_000
	produceEvents(b, br, n, func(i int) int { return (i * 7) % 11 })
	windows := int64(len(stageWant(n))) // the last events' window stays open
	run := 0
	// once runs the job to its last window and returns its events/s.
	once := func(distributed bool) float64 {
		run++
		job, out := fmt.Sprintf("hop%d", run), fmt.Sprintf("out%d", run)
		if err := br.CreateTopic(out, 1); err != nil {
			b.Fatal(err)
		}
		eng := engine.New(engine.Options{StateDir: b.TempDir(), InstanceID: "a"})
		start := time.Now()
		j := submitTB(b, eng, fmt.Sprintf(hopSQL, br.Addr(), job, out, fmt.Sprint(distributed), 1))
		if distributed {
			// Not the group join: from the first assignment.
			for j.Query().Membership() == nil {
				if err := j.Err(); err != nil {
					b.Fatal(err)
				}
				time.Sleep(5 * time.Millisecond)
			}
			start = time.Now()
		}
		// Each window is one record and one commit marker at most: the end
		// offsets pass the windows only once most are out.
		for deadline := time.Now().Add(5 * time.Minute); endOffsets(b, br, out) < windows || len(readTopic(b, br, out)) < int(windows); time.Sleep(20 * time.Millisecond) {
			if err := j.Err(); err != nil {
				b.Fatal(err)
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: not every window after 5 minutes", job)
			}
		}
		rate := float64(n) / time.Since(start).Seconds()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := eng.Close(ctx); err != nil {
			b.Fatal(err)
		}
		return rate
	}
	b.ResetTimer()
	var local, dist float64
	for i := 0; i < b.N; i++ {
		// Alternately, in the same run.
		l, d := once(false), once(true)
		local, dist = local+l, dist+d
	}
	b.ReportMetric(local/float64(b.N), "local-events/s")
	b.ReportMetric(dist/float64(b.N), "distributed-events/s")
	b.ReportMetric(dist/local, "distributed/local")
}

// readTopic reads topic read_committed.
func readTopic(tb testing.TB, b *kafkatest.Broker, topic string) []kafkatest.Record {
	tb.Helper()
	recs, err := b.Read(context.Background(), topic, kafkatest.ReadOptions{Quiet: 100 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	return recs
}

// BenchmarkDistributedRestore: a process that takes over the repartition
// partitions of a job whose window aggregation holds 1,000,000 keys
// restores their state from the changelog topic (4 partitions) into its
// fresh local store before it processes anything; restarted on the same
// state directory, nothing written into the changelog since, it restores
// them from its local checkpoint. The times are those the job reports
// (Membership.Restored), same run.
func BenchmarkDistributedRestore(b *testing.B) {
	br := kafkatest.StartT(b, kafkatest.Options{})
	for topic, parts := range map[string]int{"events": 4, "out": 1} {
		if err := br.CreateTopic(topic, parts); err != nil {
			b.Fatal(err)
		}
	}
	const keys = 1_000_000
	// Every key once, in one window that no event closes.
	produceEventsOpen(b, br, keys)
	sql := fmt.Sprintf(hopSQL, br.Addr(), "big", "out", "true", 3600)
	eng := engine.New(engine.Options{StateDir: b.TempDir(), InstanceID: "a"})
	j := submitTB(b, eng, sql)
	changelog, last := "", int64(-1)
	for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if err := j.Err(); err != nil {
			b.Fatal(err)
		}
		if m := j.Query().Membership(); m != nil && changelog == "" {
			for _, p := range m.Partitions {
				if t, _, ok := cutLast(p); ok && t != "events" {
					changelog = t[:len(t)-len("repartition")] + "changelog"
				}
			}
		}
		// Every key in the changelog, and no more coming.
		if changelog != "" {
			end := endOffsets(b, br, changelog)
			if end >= keys && end == last {
				break
			}
			last = end
			time.Sleep(2 * time.Second)
		}
		if time.Now().After(deadline) {
			b.Fatal("the changelog does not hold every key after 10 minutes")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if err := eng.Close(ctx); err != nil {
		b.Fatal(err)
	}
	// restore starts a process on dir and returns its Membership once it
	// restored every key; then stops it (a final checkpoint).
	restore := func(dir, instance string) *engine.Membership {
		eng := engine.New(engine.Options{StateDir: dir, InstanceID: instance})
		j := submitTB(b, eng, sql)
		var m *engine.Membership
		for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
			if err := j.Err(); err != nil {
				b.Fatal(err)
			}
			if m = j.Query().Membership(); m != nil && len(m.Restores) == 4 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("no restore after 10 minutes")
			}
		}
		if m.RestoredEntries < keys {
			b.Fatalf("restored %d entries, want at least %d", m.RestoredEntries, keys)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
		defer cancel()
		if err := eng.Close(ctx); err != nil {
			b.Fatal(err)
		}
		return m
	}
	b.ResetTimer()
	var fromChangelog, fromLocal time.Duration
	for i := 0; i < b.N; i++ {
		// A fresh process replays the changelog; restarted on the same
		// state directory, it restores from its local checkpoint.
		dir, instance := b.TempDir(), fmt.Sprintf("b%d", i)
		mc := restore(dir, instance)
		ml := restore(dir, instance)
		for _, r := range mc.Restores {
			if r.From != "changelog" {
				b.Fatalf("fresh process: %s restored from %s", r.Partition, r.From)
			}
		}
		for _, r := range ml.Restores {
			if r.From != "local" {
				b.Fatalf("restarted process: %s restored from %s", r.Partition, r.From)
			}
		}
		fromChangelog += mc.Restored
		fromLocal += ml.Restored
	}
	b.ReportMetric(fromChangelog.Seconds()/float64(b.N), "changelog-restore-s")
	b.ReportMetric(fromLocal.Seconds()/float64(b.N), "local-restore-s")
	b.ReportMetric(float64(keys)/(fromChangelog.Seconds()/float64(b.N)), "changelog-entries/s")
	b.ReportMetric(float64(keys)/(fromLocal.Seconds()/float64(b.N)), "local-entries/s")
	b.ReportMetric(fromLocal.Seconds()/fromChangelog.Seconds(), "local/changelog")
}

// cutLast splits "topic/partition".
func cutLast(s string) (string, string, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

// produceEventsOpen writes n events of n keys, all in the first hour.
func produceEventsOpen(tb testing.TB, b *kafkatest.Broker, n int) {
	tb.Helper()
	p, err := b.NewProducer()
	if err != nil {
		tb.Fatal(err)
	}
	var recs []kafkatest.Record
	for i := 0; i < n; i++ {
		recs = append(recs, kafkatest.Record{Partition: int32(i % 4),
			Value: fmt.Appendf(nil, `{"id":%d,"k":%d,"ts":"1970-01-01 00:00:01.000"}`, i, i)})
		if len(recs) == 10_000 || i == n-1 {
			if err := p.Send("events", recs...); err != nil {
				tb.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	if err := p.Close(); err != nil {
		tb.Fatal(err)
	}
}
