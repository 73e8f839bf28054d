package plan

import (
	"fmt"
	"strings"

	"github.com/streamsql/streamsql/types"
)

// RankFunc is the window function that numbers a Rank's rows.
type RankFunc uint8

// The rank functions.
const (
	// RowNumber numbers the rows of a partition 1, 2, 3, … (ties get
	// distinct numbers).
	RowNumber RankFunc = iota
	// RankNumber (RANK) gives tied rows the same number and skips the
	// numbers they used: 1, 1, 3.
	RankNumber
	// DenseRank gives tied rows the same number without gaps: 1, 1, 2.
	DenseRank
)

func (f RankFunc) String() string {
	switch f {
	case RowNumber:
		return "ROW_NUMBER"
	case RankNumber:
		return "RANK"
	case DenseRank:
		return "DENSE_RANK"
	}
	return fmt.Sprintf("RankFunc(%d)", f)
}

// SortKey is one ORDER BY item of a Rank: an input column and its
// direction. NULLs sort first ascending and last descending, as in Flink.
type SortKey struct {
	Col  int
	Desc bool
}

// Rank is Flink's Top-N: ROW_NUMBER(), RANK() or DENSE_RANK() OVER
// (PARTITION BY … ORDER BY …) filtered on the number by the outer query
// (rn <= N, rn < N, rn = N, rn BETWEEN M AND N), and ORDER BY … LIMIT N
// of a streaming query (no partition). It keeps, per partition, the rows
// that may rank within [Start, End] and emits the changes of the rows in
// that range: an updating result (+I, -U/+U, -D), as Flink's rank
// operators do. Its input may be updating (a retracted row leaves its
// partition and the next row moves up).
//
// Its output is its input's columns, then, when OutputRank is set, the
// rank number (BIGINT NOT NULL). Changelog is Retract (AppendOnly for a
// window Top-N); with OutputRank and RowNumber, the rows are unique on the
// partition keys and the number.
type Rank struct {
	Base
	Input     Node
	Partition []int // input columns of PARTITION BY
	Order     []SortKey
	Func      RankFunc
	// Start and End bound the rank numbers kept, 1 <= Start <= End.
	Start, End int64
	// OutputRank appends the rank number as the last column.
	OutputRank bool
	// InputUpdating is set (by the planner's changelog inference) when
	// the input may retract rows: then every row of a partition is kept,
	// not only those that may still rank within End.
	InputUpdating bool
	// Window, for a window Top-N (the partition holds the window_start
	// and window_end of a window TVF or window aggregation), is set with
	// WindowEnd the input column of window_end: then a partition's rows
	// are emitted once, as inserts, when the watermark passes its window's
	// end, and its state dropped (append-only, as Flink's WindowRank). A
	// row whose window the watermark has passed is late: dropped and
	// counted.
	Window    bool
	WindowEnd int
	// WindowZone, when not UTC, is the session zone whose local times the
	// window_end values are (a window over a TIMESTAMP_LTZ): a window is
	// closed when the watermark reaches the instant of its end.
	WindowZone *types.Zone
	// KeepFirst is Flink's keep-first deduplication on event time
	// (ROW_NUMBER() … ORDER BY a time attribute ASC, rn = 1, over an
	// append-only input): a partition's earliest row is emitted once,
	// when the watermark passes it (at once if it already has), and the
	// partition's later rows are ignored: append-only.
	KeepFirst bool
	// StateTTL, when positive, is how long (ms of processing time) a
	// partition may stay idle before its state is dropped
	// (table.exec.state.ttl).
	StateTTL int64
}

var _ Node = (*Rank)(nil)

// Inputs implements Node.
func (n *Rank) Inputs() []Node { return []Node{n.Input} }

// WithInputs implements Node.
func (n *Rank) WithInputs(inputs ...Node) Node {
	checkInputs(n, inputs, 1)
	c := *n
	c.Input = inputs[0]
	return &c
}

// Kind implements Node.
func (*Rank) Kind() string { return "rank" }

// Describe implements Node.
func (n *Rank) Describe() string {
	in := n.Input.Schema()
	var b strings.Builder
	fmt.Fprintf(&b, "Rank func=%s partition=[", n.Func)
	for i, k := range n.Partition {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(colName(in, k))
	}
	b.WriteString("] order=[")
	for i, k := range n.Order {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(colName(in, k.Col))
		if k.Desc {
			b.WriteString(" DESC")
		} else {
			b.WriteString(" ASC")
		}
	}
	fmt.Fprintf(&b, "] range=[%d, %d]", n.Start, n.End)
	if n.OutputRank {
		b.WriteString(" output-rank")
	}
	if n.Window {
		fmt.Fprintf(&b, " window-end=%s", colName(in, n.WindowEnd))
	}
	if n.KeepFirst {
		b.WriteString(" keep-first")
	}
	if n.StateTTL > 0 {
		fmt.Fprintf(&b, " state-ttl=%dms", n.StateTTL)
	}
	return b.String()
}
