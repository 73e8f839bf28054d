package timesort

import (
	"context"
	"sort"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

var schema = types.Schema{Fields: []types.Field{
	{Name: "ts", Type: types.TimestampType},
	{Name: "s", Type: types.StringType},
}}

type input struct{ schema types.Schema }

func (input) ID() string                          { return "in" }
func (i input) Schema() types.Schema              { return i.schema }
func (input) Inputs() []plan.Node                 { return nil }
func (i input) WithInputs(...plan.Node) plan.Node { return i }
func (input) Describe() string                    { return "in" }
func (input) Kind() string                        { return "in" }
func (input) Props() *plan.Base                   { return &plan.Base{} }

func newOp(t *testing.T, m *exec.OperatorMetrics) exec.Operator {
	t.Helper()
	n := &plan.TimeSort{Input: input{schema}, TimeCol: 0}
	n.Output = schema
	n.OpID = "1-time-sort"
	o, err := New(n, exec.OperatorEnv{Alloc: memory.DefaultAllocator, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func batch(ts []int64, s []string) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema.Arrow())
	defer b.Release()
	for i := range ts {
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(ts[i]))
		b.Field(1).(*array.StringBuilder).Append(s[i])
	}
	return b.NewRecord()
}

type collect struct{ rows []string }

func (c *collect) Emit(_ context.Context, rec arrow.Record) error {
	for i := 0; i < int(rec.NumRows()); i++ {
		c.rows = append(c.rows, rec.Column(1).(*array.String).Value(i))
	}
	return nil
}

// mapState is a checkpoint store in memory.
type mapState map[string][]byte

func (m mapState) Set(k, v []byte) error { m[string(k)] = append([]byte(nil), v...); return nil }
func (m mapState) Delete(k []byte) error { delete(m, string(k)); return nil }
func (m mapState) Scan(fn func(k, v []byte) error) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn([]byte(k), m[k]); err != nil {
			return err
		}
	}
	return nil
}

// TestSortAndRestore: rows leave in time order (equal times in arrival
// order) as the watermark passes them, late rows are dropped and counted,
// and rows held at a barrier come back after a restore, late-dropping
// continuing from the restored watermark.
func TestSortAndRestore(t *testing.T) {
	ctx := context.Background()
	m := &exec.OperatorMetrics{}
	o := newOp(t, m)
	if err := o.Open(ctx, nil); err != nil {
		t.Fatal(err)
	}
	out := &collect{}
	rec := batch([]int64{30, 10, 20, 10, 50}, []string{"c", "a1", "b", "a2", "e"})
	if err := o.OnBatch(ctx, 0, rec, out); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	if err := o.OnWatermark(ctx, 20, out); err != nil {
		t.Fatal(err)
	}
	if got := len(out.rows); got != 3 || out.rows[0] != "a1" || out.rows[1] != "a2" || out.rows[2] != "b" {
		t.Fatalf("after watermark 20: %q, want [a1 a2 b]", out.rows)
	}
	rec = batch([]int64{15, 40}, []string{"late", "d"})
	if err := o.OnBatch(ctx, 0, rec, out); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	if m.LateRecords.Load() != 1 {
		t.Fatalf("late rows %d, want 1", m.LateRecords.Load())
	}
	st := mapState{}
	if err := o.OnBarrier(ctx, exec.Barrier{CheckpointID: 1}, st, out); err != nil {
		t.Fatal(err)
	}
	// Restore: c (30), d (40), e (50) are held; 20 is the watermark.
	m2 := &exec.OperatorMetrics{}
	o2 := newOp(t, m2)
	if err := o2.Open(ctx, st); err != nil {
		t.Fatal(err)
	}
	out2 := &collect{}
	rec = batch([]int64{20, 35}, []string{"late2", "c2"})
	if err := o2.OnBatch(ctx, 0, rec, out2); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	if err := o2.OnWatermark(ctx, exec.MaxWatermark, out2); err != nil {
		t.Fatal(err)
	}
	want := []string{"c", "c2", "d", "e"}
	if len(out2.rows) != len(want) {
		t.Fatalf("after restore: %q, want %q", out2.rows, want)
	}
	for i := range want {
		if out2.rows[i] != want[i] {
			t.Fatalf("after restore: %q, want %q", out2.rows, want)
		}
	}
	if m2.LateRecords.Load() != 1 {
		t.Fatalf("late rows after restore %d, want 1", m2.LateRecords.Load())
	}
	// A second barrier deletes what left: only the bookkeeping stays.
	if err := o2.OnBarrier(ctx, exec.Barrier{CheckpointID: 2}, st, out2); err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 {
		t.Fatalf("state after everything left holds %d keys, want 2 (sequence, watermark)", len(st))
	}
}
