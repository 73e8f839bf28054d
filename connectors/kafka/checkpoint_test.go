package kafka_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/kafka"
	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/engine"
)

// TestCheckpointOffsetPerPartition runs a Kafka job through the engine
// and reads its final checkpoint from the store: it holds one offset
// record per partition, named "topic/partition", including a partition
// discovered while the job ran; a second run restores them and reads only
// the records produced since.
func TestCheckpointOffsetPerPartition(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"t"}, Partitions: 2})
	produce := func(partition int32, from, n int) {
		t.Helper()
		var recs []kafkatest.Record
		for i := from; i < from+n; i++ {
			recs = append(recs, kafkatest.Record{Partition: partition, Value: fmt.Appendf(nil, `{"k":%d}`, i)})
		}
		if err := b.Produce("t", recs...); err != nil {
			t.Fatal(err)
		}
	}
	sql := fmt.Sprintf(`SET 'pipeline.name' = 'perpart';
SET 'execution.checkpointing.interval' = '1 h';
CREATE TABLE ev (k INT) WITH ('connector' = 'kafka', 'topic' = 't', 'properties.bootstrap.servers' = '%s',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json', 'scan.topic-partition-discovery.interval' = '100 ms');
CREATE TABLE out (k INT) WITH ('connector' = 'blackhole');
INSERT INTO out SELECT k FROM ev;`, b.Addr())
	dir := t.TempDir()
	run := func(what string, rows int64, during func(*engine.Job)) {
		t.Helper()
		eng := engine.New(engine.Options{StateDir: dir})
		job, err := eng.Submit(execSQL(t, eng, sql).Query, nil)
		if err != nil {
			t.Fatal(err)
		}
		during(job)
		waitUntil(t, what, func() bool { return job.Stats().RecordsIn >= rows })
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := eng.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if got := job.Stats().RecordsIn; got != rows {
			t.Fatalf("%s: read %d rows, want %d", what, got, rows)
		}
	}
	produce(0, 0, 5)
	produce(1, 100, 3)
	run("the first run", 10, func(job *engine.Job) {
		waitUntil(t, "the first rows", func() bool { return job.Stats().RecordsIn == 8 })
		if err := b.AddPartitions("t", 3); err != nil {
			t.Fatal(err)
		}
		produce(2, 200, 2)
	})
	checkOffsets(t, dir, map[string]string{"t/0": "next offset 5 (split #0)", "t/1": "next offset 3 (split #1)", "t/2": "next offset 2 (split #2)"})

	produce(2, 202, 4)
	produce(0, 5, 1)
	run("the restored run", 5, func(*engine.Job) {})
	checkOffsets(t, dir, map[string]string{"t/0": "next offset 6 (split #0)", "t/1": "next offset 3 (split #1)", "t/2": "next offset 6 (split #2)"})
}

// checkOffsets reads the newest checkpoint of job "perpart" in dir and
// compares its source's offsets, as the connector describes them, with
// want.
func checkOffsets(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	store, err := checkpoint.Open(dir, checkpoint.Options{JobName: "perpart", ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	r, err := store.Restore()
	if err != nil || r == nil {
		t.Fatalf("restore: %v, %v", r, err)
	}
	sources := r.Info().SourceOffsets
	if len(sources) != 1 {
		t.Fatalf("offsets of %d sources: %v", len(sources), sources)
	}
	describer := kafka.New().(connectors.StateDescriber)
	for op := range sources {
		offsets := r.SourceOffsets(op)
		got := map[string]string{}
		for split, b := range offsets {
			if got[split], err = describer.DescribeOffset(b); err != nil {
				t.Fatalf("split %s: %v", split, err)
			}
		}
		if !maps.Equal(got, want) {
			t.Fatalf("checkpoint %d, source %s: offsets %v, want %v (splits %v)", r.ID(), op, got, want, slices.Sorted(maps.Keys(offsets)))
		}
	}
}

func execSQL(t *testing.T, eng *engine.Engine, sql string) *engine.Result {
	t.Helper()
	stmts, err := engine.Parse("t.sql", sql)
	if err != nil {
		t.Fatal(err)
	}
	var last *engine.Result
	for _, st := range stmts {
		if last, err = eng.Execute(context.Background(), st); err != nil {
			t.Fatal(err)
		}
	}
	return last
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
