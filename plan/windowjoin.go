package plan

import (
	"fmt"
	"strings"
)

// WindowJoin is a window join (Flink's WindowJoinOperator): two inputs
// windowed alike (window TVFs, window aggregations, window Top-N) joined
// on equal windows and equal keys. LeftKeys of the left input equal
// RightKeys of the right, pairwise; the first two of each are the input's
// window_start and window_end columns, the rest the equi-join keys. Rows
// are held per window until the watermark passes window_end - 1; then the
// window's rows are joined (those for which Residual is TRUE match), rows
// of an outer side without a match are emitted padded with NULLs, and the
// window's state is dropped. A row whose window has already closed when
// it arrives is late: dropped and counted. Rows with a NULL equi-key
// match nothing. The output is append-only: the left input's columns,
// then the right input's (those of an outer side's partner nullable).
// A SemiJoin (AntiJoin) emits, when the window closes, the left rows
// with a match (none), its output the left input's columns alone; it has
// no Residual.
//
// Window is the windows both inputs were assigned (for EXPLAIN; its
// TimeCol is the left input's window_end column).
type WindowJoin struct {
	Base
	Left, Right         Node
	Type                JoinKind
	LeftKeys, RightKeys []int
	Window              Window
	// Residual is the rest of the join condition, over the output schema
	// (left columns, then right columns); nil when there is none.
	Residual Expr
	// Names qualifies the condition's columns in EXPLAIN.
	Names Sides
}

var _ Node = (*WindowJoin)(nil)

// Inputs implements Node.
func (n *WindowJoin) Inputs() []Node { return []Node{n.Left, n.Right} }

// WithInputs implements Node.
func (n *WindowJoin) WithInputs(inputs ...Node) Node {
	checkInputs(n, inputs, 2)
	c := *n
	c.Left, c.Right = inputs[0], inputs[1]
	return &c
}

// Kind implements Node.
func (*WindowJoin) Kind() string { return "window-join" }

// Describe implements Node.
func (n *WindowJoin) Describe() string {
	l, r := n.Left.Schema(), n.Right.Schema()
	var b strings.Builder
	fmt.Fprintf(&b, "WindowJoin type=%s window=%s on=[", n.Type, n.Window.Describe(l))
	n.Names.writePairs(&b, l, n.LeftKeys, r, n.RightKeys)
	b.WriteString("]")
	if n.Residual != nil {
		fmt.Fprintf(&b, " residual=%s", n.Residual)
	}
	return b.String()
}
