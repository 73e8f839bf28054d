package kafka_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/engine"
)

// debeziumHistory writes a random history of change events (creates,
// updates, deletes, re-creates) of keys 0..keys-1 and returns the file
// and the table's final state, "id" -> "name".
func debeziumHistory(t *testing.T, seed uint64, events, keys int) (string, map[string]string) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	state := map[int]string{}
	var b strings.Builder
	for i := 0; i < events; i++ {
		id := r.IntN(keys)
		name := fmt.Sprintf("v%d", i)
		old, ok := state[id]
		switch {
		case !ok:
			fmt.Fprintf(&b, `{"before":null,"after":{"id":%d,"name":"%s"},"op":"c"}`+"\n", id, name)
			state[id] = name
		case r.IntN(4) == 0:
			fmt.Fprintf(&b, `{"before":{"id":%d,"name":"%s"},"after":null,"op":"d"}`+"\n", id, old)
			delete(state, id)
		default:
			fmt.Fprintf(&b, `{"before":{"id":%d,"name":"%s"},"after":{"id":%d,"name":"%s"},"op":"u"}`+"\n", id, old, id, name)
			state[id] = name
		}
	}
	path := filepath.Join(t.TempDir(), "cdc.json")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for id, name := range state {
		want[fmt.Sprint(id)] = name
	}
	return path, want
}

// TestUpsertKafkaRoundTrip: a debezium-json file (inserts, updates,
// deletes) is written into an upsert-kafka table exactly-once, and read
// back through an upsert-kafka source: the table the changelog builds is
// the file's final state, and so is the compacted view of the topic a
// read_committed reader builds.
func TestUpsertKafkaRoundTrip(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"users"}, Partitions: 3})
	path, want := debeziumHistory(t, 14, 400, 40)
	ddl := fmt.Sprintf(`CREATE TABLE cdc (id BIGINT, name STRING) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'debezium-json');
CREATE TABLE users (id BIGINT, name STRING, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'users',
  'properties.bootstrap.servers' = '%s', 'key.format' = 'json', 'value.format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'rt');
`, path, b.Addr())
	eng := engine.New(engine.Options{StateDir: t.TempDir()})
	defer eng.Close(context.Background())
	res := execSQL(t, eng, ddl+"INSERT INTO users SELECT id, name FROM cdc;")
	if err := res.Query.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}

	recs, err := b.Read(context.Background(), "users", kafkatest.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	compacted := map[string]string{}
	for _, r := range recs {
		k := strings.TrimSuffix(strings.TrimPrefix(string(r.Key), `{"id":`), "}")
		if r.Value == nil {
			delete(compacted, k)
			continue
		}
		v := string(r.Value)
		compacted[k] = v[strings.Index(v, `"name":"`)+8 : len(v)-2]
	}
	if !maps.Equal(compacted, want) {
		t.Fatalf("the compacted topic holds %d keys, want %d:\n%v\nwant\n%v", len(compacted), len(want), compacted, want)
	}

	// Read back as a changelog: apply it to a table.
	eng2 := engine.New(engine.Options{StateDir: t.TempDir(), CheckpointInterval: -1})
	defer eng2.Close(context.Background())
	q := execSQL(t, eng2, ddl+"SELECT id, name FROM users;").Query
	if !q.Updating() {
		t.Error("a query over an upsert-kafka table is not Updating")
	}
	var mu sync.Mutex
	view := map[string]string{}
	var bad []string
	last := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- q.Run(ctx, func(rec arrow.Record) error {
			mu.Lock()
			defer mu.Unlock()
			for _, row := range engine.TypedRows(rec) {
				id, name := fmt.Sprint(row.Values[0]), row.Values[1].(string)
				switch row.Kind {
				case engine.Insert:
					if _, ok := view[id]; ok {
						bad = append(bad, "insert of a present key: "+row.String())
					}
					view[id] = name
				case engine.UpdateBefore, engine.Delete:
					if view[id] != name {
						bad = append(bad, "retraction of a row not in the table: "+row.String())
					}
					delete(view, id)
				case engine.UpdateAfter:
					view[id] = name
				}
			}
			last = time.Now()
			return nil
		})
	}()
	for {
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		settled := maps.Equal(view, want) && time.Since(last) > 500*time.Millisecond
		mu.Unlock()
		if settled || ctx.Err() != nil {
			break
		}
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("the changelog is not a proper retracting one: %v", bad)
	}
	if !maps.Equal(view, want) {
		t.Fatalf("the changelog builds %d rows, want %d:\n%v\nwant\n%v", len(view), len(want), view, want)
	}
}

