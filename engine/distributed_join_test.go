package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
)

// joinSQL is a regular join on several processes: orders (partitioned by
// their id) joined with customers (partitioned by theirs) on the order's
// customer, so both go through the join's repartition topic, the rows of
// both sides held in its changelog topic (with each order's count of
// matches: a LEFT JOIN emits an order without a customer NULL-padded, and
// retracts that row when the first customer arrives). The sink takes the
// updates as debezium-json change events, into one partition so that a
// row's insert comes before its retraction.
const joinSQL = `SET 'pipeline.name' = 'jorders';
SET 'execution.distributed' = 'true';
SET 'execution.checkpointing.interval' = '200 ms';
CREATE TABLE orders (id BIGINT, cust INT) WITH ('connector' = 'kafka',
  'topic' = 'jorders', 'properties.bootstrap.servers' = '%[1]s', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json',
  'properties.session.timeout.ms' = '6000', 'properties.heartbeat.interval.ms' = '300');
CREATE TABLE customers (id INT, name STRING) WITH ('connector' = 'kafka',
  'topic' = 'jcustomers', 'properties.bootstrap.servers' = '%[1]s', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json',
  'properties.session.timeout.ms' = '6000', 'properties.heartbeat.interval.ms' = '300');
CREATE TABLE joined (id BIGINT, cust INT, name STRING) WITH ('connector' = 'kafka', 'topic' = 'jorders-out',
  'properties.bootstrap.servers' = '%[1]s', 'format' = 'debezium-json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'jtx');
INSERT INTO joined SELECT o.id, o.cust, c.name FROM orders o LEFT JOIN customers c ON o.cust = c.id;`

// joinedRow is a row of the join's output.
type joinedRow struct {
	ID   int64
	Cust int
	Name string
}

