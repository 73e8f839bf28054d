package plan

import (
	"fmt"
	"strings"
)

// IntervalJoin is an event-time interval join (Flink's interval join):
// an equi-join of two append-only inputs (LeftKeys of the left equal
// RightKeys of the right, pairwise) whose condition also bounds the left
// row's time attribute (column LeftTime) by the right row's (RightTime):
//
//	Lower <= left.time - right.time <= Upper    (milliseconds)
//
// and Residual, when not nil, is TRUE (over the output schema: left
// columns, then right columns). Each side's rows are held only while the
// watermark allows a row of the other side to join them, so state is
// bounded by the interval, not by the stream. Type says which sides are
// outer: an outer row that joined nothing is emitted padded with NULLs
// once the watermark passes the end of its interval. Output is
// append-only; both time columns stay time attributes, and the watermark
// passed downstream is held back by Delay() so that no emitted row is
// late for the consumers.
type IntervalJoin struct {
	Base
	Left, Right         Node
	Type                JoinKind
	LeftKeys, RightKeys []int
	LeftTime, RightTime int
	Lower, Upper        int64
	Residual            Expr
	// Names qualifies the condition's columns in EXPLAIN.
	Names Sides
}

var _ Node = (*IntervalJoin)(nil)

// Inputs implements Node.
func (n *IntervalJoin) Inputs() []Node { return []Node{n.Left, n.Right} }

// WithInputs implements Node.
func (n *IntervalJoin) WithInputs(inputs ...Node) Node {
	checkInputs(n, inputs, 2)
	c := *n
	c.Left, c.Right = inputs[0], inputs[1]
	return &c
}

// Kind implements Node.
func (*IntervalJoin) Kind() string { return "interval-join" }

// Delay is how far (ms) the output watermark is behind the input's: the
// oldest a row the join emits after watermark wm can be is just above
// wm - Delay() (a left row lies at most -Lower behind the right row it
// joins, a right row at most Upper behind the left one).
func (n *IntervalJoin) Delay() int64 { return max(0, -n.Lower, n.Upper) }

// Describe implements Node.
func (n *IntervalJoin) Describe() string {
	l, r := n.Left.Schema(), n.Right.Schema()
	var b strings.Builder
	fmt.Fprintf(&b, "IntervalJoin type=%s on=[", n.Type)
	n.Names.writePairs(&b, l, n.LeftKeys, r, n.RightKeys)
	lt, rt := n.Names.pair(l, n.LeftTime, r, n.RightTime)
	fmt.Fprintf(&b, "] time=[%s BETWEEN %s %s AND %s %s]", lt, rt, signed(n.Lower), rt, signed(n.Upper))
	if n.Residual != nil {
		fmt.Fprintf(&b, " residual=%s", n.Residual)
	}
	fmt.Fprintf(&b, " watermark-delay=%dms", n.Delay())
	return b.String()
}

// signed prints ms as "+ Nms" or "- Nms".
func signed(ms int64) string {
	if ms < 0 {
		return fmt.Sprintf("- %dms", -ms)
	}
	return fmt.Sprintf("+ %dms", ms)
}
