package window

import (
	"context"
	"errors"
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// assignCols is the input of the window assignment tests: (ts, k, v).
var assignCols = []types.Field{
	{Name: "ts", Type: types.TimestampType},
	{Name: "k", Type: types.StringType},
	{Name: "v", Type: types.DecimalType(10, 2)},
}

// testWindowAssignNode is the plan node of the window assignment tests.
func testWindowAssignNode(w plan.Window, part []int) *plan.WindowAssign {
	in := types.Schema{Fields: assignCols}
	out := in
	out.Fields = slices.Clone(in.Fields)
	ts := types.TimestampType.WithNotNull(true)
	out.Fields = append(out.Fields, types.Field{Name: "window_start", Type: ts}, types.Field{Name: "window_end", Type: ts}, types.Field{Name: "window_time", Type: ts})
	src := &plan.Source{Base: plan.Base{OpID: "1-source", Output: in}}
	return &plan.WindowAssign{Base: plan.Base{OpID: "2-window-assign", Output: out}, Input: src, Window: w, Partition: part}
}

func newTestWindowAssign(t *testing.T, w plan.Window, part []int, alloc memory.Allocator) (*windowAssignOp, *exec.OperatorMetrics) {
	t.Helper()
	m := &exec.OperatorMetrics{}
	op, err := newWindowAssign(testWindowAssignNode(w, part), m, alloc)
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Open(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return op, m
}

func feedAssign(t *testing.T, op exec.Operator, alloc memory.Allocator, rows string, out *winCollector) {
	t.Helper()
	rec := buildWinRecord(alloc, assignCols, parseWinRows(t, assignCols, rows))
	defer rec.Release()
	if err := op.OnBatch(context.Background(), 0, rec, out); err != nil {
		t.Fatal(err)
	}
}

func checkAssignRows(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestWindowAssignAligned: TUMBLE, HOP and CUMULATE emit each row once per
// window at once, in Flink's assigner order, offsets included; rows with a
// NULL event time are dropped and counted.
func TestWindowAssignAligned(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	const rows = "3, \"a\", 1.50\n12, \"b\", NULL\nNULL, \"c\", 2.00\n-1, \"d\", 0.01"
	cases := []struct {
		name string
		w    plan.Window
		want []string
	}{
		{"tumble", plan.Window{Kind: plan.Tumble, Size: 10}, []string{
			`3, "a", 1.50, 0, 10, 9`, `12, "b", NULL, 10, 20, 19`, `-1, "d", 0.01, -10, 0, -1`}},
		{"tumble offset -16", plan.Window{Kind: plan.Tumble, Size: 10, Offset: -16}, []string{
			`3, "a", 1.50, -6, 4, 3`, `12, "b", NULL, 4, 14, 13`, `-1, "d", 0.01, -6, 4, 3`}},
		{"hop", plan.Window{Kind: plan.Hop, Slide: 5, Size: 10}, []string{
			`3, "a", 1.50, 0, 10, 9`, `3, "a", 1.50, -5, 5, 4`,
			`12, "b", NULL, 10, 20, 19`, `12, "b", NULL, 5, 15, 14`,
			`-1, "d", 0.01, -5, 5, 4`, `-1, "d", 0.01, -10, 0, -1`}},
		{"hop offset 2", plan.Window{Kind: plan.Hop, Slide: 5, Size: 10, Offset: 2}, []string{
			`3, "a", 1.50, 2, 12, 11`, `3, "a", 1.50, -3, 7, 6`,
			`12, "b", NULL, 12, 22, 21`, `12, "b", NULL, 7, 17, 16`,
			`-1, "d", 0.01, -3, 7, 6`, `-1, "d", 0.01, -8, 2, 1`}},
		{"cumulate", plan.Window{Kind: plan.Cumulate, Step: 5, Size: 15}, []string{
			`3, "a", 1.50, 0, 5, 4`, `3, "a", 1.50, 0, 10, 9`, `3, "a", 1.50, 0, 15, 14`,
			`12, "b", NULL, 0, 15, 14`,
			`-1, "d", 0.01, -15, 0, -1`}},
		{"cumulate offset -4", plan.Window{Kind: plan.Cumulate, Step: 5, Size: 15, Offset: -4}, []string{
			`3, "a", 1.50, -4, 6, 5`, `3, "a", 1.50, -4, 11, 10`,
			`12, "b", NULL, 11, 16, 15`, `12, "b", NULL, 11, 21, 20`, `12, "b", NULL, 11, 26, 25`,
			`-1, "d", 0.01, -4, 1, 0`, `-1, "d", 0.01, -4, 6, 5`, `-1, "d", 0.01, -4, 11, 10`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			op, m := newTestWindowAssign(t, c.w, nil, alloc)
			defer op.Close()
			var out winCollector
			feedAssign(t, op, alloc, rows, &out)
			checkAssignRows(t, out.rows, c.want...)
			if got := m.LateRecords.Load(); got != 1 {
				t.Errorf("late records %d, want 1 (the NULL event time)", got)
			}
		})
	}
}

// TestWindowAssignSession: rows are held until the watermark closes their
// session, then emitted with its bounds, per key; rows too late for any
// open session are dropped and counted.
func TestWindowAssignSession(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	ctx := context.Background()
	op, m := newTestWindowAssign(t, plan.Window{Kind: plan.Session, Gap: 10}, []int{1}, alloc)
	defer op.Close()
	var out winCollector
	feedAssign(t, op, alloc, "1, \"a\", 1.00\n30, \"a\", 2.00\n5, \"b\", 3.00\n25, \"a\", 4.00", &out)
	checkAssignRows(t, out.rows)
	// a has [1, 11) and [25, 40) (25 merged into 30's window). 15 opens
	// [15, 25), which touches [25, 40): they merge into [15, 40); then 11
	// opens [11, 21), which touches [1, 11) and overlaps [15, 40): all of
	// a's rows are one session [1, 40).
	feedAssign(t, op, alloc, "15, \"a\", 5.00\n11, \"a\", 6.00", &out)
	if err := op.OnWatermark(ctx, 14, &out); err != nil {
		t.Fatal(err)
	}
	checkAssignRows(t, out.rows, `5, "b", 3.00, 5, 15, 14`)
	out.rows = nil
	feedAssign(t, op, alloc, "2, \"b\", 7.00\nNULL, \"b\", 8.00", &out)
	if got := m.LateRecords.Load(); got != 2 {
		t.Errorf("late records %d, want 2", got)
	}
	if err := op.OnWatermark(ctx, exec.MaxWatermark, &out); err != nil {
		t.Fatal(err)
	}
	checkAssignRows(t, out.rows,
		`1, "a", 1.00, 1, 40, 39`, `11, "a", 6.00, 1, 40, 39`, `15, "a", 5.00, 1, 40, 39`,
		`25, "a", 4.00, 1, 40, 39`, `30, "a", 2.00, 1, 40, 39`)
	if got := m.StateEntries.Load(); got != 0 {
		t.Errorf("state entries %d after the final watermark, want 0", got)
	}
}

// TestWindowAssignSessionRestore: a SESSION assignment snapshotted at any
// barrier and restored into a fresh operator emits exactly what an
// uninterrupted one does (rows and late count), over random out-of-order
// input, and the store holds no fired session.
func TestWindowAssignSessionRestore(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	ctx := context.Background()
	rng := rand.New(rand.NewSource(7))
	type step struct {
		rows string
		wm   exec.Watermark
	}
	var steps []step
	ts := int64(0)
	for range 40 {
		var b strings.Builder
		for range 1 + rng.Intn(6) {
			ts += rng.Int63n(7)
			k := string(rune('a' + rng.Intn(4)))
			b.WriteString(strings.Join([]string{strconv.FormatInt(ts-rng.Int63n(15), 10), `"` + k + `"`, "1.00"}, ", ") + "\n")
		}
		steps = append(steps, step{rows: b.String(), wm: exec.Watermark(ts - 3)})
	}
	w := plan.Window{Kind: plan.Session, Gap: 8}
	run := func(restoreAt int) ([]string, int64) {
		op, m := newTestWindowAssign(t, w, []int{1}, alloc)
		store := newWinStore()
		var out winCollector
		for i, s := range steps {
			feedAssign(t, op, alloc, s.rows, &out)
			if err := op.OnWatermark(ctx, s.wm, &out); err != nil {
				t.Fatal(err)
			}
			if i == restoreAt {
				if err := op.OnBarrier(ctx, exec.Barrier{CheckpointID: 1}, store, &out); err != nil {
					t.Fatal(err)
				}
				// Crash: rows emitted after the barrier are lost with the
				// old operator; the restored one must emit them again.
				op.Close()
				op, m = newTestWindowAssign(t, w, []int{1}, alloc)
				if err := op.Open(ctx, store); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := op.OnWatermark(ctx, exec.MaxWatermark, &out); err != nil {
			t.Fatal(err)
		}
		if err := op.OnBarrier(ctx, exec.Barrier{CheckpointID: 2}, store, &out); err != nil {
			t.Fatal(err)
		}
		sessions := 0
		for k := range store.m {
			if k[0] < 0x80 { // keyed entries begin with their key group, < 0x8000
				sessions++
			}
		}
		if sessions != 0 {
			t.Errorf("restore at %d: the store holds %d sessions after the final watermark, want none (only the catalog, watermark and late count)", restoreAt, sessions)
		}
		op.Close()
		return out.rows, m.LateRecords.Load()
	}
	want, wantLate := run(-1)
	if len(want) == 0 || wantLate == 0 {
		t.Fatalf("weak input: %d rows, %d late", len(want), wantLate)
	}
	for at := range steps {
		got, late := run(at)
		if !slices.Equal(got, want) || late != wantLate {
			t.Fatalf("restored after step %d: %d rows (%d late), want %d (%d late)", at, len(got), late, len(want), wantLate)
		}
	}
}

// TestWindowAssignSessionLayout: state written for another gap is refused.
func TestWindowAssignSessionLayout(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	ctx := context.Background()
	op, _ := newTestWindowAssign(t, plan.Window{Kind: plan.Session, Gap: 10}, []int{1}, alloc)
	var out winCollector
	feedAssign(t, op, alloc, "1, \"a\", 1.00", &out)
	store := newWinStore()
	if err := op.OnBarrier(ctx, exec.Barrier{CheckpointID: 1}, store, &out); err != nil {
		t.Fatal(err)
	}
	op.Close()
	other, _ := newTestWindowAssign(t, plan.Window{Kind: plan.Session, Gap: 20}, []int{1}, alloc)
	defer other.Close()
	err := other.Open(ctx, store)
	if !errors.Is(err, ErrStateLayout) {
		t.Fatalf("restore with another gap: %v, want ErrStateLayout", err)
	}
}

// batchSizes records the size of every emitted batch.
type batchSizes struct{ n []int64 }

func (b *batchSizes) Emit(_ context.Context, rec arrow.Record) error {
	b.n = append(b.n, rec.NumRows())
	return nil
}

// TestWindowAssignBoundedBatches: a HOP row in thousands of windows does
// not make one huge batch; every window is still emitted.
func TestWindowAssignBoundedBatches(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	op, m := newTestWindowAssign(t, plan.Window{Kind: plan.Hop, Slide: 1, Size: 5000}, nil, alloc)
	defer op.Close()
	rec := buildWinRecord(alloc, assignCols, parseWinRows(t, assignCols, "1, \"a\", 1.00\n2, \"b\", 2.00\n3, \"c\", 3.00\n4, \"d\", 4.00"))
	defer rec.Release()
	var out batchSizes
	if err := op.OnBatch(context.Background(), 0, rec, &out); err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for _, n := range out.n {
		total += n
		if n > windowOutputRows+5000 {
			t.Errorf("a batch of %d rows", n)
		}
	}
	if total != 4*5000 || m.RecordsOut.Load() != total || len(out.n) < 2 {
		t.Fatalf("%d rows in %d batches, want 20000 in several", total, len(out.n))
	}
}

// BenchmarkWindowAssign measures TUMBLE, HOP and SESSION without
// aggregation over prebuilt 4096-row batches of (ts, k STRING, v DECIMAL).
// One iteration is 64 batches.
func BenchmarkWindowAssign(b *testing.B) {
	const batchRows, batches = 4096, 64
	alloc := memory.NewGoAllocator()
	var recs []arrow.Record
	for i := range batches {
		rows := make([][]any, batchRows)
		for r := range rows {
			ts := int64(i*batchRows+r) / 4
			rows[r] = []any{ts, string(rune('a' + r%16)), nil}
		}
		recs = append(recs, buildWinRecord(alloc, assignCols, rows))
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	in := types.Schema{Fields: assignCols}
	ts := types.TimestampType.WithNotNull(true)
	out := types.Schema{Fields: append(slices.Clone(assignCols), types.Field{Name: "window_start", Type: ts}, types.Field{Name: "window_end", Type: ts}, types.Field{Name: "window_time", Type: ts})}
	src := &plan.Source{Base: plan.Base{OpID: "1-source", Output: in}}
	// run feeds every batch to a fresh operator per iteration (event time
	// starts over), each batch followed by a watermark 100ms behind.
	run := func(b *testing.B, newOp func() exec.Operator) {
		ctx := context.Background()
		var d winDiscard
		b.ReportAllocs()
		for b.Loop() {
			op := newOp()
			for i, rec := range recs {
				if err := op.OnBatch(ctx, 0, rec, &d); err != nil {
					b.Fatal(err)
				}
				if err := op.OnWatermark(ctx, exec.Watermark(int64(i*batchRows)/4-100), &d); err != nil {
					b.Fatal(err)
				}
			}
			if err := op.OnWatermark(ctx, exec.MaxWatermark, &d); err != nil {
				b.Fatal(err)
			}
			op.Close()
		}
		b.ReportMetric(float64(b.N*batches*batchRows)/b.Elapsed().Seconds(), "rows/s")
	}
	for _, c := range []struct {
		name string
		w    plan.Window
		part []int
	}{
		{"tumble", plan.Window{Kind: plan.Tumble, Size: 10_000}, nil},
		{"hop", plan.Window{Kind: plan.Hop, Slide: 2_000, Size: 10_000}, nil},
		{"session", plan.Window{Kind: plan.Session, Gap: 3}, []int{1}},
	} {
		b.Run(c.name, func(b *testing.B) {
			n := &plan.WindowAssign{Base: plan.Base{OpID: "2-window-assign", Output: out}, Input: src, Window: c.w, Partition: c.part}
			run(b, func() exec.Operator {
				op, err := newWindowAssign(n, &exec.OperatorMetrics{}, alloc)
				if err != nil {
					b.Fatal(err)
				}
				return op
			})
		})
	}
}
