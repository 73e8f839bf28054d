package planner

import (
	"testing"

	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

var abSchema = types.Schema{Fields: []types.Field{{Name: "a", Type: types.BigIntType}, {Name: "b", Type: types.BigIntType}}}

func ref(i int) plan.Expr {
	return &plan.ColumnRef{Index: i, Name: abSchema.Fields[i].Name, T: types.BigIntType}
}

func plus(i, j int) plan.Expr {
	return &plan.Call{Func: "+", Args: []plan.Expr{ref(i), ref(j)}, T: types.BigIntType}
}

func calc(in plan.Node, exprs ...plan.Expr) *plan.Calc {
	c := &plan.Calc{Input: in, Exprs: exprs}
	c.Output = abSchema
	return c
}

func sink(in plan.Node, table string) *plan.Sink {
	s := &plan.Sink{Input: in, Table: table, Connector: "blackhole"}
	s.Output = abSchema
	return s
}

// sharedDAG: two sinks over one Calc (a+b, b) over a Calc (a+b, b) over
// a source; the first sink reads it through a Calc of its own.
func sharedDAG() (*plan.Graph, *plan.Source, *plan.Calc) {
	src := &plan.Source{Table: "t", Connector: "datagen"}
	src.Output = abSchema
	shared := calc(calc(src, plus(0, 1), ref(1)), plus(0, 1), ref(1))
	g := &plan.Graph{Sinks: []*plan.Sink{
		sink(calc(shared, plus(0, 1), ref(1)), "x"),
		sink(shared, "y"),
	}}
	return g, src, shared
}

// TestRewriteVisitsSharedNodeOnce: the generic rewrite calls its rule
// once per node of the DAG, and the consumers of a shared node share its
// rewrite.
func TestRewriteVisitsSharedNodeOnce(t *testing.T) {
	g, src, shared := sharedDAG()
	calls := map[plan.Node]int{}
	out := rewrite(g, func(n plan.Node, _ func(plan.Node) bool) plan.Node {
		calls[n]++
		if c, ok := n.(*plan.Calc); ok {
			// Copy every Calc so the consumers must be rebuilt.
			return c.WithInputs(c.Input)
		}
		return n
	})
	if len(calls) != len(g.Nodes()) {
		t.Errorf("rule called on %d nodes, want %d", len(calls), len(g.Nodes()))
	}
	for n, c := range calls {
		if c != 1 {
			t.Errorf("rule called %d times on %s", c, n.Kind())
		}
	}
	if calls[src] != 1 {
		t.Errorf("rule called %d times on the shared source", calls[src])
	}
	viaX := out.Sinks[0].Input.Inputs()[0]
	viaY := out.Sinks[1].Input
	if viaX != viaY || viaX == plan.Node(shared) {
		t.Errorf("the sinks do not share the rewritten node (%p, %p; original %p)", viaX, viaY, shared)
	}
	if g.Sinks[1].Input != plan.Node(shared) {
		t.Error("rewrite changed the input graph")
	}
}

// TestOptimizeKeepsSharedCalc: fusing Calcs never duplicates a shared
// Calc into its consumers; the chain below it is fused.
func TestOptimizeKeepsSharedCalc(t *testing.T) {
	g, src, _ := sharedDAG()
	out := optimize(g)
	assignIDs(out)
	x, y := out.Sinks[0].Input.(*plan.Calc), out.Sinks[1].Input.(*plan.Calc)
	if x.Input != plan.Node(y) {
		t.Fatalf("sink x reads %s, want the shared calc %s", x.Input.ID(), y.ID())
	}
	if y.Input != plan.Node(src) {
		t.Errorf("the shared calc reads %s, want the source (its inner Calc fused)", y.Input.ID())
	}
	var ids []string
	for _, n := range out.Nodes() {
		ids = append(ids, n.ID())
	}
	want := []string{"1-source-t", "2-calc", "3-calc", "4-sink-x", "5-sink-y"}
	if len(ids) != len(want) {
		t.Fatalf("ids %v, want %v", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("ids %v, want %v", ids, want)
		}
	}
}
