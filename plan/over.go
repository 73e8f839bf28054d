package plan

import (
	"fmt"
	"strings"
)

// OverAgg is OVER aggregation on event time, as Flink's OverAggregate: for
// every input row it computes each aggregate over the row's frame — the
// rows of its partition (Partition columns) ordered by event time (TimeCol,
// ascending) from Preceding rows (ROWS) or milliseconds (RANGE) before it
// up to the current row — and emits the row followed by the results.
//
// Rows wait in state until the watermark passes their event time, and then
// leave in event-time order (rows of equal time in arrival order): the
// output is append-only. A row whose time the watermark has already passed
// when it arrives is late: it is dropped and counted. In RANGE mode rows of
// equal time are peers: each one's frame holds all of them. In ROWS mode
// the frame counts rows, peers or not, in the order they leave.
//
// Its output columns are the input's, then one per Agg. It needs an
// append-only input. StateTTL, when positive, is how long (ms of processing
// time) a partition may stay idle before its state is dropped.
type OverAgg struct {
	Base
	Input     Node
	Partition []int
	TimeCol   int
	Rows      bool
	// Preceding is the frame's start: rows (ROWS) or milliseconds (RANGE)
	// before the current row; -1 for UNBOUNDED PRECEDING.
	Preceding int64
	Aggs      []AggCall
	StateTTL  int64
}

var _ Node = (*OverAgg)(nil)

// Inputs implements Node.
func (n *OverAgg) Inputs() []Node { return []Node{n.Input} }

// WithInputs implements Node.
func (n *OverAgg) WithInputs(inputs ...Node) Node {
	checkInputs(n, inputs, 1)
	c := *n
	c.Input = inputs[0]
	return &c
}

// Kind implements Node.
func (*OverAgg) Kind() string { return "over-agg" }

// Frame prints the frame as SQL writes it.
func (n *OverAgg) Frame() string {
	kw := "RANGE"
	if n.Rows {
		kw = "ROWS"
	}
	switch {
	case n.Preceding < 0:
		return kw + " BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
	case n.Rows:
		return fmt.Sprintf("ROWS BETWEEN %d PRECEDING AND CURRENT ROW", n.Preceding)
	}
	return fmt.Sprintf("RANGE BETWEEN %d ms PRECEDING AND CURRENT ROW", n.Preceding)
}

// Describe implements Node.
func (n *OverAgg) Describe() string {
	in := n.Input.Schema()
	var b strings.Builder
	b.WriteString("OverAgg partition=[")
	for i, k := range n.Partition {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(colName(in, k))
	}
	fmt.Fprintf(&b, "] order=[%s ASC] frame=[%s] aggs=[", colName(in, n.TimeCol), n.Frame())
	for i, a := range n.Aggs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.Describe(in))
	}
	b.WriteString("]")
	if n.StateTTL > 0 {
		fmt.Fprintf(&b, " state-ttl=%dms", n.StateTTL)
	}
	return b.String()
}
