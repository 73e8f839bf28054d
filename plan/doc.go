// Package plan holds the physical plan: plain data that the planner
// produces and exec builds running operators from. A plan is a tree of
// nodes (sources at the leaves, a sink at the root), each with a stable
// operator id derived from its place in the plan, its output schema and its
// configuration; scalar expressions in it are bound and typed (columns are
// referenced by index). Plan values are immutable once built.
//
// The package knows nothing of SQL text (beyond what EXPLAIN prints), of
// goroutines, of Arrow arrays or of connectors' internals.
package plan
