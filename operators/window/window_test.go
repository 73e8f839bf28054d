package window

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/cockroachdb/datadriven"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// winStore is an in-memory checkpoint store for one operator: it applies
// each barrier's Set and Delete calls cumulatively, as the real store
// does, and scans in key order.
type winStore struct {
	m             map[string]string
	sets, deletes int // during the last barrier
}

func newWinStore() *winStore { return &winStore{m: map[string]string{}} }

func (s *winStore) Set(k, v []byte) error { s.m[string(k)] = string(v); s.sets++; return nil }
func (s *winStore) Delete(k []byte) error { delete(s.m, string(k)); s.deletes++; return nil }

func (s *winStore) Scan(fn func(k, v []byte) error) error {
	for _, k := range slices.Sorted(maps.Keys(s.m)) {
		if err := fn([]byte(k), []byte(s.m[k])); err != nil {
			return err
		}
	}
	return nil
}

func (s *winStore) clone() *winStore { return &winStore{m: maps.Clone(s.m)} }

// winCollector formats every emitted row as one line.
type winCollector struct {
	rows []string
}

func (c *winCollector) Emit(_ context.Context, rec arrow.Record) error {
	c.rows = append(c.rows, formatWinRows(rec)...)
	return nil
}

func formatWinRows(rec arrow.Record) []string {
	var out []string
	kinds := exec.RowKinds(rec)
	for r := 0; r < int(rec.NumRows()); r++ {
		var b strings.Builder
		if kinds != nil {
			b.WriteString(exec.RowKindAt(kinds, r).String() + " ")
		}
		for c := 0; c < int(exec.DataColumns(rec)); c++ {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteString(formatWinValue(rec.Column(c), r))
		}
		out = append(out, b.String())
	}
	return out
}

func formatWinValue(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "NULL"
	}
	switch a := a.(type) {
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10)
	case *array.Int32:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Timestamp:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Float64:
		return strconv.FormatFloat(a.Value(i), 'g', -1, 64)
	case *array.Float32:
		return strconv.FormatFloat(float64(a.Value(i)), 'g', -1, 32)
	case *array.Boolean:
		return strconv.FormatBool(a.Value(i))
	case *array.String:
		return strconv.Quote(a.Value(i))
	case *array.Decimal128:
		return a.Value(i).ToString(a.DataType().(*arrow.Decimal128Type).Scale)
	}
	return a.ValueStr(i)
}

// winSpec describes a window aggregation for tests.
type winSpec struct {
	window          plan.Window
	cols            []types.Field
	keys            []int
	aggs            []plan.AggCall
	lateness, early int64
	lateFire        int64
}

// aggType is the output type the planner gives an aggregate.
func aggType(f plan.AggFunc, arg types.Type) types.Type {
	switch f {
	case plan.CountStar, plan.Count:
		return types.Type{Kind: types.BigInt, NotNull: true}
	case plan.Sum:
		switch arg.Kind {
		case types.Int, types.BigInt:
			return types.BigIntType
		case types.Float, types.Double:
			return types.DoubleType
		case types.Decimal:
			return types.DecimalType(38, arg.Scale)
		}
	case plan.Avg:
		if arg.Kind == types.Decimal {
			return types.DecimalType(38, max(6, arg.Scale))
		}
	}
	return arg.Nullable()
}

func (s *winSpec) plan() *plan.WindowAgg {
	in := types.Schema{Fields: s.cols}
	var out []types.Field
	for _, k := range s.keys {
		out = append(out, s.cols[k])
	}
	ts := types.Type{Kind: types.Timestamp, Precision: 3, NotNull: true}
	out = append(out, types.Field{Name: "window_start", Type: ts}, types.Field{Name: "window_end", Type: ts}, types.Field{Name: "window_time", Type: ts})
	for i, a := range s.aggs {
		out = append(out, types.Field{Name: fmt.Sprintf("a%d", i), Type: a.T})
	}
	src := &plan.Source{Base: plan.Base{OpID: "0-source", Output: in}}
	return &plan.WindowAgg{Base: plan.Base{OpID: "1-window-agg", Output: types.Schema{Fields: out}}, Input: src, Window: s.window, Keys: s.keys, Aggs: s.aggs, AllowLateness: s.lateness, EarlyFire: s.early, LateFire: s.lateFire}
}

func (s *winSpec) colIndex(t testing.TB, name string) int {
	for i, c := range s.cols {
		if c.Name == name {
			return i
		}
	}
	t.Fatalf("unknown column %q", name)
	return -1
}

var winTypeNames = map[string]types.Type{
	"TIMESTAMP": types.TimestampType, "BIGINT": types.BigIntType, "INT": types.IntType,
	"STRING": types.StringType, "BOOLEAN": types.BooleanType, "DOUBLE": types.DoubleType,
	"FLOAT": types.FloatType,
}

func parseWinType(t testing.TB, s string) types.Type {
	if ty, ok := winTypeNames[strings.ToUpper(s)]; ok {
		return ty
	}
	var p, sc int
	if _, err := fmt.Sscanf(strings.ToUpper(s), "DECIMAL(%d,%d)", &p, &sc); err == nil {
		return types.DecimalType(p, sc)
	}
	t.Fatalf("unknown type %q", s)
	return types.Type{}
}

