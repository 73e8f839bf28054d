package join_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/internal/difftest"
	"github.com/streamsql/streamsql/operators/join"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// TestIntervalJoinRandom feeds random rows of both sides, out of order,
// with random watermarks between batches (so that some rows are late) and
// random checkpoints after which the operator is rebuilt from the stored
// state, to an interval join of every kind, and compares what it emits
// with SQLite's join of the rows that were on time (a row is late when
// its time is at or below the watermark when it arrives; late rows are
// dropped, whatever the join kind).
func TestIntervalJoinRandom(t *testing.T) {
	difftest.NeedSQLite(t)
	kinds := []plan.JoinKind{plan.InnerJoin, plan.LeftJoin, plan.RightJoin, plan.FullJoin}
	bounds := [][2]int64{{-300, 200}, {100, 400}, {-500, -100}, {0, 0}}
	for seed := uint64(1); seed <= 8; seed++ {
		kind, bd := kinds[seed%4], bounds[(seed/2)%4]
		t.Run(fmt.Sprintf("seed=%d/%s/[%d,%d]", seed, kind, bd[0], bd[1]), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 15))
			n := join.NewIntervalJoinForTest(kind, bd[0], bd[1])
			store := join.NewMemStore()
			m := &exec.OperatorMetrics{}
			build := func(restore bool) exec.Operator {
				op, err := join.NewIntervalSubtask(n, m, memory.DefaultAllocator, state.Single(0))
				if err != nil {
					t.Fatal(err)
				}
				var st *join.MemStore
				if restore {
					st = store
				}
				if st == nil {
					err = op.Open(context.Background(), nil)
				} else {
					err = op.Open(context.Background(), st)
				}
				if err != nil {
					t.Fatal(err)
				}
				return op
			}
			o := build(false)
			var c join.Collector
			var onTime [2][]join.IvRow
			wm := int64(-1 << 62)
			now := int64(1_000_000)
			late := 0
			for step := 0; step < 300; step++ {
				in := rng.IntN(2)
				var rows []join.IvRow
				for range 1 + rng.IntN(6) {
					r := join.IvRow{K: rng.Int64N(12), S: fmt.Sprintf("%c%d", "lr"[in], step), Ts: now - rng.Int64N(600)}
					if rng.IntN(40) == 0 {
						r.K = -1
					}
					rows = append(rows, r)
					if r.Ts <= wm {
						late++
					} else {
						onTime[in] = append(onTime[in], r)
					}
				}
				now += rng.Int64N(40)
				rec := join.IvBatch([]types.Schema{join.IvLeft, join.IvRight}[in], rows)
				if err := o.OnBatch(context.Background(), in, rec, &c); err != nil {
					t.Fatal(err)
				}
				rec.Release()
				if rng.IntN(4) == 0 {
					wm = max(wm, now-200-rng.Int64N(300))
					if err := o.OnWatermark(context.Background(), exec.Watermark(wm), &c); err != nil {
						t.Fatal(err)
					}
				}
				if rng.IntN(30) == 0 {
					if err := o.OnBarrier(context.Background(), exec.Barrier{CheckpointID: int64(step)}, store, &join.Collector{}); err != nil {
						t.Fatal(err)
					}
					o = build(true)
				}
			}
			if err := o.OnWatermark(context.Background(), exec.MaxWatermark, &c); err != nil {
				t.Fatal(err)
			}
			if late == 0 || int(m.LateRecords.Load()) != late {
				t.Fatalf("%d rows counted late, %d were", m.LateRecords.Load(), late)
			}
			got := make([]string, len(c.Lines()))
			for i, r := range c.Lines() {
				if !strings.HasPrefix(r, "+I[") {
					t.Fatalf("row %q is not an insert", r)
				}
				got[i] = strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(r, "+I["), "]"), ", ", ",")
			}
			want := difftest.SQLite(t, ivScript(onTime, kind, bd))
			if len(want) == 0 {
				t.Fatal("the reference query returned no rows")
			}
			if d := difftest.DiffRows(got, want); d != "" {
				t.Fatalf("operator and SQLite disagree (%d vs %d rows):\n%s", len(got), len(want), d)
			}
		})
	}
}

// ivScript is the SQLite script of the reference: the on-time rows of
// both sides as tables l and r, joined as kind on the same condition, the
// result printed as the operator's rows are.
func ivScript(rows [2][]join.IvRow, kind plan.JoinKind, bd [2]int64) string {
	var b strings.Builder
	for i, name := range []string{"l", "r"} {
		fmt.Fprintf(&b, "CREATE TABLE %s(k INTEGER, s TEXT, ts INTEGER);\n", name)
		for _, r := range rows[i] {
			k := "NULL"
			if r.K >= 0 {
				k = fmt.Sprint(r.K)
			}
			fmt.Fprintf(&b, "INSERT INTO %s VALUES (%s, '%s', %d);\n", name, k, r.S, r.Ts)
		}
	}
	jk := map[plan.JoinKind]string{plan.InnerJoin: "JOIN", plan.LeftJoin: "LEFT JOIN", plan.RightJoin: "RIGHT JOIN", plan.FullJoin: "FULL JOIN"}[kind]
	ts := func(c string) string {
		return fmt.Sprintf("CASE WHEN %[1]s IS NULL THEN 'NULL' ELSE strftime('%%Y-%%m-%%d %%H:%%M:%%S', %[1]s/1000, 'unixepoch') || '.' || substr('000' || (%[1]s %% 1000), -3) END", c)
	}
	fmt.Fprintf(&b, ".mode list\n.separator ,\n.nullvalue NULL\nSELECT l.k, l.s, %s, r.k, r.s, %s FROM l %s r ON l.k = r.k AND l.ts - r.ts BETWEEN %d AND %d;\n",
		ts("l.ts"), ts("r.ts"), jk, bd[0], bd[1])
	return b.String()
}
