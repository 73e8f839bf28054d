package window

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/expr"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// keyedSubtasks runs a keyed operator as p subtasks behind an exchange
// written out here with package state alone: each row goes to the subtask
// that owns the key group of its key's hash, every subtask gets every
// watermark, and all write one store at a barrier and restore from it by
// their key-group range.
type keyedSubtasks struct {
	t      *testing.T
	alloc  memory.Allocator
	maxP   int
	newOp  func(sub state.Subtask) (exec.Operator, *exec.OperatorMetrics)
	ops    []exec.Operator
	ms     []*exec.OperatorMetrics
	hasher *state.KeyHasher
}

func (k *keyedSubtasks) start(p int, st *winStore) {
	k.t.Helper()
	for _, op := range k.ops {
		op.Close()
	}
	k.ops, k.ms = nil, nil
	for i := range p {
		sub, err := state.NewSubtask(i, p, k.maxP)
		if err != nil {
			k.t.Fatal(err)
		}
		op, m := k.newOp(sub)
		var r checkpoint.StateReader
		if st != nil {
			r = state.SubtaskReader(st, sub.KeyGroups)
		}
		if err := op.Open(context.Background(), r); err != nil {
			k.t.Fatalf("subtask %d of %d: open: %v", i, p, err)
		}
		k.ops, k.ms = append(k.ops, op), append(k.ms, m)
	}
}

func (k *keyedSubtasks) batch(rec arrow.Record, out exec.Emitter) {
	k.t.Helper()
	n := int(rec.NumRows())
	h := make([]uint64, n)
	if err := k.hasher.Hash(rec, h); err != nil {
		k.t.Fatal(err)
	}
	for i, op := range k.ops {
		b := array.NewBooleanBuilder(k.alloc)
		for _, x := range h {
			b.Append(state.SubtaskOf(state.KeyGroupOf(x, k.maxP), len(k.ops), k.maxP) == i)
		}
		mask := b.NewBooleanArray()
		b.Release()
		part, err := expr.Filter(rec, mask, k.alloc)
		mask.Release()
		if err != nil {
			k.t.Fatal(err)
		}
		if err := op.OnBatch(context.Background(), 0, part, out); err != nil {
			k.t.Fatal(err)
		}
		part.Release()
	}
}

func (k *keyedSubtasks) watermark(wm exec.Watermark, out exec.Emitter) {
	for _, op := range k.ops {
		if err := op.OnWatermark(context.Background(), wm, out); err != nil {
			k.t.Fatal(err)
		}
	}
}

func (k *keyedSubtasks) barrier(st *winStore) {
	for _, op := range k.ops {
		if err := op.OnBarrier(context.Background(), exec.Barrier{CheckpointID: 1}, st, &winCollector{}); err != nil {
			k.t.Fatal(err)
		}
	}
}

func (k *keyedSubtasks) late() (n int64) {
	for _, m := range k.ms {
		n += m.LateRecords.Load()
	}
	return n
}

// run feeds evs to the subtasks, p1 of them until event at, where it
// takes a barrier and restores p2 subtasks from it; it returns each
// watermark's rows, sorted, and the late rows counted.
func (k *keyedSubtasks) run(evs []winEvent, recs []arrowRecordRef, p1, at, p2 int) ([]string, int64) {
	k.start(p1, nil)
	defer func() {
		for _, op := range k.ops {
			op.Close()
		}
		k.ops = nil
	}()
	var out []string
	for i, e := range evs {
		if i == at {
			st := newWinStore()
			k.barrier(st)
			k.start(p2, st)
		}
		if !e.isWatermark() {
			k.batch(recs[i].rec, &winCollector{})
			continue
		}
		c := &winCollector{}
		k.watermark(exec.Watermark(e.wm), c)
		slices.Sort(c.rows)
		out = append(out, strings.Join(c.rows, "\n"))
	}
	return out, k.late()
}

