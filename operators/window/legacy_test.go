package window

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// toLegacy rewrites st, the state of a window aggregation with layout l
// written by one subtask, in the format of version 1 (legacy.go): the
// metadata under 0x00 and each accumulator under 0x01 and its windows-table
// key.
func toLegacy(t *testing.T, st *winStore, l windowLayout) *winStore {
	return toLegacyStrings(t, st, l.window, l.keys, l.aggs)
}

// toLegacyStrings is toLegacy with the metadata's layout strings.
func toLegacyStrings(t *testing.T, st *winStore, layout ...string) *winStore {
	t.Helper()
	out := newWinStore()
	var wm, late int64
	for k, v := range st.m {
		switch {
		case k[0] == 0x80 && len(k) > 4 && k[4:] == "wm":
			wm, _ = binary.Varint([]byte(v))
		case k[0] == 0x80 && len(k) > 4 && k[4:] == "n":
			late, _ = binary.Varint([]byte(v))
		case k[0] == 0x80:
		case k[2] == 1: // the windows table's tag
			out.m[string(append([]byte{legacyTagAcc}, k[3:]...))] = v
		default:
			t.Fatalf("unexpected state key %x", k)
		}
	}
	meta := []byte{legacyVersion}
	for _, s := range layout {
		meta = appendAccStringEnc(meta, s)
	}
	meta = binary.AppendVarint(binary.AppendVarint(meta, wm), late)
	out.m[string([]byte{legacyTagMeta})] = string(meta)
	return out
}

// TestWindowAggRestoreLegacy: window aggregations (every window kind,
// several key sets) run as one task, checkpoint midway, their state is
// rewritten in the format of version 1, restored as 1, 2 or 3 subtasks
// (each keeping its key groups' accumulators), and they finish with the
// output and late count of an uninterrupted run; the first barrier after
// the restore leaves no legacy key in the store, and that store restores
// again.
func TestWindowAggRestoreLegacy(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 4))
	for _, spec := range onePerWindow(rng, winRandSpecs(rng), nil) {
		t.Run(spec.name(), func(t *testing.T) {
			alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer alloc.AssertSize(t, 0)
			evs := genWinEvents(rng, 1500, 100, 60, 30)
			recs := buildWinEventRecords(alloc, spec.cols, evs)
			defer releaseWinRecords(recs)
			n := spec.plan()
			hasher, err := state.NewKeyHasher(n.Input.Schema(), n.Keys)
			if err != nil {
				t.Fatal(err)
			}
			layout := newWindowLayout(n, n.Input.Schema())
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
			ps := []int{1, 2, 3}
			if len(spec.keys) == 0 {
				ps = []int{1} // one group: never parallel
			}
			for _, p := range ps {
				for _, again := range []bool{false, true} {
					at := len(evs)/3 + rng.IntN(len(evs)/3)
					var out []string
					k.start(1, nil)
					for i, e := range evs {
						if i == at {
							st := newWinStore()
							k.barrier(st)
							legacy := toLegacy(t, st, layout)
							k.start(p, legacy)
							// The first barrier moves the state into the
							// tables; the subtasks run on, or (again) restart
							// from that checkpoint.
							k.barrier(legacy)
							for key := range legacy.m {
								if key[0] == legacyTagMeta && len(key) == 1 || key[0] == legacyTagAcc {
									t.Fatalf("%d subtasks: legacy key %x left after the first barrier", p, key)
								}
							}
							if again {
								k.start(p, legacy)
							}
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
					late := k.late()
					for _, op := range k.ops {
						op.Close()
					}
					k.ops = nil
					if !slices.Equal(out, want) {
						for i := range want {
							if out[i] != want[i] {
								t.Fatalf("restored as %d subtasks at event %d (restarted after the first barrier: %v): watermark #%d differs: got\n%s\nwant\n%s", p, at, again, i, out[i], want[i])
							}
						}
					}
					if late != wantLate {
						t.Errorf("restored as %d subtasks: %d late rows, want %d", p, late, wantLate)
					}
				}
			}
		})
	}
}

// TestWindowAggRestoreLegacyRefused: version 1 state of another query,
// and the state of the old version's parallel window operator, are
// refused with errors naming the operator and saying what to do.
func TestWindowAggRestoreLegacyRefused(t *testing.T) {
	spec := winRandSpecs(rand.New(rand.NewPCG(1, 2)))[0]
	n := spec.plan()
	l := newWindowLayout(n, n.Input.Schema())
	l.aggs = "[COUNT(*), MAX(BIGINT)]"
	other := toLegacy(t, newWinStore(), l)
	parallel := newWinStore()
	parallel.m["\x00"] = string(binary.BigEndian.AppendUint64([]byte{legacyParallelVersion}, 2))
	parallel.m["\x01\x00\x01"] = "x"
	for _, tc := range []struct {
		name string
		st   *winStore
		want []string
	}{
		{"other query", other, []string{"aggregates: checkpoint has [COUNT(*), MAX(BIGINT)], plan has "}},
		{"parallel", parallel, []string{"running as 2 subtasks", "with the old version at parallelism 1", "start the job fresh"}},
	} {
		for _, p := range []int{1, 2} {
			sub, err := state.NewSubtask(0, p, 32)
			if err != nil {
				t.Fatal(err)
			}
			op, err := NewAggSubtask(spec.plan(), &exec.OperatorMetrics{}, memory.NewGoAllocator(), sub)
			if err != nil {
				t.Fatal(err)
			}
			err = op.Open(t.Context(), state.SubtaskReader(tc.st, sub.KeyGroups))
			if err == nil || !errors.Is(err, ErrStateLayout) || !strings.Contains(err.Error(), `"`+n.ID()+`"`) {
				t.Fatalf("%s at parallelism %d: %v, want a layout error naming %q", tc.name, p, err, n.ID())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s at parallelism %d: %v, want %q", tc.name, p, err, w)
				}
			}
			op.Close()
		}
	}
}

