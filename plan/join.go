package plan

import (
	"fmt"
	"strings"
)

// JoinKind is the kind of a join: which sides keep their rows without a
// match (padded with NULLs).
type JoinKind uint8

// The join kinds.
const (
	InnerJoin JoinKind = iota
	LeftJoin
	RightJoin
	FullJoin
	// SemiJoin emits the left rows that have a match (IN, EXISTS); its
	// output is the left input's columns.
	SemiJoin
	// AntiJoin emits the left rows that have none (NOT IN, NOT EXISTS).
	AntiJoin
)

func (k JoinKind) String() string {
	switch k {
	case InnerJoin:
		return "INNER"
	case LeftJoin:
		return "LEFT"
	case RightJoin:
		return "RIGHT"
	case FullJoin:
		return "FULL"
	case SemiJoin:
		return "SEMI"
	case AntiJoin:
		return "ANTI"
	}
	return fmt.Sprintf("JoinKind(%d)", k)
}

// LeftOuter reports whether left rows without a match are emitted.
func (k JoinKind) LeftOuter() bool { return k == LeftJoin || k == FullJoin }

// RightOuter reports whether right rows without a match are emitted.
func (k JoinKind) RightOuter() bool { return k == RightJoin || k == FullJoin }

// LeftOnly reports whether the output is the left rows alone (a semi or
// anti join).
func (k JoinKind) LeftOnly() bool { return k == SemiJoin || k == AntiJoin }

// Join is a regular equi-join (Flink's StreamingJoinOperator): both
// inputs' rows are kept in keyed state by the join key (LeftKeys of the
// left input equal RightKeys of the right, pairwise, of the same types),
// each arriving row is joined with the other side's rows of its key for
// which Residual is TRUE. Rows whose key has a NULL match nothing.
//
// Type says which sides are outer. Its output columns are the left input's, then the right input's (those
// of an outer side's partner nullable); those of the left input alone for
// a semi or anti join, which emits a left row (with its multiplicity)
// while it has a match (semi) or none (anti): inserted when its match
// count goes 0→1 (semi) or it arrives without one (anti), deleted when the
// count goes back to 0 (semi) or its first match arrives (anti), and the
// other way round. Inputs may be updating: a
// retraction retracts the rows it had joined. An outer side's row without
// a match is emitted padded with NULLs (+I) and retracted (-D) when its
// first match arrives, re-inserted when its last match is retracted, as
// Flink does; the output is then a retraction stream even over
// append-only inputs. StateTTL, when positive, drops rows idle for that
// many ms of processing time (table.exec.state.ttl), emitting nothing.
type Join struct {
	Base
	Left, Right         Node
	Type                JoinKind
	LeftKeys, RightKeys []int
	// Residual is the rest of the join condition, over the output schema
	// (left columns, then right columns); nil when there is none.
	Residual Expr
	StateTTL int64
	// InputTTL, from a STATE_TTL hint, overrides StateTTL per input (0
	// left, 1 right): 0 is no override, -1 keeps that input's rows
	// forever, a positive value is its TTL in ms.
	InputTTL [2]int64
	// Names qualifies the condition's columns in EXPLAIN.
	Names Sides
	// Unread lists the output columns no consumer reads (set by the
	// planner's projection pushdown): the operator emits them NULL
	// instead of building them.
	Unread []int
}

// TTL returns the state TTL of input i (ms; 0 keeps its rows forever).
func (n *Join) TTL(i int) int64 {
	switch t := n.InputTTL[i]; {
	case t > 0:
		return t
	case t < 0:
		return 0
	}
	return max(n.StateTTL, 0)
}

var _ Node = (*Join)(nil)

// Inputs implements Node.
func (n *Join) Inputs() []Node { return []Node{n.Left, n.Right} }

// WithInputs implements Node.
func (n *Join) WithInputs(inputs ...Node) Node {
	checkInputs(n, inputs, 2)
	c := *n
	c.Left, c.Right = inputs[0], inputs[1]
	return &c
}

// Kind implements Node.
func (*Join) Kind() string { return "join" }

// Describe implements Node.
func (n *Join) Describe() string {
	l, r := n.Left.Schema(), n.Right.Schema()
	var b strings.Builder
	fmt.Fprintf(&b, "Join type=%s on=[", n.Type)
	n.Names.writePairs(&b, l, n.LeftKeys, r, n.RightKeys)
	b.WriteString("]")
	if n.Residual != nil {
		fmt.Fprintf(&b, " residual=%s", n.Residual)
	}
	switch {
	case n.InputTTL != [2]int64{}:
		fmt.Fprintf(&b, " state-ttl=[left=%dms, right=%dms]", n.TTL(0), n.TTL(1))
	case n.StateTTL > 0:
		fmt.Fprintf(&b, " state-ttl=%dms", n.StateTTL)
	}
	if len(n.Unread) > 0 {
		b.WriteString(" unread=[")
		for i, c := range n.Unread {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(n.Output.Fields[c].Name)
		}
		b.WriteString("]")
	}
	return b.String()
}
