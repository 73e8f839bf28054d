package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/internal/difftest"
)

// joinRescaleSQL is one job (a statement set) of three joins over two
// Kafka topics of 4 partitions, each into its own exactly-once Kafka
// topic: a regular join with a band condition, a LEFT interval join and
// a window join. %[1]s is the broker, %[2]d the parallelism, %[3]s the
// sink topics' suffix, %[4]s extra SET statements.
const joinRescaleSQL = `SET 'pipeline.name' = 'joins%[3]s';
SET 'parallelism.default' = '%[2]d';
SET 'execution.checkpointing.interval' = '100 ms';
%[4]s
CREATE TABLE l (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '500' MILLISECOND)
WITH ('connector' = 'kafka', 'topic' = 'l', 'properties.bootstrap.servers' = '%[1]s', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE r (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '500' MILLISECOND)
WITH ('connector' = 'kafka', 'topic' = 'r', 'properties.bootstrap.servers' = '%[1]s', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE oreg (k BIGINT, lv BIGINT, rv BIGINT) WITH ('connector' = 'kafka', 'topic' = 'oreg%[3]s', 'properties.bootstrap.servers' = '%[1]s', 'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'reg%[3]s');
CREATE TABLE oint (k BIGINT, lv BIGINT, rv BIGINT) WITH ('connector' = 'kafka', 'topic' = 'oint%[3]s', 'properties.bootstrap.servers' = '%[1]s', 'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'int%[3]s');
CREATE TABLE owin (k BIGINT, lv BIGINT, rv BIGINT) WITH ('connector' = 'kafka', 'topic' = 'owin%[3]s', 'properties.bootstrap.servers' = '%[1]s', 'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'win%[3]s');
EXECUTE STATEMENT SET BEGIN
INSERT INTO oreg SELECT l.k, l.v, r.v FROM l JOIN r ON l.k = r.k AND l.v < r.v AND r.v < l.v + 60;
INSERT INTO oint SELECT l.k, l.v, r.v FROM l LEFT JOIN r ON l.k = r.k AND r.ts BETWEEN l.ts - INTERVAL '1' SECOND AND l.ts + INTERVAL '1' SECOND;
INSERT INTO owin SELECT L.k, L.v, R.v FROM TABLE(TUMBLE(TABLE l, DESCRIPTOR(ts), INTERVAL '2' SECOND)) L
  JOIN TABLE(TUMBLE(TABLE r, DESCRIPTOR(ts), INTERVAL '2' SECOND)) R
  ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.k = R.k;
END;`

// The SQLite forms of the three joins over tables l and r (k, v, ts in
// epoch milliseconds).
var joinRescaleSQLite = map[string]string{
	"oreg": "SELECT l.k, l.v, r.v FROM l JOIN r ON l.k = r.k AND l.v < r.v AND r.v < l.v + 60",
	"oint": "SELECT l.k, l.v, r.v FROM l LEFT JOIN r ON l.k = r.k AND r.ts BETWEEN l.ts - 1000 AND l.ts + 1000",
	// The end rows' window never closes.
	"owin": "SELECT l.k, l.v, r.v FROM l JOIN r ON l.ts / 2000 = r.ts / 2000 AND l.k = r.k WHERE l.k >= 0",
}

// joinRow is one input row; the partition is v % 4, so each partition's
// rows come in event-time order and none is late (the watermark is the
// minimum over partitions), which makes every run's output the same.
type joinRow struct{ k, v, ts int64 }

const joinRescaleBase = int64(1_796_169_600_000) // 2026-12-02 00:00:00 UTC

func joinRescaleRows(keys, mult, offset int64, n int) []joinRow {
	rows := make([]joinRow, n)
	for i := range rows {
		v := int64(i)
		rows[i] = joinRow{k: (v * mult) % keys, v: v, ts: joinRescaleBase + v*50 + offset}
	}
	return rows
}

func produceJoinRows(t *testing.T, b *kafkatest.Broker, topic string, rows []joinRow) {
	t.Helper()
	var recs []kafkatest.Record
	for _, r := range rows {
		ts := time.UnixMilli(r.ts).UTC().Format("2006-01-02 15:04:05.000")
		recs = append(recs, kafkatest.Record{Partition: int32(r.v % 4), Value: fmt.Appendf(nil, `{"k":%d,"v":%d,"ts":"%s"}`, r.k, r.v, ts)})
	}
	if err := b.Produce(topic, recs...); err != nil {
		t.Fatal(err)
	}
}

