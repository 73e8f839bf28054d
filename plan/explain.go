package plan

import (
	"fmt"
	"strings"
)

// Explain prints the graph for EXPLAIN and golden tests, in two parts.
//
// First the operators: one tree per sink, one node a line, inputs
// indented two spaces below their consumer, each line
//
//	id Describe() (parallelism=N, changelog)
//
// where changelog is append-only, retract or upsert key=[…]. A node shared
// by several consumers (a source read by several INSERTs of a statement
// set) is printed in full once; later lines refer back to it as
// "id (see above)".
//
// Then the tasks (see Tasks), one a line, in dataflow order:
//
//	task N, parallelism P: id -> id -> …
func Explain(g *Graph) string {
	var b strings.Builder
	seen := map[Node]bool{}
	var visit func(Node, int)
	visit = func(n Node, depth int) {
		indent := strings.Repeat("  ", depth)
		if seen[n] {
			fmt.Fprintf(&b, "%s%s (see above)\n", indent, n.ID())
			return
		}
		seen[n] = true
		fmt.Fprintf(&b, "%s%s %s (%s)\n", indent, n.ID(), n.Describe(), props(n))
		for _, in := range n.Inputs() {
			visit(in, depth+1)
		}
	}
	for _, s := range g.Sinks {
		visit(s, 0)
	}
	b.WriteString("tasks:\n")
	for i, t := range Tasks(g) {
		ids := make([]string, len(t.Nodes))
		for j, n := range t.Nodes {
			ids[j] = n.ID()
		}
		fmt.Fprintf(&b, "  task %d, parallelism %d: %s\n", i+1, t.Parallelism, strings.Join(ids, " -> "))
	}
	return b.String()
}

// props prints the parallelism and changelog mode of n for EXPLAIN.
func props(n Node) string {
	p := n.Props()
	s := fmt.Sprintf("parallelism=%d, %s", parallelism(n), p.Changelog)
	if p.Changelog == Upsert {
		ks := make([]string, len(p.UpsertKey))
		for i, k := range p.UpsertKey {
			ks[i] = colName(p.Output, k)
		}
		s += " key=[" + strings.Join(ks, ", ") + "]"
	}
	return s
}
