package plan

import (
	"fmt"
	"strings"

	"github.com/streamsql/streamsql/types"
)

// LookupJoin is a processing-time lookup join (`JOIN t FOR SYSTEM_TIME AS
// OF o.proc_time ON o.k = t.k`, Flink's LookupJoin): each input row is
// joined, when it arrives, with the rows of table Table that the
// connector's lookup source returns for its key (InputKeys of the input
// equal TableKeys of the table, pairwise, of the same types) and for which
// Residual is TRUE. Type is InnerJoin or LeftJoin (an input row without a
// match padded with NULLs). Later changes of the table do not change rows
// already emitted: the output is append-only, and keeps the input's time
// attributes. The node holds no checkpointed state (the connector's cache
// is a cache).
//
// Its output columns are the input's, then the table's (TableSchema, the
// columns the connector produces; nullable in a LEFT join).
type LookupJoin struct {
	Base
	Input       Node
	Table       string
	Connector   string
	Options     map[string]string // the table's WITH clause
	TableSchema types.Schema
	Type        JoinKind
	InputKeys   []int
	TableKeys   []int
	// Residual is the rest of the join condition, over the output schema;
	// nil when there is none.
	Residual Expr
	// Cache describes the connector's cache (for EXPLAIN).
	Cache string
	// Zone, when not UTC, is the session time zone the table's
	// TIMESTAMP_LTZ text is read in (Source.Zone).
	Zone *types.Zone
	// Names qualifies the condition's columns in EXPLAIN (Right: the
	// table's).
	Names Sides
}

var _ Node = (*LookupJoin)(nil)

// Inputs implements Node.
func (n *LookupJoin) Inputs() []Node { return []Node{n.Input} }

// WithInputs implements Node.
func (n *LookupJoin) WithInputs(inputs ...Node) Node {
	checkInputs(n, inputs, 1)
	c := *n
	c.Input = inputs[0]
	return &c
}

// Kind implements Node.
func (*LookupJoin) Kind() string { return "lookup-join" }

// Describe implements Node.
func (n *LookupJoin) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "LookupJoin table=%s connector=%s type=%s on=[", n.Table, n.Connector, n.Type)
	n.Names.writePairs(&b, n.Input.Schema(), n.InputKeys, n.TableSchema, n.TableKeys)
	b.WriteString("]")
	if n.Residual != nil {
		fmt.Fprintf(&b, " residual=%s", n.Residual)
	}
	fmt.Fprintf(&b, " cache=[%s]", n.Cache)
	return b.String()
}

// TemporalJoin is an event-time temporal join (`JOIN rates FOR SYSTEM_TIME
// AS OF o.ts ON o.currency = rates.currency`, Flink's
// TemporalRowTimeJoinOperator): Right is a versioned table, a changelog
// keyed by its PRIMARY KEY (RightKeys, which LeftKeys of the append-only
// Left input equal pairwise) with a rowtime (RightTime). Each left row is
// held until the watermark (the minimum of both inputs') passes its time
// LeftTime, then joined with the version of its key valid at that time:
// the newest right row at or before it, unless that is a deletion; the
// pair must also satisfy Residual. Type is InnerJoin or LeftJoin (a row
// without a version padded with NULLs). A right -U is ignored (its +U is
// the new version); +I and +U start a version at their time, -D ends the
// key's. Versions older than the newest one at or before the watermark
// are dropped. The output is append-only and keeps Left's time attributes.
//
// Its output columns are the left input's, then the right input's
// (nullable in a LEFT join).
type TemporalJoin struct {
	Base
	Left, Right         Node
	Type                JoinKind
	LeftKeys, RightKeys []int
	LeftTime, RightTime int
	// Residual is the rest of the join condition, over the output schema;
	// nil when there is none.
	Residual Expr
	// Names qualifies the condition's columns in EXPLAIN.
	Names Sides
}

var _ Node = (*TemporalJoin)(nil)

// Inputs implements Node.
func (n *TemporalJoin) Inputs() []Node { return []Node{n.Left, n.Right} }

// WithInputs implements Node.
func (n *TemporalJoin) WithInputs(inputs ...Node) Node {
	checkInputs(n, inputs, 2)
	c := *n
	c.Left, c.Right = inputs[0], inputs[1]
	return &c
}

// Kind implements Node.
func (*TemporalJoin) Kind() string { return "temporal-join" }

// Describe implements Node.
func (n *TemporalJoin) Describe() string {
	l, r := n.Left.Schema(), n.Right.Schema()
	var b strings.Builder
	fmt.Fprintf(&b, "TemporalJoin type=%s on=[", n.Type)
	n.Names.writePairs(&b, l, n.LeftKeys, r, n.RightKeys)
	lt, rt := n.Names.pair(l, n.LeftTime, r, n.RightTime)
	fmt.Fprintf(&b, "] as-of=[%s >= %s]", lt, rt)
	if n.Residual != nil {
		fmt.Fprintf(&b, " residual=%s", n.Residual)
	}
	return b.String()
}