// readJoinOut reads the sink read_committed and applies its change events
// to a multiset of rows, failing on a retraction of a row it does not hold
// (a lost or replayed update). A NULL name is "<null>".
func readJoinOut(t *testing.T, b *kafkatest.Broker) map[joinedRow]int {
	t.Helper()
	recs, err := b.Read(context.Background(), "jorders-out", kafkatest.ReadOptions{Quiet: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	out := map[joinedRow]int{}
	for _, r := range recs {
		var ev struct {
			Before, After *struct {
				ID   int64
				Cust int
				Name *string
			}
		}
		if err := json.Unmarshal(r.Value, &ev); err != nil {
			t.Fatalf("bad output %q: %v", r.Value, err)
		}
		row := func(v *struct {
			ID   int64
			Cust int
			Name *string
		}) joinedRow {
			name := "<null>"
			if v.Name != nil {
				name = *v.Name
			}
			return joinedRow{v.ID, v.Cust, name}
		}
		if ev.Before != nil {
			b := row(ev.Before)
			if out[b] == 0 {
				t.Fatalf("a retraction of %v, not held, at %d/%d", b, r.Partition, r.Offset)
			}
			if out[b]--; out[b] == 0 {
				delete(out, b)
			}
		}
		if ev.After != nil {
			out[row(ev.After)]++
		}
	}
	return out
}

// TestDistributedJoin: a regular (LEFT) join runs on two processes behind
// one repartition topic for both inputs. The second process joins half-way
// and takes partitions over; the first is closed mid-stream, and the
// second restores its repartition partitions' rows of both sides from
// the changelog topic: the orders and customers that arrive afterwards
// join the rows held before. The read_committed sink's change events
// retract only rows they inserted, and leave every joined row exactly
// once, as computed here from the inputs (every order has customers in
// the end: no NULL-padded row is left).
func TestDistributedJoin(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	for topic, n := range map[string]int{"jorders": 4, "jcustomers": 4, "jorders-out": 1} {
		if err := b.CreateTopic(topic, n); err != nil {
			t.Fatal(err)
		}
	}
	const n, keys = 2000, 13
	cust := func(i int) int { return (i * 7) % keys }
	// Two customer rows per id: version 0 before the first process
	// closes, version 1 after.
	name := func(id, v int) string { return fmt.Sprintf("c%d-%d", id, v) }
	want := map[joinedRow]int{}
	for i := 0; i < n; i++ {
		for v := 0; v < 2; v++ {
			want[joinedRow{int64(i), cust(i), name(cust(i), v)}]++
		}
	}
	produceOrders := func(from, to int) {
		t.Helper()
		var vals [4][]string
		for i := from; i < to; i++ {
			vals[i%4] = append(vals[i%4], fmt.Sprintf(`{"id":%d,"cust":%d}`, i, cust(i)))
		}
		for p := range vals {
			if err := b.ProduceJSON("jorders", int32(p), vals[p]...); err != nil {
				t.Fatal(err)
			}
		}
	}
	produceCustomers := func(v int) {
		t.Helper()
		var vals [4][]string
		for id := 0; id < keys; id++ {
			vals[id%4] = append(vals[id%4], fmt.Sprintf(`{"id":%d,"name":%q}`, id, name(id, v)))
		}
		for p := range vals {
			if err := b.ProduceJSON("jcustomers", int32(p), vals[p]...); err != nil {
				t.Fatal(err)
			}
		}
	}
	total := func(m map[joinedRow]int) int {
		s := 0
		for _, c := range m {
			s += c
		}
		return s
	}
	procs := newProcesses(t, fmt.Sprintf(joinSQL, b.Addr()))
	produceOrders(0, n/4)
	produceCustomers(0)
	produceOrders(n/4, n/2) // these find the customers held
	engA, a := procs.start("a")
	procs.aErr = a.Err
	waitFor := procs.waitFor
	waitFor("a owns the 8 source and 4 repartition partitions", func() bool {
		return ownedPartitions(a, "jorders/")+ownedPartitions(a, "jcustomers/") == 8 && ownedPartitions(a, "jorders-") == 4
	})
	waitFor("a joined the first half of the orders", func() bool { return total(readJoinOut(t, b)) >= n/2 })
	_, bj := procs.start("b")
	waitFor("b owns partitions", func() bool {
		return ownedPartitions(bj, "jorders/")+ownedPartitions(bj, "jorders-") > 0 && ownedPartitions(a, "jorders/")+ownedPartitions(a, "jorders-") < 8
	})
	produceOrders(n/2, 3*n/4)
	waitFor("the orders after b joined joined", func() bool { return total(readJoinOut(t, b)) >= 3*n/4 })
	procs.close(engA, "a")
	// The new customers join every order held, the new orders every
	// customer held: what a held is restored from the changelog.
	produceCustomers(1)
	produceOrders(3*n/4, n)
	waitFor("b owns every partition", func() bool {
		return ownedPartitions(bj, "jorders/")+ownedPartitions(bj, "jcustomers/") == 8 && ownedPartitions(bj, "jorders-") == 4
	})
	var got map[joinedRow]int
	waitFor("every row joined", func() bool { got = readJoinOut(t, b); return total(got) >= 2*n })
	time.Sleep(time.Second)
	if got = readJoinOut(t, b); !maps.Equal(got, want) {
		var missing, extra []string
		for r, c := range want {
			if got[r] < c {
				missing = append(missing, fmt.Sprintf("%v×%d", r, c-got[r]))
			}
		}
		for r, c := range got {
			if c > want[r] {
				extra = append(extra, fmt.Sprintf("%v×%d", r, c-want[r]))
			}
		}
		t.Fatalf("the sink holds %d rows, want %d: %d missing (first: %.10v), %d extra (first: %.10v)", total(got), total(want), len(missing), missing, len(extra), extra)
	}
	m := bj.Query().Membership()
	if m == nil || m.RestoredEntries == 0 || m.ChangelogRecords == 0 {
		t.Fatalf("b restored nothing from the changelog: %+v", m)
	}
}
