package exec

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

func wantOut(t *testing.T, what string, got, want Watermark) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: output %d, want %d", what, got, want)
	}
}

func TestValveMinimumOverActiveInputs(t *testing.T) {
	v := newWatermarkValve(3)
	wantOut(t, "input 0 at 10", v.inputWatermark(0, 10), MinWatermark)
	wantOut(t, "input 1 at 20", v.inputWatermark(1, 20), MinWatermark)
	wantOut(t, "input 2 at 5", v.inputWatermark(2, 5), 5)
	wantOut(t, "input 2 at 30", v.inputWatermark(2, 30), 10)
	wantOut(t, "input 0 goes back to 3", v.inputWatermark(0, 3), 10)
	wantOut(t, "input 0 at 25", v.inputWatermark(0, 25), 20)
}

func TestValveIdleInputDoesNotHoldBack(t *testing.T) {
	v := newWatermarkValve(2)
	v.inputWatermark(0, 100)
	wantOut(t, "input 1 silent", v.output(), MinWatermark)
	wantOut(t, "input 1 idle", v.setIdle(1), 100)
	wantOut(t, "input 0 at 150", v.inputWatermark(0, 150), 150)
}

// Flink's rule: when every input is idle, event time advances to the
// maximum watermark among them.
func TestValveAllIdleAdvancesToMaximum(t *testing.T) {
	v := newWatermarkValve(4)
	v.inputWatermark(0, 40)
	v.inputWatermark(1, 90)
	v.inputWatermark(2, 70)
	wantOut(t, "input 3 silent", v.output(), MinWatermark)
	wantOut(t, "input 3 idle", v.setIdle(3), 40)
	wantOut(t, "input 0 idle", v.setIdle(0), 70)
	wantOut(t, "input 2 idle", v.setIdle(2), 90)
	wantOut(t, "all idle", v.setIdle(1), 90)
	// Idle again, no change; never below.
	wantOut(t, "idle twice", v.setIdle(1), 90)
}

// An input that wakes with a watermark behind the output neither moves
// the output back nor holds it, until it catches up.
func TestValveWakingInputNeverMovesOutputBack(t *testing.T) {
	v := newWatermarkValve(3)
	v.inputWatermark(0, 100)
	v.inputWatermark(1, 50)
	v.inputWatermark(2, 500)
	v.setIdle(0)
	v.setIdle(1)
	wantOut(t, "all idle", v.setIdle(2), 500)
	// Input 1 wakes at 60 < 500: not aligned, no change.
	wantOut(t, "input 1 wakes behind", v.inputWatermark(1, 60), 500)
	// Input 2 wakes at 520: the only aligned one.
	wantOut(t, "input 2 wakes ahead", v.inputWatermark(2, 520), 520)
	wantOut(t, "input 1 still behind", v.inputWatermark(1, 510), 520)
	// Input 1 catches up at 600: now it counts, and input 2 holds.
	wantOut(t, "input 1 caught up", v.inputWatermark(1, 600), 520)
	wantOut(t, "input 2 at 700", v.inputWatermark(2, 700), 600)
	// Input 0 wakes at 100: behind; stays out of the minimum.
	wantOut(t, "input 0 wakes behind", v.inputWatermark(0, 100), 600)
	wantOut(t, "input 1 at 650", v.inputWatermark(1, 650), 650)
}

func TestValveNewInputsHoldTheOutput(t *testing.T) {
	v := newWatermarkValve(1)
	wantOut(t, "one input", v.inputWatermark(0, 10), 10)
	v.grow(2, false)
	wantOut(t, "input 0 at 20, input 1 new", v.inputWatermark(0, 20), 10)
	wantOut(t, "input 1 at 15", v.inputWatermark(1, 15), 15)
	v.grow(3, true)
	wantOut(t, "an idle new input does not hold", v.inputWatermark(1, 30), 20)
}

func TestValveNoInputs(t *testing.T) {
	v := newWatermarkValve(0)
	wantOut(t, "empty", v.recompute(), MinWatermark)
}

