package window

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// The randomized tests compare the operator with winRef, a row-at-a-time
// reference that keeps every row of every open group and computes the
// aggregates from the raw rows when the group fires.

var winRandCols = []types.Field{
	{Name: "ts", Type: types.TimestampType},
	{Name: "k", Type: types.BigIntType},
	{Name: "s", Type: types.StringType},
	{Name: "v", Type: types.BigIntType},
	{Name: "d", Type: types.DoubleType},
	{Name: "f", Type: types.BooleanType},
	{Name: "i", Type: types.IntType},
}

func winRandAggs() []plan.AggCall {
	mk := func(f plan.AggFunc, arg int, distinct bool, filter int) plan.AggCall {
		var at types.Type
		if arg >= 0 {
			at = winRandCols[arg].Type
		}
		return plan.AggCall{Func: f, Arg: arg, Distinct: distinct, Filter: filter, T: aggType(f, at)}
	}
	return []plan.AggCall{
		mk(plan.CountStar, -1, false, -1),
		mk(plan.Count, 3, false, -1),
		mk(plan.Sum, 3, false, -1),
		mk(plan.Avg, 3, false, -1),
		mk(plan.Min, 3, false, -1),
		mk(plan.Max, 3, false, -1),
		mk(plan.Count, 3, true, -1),
		mk(plan.Sum, 4, false, -1),
		mk(plan.Max, 2, false, -1),
		mk(plan.CountStar, -1, false, 5),
		mk(plan.Sum, 3, true, 5),
		mk(plan.Min, 4, false, -1),
		mk(plan.Count, 2, true, -1),
		mk(plan.Avg, 6, false, -1),
		mk(plan.Max, 6, false, 5),
	}
}

// winRefGroup is one open (window, key) group of the reference.
type winRefGroup struct {
	start, end int64
	key        string // formatted key values
	rows       [][]any
}

type winRef struct {
	spec     *winSpec
	wm       int64
	late     int64
	groups   map[string]*winRefGroup   // time windows, by start/end/key
	sessions map[string][]*winRefGroup // by key
}

func newWinRef(spec *winSpec) *winRef {
	return &winRef{spec: spec, wm: math.MinInt64, groups: map[string]*winRefGroup{}, sessions: map[string][]*winRefGroup{}}
}

func refFloorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// windows lists the windows [start, end) holding ts.
func (r *winRef) windows(ts int64) [][2]int64 {
	w := r.spec.window
	var out [][2]int64
	switch w.Kind {
	case plan.Tumble, plan.Hop:
		slide := w.Slide
		if w.Kind == plan.Tumble {
			slide = w.Size
		}
		for m := refFloorDiv(ts-w.Size-w.Offset, slide); m <= refFloorDiv(ts-w.Offset, slide); m++ {
			if s := w.Offset + m*slide; s <= ts && ts < s+w.Size {
				out = append(out, [2]int64{s, s + w.Size})
			}
		}
	case plan.Cumulate:
		ps := w.Offset + refFloorDiv(ts-w.Offset, w.Size)*w.Size
		for e := ps + w.Step; e <= ps+w.Size; e += w.Step {
			if ts < e {
				out = append(out, [2]int64{ps, e})
			}
		}
	}
	return out
}

func (r *winRef) keyOf(row []any) string {
	var parts []string
	for _, k := range r.spec.keys {
		parts = append(parts, formatRefValue(row[k]))
	}
	return strings.Join(parts, ", ")
}

func (r *winRef) add(row []any) {
	if row[r.spec.window.TimeCol] == nil {
		r.late++
		return
	}
	ts := row[r.spec.window.TimeCol].(int64)
	key := r.keyOf(row)
	if r.spec.window.Kind == plan.Session {
		lo, hi := ts, ts+r.spec.window.Gap
		var keep []*winRefGroup
		var hit []*winRefGroup
		for _, g := range r.sessions[key] {
			if g.start <= hi && g.end >= lo {
				hit = append(hit, g)
			} else {
				keep = append(keep, g)
			}
		}
		if len(hit) == 0 && hi-1 <= r.wm {
			r.late++
			return
		}
		g := &winRefGroup{start: lo, end: hi, key: key}
		for _, h := range hit {
			g.start, g.end = min(g.start, h.start), max(g.end, h.end)
			g.rows = append(g.rows, h.rows...)
		}
		g.rows = append(g.rows, row)
		r.sessions[key] = append(keep, g)
		return
	}
	taken := false
	for _, w := range r.windows(ts) {
		if w[1]-1 <= r.wm {
			continue
		}
		taken = true
		id := fmt.Sprint(w[0], w[1], key)
		g := r.groups[id]
		if g == nil {
			g = &winRefGroup{start: w[0], end: w[1], key: key}
			r.groups[id] = g
		}
		g.rows = append(g.rows, row)
	}
	if !taken {
		r.late++
	}
}

