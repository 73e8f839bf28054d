// Package planner turns parsed statements into physical plans.
//
// It owns the catalog (tables and views declared with CREATE), name and
// type resolution of expressions against it (with "did you mean" hints),
// the detection of windowed aggregations (window table-valued functions and
// the legacy GROUP BY TUMBLE(...) form), UNION ALL, WITH queries (inlined
// where they are referenced, with.go), VALUES and SELECT without FROM (a
// bounded 'values' source and a Calc picking each row's values,
// values.go), GROUPING SETS / ROLLUP / CUBE (one aggregation per set,
// combined by a UNION ALL, groupingsets.go), and the construction of
// the physical graph of package plan, which EXPLAIN prints: one graph per
// query, INSERT or statement set (whose INSERTs share the sources of the
// tables they read). After building it, the planner rewrites the graph
// with one generic, DAG-aware walk (rewrite.go), puts in the exchanges and
// sets each node's parallelism (physical.go), numbers the nodes and infers
// each node's changelog mode, checking it against what window operators
// and sinks accept. Errors name the position in the SQL text.
//
// The planner knows nothing of goroutines, Arrow arrays or connectors'
// internals: it validates WITH options, and learns which changelog a
// source emits and a sink accepts, through the Validator it is given.
package planner
