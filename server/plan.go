package server

import (
	"strings"

	"github.com/streamsql/streamsql/plan"
)

// operatorView is one operator of a job's plan, for the web page's graph.
type operatorView struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Detail string `json:"detail,omitempty"`
	// Inputs are the ids of the operators that feed this one.
	Inputs []string `json:"inputs,omitempty"`
}

// planGraph lists the operators and edges of a job's plan, sources first
// (inputs before their consumers), each once even when several consumers
// share it. Kind and Detail split the node's EXPLAIN line ("WindowAgg",
// "window=… keys=[…]").
func planGraph(g *plan.Graph) []operatorView {
	var ops []operatorView
	for _, n := range g.Nodes() {
		kind, detail, _ := strings.Cut(n.Describe(), " ")
		v := operatorView{ID: n.ID(), Kind: kind, Detail: detail}
		for _, in := range n.Inputs() {
			v.Inputs = append(v.Inputs, in.ID())
		}
		ops = append(ops, v)
	}
	return ops
}