// watermark returns the formatted rows that fire, sorted.
func (r *winRef) watermark(wm int64) []string {
	if wm < r.wm {
		return nil
	}
	r.wm = wm
	var out []string
	emit := func(g *winRefGroup) {
		row := []string{}
		if g.key != "" || len(r.spec.keys) > 0 {
			row = append(row, g.key)
		}
		row = append(row, strconv.FormatInt(g.start, 10), strconv.FormatInt(g.end, 10), strconv.FormatInt(g.end-1, 10))
		for _, a := range r.spec.aggs {
			row = append(row, r.agg(a, g.rows))
		}
		out = append(out, strings.Join(row, ", "))
	}
	for id, g := range r.groups {
		if g.end-1 <= wm {
			emit(g)
			delete(r.groups, id)
		}
	}
	for key, gs := range r.sessions {
		var keep []*winRefGroup
		for _, g := range gs {
			if g.end-1 <= wm {
				emit(g)
			} else {
				keep = append(keep, g)
			}
		}
		r.sessions[key] = keep
	}
	slices.Sort(out)
	return out
}

func formatRefValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case string:
		return strconv.Quote(v)
	case bool:
		return strconv.FormatBool(v)
	}
	panic(fmt.Sprintf("%T", v))
}

// agg computes a from the raw rows.
func (r *winRef) agg(a plan.AggCall, rows [][]any) string {
	var vals []any
	n := 0
	for _, row := range rows {
		if a.Filter >= 0 && row[a.Filter] != true {
			continue
		}
		n++
		if a.Arg >= 0 && row[a.Arg] != nil {
			vals = append(vals, row[a.Arg])
		}
	}
	if a.Distinct {
		seen := map[any]bool{}
		var d []any
		for _, v := range vals {
			if !seen[v] {
				seen[v] = true
				d = append(d, v)
			}
		}
		vals = d
	}
	switch a.Func {
	case plan.CountStar:
		return strconv.Itoa(n)
	case plan.Count:
		return strconv.Itoa(len(vals))
	}
	if len(vals) == 0 {
		return "NULL"
	}
	switch a.Func {
	case plan.Sum, plan.Avg:
		switch vals[0].(type) {
		case int64:
			var s int64
			for _, v := range vals {
				s += v.(int64)
			}
			if a.Func == plan.Avg {
				s /= int64(len(vals))
			}
			return strconv.FormatInt(s, 10)
		case float64:
			var s float64
			for _, v := range vals {
				s += v.(float64)
			}
			if a.Func == plan.Avg {
				s /= float64(len(vals))
			}
			return formatRefValue(s)
		}
	case plan.Min, plan.Max:
		best := vals[0]
		for _, v := range vals[1:] {
			var c int
			switch v := v.(type) {
			case int64:
				c = cmp.Compare(v, best.(int64))
			case float64:
				c = cmp.Compare(v, best.(float64))
			case string:
				c = cmp.Compare(v, best.(string))
			}
			if (a.Func == plan.Max && c > 0) || (a.Func == plan.Min && c < 0) {
				best = v
			}
		}
		return formatRefValue(best)
	}
	panic("unreachable")
}

// winEvent is one step of a randomized run: a batch, or a watermark.
type winEvent struct {
	rows [][]any
	wm   int64
}

func (e winEvent) isWatermark() bool { return e.rows == nil }

