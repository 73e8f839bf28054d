package engine_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/engine"
)

// TestDistributedMembership: two engines (two processes) submit the same
// job with 'execution.distributed'; the second's join moves half the
// partitions to it. Membership, SHOW JOBS and the output show it: every
// partition owned by exactly one, each row written once. STOP JOB on the
// first stops it, and the second takes every partition.
func TestDistributedMembership(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	if err := b.CreateTopic("events", 4); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateTopic("out", 1); err != nil {
		t.Fatal(err)
	}
	sql := fmt.Sprintf(`SET 'pipeline.name' = 'dist';
SET 'execution.distributed' = 'true';
SET 'execution.checkpointing.interval' = '200 ms';
CREATE TABLE ev (id BIGINT) WITH ('connector' = 'kafka', 'topic' = 'events', 'properties.bootstrap.servers' = '%[1]s',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json', 'properties.session.timeout.ms' = '6000', 'properties.heartbeat.interval.ms' = '300');
CREATE TABLE out (id BIGINT) WITH ('connector' = 'kafka', 'topic' = 'out', 'properties.bootstrap.servers' = '%[1]s', 'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'tx');
INSERT INTO out SELECT id FROM ev;`, b.Addr())
	produce := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if err := b.ProduceJSON("events", int32(i%4), fmt.Sprintf(`{"id":%d}`, i)); err != nil {
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
		job, err := eng.Submit(execAll(t, eng, sql).Query, nil)
		if err != nil {
			t.Fatal(err)
		}
		return eng, job
	}
	waitOwned := func(what string, jobs map[string]*engine.Job, ok func(map[string][]string) bool) map[string][]string {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			owned := map[string][]string{}
			for name, j := range jobs {
				if m := j.Query().Membership(); m != nil {
					owned[name] = m.Partitions
				}
			}
			if ok(owned) {
				return owned
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: owned %v after 60 s", what, owned)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	produce(0, 100)
	engA, a := start("a")
	waitOwned("one member", map[string]*engine.Job{"a": a}, func(o map[string][]string) bool { return len(o["a"]) == 4 })
	row := execAll(t, engA, "SHOW JOBS;")
	if col := slices.Index(row.Header, "member"); col < 0 || !strings.HasPrefix(row.Rows[0][col], "a (generation ") ||
		!strings.Contains(row.Rows[0][col]+";", ": events/0,events/1,events/2,events/3;") {
		t.Fatalf("SHOW JOBS: %v\n%v", row.Header, row.Rows)
	}
	produce(100, 200)
	_, bj := start("b")
	owned := waitOwned("two members", map[string]*engine.Job{"a": a, "b": bj}, func(o map[string][]string) bool {
		return len(o["a"]) == 2 && len(o["b"]) == 2
	})
	all := append(slices.Clone(owned["a"]), owned["b"]...)
	slices.Sort(all)
	if !slices.Equal(all, []string{"events/0", "events/1", "events/2", "events/3"}) {
		t.Fatalf("partitions owned: %v", owned)
	}
	if r := a.Query().Membership().Rebalances; r < 2 {
		t.Fatalf("a received %d assignments, want at least 2", r)
	}
	produce(200, 300)
	var got []string
	for deadline := time.Now().Add(60 * time.Second); len(got) < 300; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			un, _ := b.Read(context.Background(), "out", kafkatest.ReadOptions{ReadUncommitted: true})
			t.Fatalf("%d of 300 rows after 60 s (%d uncommitted); a %+v b %+v", len(got), len(un), a.Stats().RecordsOut, bj.Stats().RecordsOut)
		}
		recs, err := b.Read(context.Background(), "out", kafkatest.ReadOptions{Quiet: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		got = kafkatest.Values(recs)
	}
	seen := map[string]bool{}
	for _, v := range got {
		if seen[v] {
			t.Fatalf("row %s written twice", v)
		}
		seen[v] = true
	}
	if len(got) != 300 {
		t.Fatalf("%d rows, want 300", len(got))
	}
	// Each process's counters cover all its jobs (one per assignment):
	// together they read and wrote every row at least once. More is
	// right too: rows a job processed in a transaction that a rebalance
	// aborted are counted, and processed again by the next owner.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		sa, sb := a.Stats(), bj.Stats()
		if sa.RecordsIn+sb.RecordsIn >= 300 && sa.RecordsOut+sb.RecordsOut >= 300 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rows in %d + %d, out %d + %d; want at least 300 in all", sa.RecordsIn, sb.RecordsIn, sa.RecordsOut, sb.RecordsOut)
		}
	}

	// STOP JOB: the process leaves the group, whose other member takes
	// every partition.
	if msg := execAll(t, engA, "STOP JOB 'dist';").Message; !strings.Contains(msg, "stopped") {
		t.Fatalf("STOP JOB: %q", msg)
	}
	select {
	case <-a.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("the stopped job did not end within 60 s")
	}
	if st := a.Status(); st != engine.Stopped {
		t.Fatalf("stopped job: status %s (%v)", st, a.Err())
	}
	waitOwned("after a left", map[string]*engine.Job{"b": bj}, func(o map[string][]string) bool { return len(o["b"]) == 4 })
}
