package plan

import (
	"fmt"
	"strings"

	"github.com/streamsql/streamsql/types"
)

// Node is one operator of a physical plan. The set of nodes is closed.
type Node interface {
	// ID is the operator's stable id, derived from its place in the plan
	// and its kind (e.g. "2-window-agg"); checkpointed state is keyed by it,
	// so the same query planned again gets the same ids.
	ID() string
	// Schema is the schema of the rows the node emits.
	Schema() types.Schema
	// Inputs returns the node's children, in input order.
	Inputs() []Node
	// Describe prints the node's kind and configuration on one line, for
	// EXPLAIN.
	Describe() string
}

// Base holds what every node has.
type Base struct {
	OpID   string
	Output types.Schema
}

// ID implements Node.
func (b *Base) ID() string { return b.OpID }

// Schema implements Node.
func (b *Base) Schema() types.Schema { return b.Output }

// Watermark is the event-time declaration of a source table: the rowtime
// column and the watermark expression over the source schema (for
// `WATERMARK FOR ts AS ts - INTERVAL '5' SECOND`, Expr is ts#i - 5000ms).
type Watermark struct {
	TimeCol int
	Expr    Expr
	// IdleTimeout, when positive, is how long (ms of processing time) a
	// split may go without rows before it stops holding the watermark
	// back ('scan.watermark.idle-timeout').
	IdleTimeout int64
	// MaxFuture, when positive, is how far (ms) a row's event time may lie
	// ahead of the wall clock when it is read ('scan.watermark.max-future');
	// a row beyond it is a malformed record.
	MaxFuture int64
}

// Source reads a table through a connector. Its schema is the table's
// physical and metadata columns; computed columns are evaluated by a Calc
// above it.
type Source struct {
	Base
	Table     string
	Connector string
	Options   map[string]string
	Watermark *Watermark // nil when the table declares none
	// Metadata holds, for each output column, the connector metadata key
	// it is read from ("partition", "offset", "timestamp" for Kafka), or ""
	// for a physical column. Nil when the table has no metadata columns.
	Metadata []string
}

// Calc filters then projects: rows where Filter is TRUE (all rows when
// Filter is nil) are kept, and Exprs compute the output columns.
type Calc struct {
	Base
	Input  Node
	Filter Expr
	Exprs  []Expr
}

// WindowKind is the kind of an event-time window.
type WindowKind uint8

// The window kinds.
const (
	Tumble WindowKind = iota + 1
	Hop
	Cumulate
	Session
)

func (k WindowKind) String() string {
	switch k {
	case Tumble:
		return "TUMBLE"
	case Hop:
		return "HOP"
	case Cumulate:
		return "CUMULATE"
	case Session:
		return "SESSION"
	}
	return fmt.Sprintf("WindowKind(%d)", k)
}

// Window describes how rows are assigned to windows, all durations in
// milliseconds. Tumble uses Size; Hop uses Size and Slide; Cumulate uses
// Size (the max size) and Step; Session uses Gap. Offset shifts window
// starts (0 aligns them to the epoch).
type Window struct {
	Kind                   WindowKind
	TimeCol                int // input column holding the event time
	Size, Slide, Step, Gap int64
	Offset                 int64
}

func (w Window) String() string { return w.describe(fmt.Sprintf("#%d", w.TimeCol)) }

// Describe prints the window for EXPLAIN, naming its time column as a
// column of in.
func (w Window) Describe(in types.Schema) string {
	return w.describe(colName(in, w.TimeCol))
}

func (w Window) describe(timeCol string) string {
	off := ""
	if w.Offset != 0 {
		off = fmt.Sprintf(", offset=%dms", w.Offset)
	}
	switch w.Kind {
	case Tumble:
		return fmt.Sprintf("TUMBLE(time=%s, size=%dms%s)", timeCol, w.Size, off)
	case Hop:
		return fmt.Sprintf("HOP(time=%s, slide=%dms, size=%dms%s)", timeCol, w.Slide, w.Size, off)
	case Cumulate:
		return fmt.Sprintf("CUMULATE(time=%s, step=%dms, size=%dms%s)", timeCol, w.Step, w.Size, off)
	case Session:
		return fmt.Sprintf("SESSION(time=%s, gap=%dms)", timeCol, w.Gap)
	}
	return w.Kind.String()
}

// colName is the name of column i of s for EXPLAIN, or #i when s has no
// such column.
func colName(s types.Schema, i int) string {
	if i >= 0 && i < s.Len() {
		return s.Fields[i].Name
	}
	return fmt.Sprintf("#%d", i)
}

// AggFunc is an aggregate function.
type AggFunc uint8

// The aggregate functions.
const (
	CountStar AggFunc = iota + 1
	Count
	Sum
	Avg
	Min
	Max
)

func (f AggFunc) String() string {
	switch f {
	case CountStar:
		return "COUNT(*)"
	case Count:
		return "COUNT"
	case Sum:
		return "SUM"
	case Avg:
		return "AVG"
	case Min:
		return "MIN"
	case Max:
		return "MAX"
	}
	return fmt.Sprintf("AggFunc(%d)", f)
}

// AggCall is one aggregate of a WindowAgg.
type AggCall struct {
	Func     AggFunc
	Arg      int // input column; -1 for COUNT(*)
	Distinct bool
	Filter   int // input BOOLEAN column of a FILTER (WHERE …) clause; -1 when none
	T        types.Type
}