// genWinEvents generates rows with times increasing on average and
// out of order within bound, in random batches, with random watermarks
// that sometimes overtake rows still to come (making them late).
func genWinEvents(rng *rand.Rand, nrows, nkeys, maxBatch int, bound int64) []winEvent {
	var evs []winEvent
	var maxTs, wm int64 = 0, math.MinInt64
	strs := []string{"a", "b", "", "x\x00y", "zz"}
	for i := 0; i < nrows; {
		n := 1 + rng.IntN(maxBatch)
		var rows [][]any
		for j := 0; j < n && i < nrows; j, i = j+1, i+1 {
			ts := int64(i)*2 + rng.Int64N(2*bound+1) - bound
			maxTs = max(maxTs, ts)
			row := []any{ts, rng.Int64N(int64(nkeys)), strs[rng.IntN(len(strs))], rng.Int64N(50) - 10, float64(rng.IntN(100)), rng.IntN(2) == 0, int64(rng.IntN(1000))}
			for c := range row {
				if rng.IntN(40) == 0 {
					row[c] = nil // NULLs everywhere, times included
				}
			}
			rows = append(rows, row)
		}
		evs = append(evs, winEvent{rows: rows})
		if rng.IntN(2) == 0 {
			wm = max(wm, maxTs-rng.Int64N(2*bound+1))
			evs = append(evs, winEvent{wm: wm})
		}
	}
	return append(evs, winEvent{wm: math.MaxInt64})
}

// winRandSpecs returns the configurations the randomized tests cover.
func winRandSpecs(rng *rand.Rand) []*winSpec {
	var specs []*winSpec
	windows := []plan.Window{
		{Kind: plan.Tumble, Size: 10 + rng.Int64N(90), Offset: rng.Int64N(7)},
		{Kind: plan.Hop, Size: 60, Slide: 20, Offset: rng.Int64N(5)},
		{Kind: plan.Hop, Size: 50, Slide: 15},
		{Kind: plan.Cumulate, Size: 60, Step: 15, Offset: rng.Int64N(5)},
		{Kind: plan.Session, Gap: 5 + rng.Int64N(40)},
	}
	keySets := [][]int{{1}, {2, 1}, {}, {6}}
	for _, w := range windows {
		for _, keys := range keySets {
			specs = append(specs, &winSpec{window: w, cols: winRandCols, keys: keys, aggs: winRandAggs()})
		}
	}
	return specs
}

// onePerWindow keeps one spec of each window of specs, among those keep
// accepts (nil: all), its key set drawn by rng. The restore, rescale and
// legacy tests replay every event at several parallelisms; all twenty specs
// took minutes each under -race on two cores. The seed each test logs names
// the draw, and CI runs draw all the key sets over time.
func onePerWindow(rng *rand.Rand, specs []*winSpec, keep func(*winSpec) bool) []*winSpec {
	var out []*winSpec
	for i := 0; i < len(specs); {
		j := i
		var group []*winSpec
		for ; j < len(specs) && specs[j].window == specs[i].window; j++ {
			if keep == nil || keep(specs[j]) {
				group = append(group, specs[j])
			}
		}
		if len(group) > 0 {
			out = append(out, group[rng.IntN(len(group))])
		}
		i = j
	}
	return out
}

func (s *winSpec) name() string {
	var ks []string
	for _, k := range s.keys {
		ks = append(ks, s.cols[k].Name)
	}
	return fmt.Sprintf("%s/keys=%s", s.plan().Window, strings.Join(ks, ","))
}

// winRun drives an operator through events. Each watermark's output is one
// string of rows joined by newlines. When crashAt is not nil, the run takes
// a barrier before event i with probability given by barrierAt(i) and, when
// crashAt(i) says so, throws the operator away, restores a new one from the
// last barrier and replays the events after it, discarding the output
// emitted after that barrier.
type winRun struct {
	t         *testing.T
	spec      *winSpec
	alloc     memory.Allocator
	barrierAt func(i int) bool
	crashAt   func(i int) bool
	restores  int
	// unslicedFirst runs the first operator with one accumulator per
	// window, as before HOP windows were aggregated by slices: the
	// restored ones read its checkpoint.
	unslicedFirst bool
}

