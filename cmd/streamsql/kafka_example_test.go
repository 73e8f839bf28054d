package main

import (
	"bufio"
	"context"
	"io"
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

// headerCommands returns the shell commands of a query file's header (the
// comment lines indented by three spaces after "--"), without a trailing
// "&" or "# comment", each split into words.
func headerCommands(t *testing.T, src string) [][]string {
	t.Helper()
	var cmds [][]string
	for _, line := range strings.Split(src, "\n") {
		if !strings.HasPrefix(line, "--") {
			break
		}
		cmd, ok := strings.CutPrefix(line, "--   ")
		if !ok || strings.TrimSpace(cmd) == "" {
			continue
		}
		cmd, _, _ = strings.Cut(cmd, "#")
		cmd = strings.TrimSuffix(strings.TrimSpace(cmd), "&")
		cmds = append(cmds, strings.Fields(cmd))
	}
	return cmds
}

var listeningRE = regexp.MustCompile(`listening on (\S+?)[ ;]`)

// TestKafkaExampleAsDocumented follows queries/kafka_clicks.sql's header as
// a user does: `streamsql dev kafka --partitions 4 …` (the real binary),
// the .jsonl file produced keyless with kcat, `streamsql run -v FILE`, and
// a read_committed kcat consumer, which must see all 36 windows, equal to
// the golden file. Keyless records from librdkafka's sticky partitioner
// land on one partition (or few) of the four, so the last windows close
// only by Flink's idleness rule: once every partition is idle, event time
// advances to the maximum watermark among them.
//
// The deviations from the header, each needed to run beside other tests:
// the broker listens on a free port (--port 0) instead of 9092, so the
// query file is run from a copy with that address; the job runs in a
// temporary working directory (its default state dir). Without kcat on
// PATH, the records are produced keyless to one partition with sarama
// (what librdkafka's sticky partitioner does for a file this small), and
// read read_committed with sarama.
func TestKafkaExampleAsDocumented(t *testing.T) {
	bin := binary(t)
	root, err := filepath.Abs("../..")
	must(t, err)
	srcPath := filepath.Join(root, "queries", "kafka_clicks.sql")
	src, err := os.ReadFile(srcPath)
	must(t, err)
	cmds := headerCommands(t, string(src))
	find := func(prefix ...string) []string {
		t.Helper()
		for _, c := range cmds {
			if len(c) >= len(prefix) && slices.Equal(c[:len(prefix)], prefix) {
				return c
			}
		}
		t.Fatalf("the header of %s has no command %q: %q", srcPath, strings.Join(prefix, " "), cmds)
		return nil
	}
	devCmd := find("streamsql", "dev", "kafka")
	var produceCmd, consumeCmd []string
	for _, c := range cmds {
		if c[0] == "kcat" && slices.Contains(c, "-P") {
			produceCmd = c
		}
		if c[0] == "kcat" && slices.Contains(c, "-C") {
			consumeCmd = c
		}
	}
	if produceCmd == nil || consumeCmd == nil {
		t.Fatalf("the header of %s has no kcat producer and consumer: %q", srcPath, cmds)
	}
	runCmd := find("streamsql", "run")
	if !slices.Contains(devCmd, "--partitions") || !slices.Contains(devCmd, "4") {
		t.Fatalf("the header's broker is not started with 4 partitions: %q", devCmd)
	}

	// 1. The broker, on a free port.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	broker := exec.CommandContext(ctx, bin, append(append([]string{}, devCmd[1:]...), "--port", "0")...)
	stdout, err := broker.StdoutPipe()
	must(t, err)
	brokerErr := &syncBuffer{}
	broker.Stderr = brokerErr
	must(t, broker.Start())
	defer func() { _ = broker.Process.Signal(os.Interrupt); _ = broker.Wait() }()
	lines := bufio.NewReader(stdout)
	first, err := lines.ReadString('\n')
	if err != nil {
		t.Fatalf("broker: %v: %s", err, brokerErr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, lines) }()
	m := listeningRE.FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("broker printed %q", first)
	}
	addr := m[1]
	subst := func(args []string) []string {
		out := make([]string, len(args))
		for i, a := range args {
			out[i] = strings.ReplaceAll(a, "127.0.0.1:9092", addr)
		}
		return out
	}
	kb := &kafkatest.Broker{Addrs: []string{addr}}

	// 2. The input, keyless.
	_, kcatErr := exec.LookPath("kcat")
	haveKcat := kcatErr == nil
	if haveKcat {
		c := exec.Command("kcat", subst(produceCmd[1:])...)
		c.Dir = root
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%q: %v\n%s", c.Args, err, out)
		}
	} else {
		t.Log("kcat is not installed: producing keyless records to one partition with sarama, as librdkafka's sticky partitioner does for a small file")
		file := produceCmd[len(produceCmd)-1]
		topic := produceCmd[slices.Index(produceCmd, "-t")+1]
		in, err := os.ReadFile(filepath.Join(root, file))
		must(t, err)
		var recs []kafkatest.Record
		for _, line := range strings.Split(strings.TrimSpace(string(in)), "\n") {
			recs = append(recs, kafkatest.Record{Partition: 0, Value: []byte(line)})
		}
		must(t, kb.Produce(topic, recs...))
	}
	in, err := kb.Read(ctx, "clicks", kafkatest.ReadOptions{Quiet: 200 * time.Millisecond})
	must(t, err)
	perPartition := map[int32]int{}
	for _, r := range in {
		perPartition[r.Partition]++
	}
	t.Logf("%d input records per partition: %v", len(in), perPartition)

	// 3. The job, as written (with the broker's address), from a
	// temporary working directory.
	sql := filepath.Join(t.TempDir(), filepath.Base(srcPath))
	must(t, os.WriteFile(sql, []byte(strings.ReplaceAll(string(src), "127.0.0.1:9092", addr)), 0o644))
	args := subst(runCmd[1:])
	args[len(args)-1] = sql
	job := exec.Command(bin, args...)
	job.Dir = t.TempDir()
	jobErr := &syncBuffer{}
	job.Stdout, job.Stderr = jobErr, jobErr
	must(t, job.Start())
	exited := make(chan error, 1)
	go func() { exited <- job.Wait() }()
	defer func() {
		_ = job.Process.Signal(syscall.SIGKILL)
	}()

	// 4. A read_committed consumer, until it sees the golden file's rows.
	want, err := os.ReadFile(filepath.Join(root, "queries", "testdata", "kafka_clicks.out"))
	must(t, err)
	wantRows := strings.Count(string(want), "\n")
	consume := func() []string {
		var vals []string
		if haveKcat {
			c := exec.Command("kcat", subst(consumeCmd[1:])...)
			c.Dir = root
			out, err := c.Output()
			if err != nil {
				t.Fatalf("%q: %v", c.Args, err)
			}
			vals = strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(vals) == 1 && vals[0] == "" {
				vals = nil
			}
		} else {
			recs, err := kb.Read(ctx, "clicks_per_user", kafkatest.ReadOptions{Quiet: 200 * time.Millisecond})
			must(t, err)
			vals = kafkatest.Values(recs)
		}
		slices.Sort(vals)
		return vals
	}
	var got []string
	deadline := time.Now().Add(60 * time.Second)
	for len(got) < wantRows {
		select {
		case err := <-exited:
			t.Fatalf("streamsql run exited (%v):\n%s", err, jobErr.String())
		case <-time.After(500 * time.Millisecond):
		}
		got = consume()
		if time.Now().After(deadline) {
			t.Fatalf("a read_committed consumer sees %d of %d rows after 60 s:\n%s\nstreamsql run -v:\n%s",
				len(got), wantRows, strings.Join(got, "\n"), tail(jobErr.String()))
		}
	}
	// One more checkpoint interval: anything more would be a duplicate.
	time.Sleep(1500 * time.Millisecond)
	got = consume()
	// Ctrl-C ends the job cleanly.
	must(t, job.Process.Signal(os.Interrupt))
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("streamsql run after Ctrl-C: %v\n%s", err, tail(jobErr.String()))
		}
	case <-time.After(30 * time.Second):
		t.Errorf("streamsql run did not stop on Ctrl-C")
	}
	if text := strings.Join(got, "\n") + "\n"; text != string(want) {
		t.Fatalf("the output topic differs from queries/testdata/kafka_clicks.out:\n--- got\n%s--- want\n%s", text, want)
	}
}