// readJoinOutput reads a sink topic read_committed, as "k,lv,rv" lines in
// the topic's order.
func readJoinOutput(t *testing.T, b *kafkatest.Broker, topic string) []string {
	t.Helper()
	recs, err := b.Read(context.Background(), topic, kafkatest.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		var m struct{ K, Lv, Rv *int64 }
		if err := json.Unmarshal(r.Value, &m); err != nil {
			t.Fatalf("%s: %q: %v", topic, r.Value, err)
		}
		f := func(p *int64) string {
			if p == nil {
				return "NULL"
			}
			return fmt.Sprint(*p)
		}
		out = append(out, f(m.K)+","+f(m.Lv)+","+f(m.Rv))
	}
	return out
}

// TestJoinRescaleThroughSavepoint is issue 15's rescale proof, as users do
// it: a job of a regular, an interval and a window join runs at
// parallelism 2 over Kafka, is stopped with a savepoint (STOP JOB … WITH
// SAVEPOINT) midway, with rows of every join in its state, and is restored
// from that savepoint ('execution.savepoint.path') at parallelism 1 and,
// separately, at 3. What a read_committed consumer sees in each exactly-
// once sink topic then equals an uninterrupted run's output and SQLite's.
func TestJoinRescaleThroughSavepoint(t *testing.T) {
	difftest.NeedSQLite(t)
	b := kafkatest.StartT(t, kafkatest.Options{})
	for _, topic := range []string{"l", "r"} {
		if err := b.CreateTopic(topic, 4); err != nil {
			t.Fatal(err)
		}
	}
	sinks := []string{"oreg", "oint", "owin"}
	for _, suffix := range []string{"", "_ref"} {
		for _, s := range sinks {
			if err := b.CreateTopic(s+suffix, 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	const n = 600
	left, right := joinRescaleRows(20, 1, 0, n), joinRescaleRows(23, 7, 13, n)
	// A last row on every partition, far ahead in event time, moves the
	// watermark past every row: the interval join's unmatched left rows
	// and every window are emitted. (Key -1 matches only itself.)
	var endL, endR []joinRow
	for p := int64(0); p < 4; p++ {
		endL = append(endL, joinRow{k: -1, v: n + p, ts: joinRescaleBase + 3_600_000})
		endR = append(endR, joinRow{k: -1, v: n + p, ts: joinRescaleBase + 3_600_000})
	}
	sql := func(p int, suffix, set string) string {
		return fmt.Sprintf(joinRescaleSQL, b.Addr(), p, suffix, set)
	}
	dirs := t.TempDir()

	// The first half of the input; the job at parallelism 2 reads all of
	// it, then is stopped with a savepoint.
	produceJoinRows(t, b, "l", left[:n/2])
	produceJoinRows(t, b, "r", right[:n/2])
	eng := engine.New(engine.Options{StateDir: filepath.Join(dirs, "p2")})
	job := startJoinJob(t, eng, sql(2, "", ""))
	waitJoinJob(t, job, n, false)
	stop := execAll(t, eng, "STOP JOB 'joins' WITH SAVEPOINT;")
	i, j := strings.Index(stop.Message, "savepoint "), strings.Index(stop.Message, " (checkpoint")
	if i < 0 || j < i {
		t.Fatalf("STOP JOB: %q", stop.Message)
	}
	savepoint := stop.Message[i+len("savepoint ") : j]
	closeEngine(t, eng)
	before := map[string]int{}
	for _, s := range sinks {
		before[s] = len(readJoinOutput(t, b, s))
	}
	t.Logf("stopped at parallelism 2 with savepoint %s; rows committed: %v", savepoint, before)
	if before["oreg"] == 0 || before["oint"] == 0 || before["owin"] == 0 {
		t.Fatalf("a join wrote nothing before the savepoint: %v", before)
	}

	// The rest of the input, then the restores.
	produceJoinRows(t, b, "l", append(left[n/2:], endL...))
	produceJoinRows(t, b, "r", append(right[n/2:], endR...))
	restored := map[int]map[string][]string{}
	for _, p := range []int{1, 3} {
		eng := engine.New(engine.Options{StateDir: filepath.Join(dirs, fmt.Sprint("p", p))})
		job := startJoinJob(t, eng, sql(p, "", fmt.Sprintf("SET 'execution.savepoint.path' = '%s';", savepoint)))
		waitJoinJob(t, job, n+8, true)
		if job.Stats().RestoredFrom == 0 {
			t.Fatalf("parallelism %d: the job did not restore from the savepoint", p)
		}
		execAll(t, eng, "STOP JOB 'joins' WITH SAVEPOINT;")
		closeEngine(t, eng)
		restored[p] = map[string][]string{}
		for _, s := range sinks {
			restored[p][s] = readJoinOutput(t, b, s)
		}
	}

	// The uninterrupted run, into the _ref topics.
	eng = engine.New(engine.Options{StateDir: filepath.Join(dirs, "ref")})
	job = startJoinJob(t, eng, sql(2, "_ref", ""))
	waitJoinJob(t, job, 2*n+8, true)
	execAll(t, eng, "STOP JOB 'joins_ref' WITH SAVEPOINT;")
	closeEngine(t, eng)

	sqlite := joinRescaleSQLiteOutputs(t, append(left, endL...), append(right, endR...))
	for _, s := range sinks {
		ref := slices.Sorted(slices.Values(readJoinOutput(t, b, s+"_ref")))
		if d := difftest.DiffRows(ref, sqlite[s]); d != "" {
			t.Errorf("%s: the uninterrupted run differs from SQLite:\n%s", s, d)
		}
		// The restore at 1 appended to what the first run committed; the
		// restore at 3 appended to that, from the same savepoint.
		at1 := restored[1][s]
		at3 := restored[3][s]
		if len(at3) < len(at1) {
			t.Fatalf("%s: %d rows after the second restore, %d after the first", s, len(at3), len(at1))
		}
		for p, rows := range map[int][]string{1: at1, 3: append(slices.Clone(at1[:before[s]]), at3[len(at1):]...)} {
			got := slices.Sorted(slices.Values(rows))
			if d := difftest.DiffRows(got, ref); d != "" {
				t.Errorf("%s: parallelism 2 -> %d differs from the uninterrupted run:\n%s", s, p, d)
			}
		}
		t.Logf("%s: %d rows (%d before the savepoint)", s, len(ref), before[s])
	}
}

func startJoinJob(t *testing.T, eng *engine.Engine, sql string) *engine.Job {
	t.Helper()
	res, err := eng.Exec(context.Background(), sql)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Job != nil {
			if err := r.Job.AwaitStarted(context.Background()); err != nil {
				t.Fatal(err)
			}
			return r.Job
		}
	}
	t.Fatal("no job started")
	return nil
}

// waitJoinJob waits until the job has read rows rows, its sources to
// their end (no lag), with its watermark past the last row when end, and
// completed a checkpoint since.
func waitJoinJob(t *testing.T, job *engine.Job, rows int64, end bool) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	var seen uint64
	for ; ; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the job did not catch up in 40 s: %+v", job.Stats())
		}
		if job.Status() != engine.Running {
			t.Fatalf("job %s: %s (%v)", job.ID(), job.Status(), job.Err())
		}
		st := job.Stats()
		lag := int64(0)
		for _, l := range st.SourceLag {
			lag += l
		}
		caught := st.RecordsIn == rows && lag == 0 && (!end || int64(st.Watermark) >= joinRescaleBase+3_000_000)
		if !caught || st.LastCheckpoint == nil {
			seen = 0
			continue
		}
		if seen == 0 {
			seen = st.LastCheckpoint.ID
		} else if st.LastCheckpoint.ID > seen {
			return
		}
	}
}

func closeEngine(t *testing.T, eng *engine.Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := eng.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func joinRescaleSQLiteOutputs(t *testing.T, left, right []joinRow) map[string][]string {
	t.Helper()
	dir := t.TempDir()
	var script strings.Builder
	for name, rows := range map[string][]joinRow{"l": left, "r": right} {
		var csv strings.Builder
		for _, r := range rows {
			fmt.Fprintf(&csv, "%d,%d,%d\n", r.k, r.v, r.ts)
		}
		path := filepath.Join(dir, name+".csv")
		if err := os.WriteFile(path, []byte(csv.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&script, "CREATE TABLE %[1]s(k INTEGER, v INTEGER, ts INTEGER);\n.mode csv\n.import %[2]s %[1]s\n", name, path)
	}
	script.WriteString(".mode list\n.separator ,\n.nullvalue NULL\n")
	out := map[string][]string{}
	for s, q := range joinRescaleSQLite {
		out[s] = difftest.SQLite(t, script.String()+q+";\n")
	}
	return out
}
