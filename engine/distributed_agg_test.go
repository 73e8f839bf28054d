package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/engine"
)

// aggSQL is a non-windowed GROUP BY on several processes into an
// upsert-kafka table: the events' partitions are not by the key, so the
// job runs the aggregation behind a repartition topic, its state in a
// changelog topic.
const aggSQL = `SET 'pipeline.name' = 'gcounts';
SET 'execution.distributed' = 'true';
SET 'execution.checkpointing.interval' = '200 ms';
CREATE TABLE ev (id BIGINT, k INT) WITH ('connector' = 'kafka',
  'topic' = 'gevents', 'properties.bootstrap.servers' = '%[1]s', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json',
  'properties.session.timeout.ms' = '6000', 'properties.heartbeat.interval.ms' = '300');
CREATE TABLE counts (k INT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'gcounts-out',
  'properties.bootstrap.servers' = '%[1]s', 'key.format' = 'json', 'value.format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'gtx');
INSERT INTO counts SELECT k, COUNT(*) FROM ev GROUP BY k;`

// aggKey is the key of event i (of partition i%4).
func aggKey(i int) int { return (i * 7) % 13 }

// readAggOut reads the upsert sink read_committed and reduces it to the
// latest count per key, failing on a tombstone or a count that goes
// backwards (COUNT only grows: a backwards step is a replayed or lost
// update).
func readAggOut(t *testing.T, b *kafkatest.Broker) map[int]int {
	t.Helper()
	recs, err := b.Read(context.Background(), "gcounts-out", kafkatest.ReadOptions{Quiet: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int{}
	for _, r := range recs {
		if r.Value == nil {
			t.Fatalf("tombstone for key %s at %d/%d", r.Key, r.Partition, r.Offset)
		}
		var row struct{ K, N int }
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("bad output %q: %v", r.Value, err)
		}
		if row.N < out[row.K] {
			t.Fatalf("key %d's count went backwards: %d after %d (at %d/%d)", row.K, row.N, out[row.K], r.Partition, r.Offset)
		}
		out[row.K] = row.N
	}
	return out
}

// TestDistributedGroupAgg: a non-windowed GROUP BY runs on two processes
// (engines) behind a repartition hop, into an upsert-kafka table. The
// second process joins half-way and takes partitions over; the first is
// closed mid-stream, and the second takes its repartition partitions
// over from the changelog topic. The read_committed sink, reduced to the
// latest value per key, is the count of every key over all the events,
// and no key's count ever goes backwards.
func TestDistributedGroupAgg(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	for topic, n := range map[string]int{"gevents": 4, "gcounts-out": 2} {
		if err := b.CreateTopic(topic, n); err != nil {
			t.Fatal(err)
		}
	}
	const n = 4000
	want := map[int]int{}
	for i := 0; i < n; i++ {
		want[aggKey(i)]++
	}
	produce := func(from, to int) {
		t.Helper()
		var vals [4][]string
		for i := from; i < to; i++ {
			vals[i%4] = append(vals[i%4], fmt.Sprintf(`{"id":%d,"k":%d}`, i, aggKey(i)))
		}
		for p := range vals {
			if err := b.ProduceJSON("gevents", int32(p), vals[p]...); err != nil {
				t.Fatal(err)
			}
		}
	}
	procs := newProcesses(t, fmt.Sprintf(aggSQL, b.Addr()))
	start, closeEngine, waitFor := procs.start, procs.close, procs.waitFor
	total := func(m map[int]int) int {
		s := 0
		for _, c := range m {
			s += c
		}
		return s
	}
	produce(0, n/2)
	engA, a := start("a")
	procs.aErr = a.Err
	waitFor("a owns the 4 event and 4 repartition partitions", func() bool { return ownedPartitions(a, "gevents/") == 4 && ownedPartitions(a, "gcounts-") == 4 })
	waitFor("a counted a quarter of the events", func() bool { return total(readAggOut(t, b)) >= n/4 })
	_, bj := start("b")
	waitFor("b owns partitions", func() bool {
		return ownedPartitions(bj, "gevents/")+ownedPartitions(bj, "gcounts-") > 0 && ownedPartitions(a, "gevents/")+ownedPartitions(a, "gcounts-") < 8
	})
	produce(n/2, 3*n/4)
	waitFor("the events after b joined counted", func() bool { return total(readAggOut(t, b)) >= n/2+n/8 })
	closeEngine(engA, "a")
	produce(3*n/4, n)
	waitFor("b owns every partition", func() bool { return ownedPartitions(bj, "gevents/") == 4 && ownedPartitions(bj, "gcounts-") == 4 })
	var got map[int]int
	waitFor("every event counted", func() bool { got = readAggOut(t, b); return total(got) >= n })
	time.Sleep(time.Second)
	if got = readAggOut(t, b); !maps.Equal(got, want) {
		t.Fatalf("the sink's table differs from the counts of the events:\n got %v\nwant %v", got, want)
	}
	if m := bj.Query().Membership(); m == nil || m.RestoredEntries == 0 {
		t.Errorf("b restored nothing from the changelog: %+v", m)
	}
}

// TestDistributedGroupAggTTL: the groups that 'table.exec.state.ttl'
// expires are tombstoned in the changelog topic (in the checkpoint's
// transaction), so a process that takes their partitions over does not
// restore them.
func TestDistributedGroupAggTTL(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	for topic, n := range map[string]int{"gevents": 2, "gcounts-out": 1} {
		if err := b.CreateTopic(topic, n); err != nil {
			t.Fatal(err)
		}
	}
	var vals []string
	for i := 0; i < 20; i++ {
		vals = append(vals, fmt.Sprintf(`{"id":%d,"k":%d}`, i, i%5))
	}
	if err := b.ProduceJSON("gevents", 0, vals...); err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.Options{StateDir: t.TempDir(), InstanceID: "a"})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := eng.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	sql := strings.Replace(fmt.Sprintf(aggSQL, b.Addr()), "SET 'execution.distributed'", "SET 'table.exec.state.ttl' = '300 ms';\nSET 'execution.distributed'", 1)
	job, err := eng.Submit(execAll(t, eng, sql).Query, nil)
	if err != nil {
		t.Fatal(err)
	}
	changelog := ""
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no tombstone of every key in changelog %q after 90 s (job: %v)", changelog, job.Err())
		}
		if changelog == "" {
			if m := job.Query().Membership(); m != nil {
				for _, p := range m.Partitions {
					if name, ok := strings.CutSuffix(p, "-repartition/0"); ok {
						changelog = name + "-changelog"
					}
				}
			}
			continue
		}
		recs, err := b.Read(context.Background(), changelog, kafkatest.ReadOptions{Quiet: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		set, dead := map[string]bool{}, map[string]bool{}
		for _, r := range recs {
			if len(r.Key) <= 2 {
				continue // the catalog
			}
			if r.Value == nil {
				dead[string(r.Key)] = set[string(r.Key)]
			} else {
				set[string(r.Key)] = true
			}
		}
		n := 0
		for _, ok := range dead {
			if ok {
				n++
			}
		}
		if len(set) == 5 && n == 5 {
			return
		}
	}
}

