package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/exec"
)

// ledger records, across the members of one test group, which partitions
// each running job holds, and fails the test when a job starts on a
// partition another job still holds (its revoked channel not yet acted
// on): the property the engine's exactly-once hand-over rests on.
type ledger struct {
	t     *testing.T
	mu    sync.Mutex
	held  map[string]string // "topic/p" → instance running a job on it
	now   map[string][]string
	runs  map[string]int
	cause []string
	event chan struct{}
}

func newLedger(t *testing.T) *ledger {
	return &ledger{t: t, held: map[string]string{}, now: map[string][]string{}, runs: map[string]int{}, event: make(chan struct{}, 1)}
}

func (l *ledger) notify() {
	select {
	case l.event <- struct{}{}:
	default:
	}
}

// run is the RunFunc of member instance: it holds its partitions until
// revoked.
func (l *ledger) run(instance string) RunFunc {
	return func(ctx context.Context, m *exec.Member, revoked <-chan struct{}) error {
		var mine []string
		for t, ps := range m.Partitions {
			for _, p := range ps {
				mine = append(mine, fmt.Sprintf("%s/%d", t, p))
			}
		}
		slices.Sort(mine)
		l.mu.Lock()
		for _, p := range mine {
			if o, ok := l.held[p]; ok {
				l.cause = append(l.cause, fmt.Sprintf("%s started on %s while %s's job still held it", instance, p, o))
			}
			l.held[p] = instance
		}
		l.now[instance] = mine
		l.runs[instance]++
		l.mu.Unlock()
		l.notify()
		select {
		case <-revoked:
		case <-ctx.Done():
		}
		time.Sleep(20 * time.Millisecond) // stopping at a checkpoint takes a while
		l.mu.Lock()
		for _, p := range mine {
			if l.held[p] == instance {
				delete(l.held, p)
			}
		}
		l.now[instance] = nil
		l.mu.Unlock()
		l.notify()
		return nil
	}
}

// waitFor waits until cond holds of what each instance's running job
// holds (at most a minute: group joins are slow on a loaded machine).
func (l *ledger) waitFor(what string, cond func(now map[string][]string) bool) {
	l.t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		l.mu.Lock()
		ok := cond(l.now)
		state := fmt.Sprint(l.now)
		if len(l.cause) > 0 {
			l.mu.Unlock()
			l.t.Fatalf("%s", strings.Join(l.cause, "\n"))
		}
		l.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-l.event:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			l.t.Fatalf("after 60 s, not %s: %s", what, state)
		}
	}
}

func testConfig(b *kafkatest.Broker, instance string) Config {
	sc := kafkatest.Config()
	sc.Consumer.Group.Session.Timeout = 6 * time.Second
	sc.Consumer.Group.Heartbeat.Interval = 300 * time.Millisecond
	return Config{Group: "g", InstanceID: instance, Topics: []string{"t"}, Brokers: b.Addrs, Sarama: sc}
}

// startMember runs Run for instance until the returned cancel is called;
// wait returns Run's error.
func startMember(t *testing.T, cfg Config, run RunFunc) (cancel func(), wait func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = Run(ctx, cfg, run)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return cancel, func() error {
		select {
		case <-done:
			return err
		case <-time.After(60 * time.Second):
			return errors.New("Run did not return within 60 s")
		}
	}
}

func partitionsOf(now map[string][]string, instances ...string) []string {
	var all []string
	for _, i := range instances {
		all = append(all, now[i]...)
	}
	slices.Sort(all)
	return all
}