// newTestWatermarkGen returns a generator over one TIMESTAMP(3) column ts
// with WATERMARK FOR ts AS ts.
func newTestWatermarkGen(t *testing.T, idle time.Duration) (*watermarkGen, types.Schema) {
	t.Helper()
	schema := types.Schema{Fields: []types.Field{{Name: "ts", Type: types.TimestampType}}}
	g, err := newWatermarkGen(&plan.Watermark{TimeCol: 0, Expr: &plan.ColumnRef{Index: 0, Name: "ts", T: types.TimestampType},
		IdleTimeout: idle.Milliseconds()}, schema, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	return g, schema
}

func observeTS(t *testing.T, g *watermarkGen, schema types.Schema, split int, now time.Time, n int, ts ...int64) Watermark {
	t.Helper()
	var rows [][]any
	for _, v := range ts {
		rows = append(rows, []any{v})
	}
	rec := buildTSRecord(memory.DefaultAllocator, schema.Fields, rows)
	defer rec.Release()
	wm, err := g.observe(rec, split, now, n)
	if err != nil {
		t.Fatal(err)
	}
	return wm
}

// The Kafka example's case: keyless records all land on one partition of
// four; once every partition is idle, event time advances to that
// partition's watermark, so the last windows close.
func TestWatermarkGenAllSplitsIdle(t *testing.T) {
	g, schema := newTestWatermarkGen(t, 2*time.Second)
	t0 := time.Unix(1000, 0)
	wantOut(t, "rows on split 0 of 4", observeTS(t, g, schema, 0, t0, 4, 100, 5000, 300), MinWatermark)
	wantOut(t, "1 s later", g.current(t0.Add(time.Second), 4), MinWatermark)
	// At 2 s the three silent splits (counted since start) and split 0
	// (last rows at t0) are idle together.
	wantOut(t, "2 s later, all idle", g.current(t0.Add(2*time.Second), 4), 5000)
	// Split 2 wakes with older rows: no step back.
	wantOut(t, "split 2 wakes behind", observeTS(t, g, schema, 2, t0.Add(3*time.Second), 4, 400), 5000)
	wantOut(t, "split 2 catches up", observeTS(t, g, schema, 2, t0.Add(3*time.Second), 4, 7000), 7000)
	wantOut(t, "split 0 wakes ahead", observeTS(t, g, schema, 0, t0.Add(3*time.Second), 4, 9000), 7000)
}

// Without an idle timeout, a reported split that never produces holds
// event time back for ever (as in Flink).
func TestWatermarkGenNoIdleTimeout(t *testing.T) {
	g, schema := newTestWatermarkGen(t, 0)
	t0 := time.Unix(1000, 0)
	observeTS(t, g, schema, 0, t0, 2, 5000)
	wantOut(t, "an hour later", g.current(t0.Add(time.Hour), 2), MinWatermark)
	wantOut(t, "split 1 produces", observeTS(t, g, schema, 1, t0.Add(time.Hour), 2, 3000), 3000)
}

// A source that does not report its splits: a split counts once it has
// produced rows.
func TestWatermarkGenUnreportedSplits(t *testing.T) {
	g, schema := newTestWatermarkGen(t, 0)
	t0 := time.Unix(1000, 0)
	wantOut(t, "split 2 first", observeTS(t, g, schema, 2, t0, 0, 5000), 5000)
	wantOut(t, "split 0 behind", observeTS(t, g, schema, 0, t0, 0, 3000), 5000)
	wantOut(t, "split 0 ahead, split 2 holds", observeTS(t, g, schema, 0, t0, 0, 8000), 5000)
	wantOut(t, "split 2 ahead, split 0 holds", observeTS(t, g, schema, 2, t0, 0, 9000), 8000)
}

// Watermarks restored from a checkpoint: splits without one still hold
// event time until they produce or go idle.
func TestWatermarkGenRestore(t *testing.T) {
	g, schema := newTestWatermarkGen(t, 2*time.Second)
	g.restoreSplit(1, 4000)
	g.restoreSplit(3, 9000)
	t0 := time.Unix(1000, 0)
	wantOut(t, "after restore", g.current(t0, 4), MinWatermark)
	wantOut(t, "split 0 produces", observeTS(t, g, schema, 0, t0, 4, 6000), MinWatermark)
	wantOut(t, "split 2 produces", observeTS(t, g, schema, 2, t0, 4, 7000), 4000)
	got := g.splitWatermarks()
	if len(got) != 4 || got[0] != 6000 || got[1] != 4000 || got[2] != 7000 || got[3] != 9000 {
		t.Fatalf("split watermarks %v", got)
	}
	wantOut(t, "all idle", g.current(t0.Add(2*time.Second), 4), 9000)
}

// buildTSRecord builds a batch of one integer-like column per field from
// rows of int64 values (nil is NULL).
func buildTSRecord(alloc memory.Allocator, cols []types.Field, rows [][]any) arrow.Record {
	rb := array.NewRecordBuilder(alloc, types.Schema{Fields: cols}.Arrow())
	defer rb.Release()
	for _, row := range rows {
		for c, v := range row {
			switch b := rb.Field(c).(type) {
			case *array.TimestampBuilder:
				if v == nil {
					b.AppendNull()
				} else {
					b.Append(arrow.Timestamp(v.(int64)))
				}
			case *array.Int64Builder:
				if v == nil {
					b.AppendNull()
				} else {
					b.Append(v.(int64))
				}
			default:
				panic(fmt.Sprintf("buildTSRecord: column %d is %s", c, b.Type()))
			}
		}
	}
	return rb.NewRecord()
}

// TestValveRandom drives valves over 1 to 5 inputs with random events —
// an input advancing (sometimes with a stale watermark), going idle,
// waking up — and checks the output after every event against a reference
// model computed from the inputs' history alone: with every input idle,
// the maximum over all inputs; otherwise the minimum over the active
// inputs that have caught up with the previous output (an input that woke
// up behind it does not pull it back); never below the previous output.
func TestValveRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 34))
	for run := 0; run < 500; run++ {
		n := 1 + rng.IntN(5)
		v := newWatermarkValve(n)
		type input struct {
			wm   Watermark
			idle bool
		}
		ins := make([]input, n)
		for i := range ins {
			ins[i].wm = MinWatermark
		}
		want := MinWatermark
		var history []string
		for step := 0; step < 60; step++ {
			i := rng.IntN(n)
			var ev string
			switch r := rng.IntN(10); {
			case r < 6:
				wm := Watermark(rng.IntN(1000))
				if ins[i].wm != MinWatermark && rng.IntN(4) > 0 {
					wm = ins[i].wm + Watermark(rng.IntN(50)) - 10 // mostly forward, sometimes stale
				}
				ev = fmt.Sprintf("wm(%d, %d)", i, wm)
				v.inputWatermark(i, wm)
				ins[i].wm = max(ins[i].wm, wm)
				ins[i].idle = false
			case r < 8:
				ev = fmt.Sprintf("idle(%d)", i)
				v.setIdle(i)
				ins[i].idle = true
			default:
				ev = fmt.Sprintf("active(%d)", i)
				v.setActive(i)
				ins[i].idle = false
			}
			history = append(history, ev)
			// The reference model.
			allIdle, hi := true, MinWatermark
			lo, anyCounted := MaxWatermark, false
			for _, in := range ins {
				hi = max(hi, in.wm)
				if in.idle {
					continue
				}
				allIdle = false
				if in.wm >= want {
					lo, anyCounted = min(lo, in.wm), true
				}
			}
			switch {
			case allIdle:
				want = max(want, hi)
			case anyCounted:
				want = max(want, lo)
			}
			if got := v.output(); got != want {
				t.Fatalf("run %d, %d inputs, after %s: output %d, model %d", run, n, strings.Join(history, " "), got, want)
			}
			if got := v.allIdle(); got != allIdle {
				t.Fatalf("run %d after %s: allIdle %v, model %v", run, strings.Join(history, " "), got, allIdle)
			}
		}
	}
}
