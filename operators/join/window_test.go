package join

import (
	"context"
	"fmt"
	"slices"
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

// window join sides: left (ws, we, k BIGINT, s STRING), right (ws, we, k
// BIGINT, t STRING), ws and we TIMESTAMP(3).
var (
	wjLeft  = types.Schema{Fields: []types.Field{{Name: "ws", Type: types.TimestampType}, {Name: "we", Type: types.TimestampType}, {Name: "k", Type: types.BigIntType}, {Name: "s", Type: types.StringType}}}
	wjRight = types.Schema{Fields: []types.Field{{Name: "ws", Type: types.TimestampType}, {Name: "we", Type: types.TimestampType}, {Name: "k", Type: types.BigIntType}, {Name: "t", Type: types.StringType}}}
)

func newWindowJoin(kind plan.JoinKind, residual bool) *plan.WindowJoin {
	l := &plan.Source{Table: "l"}
	l.Output, l.OpID = wjLeft, "1-source-l"
	r := &plan.Source{Table: "r"}
	r.Output, r.OpID = wjRight, "2-source-r"
	n := &plan.WindowJoin{Left: l, Right: r, Type: kind, LeftKeys: []int{0, 1, 2}, RightKeys: []int{0, 1, 2},
		Window: plan.Window{Kind: plan.Tumble, Size: 10, TimeCol: 1}}
	n.OpID = "3-window-join"
	for i, f := range append(append([]types.Field(nil), wjLeft.Fields...), wjRight.Fields...) {
		if i >= 4 && kind.LeftOnly() {
			break // a semi (anti) join's output is the left rows
		}
		if i >= 4 {
			f.Name += "0"
		}
		if i < 4 && kind.RightOuter() || i >= 4 && kind.LeftOuter() {
			f.Type = f.Type.Nullable()
		}
		n.Output.Fields = append(n.Output.Fields, f)
	}
	if residual {
		n.Residual = &plan.Call{Func: "<", Args: []plan.Expr{
			&plan.ColumnRef{Index: 3, Name: "s", T: types.StringType}, &plan.ColumnRef{Index: 7, Name: "t", T: types.StringType}}, T: types.BooleanType}
	}
	return n
}

// wjBatch builds a batch from lines "start end k str" (k may be NULL).
func wjBatch(t *testing.T, sch types.Schema, lines []string) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch.Arrow())
	defer b.Release()
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 4 {
			t.Fatalf("row %q: want start end k str", l)
		}
		for c := range 3 {
			if f[c] == "NULL" {
				b.Field(c).AppendNull()
				continue
			}
			v, err := strconv.ParseInt(f[c], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			if c < 2 {
				b.Field(c).(*array.TimestampBuilder).Append(arrow.Timestamp(v))
			} else {
				b.Field(c).(*array.Int64Builder).Append(v)
			}
		}
		b.Field(3).(*array.StringBuilder).Append(f[3])
	}
	return b.NewRecord()
}

// TestWindowJoin runs testdata/window: see there for the commands.
func TestWindowJoin(t *testing.T) {
	var o exec.Operator
	var n *plan.WindowJoin
	var m *exec.OperatorMetrics
	store := &memStore{m: map[string]string{}}
	open := func(restore bool, p, sub int) string {
		s, err := state.NewSubtask(sub, p, 8)
		if err != nil {
			return err.Error()
		}
		m = &exec.OperatorMetrics{}
		op, err := NewWindowSubtask(n, m, memory.DefaultAllocator, s)
		if err != nil {
			return err.Error()
		}
		o = op
		if restore {
			err = o.Open(context.Background(), state.SubtaskReader(store, s.KeyGroups))
		} else {
			err = o.Open(context.Background(), nil)
		}
		if err != nil {
			return err.Error()
		}
		return "ok"
	}
	out := func(c *collector) string {
		s := strings.Join(c.rows, "\n")
		if len(c.rows) == 0 {
			s = "(nothing)"
		}
		if late := m.LateRecords.Load(); late > 0 {
			s += fmt.Sprintf("\nlate: %d", late)
		}
		return s + fmt.Sprintf("\nheld: %d", m.StateEntries.Load())
	}
	datadriven.RunTest(t, "testdata/window", func(t *testing.T, d *datadriven.TestData) string {
		switch d.Cmd {
		case "new":
			kind := map[string]plan.JoinKind{"INNER": plan.InnerJoin, "LEFT": plan.LeftJoin, "RIGHT": plan.RightJoin, "FULL": plan.FullJoin, "SEMI": plan.SemiJoin, "ANTI": plan.AntiJoin}
			var typ string
			d.ScanArgs(t, "type", &typ)
			n = newWindowJoin(kind[typ], d.HasArg("residual"))
			store.m = map[string]string{}
			return open(false, 1, 0)
		case "left", "right":
			sch, in := wjLeft, 0
			if d.Cmd == "right" {
				sch, in = wjRight, 1
			}
			rec := wjBatch(t, sch, strings.Split(strings.TrimSpace(d.Input), "\n"))
			defer rec.Release()
			var c collector
			if err := o.OnBatch(context.Background(), in, rec, &c); err != nil {
				return "error: " + err.Error()
			}
			return out(&c)
		case "watermark":
			var ms int64
			d.ScanArgs(t, "ms", &ms)
			var c collector
			if err := o.OnWatermark(context.Background(), exec.Watermark(ms), &c); err != nil {
				return "error: " + err.Error()
			}
			return out(&c)
		case "barrier":
			if err := o.OnBarrier(context.Background(), exec.Barrier{CheckpointID: 1}, store, &collector{}); err != nil {
				return "error: " + err.Error()
			}
			return fmt.Sprintf("%d state entries", len(store.m)-1) // the catalog aside
		case "restore":
			p, sub := 1, 0
			if d.HasArg("parallelism") {
				d.ScanArgs(t, "parallelism", &p)
				d.ScanArgs(t, "subtask", &sub)
			}
			return open(true, p, sub)
		}
		t.Fatalf("unknown command %q", d.Cmd)
		return ""
	})
}

// TestWindowResidualColumns checks the columns the window join decodes
// for its residual condition: every column the condition reads, in
// each kind of expression, and all of them when one is out of range.
func TestWindowResidualColumns(t *testing.T) {
	col := func(i int) plan.Expr { return &plan.ColumnRef{Index: i, T: types.BigIntType} }
	e := &plan.Call{Func: "AND", T: types.BooleanType, Args: []plan.Expr{
		&plan.Call{Func: ">=", Args: []plan.Expr{col(1), &plan.Literal{Value: int64(1), T: types.BigIntType}}},
		&plan.Case{Whens: []plan.When{{Cond: &plan.Cast{Arg: col(3)}, Result: &plan.UDFCall{Args: []plan.Expr{col(4)}}}}, Else: col(6)},
	}}
	cols := make([]bool, 8)
	if !readColumns(e, cols) {
		t.Fatal("readColumns: false")
	}
	if want := []bool{false, true, false, true, true, false, true, false}; !slices.Equal(cols, want) {
		t.Errorf("columns read %v, want %v", cols, want)
	}
	if readColumns(&plan.Call{Args: []plan.Expr{col(8)}}, make([]bool, 8)) {
		t.Error("readColumns of column 8 of 8: true")
	}
}
