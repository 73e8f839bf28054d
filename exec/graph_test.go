package exec_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/operators"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// The runtime's tests build plan graphs by hand over test sources and
// sinks: real tasks, channels, barriers and (where a test needs one) a
// real checkpoint store, with the operators of the registry.

// rowSchema is the schema of every test source: the source's number and
// a row number.
var rowSchema = types.Schema{Fields: []types.Field{
	{Name: "src", Type: types.BigIntType.WithNotNull(true)},
	{Name: "n", Type: types.BigIntType.WithNotNull(true)},
}}

// testSource emits rows (id, 0..rows-1) in batches of batch rows; its
// offset is the next row number. gate, when set, blocks Read after the
// first batch until it is closed (a slow input), after which the source
// is exhausted.
type testSource struct {
	id, rows, batch int64
	gate            chan struct{}
	alloc           memory.Allocator
	metrics         *exec.SourceMetrics

	next    atomic.Int64
	offsets []int64 // the offset at each Offsets call (at barriers: no prefetch)
	mu      sync.Mutex
}

func (s *testSource) Open(_ context.Context, offs map[string][]byte) error {
	if o := offs["0"]; len(o) == 8 {
		s.next.Store(int64(binary.BigEndian.Uint64(o)))
	}
	return nil
}

func (s *testSource) Read(ctx context.Context) (arrow.Record, int, error) {
	next := s.next.Load()
	if s.gate != nil && next > 0 {
		select {
		case <-s.gate:
			return nil, 0, io.EOF
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
	if next >= s.rows {
		return nil, 0, io.EOF
	}
	n := min(s.batch, s.rows-next)
	ids := array.NewInt64Builder(s.alloc)
	ns := array.NewInt64Builder(s.alloc)
	defer ids.Release()
	defer ns.Release()
	for i := int64(0); i < n; i++ {
		ids.Append(s.id)
		ns.Append(next + i)
	}
	a, b := ids.NewArray(), ns.NewArray()
	defer a.Release()
	defer b.Release()
	s.next.Add(n)
	s.metrics.Records.Add(n)
	return array.NewRecord(rowSchema.Arrow(), []arrow.Array{a, b}, n), 0, nil
}

func (s *testSource) Offsets(fn func(string, []byte) error) error {
	next := s.next.Load()
	s.mu.Lock()
	s.offsets = append(s.offsets, next)
	s.mu.Unlock()
	return fn("0", binary.BigEndian.AppendUint64(nil, uint64(next)))
}

func (s *testSource) Close() error { return nil }

// testSink counts the rows it was given per source; its handle at a
// pre-commit is the count of source 0's rows. block, when set, blocks
// every Write after the first until it is closed.
type testSink struct {
	block chan struct{}

	mu      sync.Mutex
	rows    map[int64]int64
	seen    map[[2]int64]int // (src, n) → times written
	handles map[int64]int64  // checkpoint id → source 0's rows at its pre-commit
	writes  int
	commits []int64
}

func newTestSink() *testSink {
	return &testSink{rows: map[int64]int64{}, seen: map[[2]int64]int{}, handles: map[int64]int64{}}
}

func (s *testSink) Open(context.Context, []byte) error { return nil }

func (s *testSink) Write(ctx context.Context, rec arrow.Record) error {
	s.mu.Lock()
	s.writes++
	first := s.writes == 1
	s.mu.Unlock()
	if s.block != nil && !first {
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	src := rec.Column(0).(*array.Int64)
	n := rec.Column(1).(*array.Int64)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < int(rec.NumRows()); i++ {
		s.rows[src.Value(i)]++
		s.seen[[2]int64{src.Value(i), n.Value(i)}]++
	}
	return nil
}

func (s *testSink) count(src int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows[src]
}

func (s *testSink) PreCommit(_ context.Context, id int64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handles[id] = s.rows[0]
	return binary.BigEndian.AppendUint64(nil, uint64(s.rows[0])), nil
}

func (s *testSink) Commit(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commits = append(s.commits, id)
	return nil
}

func (s *testSink) Close() error { return nil }

// testConnectors serves sources and sinks by connector name.
type testConnectors struct {
	sources map[string]*testSource
	sinks   map[string]*testSink
}

func (c testConnectors) NewSource(name string, cfg exec.SourceConfig) (exec.Source, error) {
	s, ok := c.sources[name]
	if !ok {
		return nil, fmt.Errorf("no source %q", name)
	}
	s.alloc, s.metrics = cfg.Alloc, cfg.Metrics
	return s, nil
}

func (c testConnectors) NewSink(name string, _ exec.SinkConfig) (exec.Sink, error) {
	s, ok := c.sinks[name]
	if !ok {
		return nil, fmt.Errorf("no sink %q", name)
	}
	return s, nil
}

func source(id string) *plan.Source {
	return &plan.Source{Base: plan.Base{OpID: id, Output: rowSchema, Parallelism: 1}, Table: id, Connector: id}
}

func union(id string, ins ...plan.Node) *plan.Union {
	return &plan.Union{Base: plan.Base{OpID: id, Output: rowSchema, Parallelism: 1}, Ins: ins}
}

func sink(id string, in plan.Node) *plan.Sink {
	return &plan.Sink{Base: plan.Base{OpID: id, Output: rowSchema, Parallelism: 1}, Input: in, Table: id, Connector: id}
}

// run runs g to its end and returns Run's error.
func run(t *testing.T, g *plan.Graph, conns exec.Connectors, opts exec.Options) (*exec.Job, error) {
	t.Helper()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { alloc.AssertSize(t, 0) })
	opts.Connectors, opts.Operators, opts.Alloc, opts.NoPrefetch = conns, operators.New(), alloc, true
	j, err := exec.Build(g, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return j, j.Run(ctx)
}

// waitFor polls cond until it holds, failing the test after 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func openStore(t *testing.T) *checkpoint.Store {
	t.Helper()
	st, err := checkpoint.Open(t.TempDir(), checkpoint.Options{JobName: "t"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestBarrierAlignment: a union of a fast source and a slow one whose
// barrier comes late. EXACTLY_ONCE holds the fast input from its barrier
// until the slow one's: the sink pre-commits exactly the fast rows before
// the barrier (its handle equals the fast source's checkpointed offset).
// AT_LEAST_ONCE does not hold: rows of the fast input after its barrier
// reach the sink before the checkpoint completes.
func TestBarrierAlignment(t *testing.T) {
	for _, mode := range []exec.CheckpointingMode{exec.ExactlyOnce, exec.AtLeastOnce} {
		t.Run(mode.String(), func(t *testing.T) {
			fast := &testSource{id: 0, rows: 100_000, batch: 10}
			slow := &testSource{id: 1, rows: 10, batch: 10, gate: make(chan struct{})}
			out := newTestSink()
			conns := testConnectors{sources: map[string]*testSource{"fast": fast, "slow": slow},
				sinks: map[string]*testSink{"4-sink": out}}
			g := &plan.Graph{Sinks: []*plan.Sink{sink("4-sink", union("3-union", source("fast"), source("slow")))}}
			done := make(chan error, 1)
			var job *exec.Job
			started := make(chan struct{})
			go func() {
				alloc := memory.NewGoAllocator()
				j, err := exec.Build(g, exec.Options{Connectors: conns, Operators: operators.New(), Alloc: alloc,
					NoPrefetch: true, Store: openStore(t), CheckpointingMode: mode})
				if err != nil {
					done <- err
					close(started)
					return
				}
				job = j
				close(started)
				done <- j.Run(context.Background())
			}()
			<-started
			if job == nil {
				t.Fatal(<-done)
			}
			waitFor(t, "rows of both sources", func() bool { return out.count(0) > 100 && out.count(1) == 10 })
			job.TriggerCheckpoint()
			// The fast source's barrier: its first Offsets call.
			var barrierAt int64
			waitFor(t, "the fast source's barrier", func() bool {
				fast.mu.Lock()
				defer fast.mu.Unlock()
				if len(fast.offsets) > 0 {
					barrierAt = fast.offsets[0]
				}
				return len(fast.offsets) > 0
			})
			if mode == exec.ExactlyOnce {
				// Held: the fast source fills the channel and stops, and the
				// sink gets nothing after the barrier.
				waitFor(t, "the fast source to be blocked", func() bool { return fast.next.Load() >= barrierAt+3*10 })
				if got := out.count(0); got > barrierAt {
					t.Fatalf("EXACTLY_ONCE: the sink got %d fast rows before the slow barrier, more than the %d before the fast barrier", got, barrierAt)
				}
			} else {
				waitFor(t, "fast rows after the barrier at the sink", func() bool { return out.count(0) > barrierAt })
			}
			close(slow.gate)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			out.mu.Lock()
			handle := out.handles[1]
			out.mu.Unlock()
			switch {
			case mode == exec.ExactlyOnce && handle != barrierAt:
				t.Fatalf("EXACTLY_ONCE: checkpoint 1 covers %d fast rows at the sink, the fast source's offset is %d", handle, barrierAt)
			case mode == exec.AtLeastOnce && handle <= barrierAt:
				t.Fatalf("AT_LEAST_ONCE: checkpoint 1 covers %d fast rows at the sink, want more than the offset %d", handle, barrierAt)
			}
			if got := out.count(0) + out.count(1); got != 100_010 {
				t.Fatalf("the sink got %d rows, want 100010", got)
			}
		})
	}
}

// TestBackpressure: a sink that blocks stops a source in another task
// from reading more than the channels between them hold (channelCapacity
// batches, one being sent, one being written, one written before).
func TestBackpressure(t *testing.T) {
	const batch = 10
	a := &testSource{id: 0, rows: 100_000, batch: batch}
	b := &testSource{id: 1, rows: 1, batch: batch}
	out := newTestSink()
	out.block = make(chan struct{})
	conns := testConnectors{sources: map[string]*testSource{"a": a, "b": b}, sinks: map[string]*testSink{"4-sink": out}}
	g := &plan.Graph{Sinks: []*plan.Sink{sink("4-sink", union("3-union", source("a"), source("b")))}}
	done := make(chan error, 1)
	go func() {
		_, err := run(t, g, conns, exec.Options{})
		done <- err
	}()
	// One batch written before the sink blocked, one blocked in Write, four
	// in the channel (channelCapacity), one the source is blocked sending.
	const bound = (1 + 1 + 4 + 1) * batch
	waitFor(t, "the channel to fill", func() bool { return a.next.Load() >= bound-batch })
	// The sink is blocked: the source must not get further, however long
	// it is given.
	time.Sleep(200 * time.Millisecond)
	if got := a.next.Load(); got > bound {
		t.Fatalf("with the sink blocked the source read %d rows, more than the %d the channels hold", got, bound)
	}
	close(out.block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := out.count(0); got != 100_000 {
		t.Fatalf("the sink got %d rows of a, want 100000", got)
	}
}

// TestFanOutAndEndOfInput: one source feeding two sinks (a statement
// set's shared source, across channels) and a union of two sources of
// different lengths: the job ends when every source is exhausted, each
// sink has every row exactly once, and the final checkpoint commits every
// sink.
func TestFanOutAndEndOfInput(t *testing.T) {
	a := &testSource{id: 0, rows: 5000, batch: 7}
	b := &testSource{id: 1, rows: 30, batch: 4}
	s1, s2 := newTestSink(), newTestSink()
	conns := testConnectors{sources: map[string]*testSource{"a": a, "b": b},
		sinks: map[string]*testSink{"5-sink": s1, "6-sink": s2}}
	src := source("a")
	g := &plan.Graph{Sinks: []*plan.Sink{
		sink("5-sink", union("4-union", src, source("b"))),
		sink("6-sink", src),
	}}
	j, err := run(t, g, conns, exec.Options{Store: openStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*testSink{"union": s1, "fan-out": s2} {
		s.mu.Lock()
		for k, n := range s.seen {
			if n != 1 {
				t.Errorf("%s sink: row %v written %d times", name, k, n)
			}
		}
		if len(s.commits) != 1 || s.commits[0] != 1 {
			t.Errorf("%s sink: commits %v, want the final checkpoint 1", name, s.commits)
		}
		s.mu.Unlock()
	}
	if got := s1.count(0) + s1.count(1); got != 5030 {
		t.Errorf("union sink: %d rows, want 5030", got)
	}
	if got := s2.count(0); got != 5000 {
		t.Errorf("fan-out sink: %d rows, want 5000", got)
	}
	st := j.Stats()
	if st.RecordsIn != 5030 || st.RecordsOut != 5030+5000 {
		t.Errorf("stats: %d in, %d out", st.RecordsIn, st.RecordsOut)
	}
	if len(st.Tasks) != 4 {
		t.Errorf("tasks: %+v, want 4 (two sources, two sinks)", st.Tasks)
	}
}

// TestLimitEndsBranch: a LIMIT over an unbounded source ends the job once
// it passed its rows.
func TestLimitEndsBranch(t *testing.T) {
	a := &testSource{id: 0, rows: 1 << 40, batch: 100}
	out := newTestSink()
	conns := testConnectors{sources: map[string]*testSource{"a": a}, sinks: map[string]*testSink{"3-sink": out}}
	lim := &plan.Limit{Base: plan.Base{OpID: "2-limit", Output: rowSchema, Parallelism: 1}, Input: source("a"), N: 250}
	if _, err := run(t, &plan.Graph{Sinks: []*plan.Sink{sink("3-sink", lim)}}, conns, exec.Options{}); err != nil {
		t.Fatal(err)
	}
	if got := out.count(0); got != 250 {
		t.Fatalf("sink got %d rows, want 250", got)
	}
}

// TestTaskFailureStopsJob: an error in one task stops the others and is
// Run's error.
func TestTaskFailureStopsJob(t *testing.T) {
	a := &testSource{id: 0, rows: 1 << 40, batch: 100}
	b := &testSource{id: 1, rows: 1 << 40, batch: 100}
	out := &failingSink{testSink: newTestSink(), after: 50}
	conns := testConnectors{sources: map[string]*testSource{"a": a, "b": b}, sinks: map[string]*testSink{}}
	g := &plan.Graph{Sinks: []*plan.Sink{sink("4-sink", union("3-union", source("a"), source("b")))}}
	_, err := run(t, g, sinkOverride{conns, out}, exec.Options{})
	if !errors.Is(err, errSinkFull) {
		t.Fatalf("Run: %v, want the sink's error", err)
	}
}

var errSinkFull = errors.New("sink full")

type failingSink struct {
	*testSink
	after int
	n     int
}

func (f *failingSink) Write(ctx context.Context, rec arrow.Record) error {
	if f.n++; f.n > f.after {
		return errSinkFull
	}
	return f.testSink.Write(ctx, rec)
}

type sinkOverride struct {
	testConnectors
	sink exec.Sink
}

func (s sinkOverride) NewSink(string, exec.SinkConfig) (exec.Sink, error) { return s.sink, nil }