// parseWinSpec reads the input of an init command.
func parseWinSpec(t testing.TB, td *datadriven.TestData) *winSpec {
	s := &winSpec{}
	var kind string
	td.ScanArgs(t, "window", &kind)
	switch kind {
	case "tumble":
		s.window.Kind = plan.Tumble
	case "hop":
		s.window.Kind = plan.Hop
	case "cumulate":
		s.window.Kind = plan.Cumulate
	case "session":
		s.window.Kind = plan.Session
	default:
		t.Fatalf("unknown window %q", kind)
	}
	td.MaybeScanArgs(t, "size", &s.window.Size)
	td.MaybeScanArgs(t, "slide", &s.window.Slide)
	td.MaybeScanArgs(t, "step", &s.window.Step)
	td.MaybeScanArgs(t, "gap", &s.window.Gap)
	td.MaybeScanArgs(t, "offset", &s.window.Offset)
	td.MaybeScanArgs(t, "lateness", &s.lateness)
	td.MaybeScanArgs(t, "early", &s.early)
	td.MaybeScanArgs(t, "late-fire", &s.lateFire)
	for _, line := range strings.Split(td.Input, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "col":
			s.cols = append(s.cols, types.Field{Name: f[1], Type: parseWinType(t, f[2])})
		case "time":
			s.window.TimeCol = s.colIndex(t, f[1])
		case "key":
			s.keys = append(s.keys, s.colIndex(t, f[1]))
		case "agg":
			// agg FUNC [DISTINCT] ARG [FILTER COL]
			a := plan.AggCall{Arg: -1, Filter: -1}
			rest := f[1:]
			switch strings.ToUpper(rest[0]) {
			case "COUNT(*)":
				a.Func = plan.CountStar
			case "COUNT":
				a.Func = plan.Count
			case "SUM":
				a.Func = plan.Sum
			case "AVG":
				a.Func = plan.Avg
			case "MIN":
				a.Func = plan.Min
			case "MAX":
				a.Func = plan.Max
			default:
				t.Fatalf("unknown aggregate %q", rest[0])
			}
			rest = rest[1:]
			if len(rest) > 0 && strings.EqualFold(rest[0], "DISTINCT") {
				a.Distinct = true
				rest = rest[1:]
			}
			if a.Func != plan.CountStar {
				a.Arg = s.colIndex(t, rest[0])
				rest = rest[1:]
			}
			if len(rest) == 2 && strings.EqualFold(rest[0], "FILTER") {
				a.Filter = s.colIndex(t, rest[1])
			}
			var at types.Type
			if a.Arg >= 0 {
				at = s.cols[a.Arg].Type
			}
			a.T = aggType(a.Func, at)
			s.aggs = append(s.aggs, a)
		default:
			t.Fatalf("unknown init line %q", line)
		}
	}
	return s
}

// buildWinRecord builds a batch of rows; each value is nil (NULL), int64,
// float64, string, bool or decimal128.Num, by column type.
func buildWinRecord(alloc memory.Allocator, cols []types.Field, rows [][]any) arrow.Record {
	rb := array.NewRecordBuilder(alloc, types.Schema{Fields: cols}.Arrow())
	defer rb.Release()
	for _, row := range rows {
		for c, v := range row {
			b := rb.Field(c)
			if v == nil {
				b.AppendNull()
				continue
			}
			switch v := v.(type) {
			case int64:
				appendAccInt(b, v)
			case float64:
				appendAccFloat(b, v)
			case string:
				b.(*array.StringBuilder).Append(v)
			case bool:
				b.(*array.BooleanBuilder).Append(v)
			case decimal128.Num:
				b.(*array.Decimal128Builder).Append(v)
			default:
				panic(fmt.Sprintf("value %T", v))
			}
		}
	}
	return rb.NewRecord()
}

