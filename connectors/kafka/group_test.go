package kafka_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/engine"
)

// TestJobCommitsGroupOffsets runs a checkpointed job through the engine
// and checks that, after its checkpoints, the consumer group's committed
// offsets are the job's position in every partition (for lag tools).
func TestJobCommitsGroupOffsets(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"g"}, Partitions: 2})
	var recs []kafkatest.Record
	for i := 0; i < 80; i++ {
		p := int32(0)
		if i >= 50 {
			p = 1
		}
		recs = append(recs, kafkatest.Record{Partition: p, Value: fmt.Appendf(nil, `{"id":%d,"name":"n%d"}`, i, i)})
	}
	check(t, b.Produce("g", recs...))
	eng := engine.New(engine.Options{StateDir: t.TempDir(), CheckpointInterval: 100 * time.Millisecond})
	sql := fmt.Sprintf(`CREATE TABLE src (id BIGINT, name STRING) WITH ('connector' = 'kafka', 'topic' = 'g',
  'properties.bootstrap.servers' = '%s', 'properties.group.id' = 'lagtools', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE out (id BIGINT, name STRING) WITH ('connector' = 'blackhole');
INSERT INTO out SELECT id, name FROM src;`, b.Addr())
	stmts, err := engine.Parse("g.sql", sql)
	check(t, err)
	var res *engine.Result
	for _, st := range stmts {
		res, err = eng.Execute(context.Background(), st)
		check(t, err)
	}
	job, err := eng.Submit(res.Query, nil)
	check(t, err)
	// The job writes checkpoints into the temporary directory until it has
	// ended; the directory's cleanup must not race its last write.
	defer func() { job.Cancel(); <-job.Done() }()
	want := map[int32]int64{0: 50, 1: 30}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := b.CommittedOffsets("lagtools", "g")
		if err == nil && maps.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group offsets %v (%v), want %v; job read %d rows", got, err, want, job.Stats().RecordsIn)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lag := job.Stats().SourceLag; lag["g/0"] != 0 || lag["g/1"] != 0 {
		t.Fatalf("lag after reading everything: %v", lag)
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