func (a AggCall) String() string { return a.describe(fmt.Sprintf("#%d", a.Arg)) }

// Describe prints the aggregate for EXPLAIN, naming its argument as a
// column of in.
func (a AggCall) Describe(in types.Schema) string {
	s := a.describe(colName(in, a.Arg))
	if a.Filter >= 0 {
		s += " FILTER " + colName(in, a.Filter)
	}
	return s
}

func (a AggCall) describe(arg string) string {
	if a.Func == CountStar {
		return "COUNT(*)"
	}
	d := ""
	if a.Distinct {
		d = "DISTINCT "
	}
	return fmt.Sprintf("%s(%s%s)", a.Func, d, arg)
}

// WindowAgg groups rows by window and key and emits one row per (window,
// key) when the watermark passes the window's end. Its output columns are
// the Keys (in order), then window_start, window_end, window_time
// (window_end - 1ms, a rowtime), then one column per Agg.
type WindowAgg struct {
	Base
	Input  Node
	Window Window
	Keys   []int // input columns of the GROUP BY keys (without window columns)
	Aggs   []AggCall
}

// WindowAssign is a window TVF consumed without aggregation: it emits each
// input row once per window it belongs to, with window_start, window_end
// and window_time (window_end - 1ms, a rowtime) appended to the input's
// columns, as Flink does. Rows whose event time is NULL are dropped.
//
// TUMBLE, HOP and CUMULATE rows are emitted as they arrive (a row's windows
// are listed in Flink's order: HOP latest start first, CUMULATE smallest
// end first). SESSION rows are held, per Partition key, until the watermark
// closes their session (its bounds are known only then); rows arriving for
// a session that has closed are late, dropped and counted.
type WindowAssign struct {
	Base
	Input     Node
	Window    Window
	Partition []int // SESSION: the PARTITION BY input columns
}

// Limit passes on the first N rows of its input; when they have passed,
// the job ends.
type Limit struct {
	Base
	Input Node
	N     int64
}

// Sink writes the rows of its input. Connector "collect" is the client of
// a bare SELECT (the CLI, the REPL or an embedding program).
type Sink struct {
	Base
	Input     Node
	Table     string
	Connector string
	Options   map[string]string
	// Metadata holds, per column, the metadata key the sink writes it to,
	// or "" for a physical column; nil when every column is physical.
	Metadata []string
}

// Inputs implementations.

func (*Source) Inputs() []Node      { return nil }
func (n *Calc) Inputs() []Node      { return []Node{n.Input} }
func (n *WindowAgg) Inputs() []Node { return []Node{n.Input} }
func (n *Sink) Inputs() []Node      { return []Node{n.Input} }
func (n *Limit) Inputs() []Node     { return []Node{n.Input} }

// Inputs implements Node.
func (n *WindowAssign) Inputs() []Node { return []Node{n.Input} }

// Describe implementations.

func (n *Source) Describe() string {
	s := fmt.Sprintf("Source table=%s connector=%s", n.Table, n.Connector)
	if n.Watermark != nil {
		s += fmt.Sprintf(" watermark=[%s: %s]", n.Output.Fields[n.Watermark.TimeCol].Name, n.Watermark.Expr)
	}
	return s
}

func (n *Calc) Describe() string {
	var b strings.Builder
	b.WriteString("Calc")
	if n.Filter != nil {
		fmt.Fprintf(&b, " where=%s", n.Filter)
	}
	b.WriteString(" select=[")
	for i, e := range n.Exprs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s AS %s", e, n.Output.Fields[i].Name)
	}
	b.WriteString("]")
	return b.String()
}

func (n *WindowAgg) Describe() string {
	in := n.Input.Schema()
	var b strings.Builder
	fmt.Fprintf(&b, "WindowAgg window=%s keys=[", n.Window.Describe(in))
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
	return b.String()
}

// Describe implements Node.
func (n *WindowAssign) Describe() string {
	in := n.Input.Schema()
	s := "WindowAssign window=" + n.Window.Describe(in)
	if len(n.Partition) > 0 {
		ps := make([]string, len(n.Partition))
		for i, p := range n.Partition {
			ps[i] = colName(in, p)
		}
		s += " partition=[" + strings.Join(ps, ", ") + "]"
	}
	return s
}

func (n *Limit) Describe() string { return fmt.Sprintf("Limit %d", n.N) }

func (n *Sink) Describe() string {
	if n.Table == "" {
		return "Sink connector=" + n.Connector
	}
	return fmt.Sprintf("Sink table=%s connector=%s", n.Table, n.Connector)
}

// Explain prints the tree rooted at n, one node a line, children indented,
// each line "id Describe() -> schema".
func Explain(n Node) string {
	var b strings.Builder
	explain(&b, n, 0)
	return b.String()
}

func explain(b *strings.Builder, n Node, depth int) {
	fmt.Fprintf(b, "%s%s %s\n", strings.Repeat("  ", depth), n.ID(), n.Describe())
	for _, in := range n.Inputs() {
		explain(b, in, depth+1)
	}
}

// Walk calls fn for n and every node below it, parents first.
func Walk(n Node, fn func(Node)) {
	fn(n)
	for _, in := range n.Inputs() {
		Walk(in, fn)
	}
}