// TestRunShareAndHandOver: two members share a topic's partitions (two
// each, disjoint); when one leaves (its context cancelled) Run returns nil
// after its job was revoked, and the other takes all four; a job never
// starts on a partition another job still holds; the members see the group
// (OnMembers).
func TestRunShareAndHandOver(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	if err := b.CreateTopic("t", 4); err != nil {
		t.Fatal(err)
	}
	l := newLedger(t)
	var mu sync.Mutex
	seen := map[string][]GroupMember{}
	cfg := func(instance string) Config {
		c := testConfig(b, instance)
		c.OnMembers = func(ms []GroupMember) {
			mu.Lock()
			seen[instance] = ms
			mu.Unlock()
		}
		return c
	}
	all := []string{"t/0", "t/1", "t/2", "t/3"}
	_, _ = startMember(t, cfg("a"), l.run("a"))
	l.waitFor("a alone owning all", func(now map[string][]string) bool { return slices.Equal(now["a"], all) })
	cancelB, waitB := startMember(t, cfg("b"), l.run("b"))
	l.waitFor("a and b sharing the partitions two each", func(now map[string][]string) bool {
		return len(now["a"]) == 2 && len(now["b"]) == 2 && slices.Equal(partitionsOf(now, "a", "b"), all)
	})
	mu.Lock()
	got := fmt.Sprint(seen["a"])
	if got != fmt.Sprint(seen["b"]) || !strings.Contains(got, "{a [") || !strings.Contains(got, "{b [") {
		t.Errorf("the members see the group as %v and %v", seen["a"], seen["b"])
	}
	mu.Unlock()
	l.mu.Lock()
	kept := l.runs["a"] == 2 // a's first job was revoked for b, its second runs
	l.mu.Unlock()
	if !kept {
		t.Errorf("a ran %d jobs, want 2", l.runs["a"])
	}

	cancelB()
	if err := waitB(); err != nil {
		t.Fatalf("Run of b after its context was cancelled: %v", err)
	}
	l.mu.Lock()
	if len(l.now["b"]) != 0 {
		t.Errorf("b's job still runs after Run returned: %v", l.now["b"])
	}
	l.mu.Unlock()
	// A static member that leaves keeps its place for the session timeout;
	// then its partitions move.
	l.waitFor("a owning all again after b left", func(now map[string][]string) bool { return slices.Equal(now["a"], all) })
}

// TestRunStaticRestart: a member that stops and comes back with the same
// instance id within the session timeout gets its partitions back.
func TestRunStaticRestart(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	if err := b.CreateTopic("t", 4); err != nil {
		t.Fatal(err)
	}
	l := newLedger(t)
	_, _ = startMember(t, testConfig(b, "a"), l.run("a"))
	cancelB, waitB := startMember(t, testConfig(b, "b"), l.run("b"))
	l.waitFor("a and b sharing", func(now map[string][]string) bool { return len(now["a"]) == 2 && len(now["b"]) == 2 })
	l.mu.Lock()
	before := slices.Clone(l.now["b"])
	l.mu.Unlock()
	cancelB()
	if err := waitB(); err != nil {
		t.Fatal(err)
	}
	_, _ = startMember(t, testConfig(b, "b"), l.run("b"))
	l.waitFor("b back on its partitions", func(now map[string][]string) bool { return slices.Equal(now["b"], before) && len(now["a"]) == 2 })
}

// TestRunJobError: a job's failure ends Run with its error; a job that
// ends by itself gives ErrFinished.
func TestRunJobError(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	if err := b.CreateTopic("t", 2); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, wait := startMember(t, testConfig(b, "a"), func(ctx context.Context, m *exec.Member, revoked <-chan struct{}) error { return boom })
	if err := wait(); !errors.Is(err, boom) {
		t.Fatalf("Run: %v, want the job's error", err)
	}
	_, wait = startMember(t, testConfig(b, "a"), func(ctx context.Context, m *exec.Member, revoked <-chan struct{}) error { return nil })
	if err := wait(); !errors.Is(err, ErrFinished) {
		t.Fatalf("Run: %v, want ErrFinished", err)
	}
	if !Fenced(fmt.Errorf("commit: %w", sarama.ErrIllegalGeneration)) || Fenced(boom) {
		t.Fatal("Fenced")
	}
}

// TestRunNoPartitions: a member the group gives no partition still runs
// its job (whose transactional sinks then fence what a previous run of the
// process left open), with an empty assignment.
func TestRunNoPartitions(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	if err := b.CreateTopic("t", 1); err != nil {
		t.Fatal(err)
	}
	l := newLedger(t)
	_, _ = startMember(t, testConfig(b, "a"), l.run("a"))
	l.waitFor("a owning t/0", func(now map[string][]string) bool { return slices.Equal(now["a"], []string{"t/0"}) })
	_, _ = startMember(t, testConfig(b, "b"), l.run("b"))
	l.waitFor("b running a job without partitions", func(now map[string][]string) bool { // l.mu is held
		return l.runs["b"] > 0 && len(now["b"]) == 0 && len(now["a"]) == 1
	})
}