// TestUpsertKafkaNeedsPrimaryKey: the planner's errors for an upsert-kafka
// table without a primary key, and for an updating query into a plain
// kafka table, point at the fix.
func TestUpsertKafkaNeedsPrimaryKey(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"users"}, Partitions: 1})
	eng := engine.New(engine.Options{StateDir: t.TempDir()})
	defer eng.Close(context.Background())
	stmts, err := engine.Parse("t.sql", fmt.Sprintf(`CREATE TABLE users (id BIGINT, name STRING) WITH ('connector' = 'upsert-kafka', 'topic' = 'users',
  'properties.bootstrap.servers' = '%s', 'key.format' = 'json', 'value.format' = 'json');
SELECT * FROM users;`, b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		_, err = eng.Execute(context.Background(), st)
		if err != nil {
			break
		}
	}
	if err == nil || !strings.Contains(err.Error(), "needs PRIMARY KEY (…) NOT ENFORCED") {
		t.Fatalf("got %v", err)
	}
}

// TestUpsertKafkaRestore: an upsert-kafka to upsert-kafka job stops (its
// final checkpoint holds each partition's offset and last values), the
// topic gets updates, tombstones and a new key, and the restored job reads
// exactly the records since, retracting the restored last values: the
// copy's compacted view equals the input's.
func TestUpsertKafkaRestore(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"u", "copy"}, Partitions: 2})
	view := map[string]string{}
	put := func(id int, name string) kafkatest.Record {
		k := fmt.Sprint(id)
		r := kafkatest.Record{Partition: int32(id % 2), Key: fmt.Appendf(nil, `{"id":%d}`, id)}
		if name == "" {
			delete(view, k)
		} else {
			view[k] = name
			r.Value = fmt.Appendf(nil, `{"id":%d,"name":"%s"}`, id, name)
		}
		return r
	}
	var first []kafkatest.Record
	for id := 0; id < 10; id++ {
		first = append(first, put(id, "a"))
	}
	check(t, b.Produce("u", first...))
	sql := fmt.Sprintf(`SET 'pipeline.name' = 'upcopy';
SET 'execution.checkpointing.interval' = '1 h';
CREATE TABLE u (id BIGINT, name STRING, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'u',
  'properties.bootstrap.servers' = '%[1]s', 'key.format' = 'json', 'value.format' = 'json');
CREATE TABLE copy (id BIGINT, name STRING, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'copy',
  'properties.bootstrap.servers' = '%[1]s', 'key.format' = 'json', 'value.format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'cp');
INSERT INTO copy SELECT id, name FROM u;`, b.Addr())
	dir := t.TempDir()
	run := func(what string, rows int64) {
		t.Helper()
		eng := engine.New(engine.Options{StateDir: dir})
		job, err := eng.Submit(execSQL(t, eng, sql).Query, nil)
		check(t, err)
		waitUntil(t, what, func() bool { return job.Stats().RecordsIn >= rows })
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		check(t, eng.Close(ctx))
		if got := job.Stats().RecordsIn; got != rows {
			t.Fatalf("%s: read %d rows, want %d", what, got, rows)
		}
	}
	run("the first run", 10)
	var second []kafkatest.Record
	for id := 0; id < 5; id++ {
		second = append(second, put(id, "b")) // -U a, +U b
	}
	second = append(second, put(5, ""), put(6, ""), put(7, ""), put(99, ""), put(10, "a")) // -D ×3, nothing, +I
	check(t, b.Produce("u", second...))
	run("the restored run", 5*2+3+1)

	recs, err := b.Read(context.Background(), "copy", kafkatest.ReadOptions{})
	check(t, err)
	compacted := map[string]string{}
	for _, r := range recs {
		k := strings.TrimSuffix(strings.TrimPrefix(string(r.Key), `{"id":`), "}")
		if r.Value == nil {
			delete(compacted, k)
			continue
		}
		v := string(r.Value)
		compacted[k] = v[strings.Index(v, `"name":"`)+8 : len(v)-2]
	}
	if !maps.Equal(compacted, view) {
		t.Fatalf("the copy holds %v, want %v", compacted, view)
	}
}

