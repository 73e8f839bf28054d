package plan_test

import (
	"strings"
	"testing"

	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// dag is two sinks over one shared source, one through a Calc.
func dag() (*plan.Graph, *plan.Source) {
	schema := types.Schema{Fields: []types.Field{{Name: "a", Type: types.BigIntType}}}
	src := &plan.Source{Base: plan.Base{OpID: "1-source-t", Output: schema}, Table: "t", Connector: "datagen"}
	calc := &plan.Calc{Base: plan.Base{OpID: "2-calc", Output: schema}, Input: src,
		Exprs: []plan.Expr{&plan.ColumnRef{Index: 0, Name: "a", T: types.BigIntType}}}
	s1 := &plan.Sink{Base: plan.Base{OpID: "3-sink-x", Output: schema}, Input: calc, Table: "x", Connector: "print"}
	s2 := &plan.Sink{Base: plan.Base{OpID: "4-sink-y", Output: schema}, Input: src, Table: "y", Connector: "print"}
	return &plan.Graph{Sinks: []*plan.Sink{s1, s2}}, src
}

func TestGraphNodesVisitsSharedNodeOnce(t *testing.T) {
	g, src := dag()
	var ids []string
	for _, n := range g.Nodes() {
		ids = append(ids, n.ID())
	}
	if got, want := strings.Join(ids, " "), "1-source-t 2-calc 3-sink-x 4-sink-y"; got != want {
		t.Errorf("Nodes() = %s, want %s", got, want)
	}
	if c := g.Consumers()[src]; len(c) != 2 {
		t.Errorf("source has %d consumers, want 2", len(c))
	}
	seen := 0
	plan.Walk(g.Sinks[0], func(n plan.Node) {
		if n == plan.Node(src) {
			seen++
		}
	})
	if seen != 1 {
		t.Errorf("Walk visited the source %d times, want 1", seen)
	}
}

func TestExplainPrintsSharedNodeOnce(t *testing.T) {
	g, _ := dag()
	got := plan.Explain(g)
	if n := strings.Count(got, "1-source-t Source"); n != 1 {
		t.Errorf("the shared source is described %d times, want 1:\n%s", n, got)
	}
	if !strings.Contains(got, "  1-source-t (see above)\n") {
		t.Errorf("the second sink does not refer back to the source:\n%s", got)
	}
}

func TestWithInputsCopies(t *testing.T) {
	g, src := dag()
	calc := g.Sinks[0].Input.(*plan.Calc)
	other := src.WithInputs().(*plan.Source)
	c2 := calc.WithInputs(other).(*plan.Calc)
	if c2 == calc || c2.Input != plan.Node(other) || calc.Input != plan.Node(src) {
		t.Errorf("WithInputs did not copy: %p %p", c2, calc)
	}
	if c2.Kind() != "calc" || src.Kind() != "source-t" || g.Sinks[0].Kind() != "sink-x" {
		t.Errorf("kinds: %s %s %s", c2.Kind(), src.Kind(), g.Sinks[0].Kind())
	}
}

// TestTasksChainAlongForwardEdges: nodes are chained while no exchange
// and no change of parallelism separates them; a 1→1 exchange is chained;
// a shared input ends its task.
func TestTasksChainAlongForwardEdges(t *testing.T) {
	schema := types.Schema{Fields: []types.Field{{Name: "a", Type: types.BigIntType}}}
	b := func(id string, p int) plan.Base { return plan.Base{OpID: id, Output: schema, Parallelism: p} }
	src := &plan.Source{Base: b("1-source-t", 1), Table: "t"}
	ex1 := &plan.Exchange{Base: b("1-source-t-exchange", 1), Input: src, Keys: []int{0}}
	agg1 := &plan.WindowAgg{Base: b("2-window-agg", 1), Input: ex1, Keys: []int{0}}
	ex2 := &plan.Exchange{Base: b("2-window-agg-exchange", 3), Input: agg1, Keys: []int{0}}
	agg2 := &plan.WindowAgg{Base: b("3-window-agg", 3), Input: ex2, Keys: []int{0}}
	ex3 := &plan.Exchange{Base: b("3-window-agg-exchange", 1), Input: agg2, Dist: plan.Single}
	s1 := &plan.Sink{Base: b("4-sink-x", 1), Input: ex3, Table: "x"}
	s2 := &plan.Sink{Base: b("5-sink-y", 1), Input: agg1, Table: "y"}
	g := &plan.Graph{Sinks: []*plan.Sink{s1, s2}}
	var got []string
	for _, task := range plan.Tasks(g) {
		var ids []string
		for _, n := range task.Nodes {
			ids = append(ids, n.ID())
		}
		got = append(got, strings.Join(ids, ",")+"@"+string(rune('0'+task.Parallelism)))
	}
	want := []string{
		"1-source-t,1-source-t-exchange,2-window-agg@1", // agg1 feeds two consumers: the chain ends there
		"2-window-agg-exchange,3-window-agg@3",
		"3-window-agg-exchange,4-sink-x@1",
		"5-sink-y@1",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("tasks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
