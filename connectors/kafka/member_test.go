package kafka

import (
	"context"
	"log/slog"
	"slices"
	"sync"
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
	ch, _ := joinGroupWith(t, b, instance, nil)
	return ch
}

// joinGroupWith is joinGroup with the group's Fence; stop makes the
// member stop at once, as a process that dies does (a static member
// sends no LeaveGroup: the group notices at the session timeout).
func joinGroupWith(t *testing.T, b *kafkatest.Broker, instance string, fence cluster.FenceFunc) (ch <-chan *exec.Member, stop func()) {
	t.Helper()
	brokers, sc, err := GroupConfig(opts(b, "topic", "in", "properties.session.timeout.ms", "6000", "properties.heartbeat.interval.ms", "300"))
	must(t, err)
	assigned := make(chan *exec.Member, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- cluster.Run(ctx, cluster.Config{Group: "job", InstanceID: instance, Topics: []string{"in"}, Brokers: brokers, Sarama: sc,
			Logger: slog.New(slog.DiscardHandler), Fence: fence}, func(_ context.Context, m *exec.Member, revoked <-chan struct{}) error {
			assigned <- m
			<-revoked
			return nil
		})
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("cluster.Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return assigned, stop
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

// TestDepartedMemberFenced: a process dies in the middle of a transaction
// (rows written, its partition's offset sent to the group's coordinator)
// and never comes back. The process that takes its partitions over fences
// the dead one's transactional id before its session fetches the offsets:
// without that, its session cannot start (the offset is unstable) and
// read_committed readers of the output wait, both until the broker's
// transaction timeout (15 min here).
func TestDepartedMemberFenced(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	must(t, b.CreateTopic("in", 4))
	must(t, b.CreateTopic("out", 1))
	sinkOpts := opts(b, "topic", "out", optDeliveryGuarantee, "exactly-once", optTxnPrefix, "tx", optTxnTimeout, "15 min")
	var mu sync.Mutex
	var fenced []string
	fence := func(ctx context.Context, instance string) error {
		mu.Lock()
		fenced = append(fenced, instance)
		mu.Unlock()
		return FenceMember(ctx, sinkOpts, "job", instance)
	}
	a, _ := joinGroupWith(t, b, "a", fence)
	nextMember(t, a)
	bch, stopB := joinGroupWith(t, b, "b", fence)
	bm := nextMember(t, bch)
	am := nextMember(t, a)
	if len(bm.Partitions["in"]) != 2 || len(am.Partitions["in"]) != 2 {
		t.Fatalf("a owns %v, b %v: want two each", am.Partitions, bm.Partitions)
	}

	// b's last transaction: a row, and its partition's offset at the
	// group's coordinator; then b dies.
	s, err := newSink(exec.SinkConfig{Table: "out", Schema: testSchema, JobName: "job", Member: bm, Options: sinkOpts})
	must(t, err)
	must(t, s.Open(context.Background(), nil))
	t.Cleanup(func() { s.Close() })
	write(t, s, 1)
	_, err = s.PreCommit(context.Background(), 1)
	must(t, err)
	p := bm.Partitions["in"][0]
	pendingOffset(t, b.Addrs, memberTxnID("tx", "job", "b"), "job", "in", p, 5)
	stopB()

	// At the session timeout the group gives b's partitions to a.
	took := nextMember(t, a)
	if !slices.Contains(took.Partitions["in"], p) {
		t.Fatalf("after b died a owns %v, want all 4", took.Partitions)
	}
	mu.Lock()
	if !slices.Equal(fenced, []string{"b"}) {
		t.Errorf("fenced %v, want b once (by a, which took its partitions)", fenced)
	}
	mu.Unlock()
	must(t, b.ProduceJSON("out", 0, `{"id":2,"name":"n2"}`))
	if got := readValues(t, b, "out", false); !slices.Equal(got, []string{`{"id":2,"name":"n2"}`}) {
		t.Fatalf("read_committed after a took over: %v, want only the later row (b's aborted)", got)
	}
}
