package kafka

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/streamsql/streamsql/cluster"
	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/exec"
)

// joinGroup runs a member of group "job" through cluster.Run and returns
// the assignments it receives; the member leaves when the test ends.
func joinGroup(t *testing.T, b *kafkatest.Broker, instance string) <-chan *exec.Member {
	t.Helper()
	brokers, sc, err := GroupConfig(opts(b, "topic", "in", "properties.session.timeout.ms", "6000", "properties.heartbeat.interval.ms", "300"))
	must(t, err)
	ch := make(chan *exec.Member, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- cluster.Run(ctx, cluster.Config{Group: "job", InstanceID: instance, Topics: []string{"in"}, Brokers: brokers, Sarama: sc,
			Logger: slog.New(slog.DiscardHandler)}, func(_ context.Context, m *exec.Member, revoked <-chan struct{}) error {
			ch <- m
			<-revoked
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("cluster.Run: %v", err)
		}
	})
	return ch
}

func nextMember(t *testing.T, ch <-chan *exec.Member) *exec.Member {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(60 * time.Second):
		t.Fatal("no assignment within 60 s")
		return nil
	}
}

// memberSink opens an exactly-once sink of job "job" for member m.
func memberSink(t *testing.T, b *kafkatest.Broker, m *exec.Member) *sink {
	t.Helper()
	s, err := newSink(exec.SinkConfig{Table: "out", Schema: testSchema, JobName: "job", Member: m,
		Options: opts(b, "topic", "out", optDeliveryGuarantee, "exactly-once", optTxnPrefix, "tx")})
	must(t, err)
	must(t, s.Open(context.Background(), nil))
	t.Cleanup(func() { s.Close() })
	return s
}

// TestMemberSinkCommitsOffsetsFenced: the exactly-once sink of a group
// member commits its rows and its partitions' input offsets in one
// transaction; once the group has rebalanced, a member still holding the
// old generation (a zombie) cannot commit either.
func TestMemberSinkCommitsOffsetsFenced(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	must(t, b.CreateTopic("in", 4))
	must(t, b.CreateTopic("out", 1))
	a := joinGroup(t, b, "a")
	old := nextMember(t, a)
	if len(old.Partitions["in"]) != 4 {
		t.Fatalf("the only member owns %v, want all 4 partitions", old.Partitions)
	}
	s := memberSink(t, b, old)
	write(t, s, 1, 2)
	ctx := context.Background()
	must(t, s.AddOffsets(ctx, 1, map[string][]byte{"in/0": appendSplitOffset(nil, 0, 5), "in/3": appendSplitOffset(nil, 3, 7)}))
	_, err := s.PreCommit(ctx, 1)
	must(t, err)
	must(t, s.Commit(ctx, 1))
	if got := readValues(t, b, "out", false); len(got) != 2 {
		t.Fatalf("committed rows: %v", got)
	}
	off, err := b.CommittedOffsets("job", "in")
	must(t, err)
	if off[0] != 5 || off[3] != 7 {
		t.Fatalf("committed offsets %v, want in/0 at 5 and in/3 at 7", off)
	}

	// A second member joins: the group moves to a new generation.
	bm := nextMember(t, joinGroup(t, b, "b"))
	cur := nextMember(t, a)
	if cur.Generation <= old.Generation || len(bm.Partitions["in"])+len(cur.Partitions["in"]) != 4 {
		t.Fatalf("after the join: a %+v, b %+v (old generation %d)", cur, bm, old.Generation)
	}
	write(t, s, 3)
	must(t, s.AddOffsets(ctx, 2, map[string][]byte{"in/0": appendSplitOffset(nil, 0, 9)}))
	_, err = s.PreCommit(ctx, 2)
	must(t, err)
	err = s.Commit(ctx, 2)
	t.Logf("the zombie's commit: %v", err)
	if err == nil || !cluster.Fenced(err) {
		t.Fatalf("a commit under generation %d after the group moved to %d: %v, want fenced", old.Generation, cur.Generation, err)
	}
	if got := readValues(t, b, "out", false); len(got) != 2 {
		t.Fatalf("the zombie's rows became visible: %v", got)
	}
	off, err = b.CommittedOffsets("job", "in")
	must(t, err)
	if off[0] != 5 {
		t.Fatalf("the zombie's offset was committed: %v", off)
	}

	// The zombie closes (its process leaves the group): it aborts its
	// open transaction rather than hold back read_committed readers of
	// "out" until the broker's transaction timeout.
	must(t, s.Close())
	must(t, b.ProduceJSON("out", 0, `{"id":4,"name":"n4"}`))
	if got := readValues(t, b, "out", false); len(got) != 3 || got[2] != `{"id":4,"name":"n4"}` {
		t.Fatalf("read_committed after the zombie closed: %v, want its 2 committed rows and the later one", got)
	}
}
