package plan

import (
	"fmt"
	"strings"

	"github.com/streamsql/streamsql/types"
)

// Node is one operator of a physical plan: a vertex of a DAG whose edges
// run from a node's Inputs to it. A node may feed several consumers (the
// INSERTs of a statement set share the Source of a table they all read);
// code that walks a plan visits a shared node once (see Graph.Nodes and
// Walk). Nodes are immutable once planned: rewrites copy them with
// WithInputs.
//
// Generic code (rewrites, id assignment, EXPLAIN, the runtime's builder)
// needs only Inputs, WithInputs, Kind and Props; only the code that knows
// a node kind's configuration switches on its type.
type Node interface {
	// ID is the operator's stable id, derived from its place in the plan
	// and its kind (e.g. "2-window-agg"); checkpointed state is keyed by it,
	// so the same query planned again gets the same ids.
	ID() string
	// Schema is the schema of the rows the node emits.
	Schema() types.Schema
	// Inputs returns the node's inputs, in input order (nil for a source).
	// The caller must not modify the slice.
	Inputs() []Node
	// WithInputs returns a shallow copy of the node with its inputs
	// replaced by inputs, which must have the length of Inputs().
	WithInputs(inputs ...Node) Node
	// Describe prints the node's kind and configuration on one line, for
	// EXPLAIN.
	Describe() string
	// Kind names the node's kind, as its id does: "source-<table>",
	// "calc", "window-agg", "window-assign", "limit", "union", "exchange",
	// "sink" (the client of a bare SELECT) or "sink-<table>".
	Kind() string
	// Props returns the node's common properties, which the planner sets
	// while the node is its own (before the plan is handed out).
	Props() *Base
}

// Base holds what every node has. The planner sets it; the runtime reads
// it.
type Base struct {
	OpID   string
	Output types.Schema
	// Parallelism is the number of subtasks the node runs as, >= 1 once
	// planned.
	Parallelism int
	// Changelog is the kind of rows the node emits.
	Changelog Changelog
	// UpsertKey holds the output columns of the key when Changelog is
	// Upsert.
	UpsertKey []int
}

// ID implements Node.
func (b *Base) ID() string { return b.OpID }

// Schema implements Node.
func (b *Base) Schema() types.Schema { return b.Output }

// Props implements Node.
func (b *Base) Props() *Base { return b }

// Changelog is the kind of rows a node emits: a stream of inserts only, or
// one that also updates and deletes rows it emitted before.
type Changelog uint8

// The changelog modes.
const (
	// AppendOnly: every row is an insert (+I).
	AppendOnly Changelog = iota
	// Upsert: rows are inserts or updates (+I, +U) and deletes (-D) of the
	// row with the same UpsertKey; no update-before rows.
	Upsert
	// Retract: any row kind (+I, -U, +U, -D); an update is a -U of the old
	// row followed by a +U of the new one.
	Retract
)

