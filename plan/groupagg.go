package plan

import (
	"fmt"
	"strings"
)

// GroupAgg is a non-windowed aggregation (GROUP BY without a window, a
// global aggregation, SELECT DISTINCT): it keeps one group of accumulators
// per key and emits an updating result, as Flink's GroupAggregate does: the
// first row of a key is an insert (+I), each change an update (-U of the
// old row, +U of the new), none when the result did not change. Having,
// when set, is evaluated over the node's output row: a row that stops
// satisfying it is deleted (-D), one that starts again is inserted (+I). A
// group whose rows were all retracted is deleted (-D) and its state
// dropped. Its input may be updating (retractions are folded in).
//
// Its output columns are the Keys (in order), then one column per Agg.
// Changelog is Retract, with UpsertKey the key columns (each key has at
// most one live row).
type GroupAgg struct {
	Base
	Input  Node
	Keys   []int // input columns of the GROUP BY keys
	Aggs   []AggCall
	Having Expr // over the output schema; nil when every row passes
	// MiniBatch, when Size > 0, buffers the input and emits one update per
	// key per batch (table.exec.mini-batch.*).
	MiniBatch MiniBatch
	// StateTTL, when positive, is how long (ms of processing time) a key
	// may stay idle before its state is dropped (table.exec.state.ttl).
	StateTTL int64
	// InputAppendOnly is set (by the planner's changelog inference) when
	// the input has no updates or deletes: MIN and MAX then keep their
	// running extreme alone.
	InputAppendOnly bool
}

// MiniBatch configures the input buffering of an updating operator: the
// buffer is flushed when it holds Size rows, when its oldest row has waited
// Latency ms of processing time (when Latency > 0; checked as rows
// arrive), and before every watermark and barrier.
type MiniBatch struct {
	Size    int
	Latency int64
}

var _ Node = (*GroupAgg)(nil)

// Inputs implements Node.
func (n *GroupAgg) Inputs() []Node { return []Node{n.Input} }

// WithInputs implements Node.
func (n *GroupAgg) WithInputs(inputs ...Node) Node {
	checkInputs(n, inputs, 1)
	c := *n
	c.Input = inputs[0]
	return &c
}

// Kind implements Node.
func (*GroupAgg) Kind() string { return "group-agg" }

// Describe implements Node.
func (n *GroupAgg) Describe() string {
	in := n.Input.Schema()
	var b strings.Builder
	b.WriteString("GroupAgg keys=[")
	for i, k := range n.Keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(colName(in, k))
	}
	b.WriteString("] aggs=[")
	for i, a := range n.Aggs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.Describe(in))
	}
	b.WriteString("]")
	if n.Having != nil {
		fmt.Fprintf(&b, " having=%s", n.Having)
	}
	if n.MiniBatch.Size > 0 {
		fmt.Fprintf(&b, " mini-batch=[size=%d, latency=%dms]", n.MiniBatch.Size, n.MiniBatch.Latency)
	}
	if n.StateTTL > 0 {
		fmt.Fprintf(&b, " state-ttl=%dms", n.StateTTL)
	}
	return b.String()
}
