package server

import (
	"strings"
)

// operatorView is one operator of a job's plan, for the web page's graph.
type operatorView struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Detail string `json:"detail,omitempty"`
	// Inputs are the ids of the operators that feed this one.
	Inputs []string `json:"inputs,omitempty"`
}

// planGraph reads the operators and edges of a plan from its EXPLAIN
// text: one operator a line ("ID Kind details"), each indented two
// spaces under the operator it feeds. Operators come out in the order of
// the text reversed, sources first.
func planGraph(explain string) []operatorView {
	var ops []operatorView
	var stack []int // index in ops of the last operator at each depth
	for line := range strings.Lines(explain) {
		line = strings.TrimRight(line, "\r\n")
		text := strings.TrimLeft(line, " ")
		if text == "" {
			continue
		}
		depth := (len(line) - len(text)) / 2
		id, rest, _ := strings.Cut(text, " ")
		kind, detail, _ := strings.Cut(rest, " ")
		ops = append(ops, operatorView{ID: id, Kind: kind, Detail: detail})
		if depth > len(stack) {
			depth = len(stack) // malformed indentation: attach to the deepest
		}
		stack = append(stack[:depth], len(ops)-1)
		if depth > 0 {
			p := &ops[stack[depth-1]]
			p.Inputs = append(p.Inputs, id)
		}
	}
	for i, j := 0, len(ops)-1; i < j; i, j = i+1, j-1 {
		ops[i], ops[j] = ops[j], ops[i]
	}
	return ops
}