// parseWinRows parses comma-separated rows of values.
func parseWinRows(t testing.TB, cols []types.Field, input string) [][]any {
	var rows [][]any
	for _, line := range strings.Split(input, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		fs := strings.Split(line, ",")
		if len(fs) != len(cols) {
			t.Fatalf("row %q has %d values, want %d", line, len(fs), len(cols))
		}
		row := make([]any, len(fs))
		for i, f := range fs {
			f = strings.TrimSpace(f)
			if f == "NULL" {
				continue
			}
			var err error
			switch ty := cols[i].Type; ty.Kind {
			case types.String:
				row[i] = strings.Trim(f, `"`)
			case types.Boolean:
				row[i], err = strconv.ParseBool(f)
			case types.Float, types.Double:
				row[i], err = strconv.ParseFloat(f, 64)
			case types.Decimal:
				row[i], err = decimal128.FromString(f, int32(ty.Precision), int32(ty.Scale))
			default:
				row[i], err = strconv.ParseInt(f, 10, 64)
			}
			if err != nil {
				t.Fatalf("value %q: %v", f, err)
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// TestWindowAggDataDriven runs the scripts in testdata/ (the first, aggs, documents
// the command language in its opening comment).
func TestWindowAggDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		ctx := context.Background()
		alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
		var (
			spec  *winSpec
			op    exec.Operator
			m     *exec.OperatorMetrics
			store = newWinStore()
			late  int64
			clock = &testClock{now: time.UnixMilli(0)}
		)
		closeOp := func() {
			if op != nil {
				if err := op.Close(); err != nil {
					t.Fatal(err)
				}
				op = nil
			}
		}
		defer func() {
			closeOp()
			alloc.AssertSize(t, 0)
		}()
		open := func(st *winStore) string {
			closeOp()
			m = &exec.OperatorMetrics{}
			o, err := NewAggSubtask(spec.plan(), m, alloc, state.Single(0))
			if err != nil {
				return "error: " + err.Error()
			}
			op = o
			if spec.early > 0 || spec.lateFire > 0 {
				op = &timedAgg{windowAggOp: o.(*windowAggOp), clock: clock}
			}
			var err2 error
			if st == nil {
				err2 = op.Open(ctx, nil)
			} else {
				err2 = op.Open(ctx, st)
			}
			late = m.LateRecords.Load()
			if err2 != nil {
				closeOp()
				return "error: " + err2.Error()
			}
			return fmt.Sprintf("ok, %d state entries", m.StateEntries.Load())
		}
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			if op == nil && td.Cmd != "init" && td.Cmd != "restore" {
				return "error: no operator"
			}
			switch td.Cmd {
			case "init":
				spec = parseWinSpec(t, td)
				if !td.HasArg("keep-store") {
					store = newWinStore()
				}
				return open(nil)
			case "restore":
				return open(store)
			case "batch":
				rec := buildWinRecord(alloc, spec.cols, parseWinRows(t, spec.cols, td.Input))
				defer rec.Release()
				c := &winCollector{}
				if err := op.OnBatch(ctx, 0, rec, c); err != nil {
					return "error: " + err.Error()
				}
				out := fmt.Sprintf("state=%d", m.StateEntries.Load())
				if l := m.LateRecords.Load(); l != late {
					out += fmt.Sprintf(" late=+%d", l-late)
					late = l
				}
				if len(c.rows) > 0 {
					out = strings.Join(c.rows, "\n") + "\n" + out
				}
				if pt, ok := op.(exec.ProcessingTimer); ok {
					if at, ok := pt.NextTimer(); ok {
						out += fmt.Sprintf(" timer=%d", at.UnixMilli())
					}
				}
				return out
			case "timer":
				// timer now=N: processing time reaches N (ms).
				var now int64
				td.ScanArgs(t, "now", &now)
				clock.now = time.UnixMilli(now)
				pt, ok := op.(exec.ProcessingTimer)
				if !ok {
					return "error: no processing-time timers"
				}
				c := &winCollector{}
				if at, ok := pt.NextTimer(); ok && !clock.now.Before(at) {
					if err := pt.OnTimer(ctx, clock.now, c); err != nil {
						return "error: " + err.Error()
					}
				}
				if len(c.rows) == 0 {
					return fmt.Sprintf("(no rows) state=%d", m.StateEntries.Load())
				}
				return strings.Join(c.rows, "\n") + fmt.Sprintf("\nstate=%d", m.StateEntries.Load())
			case "watermark":
				var arg string
				td.ScanArgs(t, "wm", &arg)
				wm := exec.MaxWatermark
				if arg != "max" {
					v, err := strconv.ParseInt(arg, 10, 64)
					if err != nil {
						t.Fatal(err)
					}
					wm = exec.Watermark(v)
				}
				c := &winCollector{}
				if err := op.OnWatermark(ctx, wm, c); err != nil {
					return "error: " + err.Error()
				}
				if len(c.rows) == 0 {
					return fmt.Sprintf("(no rows) state=%d", m.StateEntries.Load())
				}
				names := strings.Join(spec.plan().Schema().Names(), ", ")
				return names + "\n" + strings.Join(c.rows, "\n") + fmt.Sprintf("\nstate=%d", m.StateEntries.Load())
			case "barrier":
				store.sets, store.deletes = 0, 0
				c := &winCollector{}
				if err := op.OnBarrier(ctx, exec.Barrier{CheckpointID: 1}, store, c); err != nil {
					return "error: " + err.Error()
				}
				out := fmt.Sprintf("set %d, deleted %d, stored %d", store.sets, store.deletes, len(store.m))
				if len(c.rows) > 0 {
					out = strings.Join(c.rows, "\n") + "\n" + out
				}
				return out
			case "stats":
				return fmt.Sprintf("in=%d out=%d late=%d state=%d", m.RecordsIn.Load(), m.RecordsOut.Load(), m.LateRecords.Load(), m.StateEntries.Load())
			}
			t.Fatalf("unknown command %q", td.Cmd)
			return ""
		})
	})
}

// testClock is a clock the "timer" command sets.
type testClock struct{ now time.Time }

func (c *testClock) Now() time.Time { return c.now }
