package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
)

// rankSQL is a Top-3 per key on several processes into an upsert-kafka
// table keyed by (partition key, rank number), as Flink's Top-N with the
// rank number in its output: the events' partitions are not by the key,
// so the job runs the Top-N behind a repartition topic, its state (each
// key's rows) in a changelog topic.
const rankSQL = `SET 'pipeline.name' = 'gtop';
SET 'execution.distributed' = 'true';
SET 'execution.checkpointing.interval' = '200 ms';
CREATE TABLE ev (id BIGINT, k INT, v BIGINT) WITH ('connector' = 'kafka',
  'topic' = 'tevents', 'properties.bootstrap.servers' = '%[1]s', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json',
  'properties.session.timeout.ms' = '6000', 'properties.heartbeat.interval.ms' = '300');
CREATE TABLE top3 (k INT, v BIGINT, rn BIGINT, PRIMARY KEY (k, rn) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'gtop-out',
  'properties.bootstrap.servers' = '%[1]s', 'key.format' = 'json', 'value.format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'ttx');
INSERT INTO top3 SELECT k, v, rn FROM (SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM ev) WHERE rn <= 3;`

// rankEvent returns the key and value of event i (of partition i%4): the
// values are a permutation of 0..n-1, so no two rows of a key tie.
func rankEvent(i, n int) (k, v int) { return (i * 11) % 37, (i * 7919) % n }

// rankPos is a row of the Top-N table: a key and a rank number.
type rankPos struct{ k, rn int }

// rankWant computes the Top-3 per key of events 0..to-1 of n.
func rankWant(to, n int) map[rankPos]int {
	byKey := map[int][]int{}
	for i := 0; i < to; i++ {
		k, v := rankEvent(i, n)
		byKey[k] = append(byKey[k], v)
	}
	out := map[rankPos]int{}
	for k, vs := range byKey {
		sort.Sort(sort.Reverse(sort.IntSlice(vs)))
		for r := 0; r < min(3, len(vs)); r++ {
			out[rankPos{k, r + 1}] = vs[r]
		}
	}
	return out
}

// readRankOut reads the upsert sink read_committed and reduces it to the
// latest value per (key, rank number), failing on a tombstone (an
// append-only input only pushes rows down: every position, once filled,
// stays filled) or a value that goes down (the value at a position only
// grows: a step down is a replayed or lost update).
func readRankOut(t *testing.T, b *kafkatest.Broker) map[rankPos]int {
	t.Helper()
	recs, err := b.Read(context.Background(), "gtop-out", kafkatest.ReadOptions{Quiet: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	out := map[rankPos]int{}
	for _, r := range recs {
		if r.Value == nil {
			t.Fatalf("tombstone for key %s at %d/%d", r.Key, r.Partition, r.Offset)
		}
		var row struct{ K, V, Rn int }
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("bad output %q: %v", r.Value, err)
		}
		p := rankPos{row.K, row.Rn}
		if old, ok := out[p]; ok && row.V < old {
			t.Fatalf("key %d's rank %d went down: %d after %d (at %d/%d)", row.K, row.Rn, row.V, old, r.Partition, r.Offset)
		}
		out[p] = row.V
	}
	return out
}

// TestDistributedTopN: a Top-N partitioned by a key runs on two processes
// (engines) behind a repartition hop, into an upsert-kafka table keyed by
// (key, rank number). The second process joins half-way and takes
// partitions over; the first is closed mid-stream, and the second takes
// its repartition partitions over from the changelog topic. The
// read_committed sink, reduced to the latest row per (key, rank number),
// is SQLite's ROW_NUMBER Top-3 of all the events, and no position's value
// ever goes down.
func TestDistributedTopN(t *testing.T) {
	needSQLite(t)
	b := kafkatest.StartT(t, kafkatest.Options{})
	for topic, n := range map[string]int{"tevents": 4, "gtop-out": 2} {
		if err := b.CreateTopic(topic, n); err != nil {
			t.Fatal(err)
		}
	}
	const n = 4000
	produce := func(from, to int) {
		t.Helper()
		var vals [4][]string
		for i := from; i < to; i++ {
			k, v := rankEvent(i, n)
			vals[i%4] = append(vals[i%4], fmt.Sprintf(`{"id":%d,"k":%d,"v":%d}`, i, k, v))
		}
		for p := range vals {
			if err := b.ProduceJSON("tevents", int32(p), vals[p]...); err != nil {
				t.Fatal(err)
			}
		}
	}
	procs := newProcesses(t, fmt.Sprintf(rankSQL, b.Addr()))
	start, closeEngine, waitFor := procs.start, procs.close, procs.waitFor
	produce(0, n/2)
	engA, a := start("a")
	procs.aErr = a.Err
	waitFor("a owns the 4 event and 4 repartition partitions", func() bool { return ownedPartitions(a, "tevents/") == 4 && ownedPartitions(a, "gtop-") == 4 })
	half := rankWant(n/2, n)
	waitFor("a ranked the first half of the events", func() bool { return maps.Equal(readRankOut(t, b), half) })
	_, bj := start("b")
	waitFor("b owns partitions", func() bool {
		return ownedPartitions(bj, "tevents/")+ownedPartitions(bj, "gtop-") > 0 && ownedPartitions(a, "tevents/")+ownedPartitions(a, "gtop-") < 8
	})
	produce(n/2, 3*n/4)
	// Mid-stream: some of the events after b joined moved a row (a quarter
	// of the events does, for every one of the 37 keys, with near
	// certainty), not necessarily all.
	waitFor("events after b joined ranked", func() bool { return !maps.Equal(readRankOut(t, b), half) })
	closeEngine(engA, "a")
	produce(3*n/4, n)
	waitFor("b owns every partition", func() bool { return ownedPartitions(bj, "tevents/") == 4 && ownedPartitions(bj, "gtop-") == 4 })
	want := rankWant(n, n)
	waitFor("every event ranked", func() bool { return maps.Equal(readRankOut(t, b), want) })
	time.Sleep(time.Second)
	got := readRankOut(t, b)
	var rows []string
	for p, v := range got {
		rows = append(rows, fmt.Sprintf("%d,%d,%d", p.k, v, p.rn))
	}
	sort.Strings(rows)
	// The independent computation: SQLite's ROW_NUMBER over the events.
	var csv strings.Builder
	for i := 0; i < n; i++ {
		k, v := rankEvent(i, n)
		fmt.Fprintf(&csv, "%d,%d,2026-12-03 00:00:00\n", k, v)
	}
	path := filepath.Join(t.TempDir(), "ev.csv")
	if err := os.WriteFile(path, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	sqlite := runSQLite(t, path, "SELECT k, v, rn FROM (SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM ev) WHERE rn <= 3")
	if !slices.Equal(rows, sqlite) {
		t.Fatalf("the sink's table differs from SQLite's Top-3 of the events (%d rows, want %d):\n got %v\nwant %v", len(rows), len(sqlite), rows, sqlite)
	}
	if m := bj.Query().Membership(); m == nil || m.RestoredEntries == 0 || m.ChangelogRecords == 0 {
		t.Errorf("b restored nothing from the changelog: %+v", m)
	}
}
