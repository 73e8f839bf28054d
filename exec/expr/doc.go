// Package expr compiles the bound, typed scalar expressions of package plan
// (plan.ColumnRef, plan.Literal, plan.Call, plan.Cast, plan.Case) into
// evaluators that compute a whole Arrow array per record batch.
//
// Compile is called once per expression; the evaluator it returns is then
// applied to every batch. Kernels are written over the typed value slices
// and validity bitmaps of Arrow arrays, with the operator and the operand
// types chosen once, at compile time: there is no per-row interface
// dispatch or allocation on the hot path of numeric and boolean
// expressions. Literal operands are kept as scalars and get their own
// kernels, so `a > 1` never materializes a column of ones.
//
// Semantics follow Flink SQL:
//
//   - AND, OR and NOT use three-valued logic (FALSE AND NULL is FALSE,
//     TRUE OR NULL is TRUE); every other operator and function returns NULL
//     when an operand is NULL, except the IS_* tests (never NULL),
//     COALESCE, IF and CASE (a NULL condition counts as not true).
//   - Integer arithmetic wraps on overflow like Java int and long; integer
//     division truncates toward zero; % is MOD with the sign of the
//     dividend. Division or MOD by zero of integers and decimals is the
//     runtime error "division by zero"; FLOAT and DOUBLE follow IEEE 754
//     (Infinity, NaN) as Java does.
//   - DECIMAL values are unscaled 128-bit integers with the type's scale;
//     results are rescaled (half away from zero) to the scale of the plan's
//     result type; a result that does not fit the result precision is NULL,
//     as in Flink.
//   - Branches of CASE, IF and COALESCE and the right operand of AND and OR
//     are evaluated over the whole batch first; if that fails, they are
//     evaluated again over only the rows that need them, so that
//     `CASE WHEN b <> 0 THEN a / b END` does not fail on the rows where b
//     is 0.
//
// The string, regular-expression and date-time functions of Flink
// (REGEXP_EXTRACT, SPLIT_INDEX, DATE_FORMAT, ...) are per-row kernels
// bound once per batch (rowfunc.go): regular expressions are RE2, compiled
// once when constant (regex.go, regexplan.go); date-time patterns are
// Java DateTimeFormatter's letters, in UTC (datefmt.go).
//
// The package also owns the batch helpers that filtering and projection
// operators need (Filter, Project). The text form of values (CAST to and
// from STRING, timestamp literals) is package types'. It knows nothing of
// SQL text, operators or state; it never imports arrow/compute.
package expr
