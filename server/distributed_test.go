package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/server"
)

// TestDistributedJobView: a job that runs on several processes shows this
// process's part (instance, generation, partitions, assignments, the key
// groups of its repartition partitions, the lag of every partition it
// reads, its restore) in GET /v1/jobs/{id} and /metrics.
func TestDistributedJobView(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	if err := b.CreateTopic("events", 3); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateTopic("out", 1); err != nil {
		t.Fatal(err)
	}
	for p := 0; p < 3; p++ {
		var vals []string
		for i := 0; i < 10; i++ {
			vals = append(vals, fmt.Sprintf(`{"k":%d,"ts":"1970-01-01 00:00:0%d.000"}`, i%4, i))
		}
		if err := b.ProduceJSON("events", int32(p), vals...); err != nil {
			t.Fatal(err)
		}
	}
	ts := startEngine(t, engine.Options{StateDir: t.TempDir(), InstanceID: "p1"}, server.Options{})
	res := ts.statements(fmt.Sprintf(`SET 'pipeline.name' = 'dist';
SET 'execution.distributed' = 'true';
SET 'execution.checkpointing.interval' = '200 ms';
CREATE TABLE ev (k INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'kafka', 'topic' = 'events', 'properties.bootstrap.servers' = '%[1]s',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json', 'properties.session.timeout.ms' = '6000', 'properties.heartbeat.interval.ms' = '300');
CREATE TABLE out (k INT, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'out', 'properties.bootstrap.servers' = '%[1]s', 'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'tx');
INSERT INTO out SELECT k, COUNT(*) FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k;`, b.Addr()))
	id := res[len(res)-1].Job
	type lag struct {
		Partition string `json:"partition"`
		Records   int64  `json:"records"`
	}
	var v struct {
		Member *struct {
			Group      string   `json:"group"`
			InstanceID string   `json:"instance_id"`
			Generation int32    `json:"generation"`
			Partitions []string `json:"partitions"`
			Rebalances int64    `json:"rebalances"`
			KeyGroups  []struct {
				Partition   string `json:"partition"`
				First, Last int
			} `json:"key_groups"`
			Lag     []lag `json:"lag"`
			Restore *struct {
				Partitions []struct {
					Partition, From string
				} `json:"partitions"`
			} `json:"restore"`
		} `json:"member"`
	}
	caughtUp := func() bool {
		m := v.Member
		if m == nil || len(m.Partitions) != 6 || len(m.Lag) != 6 {
			return false
		}
		for _, l := range m.Lag {
			if l.Records != 0 {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(60 * time.Second); !caughtUp(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("job %s: no assignment of 6 partitions read to their end after 60 s: %+v", id, v.Member)
		}
		ts.json("GET", "/v1/jobs/"+id, "", http.StatusOK, &v)
	}
	const rp = "dist-2-window-agg-repartition"
	if m := v.Member; m.Group != "dist" || m.InstanceID != "p1" || m.Generation < 1 || m.Rebalances != 1 ||
		strings.Join(m.Partitions, " ") != "dist-2-window-agg-repartition/0 dist-2-window-agg-repartition/1 dist-2-window-agg-repartition/2 events/0 events/1 events/2" {
		t.Fatalf("member: %+v", m)
	}
	// 128 key groups over 3 repartition partitions.
	if kg := fmt.Sprint(v.Member.KeyGroups); kg != "[{"+rp+"/0 0 42} {"+rp+"/1 43 85} {"+rp+"/2 86 127}]" {
		t.Errorf("key groups: %s", kg)
	}
	if r := v.Member.Restore; r == nil || fmt.Sprint(r.Partitions) != "[{"+rp+"/0 changelog} {"+rp+"/1 changelog} {"+rp+"/2 changelog}]" {
		t.Errorf("restore: %+v", r)
	}
	// The lag of a repartition partition is 1 for a moment while a
	// transaction of watermark markers is open: scraped until caught up.
	wants := []string{
		fmt.Sprintf(`streamsql_job_partition_owned{job=%q,partition="events/1"} 1`, id),
		fmt.Sprintf(`streamsql_job_rebalances_total{job=%q} 1`, id),
		fmt.Sprintf(`streamsql_job_group_generation{job=%q} %d`, id, v.Member.Generation),
		fmt.Sprintf(`streamsql_job_partition_lag_records{job=%q,topic="events",partition="2"} 0`, id),
		fmt.Sprintf(`streamsql_job_partition_lag_records{job=%q,topic=%q,partition="0"} 0`, id, rp),
		fmt.Sprintf(`streamsql_job_partition_key_groups{job=%q,topic=%q,partition="1",first="43",last="85"} 43`, id, rp),
		fmt.Sprintf(`streamsql_job_partition_restored_entries{job=%q,topic=%q,partition="2",from="changelog"} 0`, id, rp),
	}
	var missing []string
	var body []byte
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, body = ts.do("GET", "/metrics", "", "")
		missing = missing[:0]
		for _, w := range wants {
			if !strings.Contains(string(body), w) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(missing) > 0 {
		t.Errorf("/metrics lacks %s:\n%s", strings.Join(missing, "\n"), body)
	}
	const member = "; key groups 0-42,43-85,86-127; lag 0"
	var shown string
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(shown, member); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("SHOW JOBS lacks the key groups and the lag: %s", shown)
		}
		shown = fmt.Sprint(ts.statements("SHOW JOBS;")[0].Rows)
	}
}

// TestDistributedGroupView: with two processes (servers) in one job's
// group, each shows the whole group (its members and what each owns) in
// GET /v1/jobs/{id}, SHOW JOBS and /metrics; and a savepoint of the job,
// by REST or STOP JOB … WITH SAVEPOINT, is refused with a clear error
// (each process holds only part of the job) while the job runs on.
func TestDistributedGroupView(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	if err := b.CreateTopic("events", 4); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateTopic("out", 1); err != nil {
		t.Fatal(err)
	}
	sql := fmt.Sprintf(`SET 'pipeline.name' = 'grp';
SET 'execution.distributed' = 'true';
CREATE TABLE ev (id BIGINT) WITH ('connector' = 'kafka', 'topic' = 'events', 'properties.bootstrap.servers' = '%[1]s',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json', 'properties.session.timeout.ms' = '6000', 'properties.heartbeat.interval.ms' = '300');
CREATE TABLE out (id BIGINT) WITH ('connector' = 'kafka', 'topic' = 'out', 'properties.bootstrap.servers' = '%[1]s', 'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'tx');
INSERT INTO out SELECT id FROM ev;`, b.Addr())
	type member struct {
		InstanceID string   `json:"instance_id"`
		Partitions []string `json:"partitions"`
	}
	var view struct {
		Member *struct {
			Partitions []string `json:"partitions"`
			Members    []member `json:"members"`
		} `json:"member"`
	}
	ts1 := startEngine(t, engine.Options{StateDir: t.TempDir(), InstanceID: "p1"}, server.Options{})
	ts2 := startEngine(t, engine.Options{StateDir: t.TempDir(), InstanceID: "p2"}, server.Options{})
	res := ts1.statements(sql)
	id := res[len(res)-1].Job
	ts2.statements(sql)
	// Two each: which two depends on whether p1 ran alone first (sticky).
	shared := func() bool {
		m := view.Member
		if m == nil || len(m.Members) != 2 || m.Members[0].InstanceID != "p1" || m.Members[1].InstanceID != "p2" ||
			len(m.Members[0].Partitions) != 2 || len(m.Members[1].Partitions) != 2 {
			return false
		}
		all := append(slices.Clone(m.Members[0].Partitions), m.Members[1].Partitions...)
		slices.Sort(all)
		return strings.Join(all, " ") == "events/0 events/1 events/2 events/3" && slices.Equal(m.Partitions, m.Members[0].Partitions)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ts1.json("GET", "/v1/jobs/"+id, "", http.StatusOK, &view)
		if shared() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: after 60 s the group is %+v, want p1 and p2 with two partitions each", id, view.Member)
		}
	}
	p1, p2 := view.Member.Members[0].Partitions, view.Member.Members[1].Partitions
	show := ts1.statements("SHOW JOBS;")
	if s, w := fmt.Sprint(show[0].Rows), fmt.Sprintf("group: p1[%s] p2[%s]", strings.Join(p1, ","), strings.Join(p2, ",")); !strings.Contains(s, w) {
		t.Errorf("SHOW JOBS lacks %q: %s", w, s)
	}
	_, body := ts1.do("GET", "/metrics", "", "")
	for _, w := range []string{
		fmt.Sprintf(`streamsql_job_group_partition_owner{job=%q,partition=%q,instance="p2"} 1`, id, p2[0]),
		fmt.Sprintf(`streamsql_job_group_partition_owner{job=%q,partition=%q,instance="p1"} 1`, id, p1[1]),
	} {
		if !strings.Contains(string(body), w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}

	const refused = "no savepoint of a job on several processes"
	code, body := ts1.do("POST", "/v1/jobs/"+id+"/savepoints", "application/json", `{"name": "sp1"}`)
	if code != http.StatusConflict || !strings.Contains(string(body), refused) {
		t.Errorf("POST savepoints: %d %s", code, body)
	}
	code, body = ts1.do("POST", "/v1/statements", "", fmt.Sprintf("STOP JOB '%s' WITH SAVEPOINT;", id))
	if code == http.StatusOK || !strings.Contains(string(body), refused) {
		t.Errorf("STOP JOB WITH SAVEPOINT: %d %s", code, body)
	}
	var st struct {
		Status engine.JobStatus `json:"status"`
	}
	ts1.json("GET", "/v1/jobs/"+id, "", http.StatusOK, &st)
	if st.Status != engine.Running {
		t.Errorf("after the refused savepoints the job is %s", st.Status)
	}
}
