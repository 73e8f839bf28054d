package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/engine"
)

// stageSQL is a keyed window aggregation on several processes: the
// events' partitions are not by the GROUP BY key, so the job runs it
// behind a repartition topic, its state in a changelog topic.
const stageSQL = `SET 'pipeline.name' = 'counts';
SET 'execution.distributed' = 'true';
SET 'execution.checkpointing.interval' = '200 ms';
CREATE TABLE ev (id BIGINT, k INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'kafka',
  'topic' = 'events', 'properties.bootstrap.servers' = '%[1]s', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json',
  'properties.session.timeout.ms' = '6000', 'properties.heartbeat.interval.ms' = '300');
CREATE TABLE out (ws TIMESTAMP(3), we TIMESTAMP(3), k INT, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'out',
  'properties.bootstrap.servers' = '%[1]s', 'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'tx');
INSERT INTO out SELECT window_start, window_end, k, COUNT(*) FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY window_start, window_end, k;`

// stageEvent is event i of partition i%4: key and event time (ms).
func stageEvent(i int) (k int, ts int64) { return (i * 7) % 11, int64(i) * 5 }

// stageWant counts the events [0, n) by 1 s window and key, as the job
// should: "window_start_ms|k|count".
func stageWant(n int) []string {
	counts := map[[2]int64]int{}
	for i := 0; i < n; i++ {
		k, ts := stageEvent(i)
		counts[[2]int64{ts / 1000 * 1000, int64(k)}]++
	}
	var out []string
	for key, c := range counts {
		out = append(out, fmt.Sprintf("%d|%d|%d", key[0], key[1], c))
	}
	slices.Sort(out)
	return out
}

// readStageOut reads the sink read_committed as stageWant's rows,
// failing on a window written twice.
func readStageOut(t *testing.T, b *kafkatest.Broker) []string {
	t.Helper()
	recs, err := b.Read(context.Background(), "out", kafkatest.ReadOptions{Quiet: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	seen := map[string]bool{}
	for _, r := range recs {
		var row struct {
			WS string `json:"ws"`
			K  int    `json:"k"`
			N  int    `json:"n"`
		}
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("bad output %q: %v", r.Value, err)
		}
		ws, err := time.Parse("2006-01-02 15:04:05.999", row.WS)
		if err != nil {
			t.Fatalf("bad window start %q: %v", row.WS, err)
		}
		id := fmt.Sprintf("%d|%d", ws.UnixMilli(), row.K)
		if seen[id] {
			t.Fatalf("window %s written twice: %s", id, r.Value)
		}
		seen[id] = true
		out = append(out, fmt.Sprintf("%s|%d", id, row.N))
	}
	slices.Sort(out)
	return out
}

// TestDistributedWindowStages: a keyed window aggregation runs on two
// processes (engines) behind a repartition hop; the second joins half-way
// and takes partitions over, the first stops (STOP JOB) and the second
// takes its repartition partitions over from the changelog topic. Every
// window of the events is written exactly once, with the counts an
// independent computation gives. Partition 3's events, and its last one,
// are all read before the second process joins: the process that owns it
// afterwards reads no row of it and resumes its watermark from the
// committed offset's metadata, or no window would close.
func TestDistributedWindowStages(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	for topic, n := range map[string]int{"events": 4, "out": 1} {
		if err := b.CreateTopic(topic, n); err != nil {
			t.Fatal(err)
		}
	}
	const n = 4000
	// A last event per partition, far ahead, fires every window of the
	// events before it.
	const last = `{"id":-1,"k":-1,"ts":"2000-01-01 00:00:00.000"}`
	produce := func(from, to int, parts ...int) {
		t.Helper()
		var vals [4][]string
		for i := from; i < to; i++ {
			k, ts := stageEvent(i)
			vals[i%4] = append(vals[i%4], fmt.Sprintf(`{"id":%d,"k":%d,"ts":%q}`, i, k, time.UnixMilli(ts).UTC().Format("2006-01-02 15:04:05.000")))
		}
		for _, p := range parts {
			if err := b.ProduceJSON("events", int32(p), vals[p]...); err != nil {
				t.Fatal(err)
			}
		}
	}
	start := func(instance string) (*engine.Engine, *engine.Job) {
		eng := engine.New(engine.Options{StateDir: t.TempDir(), InstanceID: instance})
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := eng.Close(ctx); err != nil {
				t.Errorf("close %s: %v", instance, err)
			}
		})
		job, err := eng.Submit(execAll(t, eng, fmt.Sprintf(stageSQL, b.Addr())).Query, nil)
		if err != nil {
			t.Fatal(err)
		}
		return eng, job
	}
	aErr := func() error { return nil }
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(90 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after 90 s (a: %v)", what, aErr())
			}
		}
	}
	produce(0, n/2, 0, 1, 2)
	produce(0, n, 3)
	if err := b.ProduceJSON("events", 3, last); err != nil {
		t.Fatal(err)
	}
	engA, a := start("a")
	aErr = a.Err
	waitFor("a owns the 4 event and 4 repartition partitions", func() bool { return ownedPartitions(a, "events/") == 4 && ownedPartitions(a, "counts-") == 4 })
	waitFor("a committed partition 3's end", func() bool {
		offs, err := b.CommittedOffsets("counts", "events")
		return err == nil && offs[3] == n/4+1
	})
	_, bj := start("b")
	waitFor("b owns partitions", func() bool {
		return ownedPartitions(bj, "events/")+ownedPartitions(bj, "counts-") > 0 && ownedPartitions(a, "events/")+ownedPartitions(a, "counts-") < 8
	})
	produce(n/2, n, 0, 1, 2)
	for p := 0; p < 3; p++ {
		if err := b.ProduceJSON("events", int32(p), last); err != nil {
			t.Fatal(err)
		}
	}
	want := stageWant(n)
	var got []string
	waitFor("half the windows", func() bool { got = readStageOut(t, b); return len(got) >= len(want)/2 })
	if msg := execAll(t, engA, "STOP JOB 'counts';").Message; !strings.Contains(msg, "stopped") {
		t.Fatalf("STOP JOB: %q", msg)
	}
	<-a.Done()
	waitFor("b owns every partition", func() bool { return ownedPartitions(bj, "events/") == 4 && ownedPartitions(bj, "counts-") == 4 })
	waitFor("every window", func() bool { got = readStageOut(t, b); return len(got) >= len(want) })
	time.Sleep(time.Second)
	got = readStageOut(t, b)
	if !slices.Equal(got, want) {
		t.Fatalf("windows differ from the independent computation (got %d, want %d)\n got %v\nwant %v", len(got), len(want), got[:min(20, len(got))], want[:20])
	}
	if m := bj.Query().Membership(); m == nil || m.RestoredEntries == 0 {
		t.Errorf("b restored nothing from the changelog: %+v", m)
	}
}

