package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
)

// distributedQuery is a keyed window aggregation run by several
// processes as one consumer group: the events are partitioned by id, the
// aggregation is by k, so the job runs it behind a repartition topic, its
// state in a changelog topic. %[1]s broker, %[2]s sink topic, %[3]s job
// (group) name.
const distributedQuery = `
SET 'pipeline.name' = '%[3]s';
SET 'execution.distributed' = 'true';
SET 'execution.checkpointing.interval' = '300 ms';

CREATE TABLE ev (id BIGINT, k INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'kafka',
  'topic' = 'events', 'properties.bootstrap.servers' = '%[1]s', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json',
  'properties.session.timeout.ms' = '6000', 'properties.heartbeat.interval.ms' = '300');

CREATE TABLE out (ws TIMESTAMP(3), k INT, n BIGINT, s BIGINT) WITH ('connector' = 'kafka', 'topic' = '%[2]s',
  'properties.bootstrap.servers' = '%[1]s', 'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'tx-%[3]s');

INSERT INTO out SELECT window_start, k, COUNT(*), SUM(id) FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY window_start, window_end, k;
`

// distributedEvent is event i (of partition i%8): its key and event time
// (ms; ascending in every partition).
func distributedEvent(i int) (k int, ts int64) { return (i * 7919) % 97, int64(i) * 2 }

// readDistributed reads the sink topic read_committed and returns its
// windows as "window_start_ms|k|count|sum", failing on a window seen
// twice.
func readDistributed(t *testing.T, b *kafkatest.Broker, topic string) []string {
	t.Helper()
	recs, err := b.Read(context.Background(), topic, kafkatest.ReadOptions{Quiet: 300 * time.Millisecond})
	must(t, err)
	seen := map[string]bool{}
	var out []string
	for _, r := range recs {
		var row struct {
			WS string `json:"ws"`
			K  int    `json:"k"`
			N  int64  `json:"n"`
			S  int64  `json:"s"`
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
			t.Fatalf("%s: window %s written twice", topic, id)
		}
		seen[id] = true
		out = append(out, fmt.Sprintf("%s|%d|%d", id, row.N, row.S))
	}
	slices.Sort(out)
	return out
}

var assignedRE = regexp.MustCompile(`msg=assigned .*partitions="?map\[.*events:\[([0-9 ]*)\]`)

// restoreRE matches a log line of a restore of keyed state: its local
// partitions (group 1, empty when none came from the local checkpoint)
// and the state entries it restored (group 2).
var restoreRE = regexp.MustCompile(`msg="restored the keyed state" .*local="?\[([^\]]*)\].* entries=([0-9]+)`)

// restores returns the restores a process's log shows, in order.
func restores(log string) (local []bool, entries []int) {
	for _, m := range restoreRE.FindAllStringSubmatch(log, -1) {
		n, _ := strconv.Atoi(m[2])
		local, entries = append(local, m[1] != ""), append(entries, n)
	}
	return local, entries
}

// ownsSome reports whether a process's log shows it assigned partitions.
func ownsSome(log string) bool {
	for _, m := range assignedRE.FindAllStringSubmatch(log, -1) {
		if strings.TrimSpace(m[1]) != "" {
			return true
		}
	}
	return false
}

