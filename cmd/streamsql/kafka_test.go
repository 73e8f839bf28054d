package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/types"
)

var topicRE = regexp.MustCompile(`'topic'\s*=\s*'([^']+)'`)

// TestKafkaQueries runs every queries/kafka_*.sql example against an
// in-process broker: the examples' topics are created with 4 partitions,
// queries/testdata/NAME.jsonl is produced into the first topic
// round-robin, the bootstrap address is rewritten, and the job runs until
// the output topic holds as many rows as the golden file
// queries/testdata/NAME.out (sorted values, read_committed).
func TestKafkaQueries(t *testing.T) {
	t.Chdir("../..")
	files, _ := filepath.Glob("queries/kafka_*.sql")
	if len(files) == 0 {
		t.Fatal("no queries/kafka_*.sql")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".sql")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(f)
			must(t, err)
			b := kafkatest.StartT(t, kafkatest.Options{})
			topics := topicRE.FindAllStringSubmatch(string(src), -1)
			for _, m := range topics {
				must(t, b.CreateTopic(m[1], 4))
			}
			in, err := os.ReadFile(filepath.Join("queries", "testdata", name+".jsonl"))
			must(t, err)
			var recs []kafkatest.Record
			for i, line := range strings.Split(strings.TrimSpace(string(in)), "\n") {
				recs = append(recs, kafkatest.Record{Partition: int32(i % 4), Value: []byte(line)})
			}
			must(t, b.Produce(topics[0][1], recs...))
			sql := filepath.Join(t.TempDir(), name+".sql")
			must(t, os.WriteFile(sql, []byte(strings.ReplaceAll(string(src), "127.0.0.1:9092", b.Addr())), 0o644))

			golden := filepath.Join("queries", "testdata", name+".out")
			want, _ := os.ReadFile(golden)
			wantRows := strings.Count(string(want), "\n")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan int, 1)
			var stdout, stderr bytes.Buffer
			go func() { done <- Main(ctx, []string{"run", "--state-dir", t.TempDir(), sql}, &stdout, &stderr) }()
			out := topics[len(topics)-1][1]
			var got []string
			deadline := time.Now().Add(30 * time.Second)
			for {
				time.Sleep(500 * time.Millisecond)
				got = readSorted(t, b, out)
				if (*update && len(got) > 0 && slices.Equal(got, readSorted(t, b, out))) || !*update && len(got) >= wantRows {
					break
				}
				select {
				case code := <-done:
					t.Fatalf("streamsql exited with %d:\n%s", code, stderr.String())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("timeout: %d rows of %d\nstderr:\n%s", len(got), wantRows, stderr.String())
				}
			}
			cancel()
			<-done
			text := strings.Join(got, "\n") + "\n"
			if *update {
				must(t, os.WriteFile(golden, []byte(text), 0o644))
				return
			}
			if text != string(want) {
				t.Fatalf("output differs from %s (run with -update after checking):\n--- got\n%s--- want\n%s", golden, text, want)
			}
		})
	}
}