// processes runs the processes of one distributed test job: each an
// engine with its own state directory and instance id, running sql.
type processes struct {
	t      *testing.T
	sql    string
	mu     sync.Mutex
	closed map[*engine.Engine]bool
	// aErr, when set, is the first process's job error, reported when a
	// wait times out.
	aErr func() error
}

func newProcesses(t *testing.T, sql string) *processes {
	return &processes{t: t, sql: sql, closed: map[*engine.Engine]bool{}}
}

// start starts process instance; the test's end closes it.
func (p *processes) start(instance string) (*engine.Engine, *engine.Job) {
	p.t.Helper()
	eng := engine.New(engine.Options{StateDir: p.t.TempDir(), InstanceID: instance})
	p.t.Cleanup(func() { p.close(eng, instance) })
	job, err := eng.Submit(execAll(p.t, eng, p.sql).Query, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	return eng, job
}

// close closes a process (once: a later call does nothing).
func (p *processes) close(eng *engine.Engine, name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed[eng] {
		return
	}
	p.closed[eng] = true
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := eng.Close(ctx); err != nil {
		p.t.Errorf("close %s: %v", name, err)
	}
}

// waitFor waits up to 90 s for ok.
func (p *processes) waitFor(what string, ok func() bool) {
	p.t.Helper()
	for deadline := time.Now().Add(90 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			var err error
			if p.aErr != nil {
				err = p.aErr()
			}
			p.t.Fatalf("%s: not after 90 s (a: %v)", what, err)
		}
	}
}
