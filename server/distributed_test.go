package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/server"
)

// TestDistributedJobView: a job that runs on several processes shows this
// process's part (instance, generation, partitions, assignments) in GET
// /v1/jobs/{id} and /metrics.
func TestDistributedJobView(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	if err := b.CreateTopic("events", 3); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateTopic("out", 1); err != nil {
		t.Fatal(err)
	}
	ts := startEngine(t, engine.Options{StateDir: t.TempDir(), InstanceID: "p1"}, server.Options{})
	res := ts.statements(fmt.Sprintf(`SET 'pipeline.name' = 'dist';
SET 'execution.distributed' = 'true';
CREATE TABLE ev (id BIGINT) WITH ('connector' = 'kafka', 'topic' = 'events', 'properties.bootstrap.servers' = '%[1]s',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json', 'properties.session.timeout.ms' = '6000', 'properties.heartbeat.interval.ms' = '300');
CREATE TABLE out (id BIGINT) WITH ('connector' = 'kafka', 'topic' = 'out', 'properties.bootstrap.servers' = '%[1]s', 'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'tx');
INSERT INTO out SELECT id FROM ev;`, b.Addr()))
	id := res[len(res)-1].Job
	var v struct {
		Member *struct {
			Group      string   `json:"group"`
			InstanceID string   `json:"instance_id"`
			Generation int32    `json:"generation"`
			Partitions []string `json:"partitions"`
			Rebalances int64    `json:"rebalances"`
		} `json:"member"`
	}
	for deadline := time.Now().Add(60 * time.Second); v.Member == nil || len(v.Member.Partitions) != 3; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("job %s: no assignment of 3 partitions after 60 s: %+v", id, v.Member)
		}
		ts.json("GET", "/v1/jobs/"+id, "", http.StatusOK, &v)
	}
	if m := v.Member; m.Group != "dist" || m.InstanceID != "p1" || m.Generation < 1 || m.Rebalances != 1 ||
		strings.Join(m.Partitions, " ") != "events/0 events/1 events/2" {
		t.Fatalf("member: %+v", m)
	}
	_, body := ts.do("GET", "/metrics", "", "")
	for _, want := range []string{
		fmt.Sprintf(`streamsql_job_partition_owned{job=%q,partition="events/1"} 1`, id),
		fmt.Sprintf(`streamsql_job_rebalances_total{job=%q} 1`, id),
		fmt.Sprintf(`streamsql_job_group_generation{job=%q} %d`, id, v.Member.Generation),
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s:\n%s", want, body)
		}
	}
}
