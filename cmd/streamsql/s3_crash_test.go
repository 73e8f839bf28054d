package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/checkpoint/objstore"
	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/internal/s3test"
)

// The proofs that checkpoints on S3 make a job survive the loss of its
// machine: the real binary, the in-process Kafka broker, a real S3 server
// (SeaweedFS, internal/s3test), and the job's local state directory deleted
// before every restart, so whatever a run resumes from came from S3.

// s3Settings points a job's checkpoints at srv: the endpoint and path style
// through SET, the credentials through the AWS_* environment (Env).
func s3Settings(srv *s3test.Server, prefix string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SET 'execution.checkpointing.dir' = '%s';\n", srv.URL(prefix))
	fmt.Fprintf(&b, "SET 's3.endpoint' = '%s';\n", srv.Endpoint)
	b.WriteString("SET 's3.path.style.access' = 'true';\n")
	for _, e := range extra {
		b.WriteString(e + "\n")
	}
	return b.String()
}

// s3CrashRun is one SIGKILL-and-restart run of the Kafka → window →
// exactly-once Kafka job with its checkpoints on S3.
type s3CrashRun struct {
	t        *testing.T
	bin      string
	broker   *kafkatest.Broker
	srv      *s3test.Server
	dir      string
	evs      []crashEvent
	settings string // SET lines before the query
}

