// Package parser turns StreamSQL text into a syntax tree.
//
// It owns the grammar (built with participle), the AST types in ast.go and
// the printing of an AST back to SQL. Every node keeps the position where
// it starts, and every error names file:line:column and what was expected.
// The parser knows nothing of the catalog, of types or of execution: names
// are resolved by the planner.
package parser
