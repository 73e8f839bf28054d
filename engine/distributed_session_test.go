package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
)

// sessionSQL is a keyed SESSION window aggregation on several processes:
// the events' partitions are not by the key, so the job runs it behind a
// repartition topic, its sessions in a changelog topic.
const sessionSQL = `SET 'pipeline.name' = 'gsess';
SET 'execution.distributed' = 'true';
SET 'execution.checkpointing.interval' = '200 ms';
CREATE TABLE ev (id BIGINT, k INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'kafka',
  'topic' = 'sevents', 'properties.bootstrap.servers' = '%[1]s', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json',
  'properties.session.timeout.ms' = '6000', 'properties.heartbeat.interval.ms' = '300');
CREATE TABLE sess (ws TIMESTAMP(3), we TIMESTAMP(3), k INT, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'gsess-out',
  'properties.bootstrap.servers' = '%[1]s', 'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'stx');
INSERT INTO sess SELECT window_start, window_end, k, COUNT(*) FROM TABLE(SESSION(TABLE ev PARTITION BY k, DESCRIPTOR(ts), INTERVAL '2' SECOND))
GROUP BY window_start, window_end, k;`

// sessionEvent is event i of partition i%4: its key and event time (ms).
// Every 400 events time jumps 10 s, past the 2 s gap: each key has a
// session per block. The four partitions reach stage 1 at their own pace,
// so a key's rows arrive out of order and its sessions grow and merge.
func sessionEvent(i int) (k int, ts int64) { return (i * 7) % 11, int64(i)*5 + int64(i/400)*10000 }

// sessionWant computes the sessions of events [0, n) with a 2 s gap:
// "start_ms|end_ms|k|count".
func sessionWant(n int) []string {
	byKey := map[int][]int64{}
	for i := 0; i < n; i++ {
		k, ts := sessionEvent(i)
		byKey[k] = append(byKey[k], ts)
	}
	var out []string
	for k, tss := range byKey {
		slices.Sort(tss)
		start, last, c := tss[0], tss[0], 0
		for _, ts := range tss {
			if ts >= last+2000 {
				out = append(out, fmt.Sprintf("%d|%d|%d|%d", start, last+2000, k, c))
				start, c = ts, 0
			}
			last = ts
			c++
		}
		out = append(out, fmt.Sprintf("%d|%d|%d|%d", start, last+2000, k, c))
	}
	slices.Sort(out)
	return out
}

// readSessionOut reads the sink read_committed as sessionWant's rows,
// failing on a session of a key written twice.
func readSessionOut(t *testing.T, b *kafkatest.Broker) []string {
	t.Helper()
	recs, err := b.Read(context.Background(), "gsess-out", kafkatest.ReadOptions{Quiet: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	seen := map[string]bool{}
	for _, r := range recs {
		var row struct {
			WS, WE string
			K, N   int
		}
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("bad output %q: %v", r.Value, err)
		}
		ws, err1 := time.Parse("2006-01-02 15:04:05.999", row.WS)
		we, err2 := time.Parse("2006-01-02 15:04:05.999", row.WE)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad session bounds in %q", r.Value)
		}
		id := fmt.Sprintf("%d|%d|%d", ws.UnixMilli(), we.UnixMilli(), row.K)
		if seen[id] {
			t.Fatalf("session %s written twice: %s", id, r.Value)
		}
		seen[id] = true
		out = append(out, fmt.Sprintf("%s|%d", id, row.N))
	}
	slices.Sort(out)
	return out
}

// TestDistributedSessions: a keyed SESSION window aggregation runs on two
// processes (engines) behind a repartition hop; the second joins
// half-way and takes partitions over, the first is closed mid-stream and
// the second takes its repartition partitions over from the changelog
// topic, open (grown and merged) sessions included. Every session is
// written exactly once, with the bounds and counts an independent
// computation gives.
func TestDistributedSessions(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	for topic, n := range map[string]int{"sevents": 4, "gsess-out": 1} {
		if err := b.CreateTopic(topic, n); err != nil {
			t.Fatal(err)
		}
	}
	const n = 4000
	// A last event per partition, far ahead, closes every session of the
	// events before it (its own never closes).
	const last = `{"id":-1,"k":-1,"ts":"2000-01-01 00:00:00.000"}`
	produce := func(from, to int) {
		t.Helper()
		var vals [4][]string
		for i := from; i < to; i++ {
			k, ts := sessionEvent(i)
			vals[i%4] = append(vals[i%4], fmt.Sprintf(`{"id":%d,"k":%d,"ts":%q}`, i, k, time.UnixMilli(ts).UTC().Format("2006-01-02 15:04:05.000")))
		}
		for p := range vals {
			if err := b.ProduceJSON("sevents", int32(p), vals[p]...); err != nil {
				t.Fatal(err)
			}
		}
	}
	procs := newProcesses(t, fmt.Sprintf(sessionSQL, b.Addr()))
	start, closeEngine, waitFor := procs.start, procs.close, procs.waitFor
	want := sessionWant(n)
	produce(0, n/2)
	engA, a := start("a")
	procs.aErr = a.Err
	waitFor("a owns the 4 event and 4 repartition partitions", func() bool { return ownedPartitions(a, "sevents/") == 4 && ownedPartitions(a, "gsess-") == 4 })
	// The first half's blocks but its last are closed.
	waitFor("a closed the first blocks' sessions", func() bool { return len(readSessionOut(t, b)) >= 4*11 })
	_, bj := start("b")
	waitFor("b owns partitions", func() bool {
		return ownedPartitions(bj, "sevents/")+ownedPartitions(bj, "gsess-") > 0 && ownedPartitions(a, "sevents/")+ownedPartitions(a, "gsess-") < 8
	})
	// Blocks 5, 6 and half of 7: a is closed with the sessions of at
	// least block 7 open, which b must restore from the changelog.
	produce(n/2, 3*n/4)
	waitFor("sessions after b joined", func() bool { return len(readSessionOut(t, b)) > 5*11 })
	closeEngine(engA, "a")
	waitFor("b owns every partition", func() bool { return ownedPartitions(bj, "sevents/") == 4 && ownedPartitions(bj, "gsess-") == 4 })
	produce(3*n/4, n)
	for p := 0; p < 4; p++ {
		if err := b.ProduceJSON("sevents", int32(p), last); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	waitFor("every session", func() bool { got = readSessionOut(t, b); return len(got) >= len(want) })
	time.Sleep(time.Second)
	if got = readSessionOut(t, b); !slices.Equal(got, want) {
		var missing, extra []string
		for _, w := range want {
			if !slices.Contains(got, w) {
				missing = append(missing, w)
			}
		}
		for _, g := range got {
			if !slices.Contains(want, g) {
				extra = append(extra, g)
			}
		}
		t.Fatalf("sessions differ from the independent computation (got %d, want %d)\n missing %v\n   extra %v", len(got), len(want), missing, extra)
	}
	if m := bj.Query().Membership(); m == nil || m.RestoredEntries == 0 || m.ChangelogRecords == 0 {
		t.Errorf("b restored nothing from the changelog: %+v", m)
	}
}
