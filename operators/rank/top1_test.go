package rank

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// TestTop1Store: the Top-1's store (op.t1) against the general path (the
// same Top-1 over an input declared updating, which holds every row of a
// partition in sorted entries): the same changes, batch by batch, through
// index growth, rows longer than the room of the ones they replace (the
// slab compacted), state TTL expiry with slots reused, and a checkpoint
// restored midway.
func TestTop1Store(t *testing.T) {
	sch := types.Schema{Fields: []types.Field{
		{Name: "k", Type: types.BigIntType},
		{Name: "v", Type: types.BigIntType},
		{Name: "s", Type: types.StringType},
	}}
	c := &clock{now: time.UnixMilli(0)}
	mk := func(updating bool) *op {
		src := &plan.Source{Table: "in"}
		src.Output, src.OpID = sch, "1-source-in"
		n := &plan.Rank{Input: src, Partition: []int{0}, Order: []plan.SortKey{{Col: 1, Desc: true}}, Start: 1, End: 1,
			OutputRank: true, InputUpdating: updating, StateTTL: 1000}
		n.OpID, n.Output = "2-rank", sch
		n.Output.Fields = append(n.Output.Fields[:3:3], types.Field{Name: "rn", Type: types.BigIntType.WithNotNull(true)})
		o, err := New(n, exec.OperatorEnv{Alloc: memory.DefaultAllocator, Clock: c, Parallelism: 1})
		if err != nil {
			t.Fatal(err)
		}
		r := o.(*op)
		if r.t1 != nil {
			r.t1.minDead = 8 << 10 // compacted within the test
		}
		return r
	}
	got, want := mk(false), mk(true)
	if !got.top1 || want.top1 {
		t.Fatal("the operators under test are not a Top-1 and the general path")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	ctx := context.Background()
	compacted := false
	for b := range 60 {
		bld := array.NewRecordBuilder(memory.DefaultAllocator, sch.Arrow())
		for r := range 256 {
			// Keys slide as batches go, rows grow longer (moved in the slab),
			// values mostly rising (most rows replace their partition's).
			bld.Field(0).(*array.Int64Builder).Append(int64(20*b) + rng.Int64N(300))
			bld.Field(1).(*array.Int64Builder).Append(int64(b*256+r) - rng.Int64N(1000))
			switch rng.IntN(40) {
			case 0:
				bld.Field(2).AppendNull()
			case 1:
				bld.Field(2).(*array.StringBuilder).Append("a\x00b")
			default:
				bld.Field(2).(*array.StringBuilder).Append(strings.Repeat("x", rng.IntN(20+8*b)))
			}
		}
		rec := bld.NewRecord()
		bld.Release()
		var g, w collector
		wasDead := got.t1.dead
		if err := got.OnBatch(ctx, 0, rec, &g); err != nil {
			t.Fatal(err)
		}
		if err := want.OnBatch(ctx, 0, rec, &w); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		if gs, ws := g.take(), w.take(); gs != ws {
			t.Fatalf("batch %d:\n%.2000s\nwant\n%.2000s", b, gs, ws)
		}
		if got.rows != len(want.parts) {
			t.Fatalf("batch %d: %d partitions held, want %d", b, got.rows, len(want.parts))
		}
		compacted = compacted || wasDead >= 8<<10 && got.t1.dead < wasDead/2 && got.t1.n > 100
		if b == 40 {
			// Every partition idle past the TTL: all expire at the next
			// batch (a non-improving row does not refresh a Top-1's
			// partition, unlike the general path's: the clock stands
			// still otherwise).
			c.now = c.now.Add(5 * time.Second)
		}
		if b == 30 {
			gst, wst := &memStore{m: map[string]string{}}, &memStore{m: map[string]string{}}
			if err := got.OnBarrier(ctx, exec.Barrier{CheckpointID: 1}, gst, nil); err != nil {
				t.Fatal(err)
			}
			if err := want.OnBarrier(ctx, exec.Barrier{CheckpointID: 1}, wst, nil); err != nil {
				t.Fatal(err)
			}
			if len(gst.m) != len(wst.m) {
				t.Fatalf("checkpoint: %d entries, want %d", len(gst.m), len(wst.m))
			}
			got, want = mk(false), mk(true)
			if err := got.Open(ctx, gst); err != nil {
				t.Fatal(err)
			}
			if err := want.Open(ctx, wst); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !compacted {
		t.Fatal("the slab was never compacted")
	}
}
