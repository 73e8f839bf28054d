package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
)

const upsertCrashQuery = `
SET 'execution.checkpointing.interval' = '200 ms';
SET 'pipeline.name' = '%[4]s';

CREATE TABLE clicks (k BIGINT, v BIGINT) WITH ('connector' = 'kafka', 'topic' = 'clicks',
  'properties.bootstrap.servers' = '%[1]s', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json');

CREATE TABLE counts (k BIGINT, n BIGINT, total BIGINT, PRIMARY KEY (k) NOT ENFORCED)
WITH ('connector' = 'upsert-kafka', 'topic' = '%[2]s', 'properties.bootstrap.servers' = '%[1]s',
  'key.format' = 'json', 'value.format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = '%[3]s');

INSERT INTO counts SELECT k, COUNT(*), SUM(v) FROM clicks GROUP BY k;
`

// compactedCounts reads topic read_committed and compacts it as Kafka's
// log compaction would: the last value per key, a tombstone deleting it.
// It returns "n|total" by key. It checks that every key's count only goes
// up from record to record: the final view of an upsert sink is the same
// at-least-once (a replay rewrites the same values), but a reader of an
// at-least-once topic sees a key's count go back after a crash; exactly-
// once it never does.
func compactedCounts(t *testing.T, b *kafkatest.Broker, topic string) map[int64]string {
	t.Helper()
	recs, err := b.Read(context.Background(), topic, kafkatest.ReadOptions{Quiet: 2 * time.Second})
	must(t, err)
	out := map[int64]string{}
	last := map[int64]int64{}
	for _, r := range recs {
		var key struct {
			K int64 `json:"k"`
		}
		if err := json.Unmarshal(r.Key, &key); err != nil {
			t.Fatalf("bad key %q: %v", r.Key, err)
		}
		if r.Value == nil {
			delete(out, key.K)
			continue
		}
		var v struct {
			K, N, Total int64
		}
		if err := json.Unmarshal(r.Value, &v); err != nil || v.K != key.K {
			t.Fatalf("bad value %q of key %q: %v", r.Value, r.Key, err)
		}
		if v.N <= last[key.K] {
			t.Fatalf("%s: key %d's count went from %d to %d: a replayed row is visible to a read_committed reader", topic, key.K, last[key.K], v.N)
		}
		last[key.K] = v.N
		out[key.K] = fmt.Sprintf("%d|%d", v.N, v.Total)
	}
	return out
}

// TestUpsertKafkaCrashRecovery: a non-windowed GROUP BY over a 4-partition
// topic of 40,000 events into upsert-kafka exactly-once. The real binary
// is SIGKILLed at random moments at least 20 times while the events
// arrive and restarted on the same state directory; the last run goes on
// until the output is complete. The compacted view a read_committed
// reader builds of the sink topic must equal an uninterrupted run's, and
// an independent computation: a replayed row would count twice, a lost one
// not at all.
func TestUpsertKafkaCrashRecovery(t *testing.T) {
	t.Parallel() // waits on processes and checkpoints more than it computes
	if testing.Short() {
		t.Skip("crash test is long; run without -short")
	}
	bin := binary(t)
	b := kafkatest.StartT(t, kafkatest.Options{})
	for _, tp := range []string{"clicks", "counts", "counts_ref"} {
		must(t, b.CreateTopic(tp, 4))
	}
	const events = 40_000
	rng := rand.New(rand.NewSource(14))
	type acc struct{ n, total int64 }
	accs := map[int64]*acc{}
	var recs []kafkatest.Record
	for i := 0; i < events; i++ {
		k, v := rng.Int63n(2000), rng.Int63n(1000)
		a := accs[k]
		if a == nil {
			a = &acc{}
			accs[k] = a
		}
		a.n++
		a.total += v
		recs = append(recs, kafkatest.Record{Partition: int32(i % 4), Value: fmt.Appendf(nil, `{"k":%d,"v":%d}`, k, v)})
	}
	want := map[int64]string{}
	for k, a := range accs {
		want[k] = fmt.Sprintf("%d|%d", a.n, a.total)
	}
	dir := t.TempDir()
	start := func(name, out string) (*exec.Cmd, *syncBuffer) {
		sql := filepath.Join(dir, name+".sql")
		must(t, os.WriteFile(sql, []byte(fmt.Sprintf(upsertCrashQuery, b.Addr(), out, "tx-"+name, name)), 0o644))
		cmd := exec.Command(bin, "run", "-v", "--state-dir", filepath.Join(dir, name), sql)
		stderr := &syncBuffer{}
		cmd.Stderr = stderr
		must(t, cmd.Start())
		return cmd, stderr
	}

	// The events arrive over about 8 s while the job is killed.
	p, err := b.NewProducer()
	must(t, err)
	produced := make(chan error, 1)
	go func() {
		const chunk = 1250
		for i := 0; i < len(recs); i += chunk {
			if err := p.Send("clicks", recs[i:min(i+chunk, len(recs))]...); err != nil {
				produced <- err
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
		produced <- p.Close()
	}()

	kills, restores := 0, 0
	producing := true
	for kills < 20 || producing {
		cmd, stderr := start("crashing", "counts")
		time.Sleep(time.Duration(150+rng.Intn(700)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("run ended by itself: %v\n%s", err, stderr.String())
		}
		kills++
		if strings.Contains(stderr.String(), "restoring checkpoint") {
			restores++
		}
		select {
		case err := <-produced:
			must(t, err)
			producing = false
		default:
		}
		if kills > 200 {
			t.Fatal("the producer does not finish")
		}
	}
	// Until the view is complete (a liveness bound, not a speed claim),
	// then a second for anything more, which would be wrong.
	waitFor := func(cmd *exec.Cmd, stderr *syncBuffer, topic string) map[int64]string {
		deadline := time.Now().Add(100 * time.Second)
		var got map[int64]string
		for !maps.Equal(got, want) {
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("%s: %d of %d keys right after 100 s\nstderr tail:\n%s", topic, countEqual(got, want), len(want), tail(stderr.String()))
			}
			time.Sleep(time.Second)
			got = compactedCounts(t, b, topic)
		}
		time.Sleep(time.Second)
		got = compactedCounts(t, b, topic)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		return got
	}
	cmd, stderr := start("crashing", "counts")
	got := waitFor(cmd, stderr, "counts")
	if strings.Contains(stderr.String(), "restoring checkpoint") {
		restores++
	}
	t.Logf("%d kills, %d runs restored from a checkpoint, %d keys", kills, restores, len(got))
	if restores < 10 {
		t.Fatalf("only %d runs restored from a checkpoint", restores)
	}
	ref, refErr := start("reference", "counts_ref")
	reference := waitFor(ref, refErr, "counts_ref")
	if !maps.Equal(got, reference) || !maps.Equal(reference, want) {
		t.Fatalf("crashed runs: %d of %d keys right; uninterrupted run: %d of %d", countEqual(got, want), len(want), countEqual(reference, want), len(want))
	}
}

// countEqual counts the keys of want that got holds with the same value.
func countEqual(got, want map[int64]string) int {
	n := 0
	for k, v := range want {
		if got[k] == v {
			n++
		}
	}
	return n
}
