// Package plan holds the physical plan: plain data that the planner
// produces and exec builds running operators from. A plan is a Graph: a
// DAG of nodes with numbered inputs (sources at the leaves, one sink per
// INSERT of the job at the roots; a node may feed several consumers), each
// with a stable operator id derived from its place in the plan, its output
// schema, parallelism and changelog mode, and its configuration; scalar
// expressions in it are bound and typed (columns are referenced by index).
// Exchange nodes say where rows are repartitioned; Tasks is the one rule
// that chains nodes into tasks, for EXPLAIN and the runtime alike. Plan
// values are immutable once built.
//
// The package knows nothing of SQL text (beyond what EXPLAIN prints), of
// goroutines, of Arrow arrays or of connectors' internals.
package plan
