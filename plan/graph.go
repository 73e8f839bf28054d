package plan

// Graph is the plan of one job: a DAG whose roots are its sinks. A bare
// SELECT or an INSERT has one sink; a statement set has one per INSERT,
// and INSERTs that read the same table share its Source node.
type Graph struct {
	Sinks []*Sink
}

// Nodes returns every node of the graph once, inputs before their
// consumers, in a deterministic order: a post-order walk from each sink in
// turn, inputs in input order. Nodes shared by several consumers appear
// once, where the walk first reaches them.
func (g *Graph) Nodes() []Node {
	var out []Node
	seen := map[Node]bool{}
	var visit func(Node)
	visit = func(n Node) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, in := range n.Inputs() {
			visit(in)
		}
		out = append(out, n)
	}
	for _, s := range g.Sinks {
		visit(s)
	}
	return out
}

// Consumers maps each node of the graph to the nodes that read it, in the
// order of Nodes.
func (g *Graph) Consumers() map[Node][]Node {
	out := map[Node][]Node{}
	for _, n := range g.Nodes() {
		for _, in := range n.Inputs() {
			out[in] = append(out[in], n)
		}
	}
	return out
}

// Walk calls fn for n and every node below it, consumers before their
// inputs, each node once even when several consumers share it.
func Walk(n Node, fn func(Node)) {
	seen := map[Node]bool{}
	var visit func(Node)
	visit = func(n Node) {
		if seen[n] {
			return
		}
		seen[n] = true
		fn(n)
		for _, in := range n.Inputs() {
			visit(in)
		}
	}
	visit(n)
}
