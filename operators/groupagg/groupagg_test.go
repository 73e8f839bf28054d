package groupagg

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
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/cockroachdb/datadriven"
	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// memStore is an operator's checkpointed state in memory: barrier deltas
// applied cumulatively.
type memStore struct {
	m             map[string]string
	sets, deletes int
}

func newMemStore() *memStore { return &memStore{m: map[string]string{}} }

func (s *memStore) Set(k, v []byte) error { s.m[string(k)] = string(v); s.sets++; return nil }
func (s *memStore) Delete(k []byte) error { delete(s.m, string(k)); s.deletes++; return nil }
func (s *memStore) Scan(fn func(k, v []byte) error) error {
	for _, k := range slices.Sorted(maps.Keys(s.m)) {
		if err := fn([]byte(k), []byte(s.m[k])); err != nil {
			return err
		}
	}
	return nil
}

var _ checkpoint.StateReader = (*memStore)(nil)

// collector formats every emitted row as "+I[a, b]".
type collector struct{ rows []string }

func (c *collector) Emit(_ context.Context, rec arrow.Record) error {
	c.rows = append(c.rows, formatRows(rec)...)
	return nil
}

func formatRows(rec arrow.Record) []string {
	kinds := exec.RowKinds(rec)
	var out []string
	for r := 0; r < int(rec.NumRows()); r++ {
		cells := make([]string, exec.DataColumns(rec))
		for c := range cells {
			v, ok := format.FormatValue(rec.Column(c), r)
			if !ok {
				v = "NULL"
			}
			cells[c] = v
		}
		out = append(out, fmt.Sprintf("%s[%s]", exec.RowKindAt(kinds, r), strings.Join(cells, ", ")))
	}
	return out
}

// fakeClock is the injected processing-time clock.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

// inputSchema is the input of every test operator: k BIGINT, s STRING,
// v BIGINT.
var inputSchema = types.Schema{Fields: []types.Field{
	{Name: "k", Type: types.BigIntType},
	{Name: "s", Type: types.StringType},
	{Name: "v", Type: types.BigIntType},
}}

// newNode returns a GroupAgg over inputSchema. keys are column names;
// aggs are "count", "count(s)", "sum", "min", "max", "avg", "countd" (over
// v) and "min(s)", "max(s)".
func newNode(t testing.TB, keys, aggs []string, mini plan.MiniBatch, ttl int64) *plan.GroupAgg {
	src := &plan.Source{Table: "in"}
	src.Output = inputSchema
	src.OpID = "1-source-in"
	n := &plan.GroupAgg{Input: src, MiniBatch: mini, StateTTL: ttl}
	n.OpID = "2-group-agg"
	for _, k := range keys {
		i := slices.IndexFunc(inputSchema.Fields, func(f types.Field) bool { return f.Name == k })
		if i < 0 {
			t.Fatalf("no column %q", k)
		}
		n.Keys = append(n.Keys, i)
		n.Output.Fields = append(n.Output.Fields, inputSchema.Fields[i])
	}
	for _, a := range aggs {
		c := plan.AggCall{Arg: 2, Filter: -1}
		switch a {
		case "count":
			c.Func, c.Arg, c.T = plan.CountStar, -1, types.BigIntType.WithNotNull(true)
		case "count(s)":
			c.Func, c.Arg, c.T = plan.Count, 1, types.BigIntType.WithNotNull(true)
		case "countd":
			c.Func, c.Distinct, c.T = plan.Count, true, types.BigIntType.WithNotNull(true)
		case "sum":
			c.Func, c.T = plan.Sum, types.BigIntType
		case "avg":
			c.Func, c.T = plan.Avg, types.BigIntType
		case "min", "max":
			c.Func, c.T = map[string]plan.AggFunc{"min": plan.Min, "max": plan.Max}[a], types.BigIntType
		case "min(s)", "max(s)":
			c.Func, c.Arg, c.T = map[string]plan.AggFunc{"min(s)": plan.Min, "max(s)": plan.Max}[a], 1, types.StringType
		default:
			t.Fatalf("unknown aggregate %q", a)
		}
		n.Aggs = append(n.Aggs, c)
		n.Output.Fields = append(n.Output.Fields, types.Field{Name: a, Type: c.T})
	}
	return n
}