// TestWindowAggRescale is the operator-level proof of issue 12's rescale:
// window aggregations (every window kind, several key sets) run as p1
// subtasks, checkpoint midway, restore as p2 and finish; each watermark
// emits the rows (as a set) and the run counts the late rows of one
// operator that saw everything.
func TestWindowAggRescale(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	keyed := func(s *winSpec) bool { return len(s.keys) > 0 } // one group is never parallel
	for _, spec := range onePerWindow(rng, winRandSpecs(rng), keyed) {
		t.Run(spec.name(), func(t *testing.T) {
			alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer alloc.AssertSize(t, 0)
			evs := genWinEvents(rng, 2000, 100, 60, 30)
			recs := buildWinEventRecords(alloc, spec.cols, evs)
			defer releaseWinRecords(recs)
			n := spec.plan()
			hasher, err := state.NewKeyHasher(n.Input.Schema(), n.Keys)
			if err != nil {
				t.Fatal(err)
			}
			k := &keyedSubtasks{t: t, alloc: alloc, maxP: 32, hasher: hasher,
				newOp: func(sub state.Subtask) (exec.Operator, *exec.OperatorMetrics) {
					m := &exec.OperatorMetrics{}
					op, err := NewAggSubtask(spec.plan(), m, alloc, sub)
					if err != nil {
						t.Fatal(err)
					}
					return op, m
				}}
			want, wantLate := k.run(evs, recs, 1, -1, 1)
			for _, c := range [][2]int{{2, 3}, {2, 1}, {3, 2}, {1, 4}} {
				at := len(evs)/3 + rng.IntN(len(evs)/3)
				got, late := k.run(evs, recs, c[0], at, c[1])
				if !slices.Equal(got, want) {
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("%d -> %d subtasks at event %d: watermark #%d differs: got\n%s\nwant\n%s", c[0], c[1], at, i, got[i], want[i])
						}
					}
				}
				if late != wantLate {
					t.Errorf("%d -> %d subtasks: %d late rows, want %d", c[0], c[1], late, wantLate)
				}
			}
		})
	}
}

// TestWindowAssignSessionRescale: the same for SESSION window assignment
// partitioned by a key: its buffered sessions follow their key groups.
func TestWindowAssignSessionRescale(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	rng := rand.New(rand.NewPCG(5, 6))
	var evs []winEvent
	var wm int64
	for b := range 60 {
		var rows [][]any
		for range 20 {
			ts := int64(b*20) + rng.Int64N(60) - 40
			rows = append(rows, []any{ts, fmt.Sprintf("k%d", rng.IntN(12)), int64(rng.IntN(1000))})
		}
		evs = append(evs, winEvent{rows: rows})
		wm = max(wm, int64(b*20)-5)
		evs = append(evs, winEvent{wm: wm})
	}
	evs = append(evs, winEvent{wm: int64(exec.MaxWatermark)})
	recs := buildWinEventRecords(alloc, assignCols, evs)
	defer releaseWinRecords(recs)
	w := plan.Window{Kind: plan.Session, Gap: 15}
	hasher, err := state.NewKeyHasher(types.Schema{Fields: assignCols}, []int{1})
	if err != nil {
		t.Fatal(err)
	}
	k := &keyedSubtasks{t: t, alloc: alloc, maxP: 16, hasher: hasher,
		newOp: func(sub state.Subtask) (exec.Operator, *exec.OperatorMetrics) {
			m := &exec.OperatorMetrics{}
			op, err := NewAssignSubtask(testWindowAssignNode(w, []int{1}), m, alloc, sub)
			if err != nil {
				t.Fatal(err)
			}
			return op, m
		}}
	want, wantLate := k.run(evs, recs, 1, -1, 1)
	if wantLate == 0 || len(strings.Join(want, "")) == 0 {
		t.Fatalf("weak input: %d late", wantLate)
	}
	for _, c := range [][2]int{{2, 3}, {3, 1}, {1, 2}} {
		got, late := k.run(evs, recs, c[0], len(evs)/2+1, c[1])
		if !slices.Equal(got, want) || late != wantLate {
			t.Fatalf("%d -> %d subtasks: output or late count (%d, want %d) differs from one operator's", c[0], c[1], late, wantLate)
		}
	}
}