func readSorted(t *testing.T, b *kafkatest.Broker, topic string) []string {
	t.Helper()
	recs, err := b.Read(context.Background(), topic, kafkatest.ReadOptions{Quiet: 200 * time.Millisecond})
	must(t, err)
	v := kafkatest.Values(recs)
	slices.Sort(v)
	return v
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDevKafka(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"dev", "kafka", "--port", "0", "--partitions", "3", "--topic", "a,b"}, &stdout, &stderr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), "listening on") {
		if time.Now().After(deadline) {
			t.Fatalf("no start: %s %s", stdout.String(), stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(stdout.String(), "topics a, b (3 partitions each)") {
		t.Fatalf("stdout: %s", stdout.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var out bytes.Buffer
	if code := Main(context.Background(), []string{"dev", "kafka", "--help"}, &out, &out); code != 0 || !strings.Contains(out.String(), "Usage") {
		t.Fatalf("help: %d %s", code, out.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const kafkaCrashQuery = `
SET 'execution.checkpointing.interval' = '200 ms';
SET 'pipeline.name' = '%[4]s';

CREATE TABLE ev (k INT, v BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'events', 'properties.bootstrap.servers' = '%[1]s',
  'properties.group.id' = '%[4]s', 'scan.startup.mode' = 'earliest-offset',
  'scan.watermark.idle-timeout' = '1 s', 'format' = 'json');

CREATE TABLE agg (k INT, window_start TIMESTAMP(3), window_end TIMESTAMP(3), n BIGINT, total BIGINT, top BIGINT)
WITH ('connector' = 'kafka', 'topic' = '%[2]s', 'properties.bootstrap.servers' = '%[1]s',
  'format' = 'json', 'key.format' = 'json', 'key.fields' = 'k',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = '%[3]s');

INSERT INTO agg
SELECT k, window_start, window_end, COUNT(*), SUM(v), MAX(v)
FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY window_start, window_end, k;
`

type crashEvent struct {
	k, v, ts int64
	part     int32
}

// crashEvents returns n events over keys 0..39 in event-time order (out
// of order by < 500 ms, less than the watermark delay), key k on
// partition k%4; partition 3 gets nothing for the second fifth of the
// events. Then one event per partition an hour ahead (key -1), so every
// window of the data closes.
func crashEvents(n int) []crashEvent {
	rng := rand.New(rand.NewSource(42))
	base := int64(1_704_067_200_000)
	var out []crashEvent
	for i := 0; i < n; i++ {
		k := rng.Int63n(40)
		if i >= n/5 && i < 2*n/5 && k%4 == 3 {
			k-- // partition 3 is quiet
		}
		ts := base + int64(i)*2 - rng.Int63n(500)
		out = append(out, crashEvent{k: k, v: rng.Int63n(1000), ts: ts, part: int32(k % 4)})
	}
	for p := int32(0); p < 4; p++ {
		out = append(out, crashEvent{k: -1, ts: base + int64(n)*2 + 3_600_000, part: p})
	}
	return out
}

// expectedWindows computes the job's output independently: one row per
// (1 s window, key) of the data, as "k|window_start|n|total|top".
func expectedWindows(evs []crashEvent) []string {
	type acc struct{ n, total, top int64 }
	m := map[[2]int64]*acc{}
	for _, e := range evs {
		if e.k < 0 {
			continue
		}
		key := [2]int64{e.k, e.ts - e.ts%1000}
		a := m[key]
		if a == nil {
			a = &acc{top: e.v}
			m[key] = a
		}
		a.n++
		a.total += e.v
		a.top = max(a.top, e.v)
	}
	var out []string
	for k, a := range m {
		out = append(out, fmt.Sprintf("%d|%s|%d|%d|%d", k[0], types.FormatTimestamp(k[1]), a.n, a.total, a.top))
	}
	slices.Sort(out)
	return out
}

type aggRow struct {
	K           int64  `json:"k"`
	WindowStart string `json:"window_start"`
	N           int64  `json:"n"`
	Total       int64  `json:"total"`
	Top         int64  `json:"top"`
}

// readAgg reads the sink topic read_committed; it checks that within each
// partition every key's windows come in increasing order (no duplicate, no
// replay) and returns the rows sorted.
func readAgg(t *testing.T, b *kafkatest.Broker, topic string) []string {
	t.Helper()
	recs, err := b.Read(context.Background(), topic, kafkatest.ReadOptions{Quiet: 2 * time.Second})
	must(t, err)
	last := map[[2]int64]string{}
	var out []string
	for _, r := range recs {
		var a aggRow
		if err := json.Unmarshal(r.Value, &a); err != nil {
			t.Fatalf("bad output %q: %v", r.Value, err)
		}
		key := [2]int64{int64(r.Partition), a.K}
		if prev, ok := last[key]; ok && a.WindowStart <= prev {
			t.Fatalf("partition %d key %d: window %s after %s", r.Partition, a.K, a.WindowStart, prev)
		}
		last[key] = a.WindowStart
		out = append(out, fmt.Sprintf("%d|%s|%d|%d|%d", a.K, a.WindowStart, a.N, a.Total, a.Top))
	}
	slices.Sort(out)
	return out
}

// TestKafkaCrashRecovery is the acceptance test: a windowed
// aggregate over a 4-partition topic of 100,000 JSON events (one partition
// quiet for a while, closed by the idle timeout) into an exactly-once
// Kafka sink. The real binary is SIGKILLed at random moments at least 20
// times while the events arrive, and restarted each time with the same
// state directory; when all events are in, the last run goes on until the
// output holds every window, and is stopped. A read_committed reader of
// the sink topic must then see exactly the rows of an uninterrupted run
// (and of an independent computation): no duplicate, no gap, and each
// key's windows in order within its partition.
func TestKafkaCrashRecovery(t *testing.T) {
	t.Parallel() // waits on processes and checkpoints more than it computes
	if testing.Short() {
		t.Skip("crash test is long; run without -short")
	}
	bin := binary(t)
	b := kafkatest.StartT(t, kafkatest.Options{})
	for _, tp := range []string{"events", "agg", "agg_ref"} {
		must(t, b.CreateTopic(tp, 4))
	}
	evs := crashEvents(100_000)
	want := expectedWindows(evs)
	dir := t.TempDir()

	start := func(name, out string) (*exec.Cmd, *syncBuffer) {
		sql := filepath.Join(dir, name+".sql")
		must(t, os.WriteFile(sql, []byte(fmt.Sprintf(kafkaCrashQuery, b.Addr(), out, "tx-"+name, name)), 0o644))
		cmd := exec.Command(bin, "run", "-v", "--state-dir", filepath.Join(dir, name), sql)
		stderr := &syncBuffer{}
		cmd.Stderr = stderr
		must(t, cmd.Start())
		return cmd, stderr
	}

	// The events arrive over about 10 s while the job is killed.
	p, err := b.NewProducer()
	must(t, err)
	produced := make(chan error, 1)
	go func() {
		const chunk = 2500
		for i := 0; i < len(evs); i += chunk {
			var recs []kafkatest.Record
			for _, e := range evs[i:min(i+chunk, len(evs))] {
				recs = append(recs, kafkatest.Record{Partition: e.part,
					Value: fmt.Appendf(nil, `{"k":%d,"v":%d,"ts":%d}`, e.k, e.v, e.ts)})
			}
			if err := p.Send("events", recs...); err != nil {
				produced <- err
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
		produced <- p.Close()
	}()

	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	kills, restores := 0, 0
	producing := true
	for kills < 20 || producing {
		cmd, stderr := start("crashing", "agg")
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
	// The last run: until every window is out.
	waitFor := func(cmd *exec.Cmd, stderr *syncBuffer, topic string) []string {
		// A liveness bound, not a speed claim: under go test -race ./... on
		// two cores the other packages' tests compete for the CPU.
		deadline := time.Now().Add(180 * time.Second)
		var got []string
		for len(got) < len(want) {
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				t.Fatalf("%s: %d of %d rows after 180 s\nstderr tail:\n%s", topic, len(got), len(want), tail(stderr.String()))
			}
			time.Sleep(time.Second)
			got = readAgg(t, b, topic)
		}
		time.Sleep(time.Second) // anything more would be a duplicate
		got = readAgg(t, b, topic)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		return got
	}
	cmd, stderr := start("crashing", "agg")
	got := waitFor(cmd, stderr, "agg")
	if strings.Contains(stderr.String(), "restoring checkpoint") {
		restores++
	}
	t.Logf("%d kills, %d runs restored from a checkpoint, %d output rows", kills, restores, len(got))
	if restores < 10 {
		t.Fatalf("only %d runs restored from a checkpoint", restores)
	}

	// The uninterrupted run, over the same (now complete) topic.
	ref, refErr := start("reference", "agg_ref")
	reference := waitFor(ref, refErr, "agg_ref")
	if !slices.Equal(reference, want) {
		t.Fatalf("the uninterrupted run differs from the independent computation: %s", diff(reference, want))
	}
	if !slices.Equal(got, reference) {
		t.Fatalf("the crashed runs' output differs from the uninterrupted run: %s", diff(got, reference))
	}
}

func tail(s string) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-30):], "\n")
}

// diff describes the multiset difference of two sorted lists.
func diff(got, want []string) string {
	count := map[string]int{}
	for _, g := range got {
		count[g]++
	}
	for _, w := range want {
		count[w]--
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d rows vs %d", len(got), len(want))
	n := 0
	for k, c := range count {
		if c != 0 && n < 10 {
			fmt.Fprintf(&b, "\n  %+d × %s", c, k)
			n++
		}
	}
	return b.String()
}
