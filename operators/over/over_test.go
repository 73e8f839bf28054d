package over

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

type memStore struct{ m map[string]string }

func (s *memStore) Set(k, v []byte) error { s.m[string(k)] = string(v); return nil }
func (s *memStore) Delete(k []byte) error { delete(s.m, string(k)); return nil }
func (s *memStore) Scan(fn func(k, v []byte) error) error {
	for _, k := range slices.Sorted(maps.Keys(s.m)) {
		if err := fn([]byte(k), []byte(s.m[k])); err != nil {
			return err
		}
	}
	return nil
}

type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

// sums collects the last output column (SUM) of every emitted row.
type sums struct{ got []int64 }

func (s *sums) Emit(_ context.Context, rec arrow.Record) error {
	c := rec.Column(int(rec.NumCols()) - 1).(*array.Int64)
	for i := range c.Len() {
		s.got = append(s.got, c.Value(i))
	}
	return nil
}

var testIn = types.Schema{Fields: []types.Field{
	{Name: "k", Type: types.BigIntType}, {Name: "v", Type: types.BigIntType}, {Name: "ts", Type: types.TimestampType}}}

// testNode is SUM(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 2
// PRECEDING AND CURRENT ROW) with state TTL ttl.
func testNode(ttl int64) *plan.OverAgg {
	src := &plan.Source{}
	src.Output = testIn
	n := &plan.OverAgg{Input: src, Partition: []int{0}, TimeCol: 2, Rows: true, Preceding: 2, StateTTL: ttl,
		Aggs: []plan.AggCall{{Func: plan.Sum, Arg: 1, Filter: -1, T: types.BigIntType}}}
	n.OpID = "over"
	n.Output = types.Schema{Fields: append(append([]types.Field(nil), testIn.Fields...), types.Field{Name: "s", Type: types.BigIntType})}
	return n
}

// rows builds a batch of (k, v, ts) triples.
func rows(vals ...int64) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, testIn.Arrow())
	defer b.Release()
	for i := 0; i < len(vals); i += 3 {
		b.Field(0).(*array.Int64Builder).Append(vals[i])
		b.Field(1).(*array.Int64Builder).Append(vals[i+1])
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(vals[i+2]))
	}
	return b.NewRecord()
}

// TestTTLAndLate: a partition idle past the state TTL with no row waiting
// is dropped (its frame forgotten, its state entry deleted); a row behind
// the watermark is dropped and counted, and a restored operator keeps the
// watermark and the count.
func TestTTLAndLate(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: time.UnixMilli(1_000_000)}
	m := &exec.OperatorMetrics{}
	o, err := NewSubtask(testNode(1000), m, memory.DefaultAllocator, clock, state.Single(0))
	if err != nil {
		t.Fatal(err)
	}
	out := &sums{}
	feed := func(o exec.Operator, wm exec.Watermark, vals ...int64) {
		t.Helper()
		rec := rows(vals...)
		defer rec.Release()
		if err := o.OnBatch(ctx, 0, rec, out); err != nil {
			t.Fatal(err)
		}
		if err := o.OnWatermark(ctx, wm, out); err != nil {
			t.Fatal(err)
		}
	}
	st := &memStore{m: map[string]string{}}
	barrier := func(o exec.Operator) {
		t.Helper()
		if err := o.OnBarrier(ctx, exec.Barrier{CheckpointID: 1}, st, out); err != nil {
			t.Fatal(err)
		}
	}
	keyed := func() int {
		n := 0
		for k := range st.m {
			if k[0] < 0x80 {
				n++
			}
		}
		return n
	}
	feed(o, 30, 1, 1, 10, 1, 2, 20, 2, 7, 25)
	barrier(o)
	if keyed() != 2 {
		t.Fatalf("%d partitions in state, want 2", keyed())
	}
	clock.now = clock.now.Add(500 * time.Millisecond)
	feed(o, 40, 1, 4, 35) // k=1 stays live
	clock.now = clock.now.Add(700 * time.Millisecond)
	barrier(o) // k=2 idle 1.2 s: dropped
	if keyed() != 1 {
		t.Fatalf("%d partitions in state after the TTL, want 1", keyed())
	}
	feed(o, 60, 2, 100, 50, 1, 8, 55)
	// k=1: 1, 1+2, 1+2+4, 2+4+8; k=2: 7, then 100 alone (its frame expired).
	if want := []int64{1, 3, 7, 7, 100, 14}; !slices.Equal(out.got, want) {
		t.Fatalf("sums %v, want %v", out.got, want)
	}
	feed(o, 60, 1, 9, 60, 1, 9, 59) // late
	if n := m.LateRecords.Load(); n != 2 {
		t.Fatalf("%d late rows, want 2", n)
	}
	barrier(o)
	m2 := &exec.OperatorMetrics{}
	o2, err := NewSubtask(testNode(1000), m2, memory.DefaultAllocator, clock, state.Single(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := o2.Open(ctx, st); err != nil {
		t.Fatal(err)
	}
	out.got = nil
	feed(o2, 70, 1, 9, 58, 1, 16, 65)
	// The late row is dropped again; k=1's frame (4, 8) survived.
	if want := []int64{28}; !slices.Equal(out.got, want) {
		t.Fatalf("after restore: sums %v, want %v", out.got, want)
	}
	if n := m2.LateRecords.Load(); n != 3 {
		t.Fatalf("after restore: %d late rows, want 3", n)
	}
	// A changed frame is refused.
	n := testNode(1000)
	n.Preceding = 3
	o3, _ := NewSubtask(n, &exec.OperatorMetrics{}, memory.DefaultAllocator, clock, state.Single(0))
	if err := o3.Open(ctx, st); err == nil || !strings.Contains(err.Error(), "layout") {
		t.Fatalf("restore with another frame: %v", err)
	}
}
