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
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
)

// distributedQuery is a stateless job run by several processes as one
// consumer group: %[1]s broker, %[2]s sink topic, %[3]s job (group) name.
const distributedQuery = `
SET 'pipeline.name' = '%[3]s';
SET 'execution.distributed' = 'true';
SET 'execution.checkpointing.interval' = '300 ms';

CREATE TABLE ev (id BIGINT, k INT, v BIGINT) WITH ('connector' = 'kafka', 'topic' = 'events',
  'properties.bootstrap.servers' = '%[1]s', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json',
  'properties.session.timeout.ms' = '6000', 'properties.heartbeat.interval.ms' = '300');

CREATE TABLE out (id BIGINT, k INT, w BIGINT) WITH ('connector' = 'kafka', 'topic' = '%[2]s',
  'properties.bootstrap.servers' = '%[1]s', 'format' = 'json', 'key.format' = 'json', 'key.fields' = 'k',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'tx-%[3]s');

INSERT INTO out SELECT id, k, v * 2 FROM ev WHERE v %% 3 <> 0;
`

// distributedEvent is event i of the test: a key and a value.
func distributedEvent(i int) (k int, v int64) {
	return (i * 7919) % 97, int64((i * 104729) % 1000)
}

// readDistributed reads the sink topic read_committed and returns its
// rows as "id|k|w", failing on a row seen twice.
func readDistributed(t *testing.T, b *kafkatest.Broker, topic string) []string {
	t.Helper()
	recs, err := b.Read(context.Background(), topic, kafkatest.ReadOptions{Quiet: 300 * time.Millisecond})
	must(t, err)
	seen := map[int64]bool{}
	var out []string
	for _, r := range recs {
		var row struct {
			ID int64 `json:"id"`
			K  int   `json:"k"`
			W  int64 `json:"w"`
		}
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("bad output %q: %v", r.Value, err)
		}
		if seen[row.ID] {
			t.Fatalf("%s: event %d written twice", topic, row.ID)
		}
		seen[row.ID] = true
		out = append(out, fmt.Sprintf("%d|%d|%d", row.ID, row.K, row.W))
	}
	slices.Sort(out)
	return out
}

var assignedRE = regexp.MustCompile(`msg=assigned .*partitions="?map\[events:\[([0-9 ]*)\]`)

// ownsSome reports whether a process's log shows it assigned partitions.
func ownsSome(log string) bool {
	for _, m := range assignedRE.FindAllStringSubmatch(log, -1) {
		if strings.TrimSpace(m[1]) != "" {
			return true
		}
	}
	return false
}

// TestDistributedCrash is issue 17's proof for what runs on several
// processes so far (stateless jobs): three processes of the real binary run
// one job over an 8-partition topic as one consumer group while the events
// arrive; single processes are SIGKILLed at random moments at least 20
// times and restarted (with the same identity, so each takes its place
// back; every fourth one without its state directory, as on a new
// machine), and a fourth process joins half-way, which moves partitions to
// it.
// A read_committed reader of the sink topic must then see exactly the rows
// of one uninterrupted process: none lost, none twice.
func TestDistributedCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test is long; run without -short")
	}
	bin := binary(t)
	b := kafkatest.StartT(t, kafkatest.Options{})
	must(t, b.CreateTopic("events", 8))
	must(t, b.CreateTopic("out", 4))
	must(t, b.CreateTopic("out_ref", 4))
	const n = 40_000
	var want []string
	for i := 0; i < n; i++ {
		k, v := distributedEvent(i)
		if v%3 != 0 {
			want = append(want, fmt.Sprintf("%d|%d|%d", i, k, v*2))
		}
	}
	slices.Sort(want)
	dir := t.TempDir()

	type proc struct {
		cmd    *exec.Cmd
		stderr *syncBuffer
	}
	logs := map[string]*strings.Builder{}
	start := func(job, out, instance string) proc {
		sql := filepath.Join(dir, job+".sql")
		must(t, os.WriteFile(sql, []byte(fmt.Sprintf(distributedQuery, b.Addr(), out, job)), 0o644))
		cmd := exec.Command(bin, "run", "-v", "--state-dir", filepath.Join(dir, job+"-"+instance), "--instance-id", instance, sql)
		stderr := &syncBuffer{}
		cmd.Stderr = stderr
		must(t, cmd.Start())
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
		const chunk = 1000
		for i := 0; i < n; i += chunk {
			var recs []kafkatest.Record
			for j := i; j < min(i+chunk, n); j++ {
				k, v := distributedEvent(j)
				recs = append(recs, kafkatest.Record{Partition: int32(j % 8), Value: fmt.Appendf(nil, `{"id":%d,"k":%d,"v":%d}`, j, k, v)})
			}
			if err := p.Send("events", recs...); err != nil {
				produced <- err
				return
			}
			time.Sleep(250 * time.Millisecond)
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
	for kills < 20 || producing {
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
		}
		procs[name] = start("dist", "out", name)
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
				t.Fatalf("%s: %d of %d rows after 180 s\n%s", topic, len(got), len(want), strings.Join(tails, "\n"))
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
	t.Logf("%d kills (%d restarted without their state directory), %d output rows, processes that owned partitions: %v", kills, wiped, len(got), owned)
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