// TestDistributedCrash is issue 17's proof: three processes of the real
// binary run a keyed window aggregation (GROUP BY a key that is not the
// partition key, so behind a repartition hop, its state in a changelog
// topic) over an 8-partition topic as one consumer group while the events
// arrive; single processes are SIGKILLed at random moments at least 20
// times and restarted (with the same identity, so each takes its place
// back; every fourth one without its state directory, as on a new
// machine: its keyed state then comes from the changelog topic only; the
// others restore from their local checkpoint when it covers the
// changelog's end, as some must), and a fourth process joins half-way, which moves partitions to it. A
// read_committed reader of the sink topic must then see exactly the
// windows of one uninterrupted process, which must equal an independent
// computation: none lost, none twice, none with other counts.
func TestDistributedCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test is long; run without -short")
	}
	bin := binary(t)
	b := kafkatest.StartT(t, kafkatest.Options{})
	must(t, b.CreateTopic("events", 8))
	must(t, b.CreateTopic("out", 4))
	must(t, b.CreateTopic("out_ref", 4))
	const n = 24_000
	type win struct {
		ws int64
		k  int
	}
	counts, sums := map[win]int64{}, map[win]int64{}
	for i := 0; i < n; i++ {
		k, ts := distributedEvent(i)
		w := win{ts / 1000 * 1000, k}
		counts[w]++
		sums[w] += int64(i)
	}
	var want []string
	for w, c := range counts {
		want = append(want, fmt.Sprintf("%d|%d|%d|%d", w.ws, w.k, c, sums[w]))
	}
	slices.Sort(want)
	dir := t.TempDir()

	type proc struct {
		cmd    *exec.Cmd
		stderr *syncBuffer
	}
	logs := map[string]*strings.Builder{}
	// wipedRuns are the logs of the runs started without a state
	// directory, keptRuns of those restarted with it.
	var wipedRuns, keptRuns []*syncBuffer
	// With DISTLOG_DIR set, every run's log is written there at the end
	// (to look into a failure: the failure shows only a tail).
	var allRuns []*syncBuffer
	var allNames []string
	if d := os.Getenv("DISTLOG_DIR"); d != "" {
		t.Cleanup(func() {
			for i, l := range allRuns {
				_ = os.WriteFile(filepath.Join(d, fmt.Sprintf("%02d-%s.log", i, allNames[i])), []byte(l.String()), 0o644)
			}
		})
	}
	start := func(job, out, instance string) proc {
		sql := filepath.Join(dir, job+".sql")
		must(t, os.WriteFile(sql, []byte(fmt.Sprintf(distributedQuery, b.Addr(), out, job)), 0o644))
		cmd := exec.Command(bin, "run", "-v", "--state-dir", filepath.Join(dir, job+"-"+instance), "--instance-id", instance, sql)
		stderr := &syncBuffer{}
		cmd.Stderr = stderr
		must(t, cmd.Start())
		allRuns, allNames = append(allRuns, stderr), append(allNames, instance)
		return proc{cmd, stderr}
	}
	stop := func(name string, p proc) {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
		if logs[name] == nil {
			logs[name] = &strings.Builder{}
		}
		logs[name].WriteString(p.stderr.String())
	}

	p, err := b.NewProducer()
	must(t, err)
	produced := make(chan error, 1)
	go func() {
		const chunk = 800
		for i := 0; i < n; i += chunk {
			var recs []kafkatest.Record
			for j := i; j < min(i+chunk, n); j++ {
				k, ts := distributedEvent(j)
				recs = append(recs, kafkatest.Record{Partition: int32(j % 8),
					Value: fmt.Appendf(nil, `{"id":%d,"k":%d,"ts":%q}`, j, k, time.UnixMilli(ts).UTC().Format("2006-01-02 15:04:05.000"))})
			}
			if err := p.Send("events", recs...); err != nil {
				produced <- err
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
		// A last event per partition, far ahead, fires every window.
		var recs []kafkatest.Record
		for q := int32(0); q < 8; q++ {
			recs = append(recs, kafkatest.Record{Partition: q, Value: []byte(`{"id":-1,"k":-1,"ts":"2000-01-01 00:00:00.000"}`)})
		}
		if err := p.Send("events", recs...); err != nil {
			produced <- err
			return
		}
		produced <- p.Close()
	}()

	procs := map[string]proc{}
	names := []string{"p0", "p1", "p2"}
	for _, name := range names {
		procs[name] = start("dist", "out", name)
	}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	kills, wiped := 0, 0
	producing := true
	// The last restart is one without the state directory: that process
	// then runs to the end, its state from the changelog topic only.
	for kills < 20 || producing || kills%4 != 0 {
		time.Sleep(time.Duration(300+rng.Intn(900)) * time.Millisecond)
		name := names[rng.Intn(len(names))]
		p := procs[name]
		stop(name, p)
		if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("%s ended by itself (%v):\n%s", name, p.cmd.ProcessState, tail(p.stderr.String()))
		}
		kills++
		if kills%4 == 0 {
			// The process's machine is replaced: nothing local survives.
			must(t, os.RemoveAll(filepath.Join(dir, "dist-"+name)))
			wiped++
			procs[name] = start("dist", "out", name)
			wipedRuns = append(wipedRuns, procs[name].stderr)
		} else {
			procs[name] = start("dist", "out", name)
			keptRuns = append(keptRuns, procs[name].stderr)
		}
		if kills == 10 && len(names) == 3 {
			names = append(names, "p3") // a fourth process joins
			procs["p3"] = start("dist", "out", "p3")
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
	waitFor := func(topic string, alive map[string]proc) []string {
		deadline := time.Now().Add(180 * time.Second)
		var got []string
		for len(got) < len(want) {
			if time.Now().After(deadline) {
				var tails []string
				for name, p := range alive {
					tails = append(tails, name+":\n"+tail(p.stderr.String()))
				}
				t.Fatalf("%s: %d of %d windows after 180 s\n%s", topic, len(got), len(want), strings.Join(tails, "\n"))
			}
			time.Sleep(time.Second)
			got = readDistributed(t, b, topic)
		}
		time.Sleep(time.Second) // anything more would be a duplicate
		return readDistributed(t, b, topic)
	}
	got := waitFor("out", procs)
	// The fourth process may have been killed before each of its first
	// assignments arrived (a join costs a rebalance, slow on a loaded
	// machine): its last run is given the time to be assigned.
	for deadline := time.Now().Add(90 * time.Second); !ownsSome(procs["p3"].stderr.String()); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			break
		}
	}
	owned := map[string]bool{}
	for name, p := range procs {
		stop(name, p)
	}
	for name, l := range logs {
		owned[name] = ownsSome(l.String())
	}
	// A run without its state directory has no local checkpoint to
	// restore its first assignment from: whatever state its partitions
	// have comes from the changelog; the process's later assignments may
	// restore locally. Which partitions (with how much state) a run gains
	// depends on the moment of the kills, so the test asks that the state
	// some of them gained came from the changelog, and that some of the
	// runs restarted with their directory restored from it.
	fromChangelog, fromLocal := 0, 0
	for i, l := range wipedRuns {
		local, entries := restores(l.String())
		if len(local) > 0 && local[0] {
			t.Fatalf("run %d without its state directory restored its first assignment from a local checkpoint:\n%s", i, tail(l.String()))
		}
		if len(entries) > 0 && entries[0] > 0 {
			fromChangelog++
		}
	}
	for _, l := range keptRuns {
		if local, _ := restores(l.String()); slices.Contains(local, true) {
			fromLocal++
		}
	}
	t.Logf("%d kills (%d restarted without their state directory, %d of those restored keyed state from the changelog; %d of the %d restarted with it restored from their local checkpoint), %d windows, processes that owned partitions: %v",
		kills, wiped, fromChangelog, fromLocal, len(keptRuns), len(got), owned)
	if fromChangelog == 0 {
		t.Fatalf("none of the %d runs without their state directory restored keyed state from the changelog", len(wipedRuns))
	}
	if fromLocal == 0 {
		t.Fatalf("none of the %d processes restarted with their state directory restored from their local checkpoint", len(keptRuns))
	}
	if !owned["p3"] {
		t.Fatalf("the fourth process never owned a partition:\n%s", tail(logs["p3"].String()))
	}

	// One uninterrupted process over the same (now complete) topic.
	ref := start("ref", "out_ref", "solo")
	reference := waitFor("out_ref", map[string]proc{"solo": ref})
	stop("solo", ref)
	if !slices.Equal(reference, want) {
		t.Fatalf("the uninterrupted run differs from the independent computation: %s", diff(reference, want))
	}
	if !slices.Equal(got, reference) {
		t.Fatalf("the killed processes' output differs from the uninterrupted run: %s", diff(got, reference))
	}
}
