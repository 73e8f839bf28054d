package plan

// LateRowsOption is the table option naming the table into which the
// rows of a source table that operators drop as late are written. The
// planner reads it; connectors never see it as theirs.
const LateRowsOption = "scan.late-rows.table"

// LateRows is the side output of an operator that drops late rows (a
// window aggregation): it emits the rows its input drops as late, which
// reach it on their own edge, never the input's regular output. Its schema
// is the schema of its input's input (the rows as the dropping operator
// received them); a Calc above it picks the columns of the late-rows
// table ('scan.late-rows.table' on the source) and a Sink writes them, a
// sink of the job like any other (checkpointed, two-phase). Its output is
// append-only. It runs where its input runs.
type LateRows struct {
	Base
	Input Node // the operator whose late rows it carries
}

var _ Node = (*LateRows)(nil)

// Inputs implements Node.
func (n *LateRows) Inputs() []Node { return []Node{n.Input} }

// WithInputs implements Node.
func (n *LateRows) WithInputs(inputs ...Node) Node {
	checkInputs(n, inputs, 1)
	c := *n
	c.Input = inputs[0]
	return &c
}

// Kind implements Node.
func (*LateRows) Kind() string { return "late-rows" }

// Describe implements Node.
func (n *LateRows) Describe() string { return "LateRows of=" + n.Input.ID() }