// TestDistributedLocalRestore: a process restarted with its state
// directory restores the keyed state of its repartition partitions from
// its local checkpoint, reading no changelog record, when nothing was
// written into the changelog since; after another process owned the
// partitions (and wrote their changelog) it replays the changelog. Every
// window is written once, with the counts an independent computation
// gives; SHOW JOBS' member column and Membership show the key groups of
// each repartition partition and no lag once caught up.
func TestDistributedLocalRestore(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	for topic, n := range map[string]int{"events": 4, "out": 1} {
		if err := b.CreateTopic(topic, n); err != nil {
			t.Fatal(err)
		}
	}
	const n = 2400
	produced := [4]int64{}
	produce := func(from, to int) {
		t.Helper()
		var vals [4][]string
		for i := from; i < to; i++ {
			k, ts := stageEvent(i)
			vals[i%4] = append(vals[i%4], fmt.Sprintf(`{"id":%d,"k":%d,"ts":%q}`, i, k, time.UnixMilli(ts).UTC().Format("2006-01-02 15:04:05.000")))
		}
		for p := range vals {
			if err := b.ProduceJSON("events", int32(p), vals[p]...); err != nil {
				t.Fatal(err)
			}
			produced[p] += int64(len(vals[p]))
		}
	}
	var cur *engine.Job
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(90 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
			if cur != nil {
				if err := cur.Err(); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after 90 s", what)
			}
		}
	}
	// run starts a process on dir, waits until it owns every partition,
	// has restored, and committed every event produced; then stops it
	// (a final checkpoint) and returns its Membership.
	run := func(instance, dir string, during func()) *engine.Membership {
		t.Helper()
		var lg *slog.Logger // STREAMSQL_DISTRIBUTED_LOG=1: the processes' log on stderr
		if os.Getenv("STREAMSQL_DISTRIBUTED_LOG") != "" {
			lg = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("proc", instance)
		}
		eng := engine.New(engine.Options{StateDir: dir, InstanceID: instance, Logger: lg})
		job, err := eng.Submit(execAll(t, eng, fmt.Sprintf(stageSQL, b.Addr())).Query, nil)
		if err != nil {
			t.Fatal(err)
		}
		cur = job
		var m *engine.Membership
		waitFor(instance+" owns and restored every partition", func() bool {
			m = job.Query().Membership()
			return m != nil && len(m.Partitions) == 8 && len(m.Restores) == 4
		})
		if during != nil {
			during()
		}
		waitFor(instance+" committed every event", func() bool {
			offs, err := b.CommittedOffsets("counts", "events")
			for p := range produced {
				if err != nil || offs[int32(p)] != produced[p] {
					return false
				}
			}
			return true
		})
		// Caught up: every partition it reads (source and repartition)
		// shows no lag.
		waitFor(instance+" shows no lag", func() bool {
			l := job.Query().Membership().Lag
			if len(l) != 8 {
				return false
			}
			for _, v := range l {
				if v != 0 {
					return false
				}
			}
			return true
		})
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := eng.Close(ctx); err != nil {
			t.Fatalf("close %s: %v", instance, err)
		}
		cur = nil
		return m
	}
	from := func(m *engine.Membership) string {
		var s []string
		for _, r := range m.Restores {
			s = append(s, r.From)
		}
		return strings.Join(slices.Compact(s), ",")
	}
	dirA := t.TempDir()
	produce(0, n/3)
	run("a", dirA, nil)
	// A restarted with its directory: local, not a record read.
	m := run("a", dirA, func() { produce(n/3, 2*n/3) })
	if from(m) != "local" || m.ChangelogRecords != 0 || m.RestoredEntries == 0 {
		t.Errorf("a's restart: restored from %q, %d changelog records, %d entries; want local, 0 records, some entries (%s)",
			from(m), m.ChangelogRecords, m.RestoredEntries, m)
	}
	if !strings.Contains(m.String(), "(local 0,1,2,3)") || !strings.Contains(m.String(), "; key groups 0-31,32-63,64-95,96-127") {
		t.Errorf("SHOW JOBS member: %q, want the local restore and the key groups", m)
	}
	// 128 key groups (the default) over 4 repartition partitions.
	for p := 0; p < 4; p++ {
		name := fmt.Sprintf("counts-2-window-agg-repartition/%d", p)
		if r := m.KeyGroups[name]; r.Start != 32*p || r.End != 32*(p+1) {
			t.Errorf("key groups of %s: %v, want [%d, %d)", name, r, 32*p, 32*(p+1))
		}
	}
	// Another process (a new machine in a's place: the same identity,
	// another state directory, so no session timeout to wait for) owns
	// the partitions in between and writes their changelog.
	m = run("a", t.TempDir(), func() { produce(2*n/3, 5*n/6) })
	if from(m) != "changelog" || m.ChangelogRecords == 0 {
		t.Errorf("the other process: restored from %q, %d changelog records; want the changelog", from(m), m.ChangelogRecords)
	}
	// A again, on its directory: its local checkpoint is behind the
	// changelog.
	const last = `{"id":-1,"k":-1,"ts":"2000-01-01 00:00:00.000"}`
	m = run("a", dirA, func() {
		produce(5*n/6, n)
		for p := range produced {
			if err := b.ProduceJSON("events", int32(p), last); err != nil {
				t.Fatal(err)
			}
			produced[p]++
		}
		want := stageWant(n)
		var got []string
		for deadline := time.Now().Add(90 * time.Second); len(got) < len(want); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				var missing []string
				for _, w := range want {
					if !slices.Contains(got, w) {
						missing = append(missing, w)
					}
				}
				st := cur.Query().Stats()
				t.Fatalf("%d of %d windows after 90 s (watermark %d, lag %v, %s); missing %v", len(got), len(want), st.Watermark, st.SourceLag,
					cur.Query().Membership(), missing[:min(len(missing), 30)])
			}
			got = readStageOut(t, b)
		}
	})
	if from(m) != "changelog" || m.ChangelogRecords == 0 || m.RestoredEntries == 0 {
		t.Errorf("a after the other process: restored from %q, %d changelog records, %d entries; want the changelog", from(m), m.ChangelogRecords, m.RestoredEntries)
	}
	want := stageWant(n)
	if got := readStageOut(t, b); !slices.Equal(got, want) {
		t.Fatalf("windows differ from the independent computation (got %d, want %d)\n got %v\nwant %v", len(got), len(want), got[:min(20, len(got))], want[:20])
	}
}