func (r *winRun) run(evs []winEvent, recs []arrowRecordRef) (out []string, late int64) {
	ctx := context.Background()
	newOp := func(st *winStore) (exec.Operator, *exec.OperatorMetrics) {
		m := &exec.OperatorMetrics{}
		op, err := NewAggSubtask(r.spec.plan(), m, r.alloc, state.Single(0))
		if err != nil {
			r.t.Fatal(err)
		}
		if r.unslicedFirst && st == nil {
			op.(*windowAggOp).sliced = false
		}
		var openErr error
		if st != nil {
			openErr = op.Open(ctx, st)
		} else {
			openErr = op.Open(ctx, nil)
		}
		if openErr != nil {
			r.t.Fatal(openErr)
		}
		return op, m
	}
	op, m := newOp(nil)
	defer func() { op.Close() }()
	var store *winStore
	var snap *winStore // store as of the last barrier
	snapAt, snapOut := -1, 0
	crashed := map[int]bool{}
	for i := 0; i < len(evs); i++ {
		if r.barrierAt != nil && r.barrierAt(i) {
			if store == nil {
				store = newWinStore()
			}
			if err := op.OnBarrier(ctx, exec.Barrier{CheckpointID: int64(i)}, store, &winCollector{}); err != nil {
				r.t.Fatal(err)
			}
			snap, snapAt, snapOut = store.clone(), i, len(out)
		}
		if r.crashAt != nil && snap != nil && !crashed[i] && r.crashAt(i) {
			crashed[i] = true
			op.Close()
			op, m = newOp(snap.clone())
			store = snap.clone()
			out = out[:snapOut]
			i = snapAt - 1 // replay from the barrier (taken again, harmlessly)
			r.restores++
			continue
		}
		e := evs[i]
		if !e.isWatermark() {
			if err := op.OnBatch(ctx, 0, recs[i].rec, &winCollector{}); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		c := &winCollector{}
		if err := op.OnWatermark(ctx, exec.Watermark(e.wm), c); err != nil {
			r.t.Fatal(err)
		}
		out = append(out, strings.Join(c.rows, "\n"))
	}
	if m.StateEntries.Load() != 0 {
		r.t.Errorf("state entries after the final watermark: %d", m.StateEntries.Load())
	}
	return out, m.LateRecords.Load()
}

func TestWindowAggRandom(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, spec := range winRandSpecs(rng) {
		t.Run(spec.name(), func(t *testing.T) {
			alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer alloc.AssertSize(t, 0)
			nkeys := 300
			if spec.window.Kind == plan.Session {
				nkeys = 20
			}
			evs := genWinEvents(rng, 4000, nkeys, 300, 30)
			recs := buildWinEventRecords(alloc, spec.cols, evs)
			defer releaseWinRecords(recs)

			ref := newWinRef(spec)
			var want []string
			for _, e := range evs {
				if e.isWatermark() {
					want = append(want, strings.Join(ref.watermark(e.wm), "\n"))
					continue
				}
				for _, row := range e.rows {
					ref.add(row)
				}
			}
			r := &winRun{t: t, spec: spec, alloc: alloc}
			got, late := r.run(evs, recs)
			fired := 0
			for i := range want {
				g := strings.Split(got[i], "\n")
				slices.Sort(g)
				if sg := strings.Join(g, "\n"); sg != want[i] {
					t.Fatalf("watermark #%d (%d): got\n%s\nwant\n%s", i, evs[i].wm, got[i], want[i])
				}
				fired += len(g)
			}
			if late != ref.late {
				t.Errorf("late rows: got %d, want %d", late, ref.late)
			}
			if (fired < 10 && len(spec.keys) > 0) || ref.late == 0 {
				t.Errorf("weak run: %d rows fired, %d late", fired, ref.late)
			}
		})
	}
}

// TestWindowAggRestore checks that an operator restored from a barrier and
// fed the rest of the input emits exactly what a never-stopped one does.
func TestWindowAggRestore(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	for _, spec := range onePerWindow(rng, winRandSpecs(rng), nil) {
		t.Run(spec.name(), func(t *testing.T) {
			alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer alloc.AssertSize(t, 0)
			nkeys := 200
			if spec.window.Kind == plan.Session {
				nkeys = 15
			}
			evs := genWinEvents(rng, 3000, nkeys, 60, 30)
			recs := buildWinEventRecords(alloc, spec.cols, evs)
			defer releaseWinRecords(recs)

			want, wantLate := (&winRun{t: t, spec: spec, alloc: alloc}).run(evs, recs)
			r := &winRun{t: t, spec: spec, alloc: alloc,
				barrierAt: func(int) bool { return rng.IntN(5) == 0 },
				crashAt:   func(int) bool { return rng.IntN(6) == 0 },
				// A sliced HOP restores the per-window checkpoints of
				// the version before slices, then its own.
				unslicedFirst: slicedWindow(spec.window, false),
			}
			got, gotLate := r.run(evs, recs)
			if r.restores < 3 {
				t.Fatalf("only %d restores", r.restores)
			}
			if !slices.Equal(got, want) {
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("after %d restores, watermark #%d differs: got\n%s\nwant\n%s", r.restores, i, got[i], want[i])
					}
				}
			}
			if gotLate != wantLate {
				t.Errorf("late rows: got %d, want %d", gotLate, wantLate)
			}
		})
	}
}