// TestGroupByIntoUpsertKafka: a non-windowed GROUP BY with HAVING over a
// Kafka topic, written exactly-once into upsert-kafka: the compacted view
// of the committed records holds each group's final aggregate, and no
// record of a group HAVING dropped (its -D became a tombstone).
func TestGroupByIntoUpsertKafka(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"clicks", "counts"}, Partitions: 2})
	r := rand.New(rand.NewPCG(14, 2))
	type agg struct{ n, sum int }
	groups := map[int]agg{}
	var recs []kafkatest.Record
	const clicks = 120
	for i := 0; i < clicks; i++ {
		u, v := r.IntN(30), r.IntN(100)
		g := groups[u]
		groups[u] = agg{g.n + 1, g.sum + v}
		recs = append(recs, kafkatest.Record{Partition: int32(i % 2), Value: fmt.Appendf(nil, `{"user_id":%d,"v":%d}`, u, v)})
	}
	check(t, b.Produce("clicks", recs...))
	want := map[string]string{}
	for u, g := range groups {
		if g.n <= 4 {
			want[fmt.Sprint(u)] = fmt.Sprintf(`{"user_id":%d,"cnt":%d,"total":%d}`, u, g.n, g.sum)
		}
	}
	sql := fmt.Sprintf(`SET 'pipeline.name' = 'counts';
SET 'execution.checkpointing.interval' = '200 ms';
CREATE TABLE clicks (user_id BIGINT, v BIGINT) WITH ('connector' = 'kafka', 'topic' = 'clicks',
  'properties.bootstrap.servers' = '%[1]s', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE counts (user_id BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (user_id) NOT ENFORCED) WITH ('connector' = 'upsert-kafka',
  'topic' = 'counts', 'properties.bootstrap.servers' = '%[1]s', 'key.format' = 'json', 'value.format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'counts');
INSERT INTO counts SELECT user_id, COUNT(*) AS cnt, SUM(v) AS total FROM clicks GROUP BY user_id HAVING COUNT(*) <= 4;`, b.Addr())
	eng := engine.New(engine.Options{StateDir: t.TempDir()})
	defer eng.Close(context.Background())
	_, err := eng.Submit(execSQL(t, eng, sql).Query, nil)
	check(t, err)
	// The committed records, as a read_committed reader compacts them, until
	// they hold every group's final value (a checkpoint commits them).
	var compacted map[string]string
	tombstones := 0
	for deadline := time.Now().Add(20 * time.Second); ; {
		out, err := b.Read(context.Background(), "counts", kafkatest.ReadOptions{Quiet: 300 * time.Millisecond})
		check(t, err)
		compacted, tombstones = map[string]string{}, 0
		for _, r := range out {
			k := strings.TrimSuffix(strings.TrimPrefix(string(r.Key), `{"user_id":`), "}")
			if r.Value == nil {
				tombstones++
				delete(compacted, k)
				continue
			}
			compacted[k] = string(r.Value)
		}
		if maps.Equal(compacted, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !maps.Equal(compacted, want) {
		t.Fatalf("the compacted counts (%d keys) are\n%v\nwant (%d keys)\n%v", len(compacted), compacted, len(want), want)
	}
	if tombstones == 0 && len(want) < len(groups) {
		t.Errorf("no tombstones, but HAVING dropped %d groups", len(groups)-len(want))
	}
}
