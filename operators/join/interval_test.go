package join

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/cockroachdb/datadriven"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// interval join sides: left (k BIGINT, s STRING, ts TIMESTAMP(3)), right
// (k BIGINT, t STRING, ts TIMESTAMP(3)).
var (
	ivLeft  = types.Schema{Fields: []types.Field{{Name: "k", Type: types.BigIntType}, {Name: "s", Type: types.StringType}, {Name: "ts", Type: types.TimestampType}}}
	ivRight = types.Schema{Fields: []types.Field{{Name: "k", Type: types.BigIntType}, {Name: "t", Type: types.StringType}, {Name: "ts", Type: types.TimestampType}}}
)

func newIntervalJoin(kind plan.JoinKind, lower, upper int64) *plan.IntervalJoin {
	l := &plan.Source{Table: "l"}
	l.Output, l.OpID = ivLeft, "1-source-l"
	r := &plan.Source{Table: "r"}
	r.Output, r.OpID = ivRight, "2-source-r"
	n := &plan.IntervalJoin{Left: l, Right: r, Type: kind, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTime: 2, RightTime: 2, Lower: lower, Upper: upper}
	n.OpID = "3-interval-join"
	n.Output.Fields = append(append([]types.Field{}, ivLeft.Fields...), ivRight.Fields...)
	n.Output.Fields[3].Name, n.Output.Fields[5].Name = "k0", "ts0"
	return n
}

// ivRow is one input row; k or ts < 0 is NULL.
type ivRow struct {
	K  int64
	S  string
	Ts int64
}

func ivBatch(sch types.Schema, rows []ivRow) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch.Arrow())
	defer b.Release()
	for _, r := range rows {
		if r.K < 0 {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.Int64Builder).Append(r.K)
		}
		b.Field(1).(*array.StringBuilder).Append(r.S)
		if r.Ts < 0 {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(r.Ts))
		}
	}
	return b.NewRecord()
}

// parseIvRows parses lines "k str ts" (NULL for a null k or ts; ts in ms).
func parseIvRows(t *testing.T, input string) []ivRow {
	var rows []ivRow
	for _, l := range strings.Split(strings.TrimSpace(input), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("row %q: want k str ts", l)
		}
		num := func(s string) int64 {
			if s == "NULL" {
				return -1
			}
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		rows = append(rows, ivRow{K: num(f[0]), S: f[1], Ts: num(f[2])})
	}
	return rows
}

// TestIntervalJoin runs the datadriven file testdata/interval: see it
// for the commands.
func TestIntervalJoin(t *testing.T) {
	var o exec.Operator
	var n *plan.IntervalJoin
	var m *exec.OperatorMetrics
	store := &memStore{m: map[string]string{}}
	open := func(restore bool) string {
		m = &exec.OperatorMetrics{}
		op, err := NewIntervalSubtask(n, m, memory.DefaultAllocator, state.Single(0))
		if err != nil {
			return err.Error()
		}
		o = op
		if restore {
			err = o.Open(context.Background(), store)
		} else {
			err = o.Open(context.Background(), nil)
		}
		if err != nil {
			return err.Error()
		}
		return "ok"
	}
	datadriven.RunTest(t, "testdata/interval", func(t *testing.T, d *datadriven.TestData) string {
		switch d.Cmd {
		case "new":
			kind := map[string]plan.JoinKind{"INNER": plan.InnerJoin, "LEFT": plan.LeftJoin, "RIGHT": plan.RightJoin, "FULL": plan.FullJoin}
			var typ string
			var lower, upper int64
			d.ScanArgs(t, "type", &typ)
			d.ScanArgs(t, "lower", &lower)
			d.ScanArgs(t, "upper", &upper)
			n = newIntervalJoin(kind[typ], lower, upper)
			store.m = map[string]string{}
			return open(false)
		case "left", "right":
			sch, in := ivLeft, 0
			if d.Cmd == "right" {
				sch, in = ivRight, 1
			}
			rec := ivBatch(sch, parseIvRows(t, d.Input))
			defer rec.Release()
			var c collector
			if err := o.OnBatch(context.Background(), in, rec, &c); err != nil {
				return "error: " + err.Error()
			}
			out := strings.Join(c.rows, "\n")
			if len(c.rows) == 0 {
				out = "(nothing)"
			}
			if late := m.LateRecords.Load(); late > 0 {
				out += fmt.Sprintf("\n%d late so far", late)
			}
			return out
		case "watermark":
			var ms int64
			d.ScanArgs(t, "ms", &ms)
			var c collector
			if err := o.OnWatermark(context.Background(), exec.Watermark(ms), &c); err != nil {
				return "error: " + err.Error()
			}
			c.rows = append(c.rows, fmt.Sprintf("watermark out %d, %d held", o.(exec.WatermarkDelayer).OutputWatermark(exec.Watermark(ms)), m.StateEntries.Load()))
			return strings.Join(c.rows, "\n")
		case "barrier":
			if err := o.OnBarrier(context.Background(), exec.Barrier{CheckpointID: 1}, store, &collector{}); err != nil {
				return "error: " + err.Error()
			}
			return fmt.Sprintf("%d state entries", len(store.m)-1) // the catalog aside
		case "restore":
			return open(true)
		}
		t.Fatalf("unknown command %q", d.Cmd)
		return ""
	})
}