func (c Changelog) String() string {
	switch c {
	case AppendOnly:
		return "append-only"
	case Upsert:
		return "upsert"
	case Retract:
		return "retract"
	}
	return fmt.Sprintf("Changelog(%d)", c)
}

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
	// Columns, when not nil, lists (ascending) the output columns the job
	// reads, for a connector that can skip the others (see the planner's
	// projection pushdown): the source still emits rows of Output's width,
	// with NULL in the columns it skipped, which no consumer reads. Nil
	// when the source produces every column. It is no part of the
	// source's checkpointed state: a job restored with other Columns
	// resumes at the same offsets.
	Columns []int
	// Zone, when not UTC, is the session time zone in which the source
	// reads TIMESTAMP_LTZ text that names no zone (the zone the sinks
	// write LTZ values in, Sink.Zone).
	Zone *types.Zone
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
//
// ProcTime marks a window over a processing-time attribute (a PROCTIME()
// column): a row belongs to the windows of the operator's clock when it
// arrives, whatever TimeCol holds, and windows fire when the clock passes
// their end (exec.ProcessingTimer), not on watermarks; at the end of a
// bounded input every open window fires.
type Window struct {
	Kind                   WindowKind
	TimeCol                int // input column holding the event time
	Size, Slide, Step, Gap int64
	Offset                 int64
	ProcTime               bool
	// Zone, for a window over a TIMESTAMP_LTZ time attribute (an event
	// time or PROCTIME()), is the session time zone whose local time the
	// windows are aligned in (a day window starts at local midnight);
	// window_start and window_end are local TIMESTAMPs, window_time the
	// instant of window_end, less 1 ms. Nil (UTC) for a TIMESTAMP one.
	Zone *types.Zone
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
	if w.ProcTime {
		off += ", proctime"
	}
	if !w.Zone.IsUTC() {
		off += ", zone=" + w.Zone.String()
	}
	switch w.Kind {
	case Tumble:
		return fmt.Sprintf("TUMBLE(time=%s, size=%dms%s)", timeCol, w.Size, off)
	case Hop:
		return fmt.Sprintf("HOP(time=%s, slide=%dms, size=%dms%s)", timeCol, w.Slide, w.Size, off)
	case Cumulate:
		return fmt.Sprintf("CUMULATE(time=%s, step=%dms, size=%dms%s)", timeCol, w.Step, w.Size, off)
	case Session:
		return fmt.Sprintf("SESSION(time=%s, gap=%dms%s)", timeCol, w.Gap, off)
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
//
// With an emit strategy the output is a changelog (Retract): AllowLateness
// (ms, table.exec.emit.allow-lateness) keeps a fired window until the
// watermark passes window_end - 1 + AllowLateness, and a row for it
// updates its result (-U old, +U new); EarlyFire (ms of processing time,
// table.exec.emit.early-fire.delay) emits the partial results of open
// windows that changed, that often (+I, then -U/+U); LateFire (ms of
// processing time, table.exec.emit.late-fire.delay, with AllowLateness)
// emits the late updates of fired windows that often instead of after
// every batch. For SESSION windows a late row may move a fired session's
// bounds or merge sessions: their emitted rows are retracted (-D) and the
// new one inserted. All are 0 without a strategy.
type WindowAgg struct {
	Base
	Input         Node
	Window        Window
	Keys          []int // input columns of the GROUP BY keys (without window columns)
	Aggs          []AggCall
	AllowLateness int64
	EarlyFire     int64
	LateFire      int64
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

// Union is UNION ALL: it emits the rows of every input as they come. The
// inputs' schemas are identical (the planner casts where they differ); its
// event time is the minimum of its inputs' watermarks.
type Union struct {
	Base
	Ins []Node
}

// Distribution is how an Exchange routes rows to the subtasks of its
// consumer.
type Distribution uint8

// The distributions.
const (
	// Hash sends each row to the subtask that owns its key's key group.
	Hash Distribution = iota
	// Single sends every row to subtask 0.
	Single
)

func (d Distribution) String() string {
	switch d {
	case Hash:
		return "hash"
	case Single:
		return "single"
	}
	return fmt.Sprintf("Distribution(%d)", d)
}

// Exchange repartitions its input's rows for its consumer: Hash by Keys
// (input columns) into key groups, each key group owned by one subtask of
// the consumer; Single sends everything to subtask 0. Its Parallelism is
// its consumer's; its input may run at another. It is not numbered: its id
// is its input's id with "-exchange" appended. Between two nodes of
// parallelism 1 it costs nothing (the runtime chains it).
type Exchange struct {
	Base
	Input Node
	Dist  Distribution
	Keys  []int
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
	// Zone, when not UTC, is the session time zone the sink shows its
	// TIMESTAMP_LTZ columns in: their Arrow type names it (see
	// types.Zone.ArrowLTZ), so text formats print local times.
	Zone *types.Zone
}

// Compile-time checks that every node kind is a Node.
var (
	_ Node = (*Source)(nil)
	_ Node = (*Calc)(nil)
	_ Node = (*WindowAgg)(nil)
	_ Node = (*WindowAssign)(nil)
	_ Node = (*Limit)(nil)
	_ Node = (*Union)(nil)
	_ Node = (*Exchange)(nil)
	_ Node = (*Sink)(nil)
)

// Inputs implementations.

func (*Source) Inputs() []Node         { return nil }
func (n *Calc) Inputs() []Node         { return []Node{n.Input} }
func (n *WindowAgg) Inputs() []Node    { return []Node{n.Input} }
func (n *WindowAssign) Inputs() []Node { return []Node{n.Input} }
func (n *Limit) Inputs() []Node        { return []Node{n.Input} }
func (n *Union) Inputs() []Node        { return n.Ins }
func (n *Exchange) Inputs() []Node     { return []Node{n.Input} }
func (n *Sink) Inputs() []Node         { return []Node{n.Input} }

// WithInputs implementations.

func (n *Source) WithInputs(inputs ...Node) Node {
	checkInputs(n, inputs, 0)
	c := *n
	return &c
}

func (n *Calc) WithInputs(inputs ...Node) Node {
	checkInputs(n, inputs, 1)
	c := *n
	c.Input = inputs[0]
	return &c
}

func (n *WindowAgg) WithInputs(inputs ...Node) Node {
	checkInputs(n, inputs, 1)
	c := *n
	c.Input = inputs[0]
	return &c
}

func (n *WindowAssign) WithInputs(inputs ...Node) Node {
	checkInputs(n, inputs, 1)
	c := *n
	c.Input = inputs[0]
	return &c
}

func (n *Limit) WithInputs(inputs ...Node) Node {
	checkInputs(n, inputs, 1)
	c := *n
	c.Input = inputs[0]
	return &c
}

func (n *Union) WithInputs(inputs ...Node) Node {
	checkInputs(n, inputs, len(n.Ins))
	c := *n
	c.Ins = append([]Node(nil), inputs...)
	return &c
}

func (n *Exchange) WithInputs(inputs ...Node) Node {
	checkInputs(n, inputs, 1)
	c := *n
	c.Input = inputs[0]
	return &c
}

func (n *Sink) WithInputs(inputs ...Node) Node {
	checkInputs(n, inputs, 1)
	c := *n
	c.Input = inputs[0]
	return &c
}

// checkInputs panics when a WithInputs call breaks its contract: that is a
// bug of the caller, never of the plan.
func checkInputs(n Node, inputs []Node, want int) {
	if len(inputs) != want {
		panic(fmt.Sprintf("plan: %s.WithInputs: %d inputs, want %d", n.Kind(), len(inputs), want))
	}
}

// Kind implementations.

func (n *Source) Kind() string     { return "source-" + strings.ToLower(n.Table) }
func (*Calc) Kind() string         { return "calc" }
func (*WindowAgg) Kind() string    { return "window-agg" }
func (*WindowAssign) Kind() string { return "window-assign" }
func (*Limit) Kind() string        { return "limit" }
func (*Union) Kind() string        { return "union" }
func (*Exchange) Kind() string     { return "exchange" }
func (n *Sink) Kind() string {
	if n.Table == "" {
		return "sink"
	}
	return "sink-" + strings.ToLower(n.Table)
}

// Describe implementations.

func (n *Source) Describe() string {
	s := fmt.Sprintf("Source table=%s connector=%s", n.Table, n.Connector)
	switch w := n.Watermark; {
	case w != nil && w.TimeCol >= 0:
		s += fmt.Sprintf(" watermark=[%s: %s]", n.Output.Fields[w.TimeCol].Name, w.Expr)
	case w != nil: // on a computed column, which the source does not output
		s += fmt.Sprintf(" watermark=[%s]", w.Expr)
	}
	if n.Columns != nil {
		names := make([]string, len(n.Columns))
		for i, c := range n.Columns {
			names[i] = colName(n.Output, c)
		}
		s += " columns=[" + strings.Join(names, ", ") + "]"
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
	if n.AllowLateness > 0 {
		fmt.Fprintf(&b, " allow-lateness=%dms", n.AllowLateness)
	}
	if n.EarlyFire > 0 {
		fmt.Fprintf(&b, " early-fire=%dms", n.EarlyFire)
	}
	if n.LateFire > 0 {
		fmt.Fprintf(&b, " late-fire=%dms", n.LateFire)
	}
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

func (n *Union) Describe() string { return fmt.Sprintf("Union all inputs=%d", len(n.Ins)) }

func (n *Exchange) Describe() string {
	if n.Dist != Hash {
		return "Exchange dist=" + n.Dist.String()
	}
	in := n.Input.Schema()
	ks := make([]string, len(n.Keys))
	for i, k := range n.Keys {
		ks[i] = colName(in, k)
	}
	return "Exchange dist=hash keys=[" + strings.Join(ks, ", ") + "]"
}

func (n *Sink) Describe() string {
	if n.Table == "" {
		return "Sink connector=" + n.Connector
	}
	return fmt.Sprintf("Sink table=%s connector=%s", n.Table, n.Connector)
}