// buildBatch builds a batch of inputSchema from lines "KIND k s v" (NULL
// for null); all-insert batches carry no kind column.
func buildBatch(t testing.TB, alloc memory.Allocator, lines []string) arrow.Record {
	b := array.NewRecordBuilder(alloc, inputSchema.Arrow())
	defer b.Release()
	var kinds []types.RowKind
	updating := false
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 4 {
			t.Fatalf("row %q: want KIND k s v", l)
		}
		k, err := types.ParseRowKind(f[0])
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, k)
		updating = updating || k != types.Insert
		for c, v := range f[1:] {
			fb := b.Field(c)
			if v == "NULL" {
				fb.AppendNull()
				continue
			}
			switch fb := fb.(type) {
			case *array.Int64Builder:
				x, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				fb.Append(x)
			case *array.StringBuilder:
				fb.Append(v)
			}
		}
	}
	rec := b.NewRecord()
	if !updating {
		return rec
	}
	ka := exec.NewRowKinds(alloc, kinds)
	defer ka.Release()
	defer rec.Release()
	return exec.WithRowKinds(rec, ka)
}

// TestDataDriven runs testdata/*: see testdata/basic for the commands.
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		alloc := memory.NewCheckedAllocator(memory.DefaultAllocator)
		defer alloc.AssertSize(t, 0)
		var (
			node  *plan.GroupAgg
			op    exec.Operator
			m     *exec.OperatorMetrics
			store = newMemStore()
			clock = &fakeClock{now: time.UnixMilli(1_000_000)}
		)
		open := func(t *testing.T, st checkpoint.StateReader) error {
			if op != nil {
				op.Close()
			}
			m = &exec.OperatorMetrics{}
			var err error
			op, err = NewSubtask(node, m, alloc, clock, state.Single(0))
			if err != nil {
				return err
			}
			return op.Open(context.Background(), st)
		}
		defer func() {
			if op != nil {
				op.Close()
			}
		}()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			var out collector
			ctx := context.Background()
			switch d.Cmd {
			case "init":
				var keys, aggs []string
				var mini plan.MiniBatch
				var ttl int64
				for _, a := range d.CmdArgs {
					switch a.Key {
					case "keys":
						for _, v := range a.Vals {
							if v != "" {
								keys = append(keys, v)
							}
						}
					case "aggs":
						aggs = a.Vals
					case "mini-size":
						mini.Size, _ = strconv.Atoi(a.Vals[0])
					case "mini-latency":
						mini.Latency, _ = strconv.ParseInt(a.Vals[0], 10, 64)
					case "ttl":
						ttl, _ = strconv.ParseInt(a.Vals[0], 10, 64)
					default:
						t.Fatalf("init: unknown argument %q", a.Key)
					}
				}
				node = newNode(t, keys, aggs, mini, ttl)
				store = newMemStore()
				if err := open(t, nil); err != nil {
					return "error: " + err.Error() + "\n"
				}
				return "ok\n"
			case "batch":
				rec := buildBatch(t, alloc, strings.Split(strings.TrimSpace(d.Input), "\n"))
				err := op.OnBatch(ctx, 0, rec, &out)
				rec.Release()
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
			case "watermark":
				if err := op.OnWatermark(ctx, exec.MaxWatermark, &out); err != nil {
					return "error: " + err.Error() + "\n"
				}
			case "barrier":
				store.sets, store.deletes = 0, 0
				if err := op.OnBarrier(ctx, exec.Barrier{CheckpointID: 1}, store, &out); err != nil {
					return "error: " + err.Error() + "\n"
				}
				out.rows = append(out.rows, fmt.Sprintf("set %d, deleted %d, stored %d", store.sets, store.deletes, len(store.m)))
			case "restore":
				if err := open(t, store); err != nil {
					return "error: " + err.Error() + "\n"
				}
			case "advance":
				var ms int64
				d.ScanArgs(t, "ms", &ms)
				clock.now = clock.now.Add(time.Duration(ms) * time.Millisecond)
			default:
				t.Fatalf("unknown command %q", d.Cmd)
			}
			out.rows = append(out.rows, fmt.Sprintf("state=%d in=%d out=%d", m.StateEntries.Load(), m.RecordsIn.Load(), m.RecordsOut.Load()))
			return strings.Join(out.rows, "\n") + "\n"
		})
	})
}
