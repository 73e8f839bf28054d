package lookupjoin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/filesystem"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

var (
	inSchema    = types.Schema{Fields: []types.Field{{Name: "k", Type: types.BigIntType}, {Name: "v", Type: types.BigIntType}}}
	tableSchema = types.Schema{Fields: []types.Field{{Name: "k", Type: types.BigIntType}, {Name: "name", Type: types.StringType}}}
)

// sideInput writes a filesystem table of keys 0..n-1 (key k named "n<k>",
// keys divisible by 10 twice) and returns the registry and its options.
func sideInput(t testing.TB, n int) (*connectors.Registry, map[string]string) {
	var b strings.Builder
	for k := 0; k < n; k++ {
		fmt.Fprintf(&b, "%d,n%d\n", k, k)
		if k%10 == 0 {
			fmt.Fprintf(&b, "%d,m%d\n", k, k)
		}
	}
	p := filepath.Join(t.TempDir(), "side.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return connectors.NewRegistry(filesystem.New()), map[string]string{"connector": "filesystem", "path": p, "format": "csv"}
}

// boxedOnly hides a lookup source's LookupInt64s: the lookup join then
// takes the general path (keys as [][]any), as for a jdbc table.
type boxedOnly struct{ Lookups }

func (b boxedOnly) NewLookup(connector string, cfg connectors.LookupConfig) (connectors.LookupSource, error) {
	src, err := b.Lookups.NewLookup(connector, cfg)
	return struct{ connectors.LookupSource }{src}, err
}

func newOp(t testing.TB, kind plan.JoinKind, residual plan.Expr, n int, boxed ...bool) exec.Operator {
	reg, opts := sideInput(t, n)
	src := &plan.Source{Table: "in"}
	src.Output = inSchema
	lj := &plan.LookupJoin{Input: src, Table: "side", Connector: "filesystem", Options: opts, TableSchema: tableSchema,
		Type: kind, InputKeys: []int{0}, TableKeys: []int{0}, Residual: residual}
	lj.OpID = "3-lookup-join"
	lj.Output.Fields = append(append([]types.Field{}, inSchema.Fields...), tableSchema.Fields...)
	if kind == plan.LeftJoin {
		lj.Output.Fields[3].Type = lj.Output.Fields[3].Type.Nullable()
	}
	var lookups Lookups = reg
	if len(boxed) > 0 && boxed[0] {
		lookups = boxedOnly{reg}
	}
	o, err := NewWith(lj, exec.OperatorEnv{Connectors: reg}, lookups)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Open(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func batch(keys []int64, kinds []types.RowKind) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, inSchema.Arrow())
	defer b.Release()
	for i, k := range keys {
		if k < 0 {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.Int64Builder).Append(k)
		}
		b.Field(1).(*array.Int64Builder).Append(int64(i))
	}
	rec := b.NewRecord()
	if kinds == nil {
		return rec
	}
	ka := exec.NewRowKinds(memory.DefaultAllocator, kinds)
	defer ka.Release()
	defer rec.Release()
	return exec.WithRowKinds(rec, ka)
}

type collect struct{ rows []string }

func (c *collect) Emit(_ context.Context, rec arrow.Record) error {
	kinds := exec.RowKinds(rec)
	for r := 0; r < int(rec.NumRows()); r++ {
		cells := []string{exec.RowKindAt(kinds, r).String()}
		for col := 0; col < int(exec.DataColumns(rec)); col++ {
			v, ok := format.FormatValue(rec.Column(col), r)
			if !ok {
				v = "NULL"
			}
			cells = append(cells, v)
		}
		c.rows = append(c.rows, strings.Join(cells, ","))
	}
	return nil
}

// TestLookupJoin pins the rows of INNER and LEFT lookups: keys with two
// rows, a missing key, a NULL key, row kinds kept, a residual condition;
// with the keys looked up as int64s (the filesystem table's
// LookupInt64s) and as [][]any (Lookup).
func TestLookupJoin(t *testing.T) {
	keys := []int64{10, 3, 99, -1, 3}
	kinds := []types.RowKind{types.Insert, types.UpdateBefore, types.Insert, types.Insert, types.UpdateAfter}
	// v (the row's index) < 2: rows 0 and 1 pass.
	residual := &plan.Call{Func: "<", Args: []plan.Expr{&plan.ColumnRef{Index: 1, T: types.BigIntType}, &plan.Literal{Value: int64(2), T: types.BigIntType}}, T: types.BooleanType}
	for _, c := range []struct {
		name     string
		kind     plan.JoinKind
		residual plan.Expr
		want     string
	}{
		{"inner", plan.InnerJoin, nil, "+I,10,0,10,n10;+I,10,0,10,m10;-U,3,1,3,n3;+U,3,4,3,n3"},
		{"left", plan.LeftJoin, nil, "+I,10,0,10,n10;+I,10,0,10,m10;-U,3,1,3,n3;+I,99,2,NULL,NULL;+I,NULL,3,NULL,NULL;+U,3,4,3,n3"},
		{"left-residual", plan.LeftJoin, residual, "+I,10,0,10,n10;+I,10,0,10,m10;-U,3,1,3,n3;+I,99,2,NULL,NULL;+I,NULL,3,NULL,NULL;+U,3,4,NULL,NULL"},
	} {
		for _, boxed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/boxed=%v", c.name, boxed), func(t *testing.T) {
				o := newOp(t, c.kind, c.residual, 50, boxed)
				if _, ok := o.(*op).src.(connectors.Int64LookupSource); ok == boxed {
					t.Fatalf("source %T: int64 lookups %v, want %v", o.(*op).src, ok, !boxed)
				}
				rec := batch(keys, kinds)
				defer rec.Release()
				var out collect
				if err := o.OnBatch(context.Background(), 0, rec, &out); err != nil {
					t.Fatal(err)
				}
				if got := strings.Join(out.rows, ";"); got != c.want {
					t.Fatalf("got  %s\nwant %s", got, c.want)
				}
			})
		}
	}
}

type discard struct{}

func (discard) Emit(context.Context, arrow.Record) error { return nil }

// BenchmarkLookupJoin joins 4096-row batches with a filesystem table of
// 10,000 keys held in memory (the cache warm after the first batch): ns/op
// is per input row.
func BenchmarkLookupJoin(b *testing.B) {
	o := newOp(b, plan.InnerJoin, nil, 10_000)
	keys := make([]int64, 4096)
	for i := range keys {
		keys[i] = int64((i * 7919) % 10_000)
	}
	rec := batch(keys, nil)
	defer rec.Release()
	if err := o.OnBatch(context.Background(), 0, rec, discard{}); err != nil { // loads the table
		b.Fatal(err)
	}
	b.ResetTimer()
	for rows := 0; rows < b.N; rows += len(keys) {
		if err := o.OnBatch(context.Background(), 0, rec, discard{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