// TestWindowAssignSessionRestoreLegacy: a SESSION window assignment
// partitioned by a key runs as one task, checkpoints midway, its state is
// rewritten in the format of version 1, restored as 1, 2 or 3 subtasks and
// finishes with the output and late count of an uninterrupted run; the
// first barrier leaves no legacy key.
func TestWindowAssignSessionRestoreLegacy(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	rng := rand.New(rand.NewPCG(7, 8))
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
	var layout string
	k := &keyedSubtasks{t: t, alloc: alloc, maxP: 16, hasher: hasher,
		newOp: func(sub state.Subtask) (exec.Operator, *exec.OperatorMetrics) {
			m := &exec.OperatorMetrics{}
			op, err := NewAssignSubtask(testWindowAssignNode(w, []int{1}), m, alloc, sub)
			if err != nil {
				t.Fatal(err)
			}
			layout = op.(*windowAssignOp).sess.layout
			return op, m
		}}
	want, wantLate := k.run(evs, recs, 1, -1, 1)
	if wantLate == 0 || len(strings.Join(want, "")) == 0 {
		t.Fatalf("weak input: %d late", wantLate)
	}
	for _, p := range []int{1, 2, 3} {
		at := len(evs)/2 + 1
		var out []string
		k.start(1, nil)
		for i, e := range evs {
			if i == at {
				st := newWinStore()
				k.barrier(st)
				legacy := toLegacyStrings(t, st, layout)
				k.start(p, legacy)
				k.barrier(legacy)
				for key := range legacy.m {
					if key[0] == legacyTagMeta && len(key) == 1 || key[0] == legacyTagAcc {
						t.Fatalf("%d subtasks: legacy key %x left after the first barrier", p, key)
					}
				}
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
		late := k.late()
		for _, op := range k.ops {
			op.Close()
		}
		k.ops = nil
		if !slices.Equal(out, want) || late != wantLate {
			t.Fatalf("restored as %d subtasks: output or late count (%d, want %d) differs from one operator's", p, late, wantLate)
		}
	}
}
