// Package planner turns parsed statements into physical plans.
//
// It owns the catalog (tables and views declared with CREATE), name and
// type resolution of expressions against it (with "did you mean" hints),
// the detection of windowed aggregations (window table-valued functions and
// the legacy GROUP BY TUMBLE(...) form), and the construction of the
// physical operator tree of package plan, which EXPLAIN prints. Errors name
// the position in the SQL text.
//
// The planner knows nothing of goroutines, Arrow arrays or connectors'
// internals: it validates WITH options through the Validator it is given.
package planner