func (r *s3CrashRun) start(name, out, settings string) (*exec.Cmd, *syncBuffer) {
	t := r.t
	sql := filepath.Join(r.dir, name+".sql")
	query := settings + fmt.Sprintf(kafkaCrashQuery, r.broker.Addr(), out, "tx-"+name, name)
	must(t, os.WriteFile(sql, []byte(query), 0o644))
	cmd := exec.Command(r.bin, "run", "-v", "--state-dir", filepath.Join(r.dir, name), sql)
	cmd.Env = append(os.Environ(), r.srv.Env()...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	must(t, cmd.Start())
	return cmd, stderr
}

// produce sends the events in chunks over about n/10,000 × 0.25 s.
func (r *s3CrashRun) produce() chan error {
	p, err := r.broker.NewProducer()
	must(r.t, err)
	produced := make(chan error, 1)
	go func() {
		const chunk = 2500
		for i := 0; i < len(r.evs); i += chunk {
			var recs []kafkatest.Record
			for _, e := range r.evs[i:min(i+chunk, len(r.evs))] {
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
	return produced
}

// waitFor lets the run go on until topic holds want rows (and a second
// more, in which anything would be a duplicate), then kills it.
func (r *s3CrashRun) waitFor(cmd *exec.Cmd, stderr *syncBuffer, topic string, wantRows []string) []string {
	want := len(wantRows)
	t := r.t
	deadline := time.Now().Add(90 * time.Second)
	var got []string
	for len(got) < want {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("%s: %d of %d rows after 90 s: %s\nstderr tail:\n%s", topic, len(got), want, diff(got, wantRows), tail(stderr.String()))
		}
		time.Sleep(time.Second)
		got = readAgg(t, r.broker, topic)
	}
	time.Sleep(time.Second)
	got = readAgg(t, r.broker, topic)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	return got
}

// checkNoSecret fails if a run printed the S3 credentials.
func (r *s3CrashRun) checkNoSecret(out string) {
	for _, s := range []string{r.srv.SecretKey, r.srv.AccessKey} {
		if strings.Contains(out, s) {
			r.t.Fatalf("a run printed an S3 credential:\n%s", tail(out))
		}
	}
}

// crashLoop kills the "crashing" job at random moments until it has done
// so minKills times and the producer is done; before every start it
// deletes the local state directory. fault, if set, is called after each
// start (before the kill) with the run's index. It returns the number of
// kills, of runs that restored a checkpoint, and every run's stderr.
func (r *s3CrashRun) crashLoop(minKills int, fault func(i int)) (kills, restores int, logs *strings.Builder) {
	t := r.t
	produced := r.produce()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	logs = &strings.Builder{}
	if p := os.Getenv("STREAMSQL_S3_CRASH_LOG"); p != "" {
		// Every run's log, for a post-mortem (written however the test ends).
		t.Cleanup(func() { _ = os.WriteFile(p, []byte(logs.String()), 0o644) })
	}
	producing := true
	stateDir := filepath.Join(r.dir, "crashing")
	for kills < minKills || producing {
		must(t, os.RemoveAll(stateDir)) // the machine is lost: only S3 remains
		cmd, stderr := r.start("crashing", "agg", r.settings)
		fmt.Fprintf(logs, "=== run %d\n", kills)
		time.Sleep(time.Duration(300+rng.Intn(900)) * time.Millisecond)
		if fault != nil {
			fault(kills)
		}
		fmt.Fprintf(logs, "=== kill %d at %s\n", kills, time.Now().UTC().Format("15:04:05.000"))
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("run ended by itself: %v\n%s", err, tail(stderr.String()))
		}
		kills++
		out := stderr.String()
		logs.WriteString(out)
		if strings.Contains(out, "restoring checkpoint") {
			restores++
		}
		select {
		case err := <-produced:
			must(t, err)
			producing = false
		default:
		}
		if kills > 150 {
			t.Fatal("the producer does not finish")
		}
	}
	return kills, restores, logs
}

// last runs the crashing job (local state deleted once more) until every
// window is out.
func (r *s3CrashRun) last(want []string, logs *strings.Builder) (got []string, restored bool) {
	must(r.t, os.RemoveAll(filepath.Join(r.dir, "crashing")))
	cmd, stderr := r.start("crashing", "agg", r.settings)
	logs.WriteString("=== last run\n")
	finished := false
	r.t.Cleanup(func() {
		if !finished {
			logs.WriteString(stderr.String())
		}
	})
	got = r.waitFor(cmd, stderr, "agg", want)
	finished = true
	logs.WriteString(stderr.String())
	return got, strings.Contains(stderr.String(), "restoring checkpoint")
}

func newS3CrashRun(t *testing.T, events int, settings ...string) *s3CrashRun {
	if testing.Short() {
		t.Skip("crash test is long; run without -short")
	}
	srv := s3test.Start(t)
	r := &s3CrashRun{t: t, bin: binary(t), broker: kafkatest.StartT(t, kafkatest.Options{}), srv: srv,
		dir: t.TempDir(), evs: crashEvents(events)}
	for _, tp := range []string{"events", "agg", "agg_ref"} {
		must(t, r.broker.CreateTopic(tp, 4))
	}
	r.settings = s3Settings(srv, "jobs", settings...)
	return r
}

// TestS3CrashRecovery: the first proof. The job (checkpoints every
// 200 ms on S3) is SIGKILLed at random moments at least 20 times while
// 60,000 events arrive, its local state directory deleted before every
// restart; the last run goes on until every window is out. A
// read_committed reader of the sink must see exactly the rows of an
// uninterrupted run (local checkpoints, never killed) and of an
// independent computation.
func TestS3CrashRecovery(t *testing.T) {
	t.Parallel() // waits on processes and checkpoints more than it computes
	r := newS3CrashRun(t, 60_000)
	want := expectedWindows(r.evs)
	kills, restores, logs := r.crashLoop(20, nil)
	got, restored := r.last(want, logs)
	if restored {
		restores++
	}
	r.checkNoSecret(logs.String())
	t.Logf("%d kills, %d runs restored a checkpoint downloaded from S3, %d output rows", kills, restores, len(got))
	if restores < 10 {
		t.Fatalf("only %d of %d runs restored a checkpoint from S3\nlast stderr:\n%s", restores, kills+1, tail(logs.String()))
	}

	ref, refErr := r.start("reference", "agg_ref", "")
	reference := r.waitFor(ref, refErr, "agg_ref", want)
	if !slices.Equal(reference, want) {
		t.Fatalf("the uninterrupted run differs from the independent computation: %s", diff(reference, want))
	}
	if !slices.Equal(got, reference) {
		t.Fatalf("the crashed runs' output differs from the uninterrupted run: %s", diff(got, reference))
	}
}

// TestS3OutageCrashRecovery: the second proof. As above (≥ 20
// SIGKILLs, the local state deleted before every restart), but the S3
// server is also paused (SIGSTOP, unreachable: requests hang) for ~1.5 s
// four times and restarted once (~15 s) while the job runs, so checkpoints
// fail, time out, and a restart may find the server down; the job
// tolerates the failures (tolerable-failed-checkpoints high, a 1 s upload
// timeout), logs them, waits for the server when it restores, and its
// output is still exactly an uninterrupted run's.
//
// Two faults it found: a stall longer than the sources' idle timeout
// marked every partition idle, so the watermark jumped and rows were
// dropped as late (the idleness clock now stands still while a source is
// held downstream); and a run that restored during the outage failed after
// the 1 s upload timeout instead of waiting for the server.
func TestS3OutageCrashRecovery(t *testing.T) {
	t.Parallel() // waits on processes and checkpoints more than it computes
	r := newS3CrashRun(t, 50_000,
		"SET 'execution.checkpointing.tolerable-failed-checkpoints' = '1000';",
		"SET 'execution.checkpointing.timeout' = '1 s';")
	want := expectedWindows(r.evs)
	faults := 0
	kills, restores, logs := r.crashLoop(20, func(i int) {
		switch i {
		case 2, 6, 10, 15:
			r.srv.Pause(t)
			time.Sleep(1500 * time.Millisecond)
			r.srv.Resume(t)
			time.Sleep(700 * time.Millisecond) // a checkpoint after the outage
			faults++
		case 4:
			r.srv.Restart(t) // ~15 s, the job running through it
			time.Sleep(700 * time.Millisecond)
			faults++
		}
	})
	got, restored := r.last(want, logs)
	if restored {
		restores++
	}
	out := logs.String()
	r.checkNoSecret(out)
	failed := strings.Count(out, "checkpoint failed")
	t.Logf("%d kills, %d S3 outages, %d failed checkpoints logged, %d runs restored from S3, %d output rows",
		kills, faults, failed, restores, len(got))
	if failed == 0 {
		t.Fatalf("no failed checkpoint was logged through %d S3 outages\n%s", faults, tail(out))
	}
	if restores < 10 {
		t.Fatalf("only %d runs restored a checkpoint from S3", restores)
	}
	ref, refErr := r.start("reference", "agg_ref", "")
	reference := r.waitFor(ref, refErr, "agg_ref", want)
	if !slices.Equal(reference, want) {
		t.Fatalf("the uninterrupted run differs from the independent computation: %s", diff(reference, want))
	}
	if !slices.Equal(got, reference) {
		t.Fatalf("the output differs from an uninterrupted run's: %s", diff(got, reference))
	}
}

const s3RetentionQuery = `
SET 'execution.checkpointing.interval' = '100 ms';
SET 'state.checkpoints.num-retained' = '3';
SET 'pipeline.name' = 'retention';

CREATE TABLE purchases (user_id BIGINT, amount BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'seed' = '7', 'number-of-rows' = '120000', 'rows-per-second' = '10000',
  'fields.user_id.min' = '1', 'fields.user_id.max' = '20000', 'fields.amount.min' = '1', 'fields.amount.max' = '100',
  'fields.ts.step' = '1 ms', 'fields.ts.max-out-of-orderness' = '500 ms');

CREATE TABLE out (window_start TIMESTAMP(3), user_id BIGINT, n BIGINT, total BIGINT) WITH ('connector' = 'blackhole');

INSERT INTO out
SELECT window_start, user_id, COUNT(*), SUM(amount)
FROM TABLE(TUMBLE(TABLE purchases, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, user_id;
`

// TestS3Retention: the third proof. A bounded job (12 s of generated
// purchases into 20,000 open per-user windows, a checkpoint every 100 ms,
// 3 retained) runs to its end on S3. Then the bucket must hold exactly the
// retained checkpoints' manifests and the files they reference (read from
// the manifests here, independently of the checkpoint package), nothing of
// the ≥ 17 checkpoints before them.
func TestS3Retention(t *testing.T) {
	t.Parallel() // waits on processes and checkpoints more than it computes
	if testing.Short() {
		t.Skip("long; run without -short")
	}
	srv := s3test.Start(t)
	bin := binary(t)
	dir := t.TempDir()
	sql := filepath.Join(dir, "retention.sql")
	must(t, os.WriteFile(sql, []byte(s3Settings(srv, "ret")+s3RetentionQuery), 0o644))
	cmd := exec.Command(bin, "run", "-v", "--state-dir", filepath.Join(dir, "state"), sql)
	cmd.Env = append(os.Environ(), srv.Env()...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	must(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the job failed: %v\n%s", err, tail(stderr.String()))
		}
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("the job did not end within 90 s\n%s", tail(stderr.String()))
	}
	for _, s := range []string{srv.SecretKey, srv.AccessKey} {
		if strings.Contains(stderr.String(), s) {
			t.Fatal("the job printed an S3 credential")
		}
	}

	ctx := context.Background()
	job := srv.Open(t, "ret/retention")
	objs, err := job.List(ctx, "")
	must(t, err)
	all := srv.Open(t, "")
	everything, err := all.List(ctx, "")
	must(t, err)
	if len(everything) != len(objs) {
		t.Fatalf("the bucket holds %d objects, %d of them under the job's prefix", len(everything), len(objs))
	}
	present := map[string]int64{}
	var manifests []string
	for _, o := range objs {
		present[o.Key] = o.Size
		if strings.HasPrefix(o.Key, "chk-") && strings.HasSuffix(o.Key, "/_metadata") {
			manifests = append(manifests, o.Key)
		}
	}
	// A finished job marks itself (FINISHED), so that a run elsewhere starts
	// fresh; that marker is the one object besides the checkpoints.
	referenced := map[string]bool{"FINISHED": true}
	var ids []uint64
	for _, key := range manifests {
		referenced[key] = true
		m := readS3Manifest(t, job, key)
		if fmt.Sprintf("chk-%d/_metadata", m.ID) != key {
			t.Fatalf("manifest %s names checkpoint %d", key, m.ID)
		}
		ids = append(ids, m.ID)
		for _, f := range m.Files {
			size, ok := present[f.Key]
			if !ok {
				t.Fatalf("checkpoint %d references %s, which is not in the bucket", m.ID, f.Key)
			}
			if size != f.Size {
				t.Fatalf("checkpoint %d references %s of %d bytes; the bucket's is %d", m.ID, f.Key, f.Size, size)
			}
			referenced[f.Key] = true
		}
	}
	slices.Sort(ids)
	t.Logf("%d objects (%d manifests: checkpoints %v), %d referenced", len(objs), len(manifests), ids, len(referenced))
	if len(ids) != 3 {
		t.Fatalf("%d manifests %v, want the 3 retained", len(ids), ids)
	}
	// 12 s at one checkpoint per 100 ms: ~120 unloaded, 45 seen at load
	// 18 (each S3 checkpoint then takes longer); 20 still leaves 17 that
	// retention must have deleted.
	if ids[2] < 20 {
		t.Fatalf("the newest checkpoint is %d, want at least 20", ids[2])
	}
	if ids[1] != ids[2]-1 || ids[0] != ids[2]-2 {
		t.Fatalf("retained checkpoints %v are not the newest three", ids)
	}
	var stray []string
	for _, o := range objs {
		if !referenced[o.Key] {
			stray = append(stray, fmt.Sprintf("%s (%d bytes)", o.Key, o.Size))
		}
	}
	if len(stray) > 0 {
		t.Fatalf("%d objects no retained checkpoint references, e.g. %v", len(stray), stray[:min(len(stray), 10)])
	}
	// The store's own reading agrees.
	remote, err := checkpoint.ListRemote(ctx, srv.URL("ret"), "retention", srv.Config())
	must(t, err)
	var listed []uint64
	for _, rc := range remote {
		if rc.Problem != "" {
			t.Fatalf("checkpoint %d: %s", rc.ID, rc.Problem)
		}
		listed = append(listed, rc.ID)
	}
	if !slices.Equal(listed, ids) {
		t.Fatalf("ListRemote lists %v, the bucket holds %v", listed, ids)
	}
}

// s3Manifest is what this test reads of a checkpoint manifest: a header
// line ("streamsql-checkpoint-manifest v1 sha256=…") and a JSON body.
type s3Manifest struct {
	ID    uint64 `json:"id"`
	Files []struct {
		Key  string `json:"key"`
		Size int64  `json:"size"`
	} `json:"files"`
}

func readS3Manifest(t *testing.T, b objstore.Bucket, key string) s3Manifest {
	t.Helper()
	rc, err := b.Get(context.Background(), key)
	must(t, err)
	data, err := io.ReadAll(rc)
	_ = rc.Close()
	must(t, err)
	header, body, ok := bytes.Cut(data, []byte("\n"))
	if !ok || !bytes.HasPrefix(header, []byte("streamsql-checkpoint-manifest ")) {
		t.Fatalf("%s: not a manifest: %.80q", key, data)
	}
	var m s3Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return m
}
