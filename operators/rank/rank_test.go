package rank

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// memStore is checkpointed state in memory: barrier deltas applied.
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

// collector formats the emitted rows as "+I[a, b]".
type collector struct{ rows []string }

func (c *collector) Emit(_ context.Context, rec arrow.Record) error {
	kinds := exec.RowKinds(rec)
	for r := 0; r < int(rec.NumRows()); r++ {
		cells := make([]string, exec.DataColumns(rec))
		for i := range cells {
			v, ok := format.FormatValue(rec.Column(i), r)
			if !ok {
				v = "NULL"
			}
			cells[i] = v
		}
		c.rows = append(c.rows, fmt.Sprintf("%s[%s]", exec.RowKindAt(kinds, r), strings.Join(cells, ", ")))
	}
	return nil
}

func (c *collector) take() string {
	s := strings.Join(c.rows, " ")
	c.rows = nil
	return s
}

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// testSchema: k BIGINT, v BIGINT, we TIMESTAMP(3) (a window end).
var testSchema = types.Schema{Fields: []types.Field{
	{Name: "k", Type: types.BigIntType},
	{Name: "v", Type: types.BigIntType},
	{Name: "window_end", Type: types.TimestampType},
}}

func newOp(t *testing.T, n *plan.Rank, c exec.Clock) exec.Operator {
	t.Helper()
	src := &plan.Source{Table: "in"}
	src.Output, src.OpID = testSchema, "1-source-in"
	n.Input, n.OpID = src, "2-rank"
	n.Output = testSchema
	if n.OutputRank {
		n.Output.Fields = append(slices.Clone(testSchema.Fields), types.Field{Name: "rn", Type: types.BigIntType.WithNotNull(true)})
	}
	op, err := New(n, exec.OperatorEnv{Alloc: memory.DefaultAllocator, Clock: c, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// batch builds rows of (k, v, window_end ms).
func batch(rows ...[3]int64) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, testSchema.Arrow())
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.Int64Builder).Append(r[0])
		b.Field(1).(*array.Int64Builder).Append(r[1])
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(r[2]))
	}
	return b.NewRecord()
}

func feed(t *testing.T, op exec.Operator, out *collector, rows ...[3]int64) string {
	t.Helper()
	rec := batch(rows...)
	defer rec.Release()
	if err := op.OnBatch(context.Background(), 0, rec, out); err != nil {
		t.Fatal(err)
	}
	return out.take()
}

// TestStateTTL: a partition idle for longer than the TTL is dropped
// without a retraction; its next row starts it again.
func TestStateTTL(t *testing.T) {
	c := &clock{now: time.UnixMilli(1_000_000)}
	op := newOp(t, &plan.Rank{Partition: []int{0}, Order: []plan.SortKey{{Col: 1, Desc: true}}, Start: 1, End: 1, OutputRank: true, StateTTL: 1000}, c)
	out := &collector{}
	if got := feed(t, op, out, [3]int64{1, 5, 0}, [3]int64{2, 1, 0}); got != "+I[1, 5, 1970-01-01 00:00:00.000, 1] +I[2, 1, 1970-01-01 00:00:00.000, 1]" {
		t.Fatalf("first rows: %s", got)
	}
	c.now = c.now.Add(600 * time.Millisecond)
	if got := feed(t, op, out, [3]int64{2, 7, 0}); got != "-U[2, 1, 1970-01-01 00:00:00.000, 1] +U[2, 7, 1970-01-01 00:00:00.000, 1]" {
		t.Fatalf("an update of key 2: %s", got)
	}
	c.now = c.now.Add(600 * time.Millisecond)
	st := &memStore{m: map[string]string{}}
	if err := op.OnBarrier(context.Background(), exec.Barrier{CheckpointID: 1}, st, out); err != nil {
		t.Fatal(err)
	}
	// Key 1 was idle 1200 ms: gone, so a smaller value is its top again;
	// key 2 (idle 600 ms) still holds 7.
	if got := feed(t, op, out, [3]int64{1, 3, 0}, [3]int64{2, 6, 0}); got != "+I[1, 3, 1970-01-01 00:00:00.000, 1]" {
		t.Fatalf("after the TTL: %s", got)
	}
}