// ownedPartitions counts the partitions whose names start with prefix
// that j's process owns now.
func ownedPartitions(j *engine.Job, prefix string) int {
	c := 0
	if m := j.Query().Membership(); m != nil {
		for _, p := range m.Partitions {
			if strings.HasPrefix(p, prefix) {
				c++
			}
		}
	}
	return c
}

// TestDistributedIdleUpstream: of two processes, one owns an events
// partition that gets no row, and no other; its stage 0 is idle
// ('scan.watermark.idle-timeout') and says so in its markers, so the
// windows of the other partition's events close behind the repartition
// hop (waiting for the idle process's watermark, none would). Then the
// idle partition wakes up with a row, which is on time and counted in its
// window; that window closes once the partition is idle again and the
// other one's watermark has passed it.
func TestDistributedIdleUpstream(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	for topic, n := range map[string]int{"events": 3, "out": 1} {
		if err := b.CreateTopic(topic, n); err != nil {
			t.Fatal(err)
		}
	}
	// One repartition partition: of the 4 partitions, the sticky
	// assignment leaves it and the first events partition to a, the
	// process that started first, when b joins.
	sql := strings.Replace(fmt.Sprintf(stageSQL, b.Addr()), "'format' = 'json',\n", "'format' = 'json', 'scan.watermark.idle-timeout' = '300 ms',\n", 1)
	sql = "SET 'execution.distributed.repartition-partitions' = '1';\n" + sql
	if !strings.Contains(sql, "idle-timeout") {
		t.Fatal("no idle timeout in the job")
	}
	var jobs []*engine.Job
	start := func(instance string) *engine.Job {
		eng := engine.New(engine.Options{StateDir: t.TempDir(), InstanceID: instance})
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := eng.Close(ctx); err != nil {
				t.Errorf("close %s: %v", instance, err)
			}
		})
		job, err := eng.Submit(execAll(t, eng, sql).Query, nil)
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, job)
		return job
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
			for _, j := range jobs {
				if err := j.Err(); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
			if time.Now().After(deadline) {
				var owned []string
				for _, j := range jobs {
					if m := j.Query().Membership(); m != nil {
						owned = append(owned, fmt.Sprint(m.Partitions))
					}
				}
				t.Fatalf("%s: not after 60 s (owned %v, output %v)", what, owned, readStageOut(t, b))
			}
		}
	}
	a := start("a")
	waitFor("a owns every partition", func() bool { return ownedPartitions(a, "events/") == 3 })
	bj := start("b")
	waitFor("a owns one events partition, b two", func() bool {
		return ownedPartitions(a, "events/") == 1 && ownedPartitions(bj, "events/") == 2
	})
	var pa, pb int32 = -1, -1
	for p := int32(0); p < 3; p++ {
		switch m := a.Query().Membership(); {
		case m != nil && slices.Contains(m.Partitions, fmt.Sprintf("events/%d", p)):
			pa = p
		case pb < 0:
			pb = p
		}
	}
	ev := func(p int32, id, k int, ts int64) {
		t.Helper()
		v := fmt.Sprintf(`{"id":%d,"k":%d,"ts":%q}`, id, k, time.UnixMilli(ts).UTC().Format("2006-01-02 15:04:05.000"))
		if err := b.ProduceJSON("events", p, v); err != nil {
			t.Fatal(err)
		}
	}
	// b's partition only: its watermark reaches 4 s.
	for i, ts := range []int64{100, 1100, 2100, 5000} {
		ev(pb, i, 1, ts)
	}
	want := []string{"0|1|1", "1000|1|1", "2000|1|1"}
	var got []string
	waitFor("the windows of b's partition", func() bool { got = readStageOut(t, b); return len(got) >= len(want) })
	if !slices.Equal(got, want) {
		t.Fatalf("windows %v, want %v", got, want)
	}
	// a's partition wakes up: its row is on time (the watermark is at
	// 4 s); then b's partition moves past its window.
	ev(pa, 10, 1, 5500)
	ev(pb, 11, 2, 8000)
	want = append(want, "5000|1|2")
	waitFor("the window of a's row", func() bool { got = readStageOut(t, b); return len(got) >= len(want) })
	if !slices.Equal(got, want) {
		t.Fatalf("windows %v, want %v", got, want)
	}
}
