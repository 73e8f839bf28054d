package plan

// TimeSort is ORDER BY a time attribute ascending in a streaming query, as
// Flink's temporal sort: it holds each row until the watermark passes its
// event time, then emits the rows the watermark completed in event-time
// order (rows of equal time in arrival order). A row whose time the
// watermark has already passed when it arrives is late: it is dropped and
// counted. It needs an append-only input and runs as one subtask; its
// output has its input's schema.
type TimeSort struct {
	Base
	Input   Node
	TimeCol int // the input column holding the rows' event time
}

var _ Node = (*TimeSort)(nil)

// Inputs implements Node.
func (n *TimeSort) Inputs() []Node { return []Node{n.Input} }

// WithInputs implements Node.
func (n *TimeSort) WithInputs(inputs ...Node) Node {
	checkInputs(n, inputs, 1)
	c := *n
	c.Input = inputs[0]
	return &c
}

// Kind implements Node.
func (*TimeSort) Kind() string { return "time-sort" }

// Describe implements Node.
func (n *TimeSort) Describe() string {
	return "TimeSort order=[" + colName(n.Input.Schema(), n.TimeCol) + " ASC]"
}