// TestWindowRestore: a window Top-N restored from a checkpoint taken with
// windows open emits them when the watermark passes their end; rows of a
// closed window are late.
func TestWindowRestore(t *testing.T) {
	c := &clock{now: time.UnixMilli(0)}
	n := func() *plan.Rank {
		return &plan.Rank{Partition: []int{2}, Order: []plan.SortKey{{Col: 1, Desc: true}}, Start: 1, End: 2, OutputRank: true, Window: true, WindowEnd: 2}
	}
	op := newOp(t, n(), c)
	out := &collector{}
	if got := feed(t, op, out, [3]int64{1, 5, 1000}, [3]int64{2, 9, 1000}, [3]int64{3, 7, 1000}, [3]int64{4, 1, 2000}); got != "" {
		t.Fatalf("a window Top-N emitted before its window closed: %s", got)
	}
	st := &memStore{m: map[string]string{}}
	if err := op.OnBarrier(context.Background(), exec.Barrier{CheckpointID: 1}, st, out); err != nil {
		t.Fatal(err)
	}
	op2 := newOp(t, n(), c)
	if err := op2.Open(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	if err := op2.OnWatermark(context.Background(), 1000, out); err != nil {
		t.Fatal(err)
	}
	if got := out.take(); got != "+I[2, 9, 1970-01-01 00:00:01.000, 1] +I[3, 7, 1970-01-01 00:00:01.000, 2]" {
		t.Fatalf("window 1000: %s", got)
	}
	if got := feed(t, op2, out, [3]int64{5, 99, 1000}, [3]int64{6, 2, 2000}); got != "" {
		t.Fatalf("rows: %s", got)
	}
	if err := op2.OnWatermark(context.Background(), exec.MaxWatermark, out); err != nil {
		t.Fatal(err)
	}
	if got := out.take(); got != "+I[6, 2, 1970-01-01 00:00:02.000, 1] +I[4, 1, 1970-01-01 00:00:02.000, 2]" {
		t.Fatalf("window 2000 (the late row of window 1000 dropped): %s", got)
	}
}

// TestTop1Restore: a Top-1's best rows survive a checkpoint, and better
// rows replace them after the restore (a restored row's bytes are its
// own; a row that replaced it is overwritten in place by the next).
func TestTop1Restore(t *testing.T) {
	c := &clock{now: time.UnixMilli(0)}
	n := func() *plan.Rank {
		return &plan.Rank{Partition: []int{0}, Order: []plan.SortKey{{Col: 1, Desc: true}}, Start: 1, End: 1, OutputRank: true}
	}
	op := newOp(t, n(), c)
	out := &collector{}
	if got := feed(t, op, out, [3]int64{1, 5, 0}, [3]int64{2, 1, 0}, [3]int64{1, 4, 0}); got != "+I[1, 5, 1970-01-01 00:00:00.000, 1] +I[2, 1, 1970-01-01 00:00:00.000, 1]" {
		t.Fatalf("first rows: %s", got)
	}
	st := &memStore{m: map[string]string{}}
	if err := op.OnBarrier(context.Background(), exec.Barrier{CheckpointID: 1}, st, out); err != nil {
		t.Fatal(err)
	}
	op2 := newOp(t, n(), c)
	if err := op2.Open(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	got := feed(t, op2, out, [3]int64{1, 5, 0}, [3]int64{1, 6, 7}, [3]int64{2, 0, 0}, [3]int64{1, 8, 9}, [3]int64{1, 8, 8}, [3]int64{3, 2, 0})
	want := "-U[1, 5, 1970-01-01 00:00:00.000, 1] +U[1, 6, 1970-01-01 00:00:00.007, 1] " +
		"-U[1, 6, 1970-01-01 00:00:00.007, 1] +U[1, 8, 1970-01-01 00:00:00.009, 1] " +
		"-U[1, 8, 1970-01-01 00:00:00.009, 1] +U[1, 8, 1970-01-01 00:00:00.008, 1] " +
		"+I[3, 2, 1970-01-01 00:00:00.000, 1]"
	if got != want {
		t.Fatalf("after the restore:\n%s\nwant\n%s", got, want)
	}
}
