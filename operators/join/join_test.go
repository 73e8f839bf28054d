package join

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/cockroachdb/datadriven"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// memStore is an operator's checkpointed state in memory: barrier deltas
// applied cumulatively.
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

type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

// side schemas: left (k BIGINT, s STRING), right (k BIGINT, t STRING).
var (
	leftSchema  = types.Schema{Fields: []types.Field{{Name: "k", Type: types.BigIntType}, {Name: "s", Type: types.StringType}}}
	rightSchema = types.Schema{Fields: []types.Field{{Name: "k", Type: types.BigIntType}, {Name: "t", Type: types.StringType}}}
)

func newJoin(kind plan.JoinKind, ttl int64) *plan.Join {
	l := &plan.Source{Table: "l"}
	l.Output, l.OpID = leftSchema, "1-source-l"
	r := &plan.Source{Table: "r"}
	r.Output, r.OpID = rightSchema, "2-source-r"
	n := &plan.Join{Left: l, Right: r, Type: kind, LeftKeys: []int{0}, RightKeys: []int{0}, StateTTL: ttl}
	n.OpID = "3-join"
	n.Output.Fields = []types.Field{{Name: "k", Type: types.BigIntType}, {Name: "s", Type: types.StringType}, {Name: "k0", Type: types.BigIntType}, {Name: "t", Type: types.StringType}}
	if kind.LeftOnly() {
		n.Output = leftSchema
	}
	return n
}

// batch builds a batch from lines "KIND k str" (NULL for null).
func batch(t *testing.T, sch types.Schema, lines []string) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch.Arrow())
	defer b.Release()
	var kinds []types.RowKind
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("row %q: want KIND k str", l)
		}
		k, err := types.ParseRowKind(f[0])
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, k)
		if f[1] == "NULL" {
			b.Field(0).AppendNull()
		} else {
			v, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			b.Field(0).(*array.Int64Builder).Append(v)
		}
		b.Field(1).(*array.StringBuilder).Append(f[2])
	}
	rec := b.NewRecord()
	ka := exec.NewRowKinds(memory.DefaultAllocator, kinds)
	defer ka.Release()
	defer rec.Release()
	return exec.WithRowKinds(rec, ka)
}

// TestJoin runs the datadriven files of testdata of the regular join: see
// testdata/changelog for the commands.
func TestJoin(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		if base := filepath.Base(path); base == "window" || base == "interval" {
			return // TestWindowJoin's, TestIntervalJoin's
		}
		var o exec.Operator
		var n *plan.Join
		clock := &fakeClock{now: time.UnixMilli(1_000_000)}
		store := &memStore{m: map[string]string{}}
		open := func(restore bool) string {
			op, err := NewSubtask(n, &exec.OperatorMetrics{}, memory.DefaultAllocator, clock, state.Single(0))
			if err != nil {
				return err.Error()
			}
			o = op
			var st *memStore
			if restore {
				st = store
			}
			if st == nil {
				err = o.Open(context.Background(), nil)
			} else {
				err = o.Open(context.Background(), st)
			}
			if err != nil {
				return err.Error()
			}
			return "ok"
		}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "new":
				kind := map[string]plan.JoinKind{"INNER": plan.InnerJoin, "LEFT": plan.LeftJoin, "RIGHT": plan.RightJoin, "FULL": plan.FullJoin, "SEMI": plan.SemiJoin, "ANTI": plan.AntiJoin}
				var typ string
				d.ScanArgs(t, "type", &typ)
				var ttl int64
				if d.HasArg("ttl") {
					d.ScanArgs(t, "ttl", &ttl)
				}
				n = newJoin(kind[typ], ttl)
				for i, side := range []string{"left-ttl", "right-ttl"} {
					if d.HasArg(side) {
						d.ScanArgs(t, side, &n.InputTTL[i])
					}
				}
				store.m = map[string]string{}
				return open(false)
			case "left", "right":
				sch, in := leftSchema, 0
				if d.Cmd == "right" {
					sch, in = rightSchema, 1
				}
				rec := batch(t, sch, strings.Split(strings.TrimSpace(d.Input), "\n"))
				defer rec.Release()
				var c collector
				if err := o.OnBatch(context.Background(), in, rec, &c); err != nil {
					return "error: " + err.Error()
				}
				if len(c.rows) == 0 {
					return "(nothing)"
				}
				return strings.Join(c.rows, "\n")
			case "advance":
				var ms int64
				d.ScanArgs(t, "ms", &ms)
				clock.now = clock.now.Add(time.Duration(ms) * time.Millisecond)
				return "ok"
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
	})
}
