// Package parser turns StreamSQL text into a syntax tree.
//
// It owns the grammar (built with participle, in grammar.go), the AST types
// in ast.go, the conversion from one to the other (convert.go) and the
// printing of an AST back to SQL (format.go). Every node keeps the position
// where it starts, and every error is an *Error naming file:line:column,
// what was found and what was expected. The parser knows nothing of the
// catalog, of types or of execution: names are resolved by the planner.
//
// Entry points:
//
//   - Parse and ParseOne read statements separated by semicolons.
//   - Every Node has a String method printing canonical SQL that parses
//     again to an equal tree (positions aside): keywords upper-cased,
//     nested operator expressions parenthesised, identifiers quoted with
//     backticks when they were quoted, are reserved words, or are not
//     plain [A-Za-z_][A-Za-z0-9_]* names.
//   - Caret shows an error's source line with a caret under the column.
//   - Split, Complete and Keywords serve the REPL: cutting a script into
//     statements, deciding whether input is ready to run, tab completion.
//
// Reserved words (see keywords.go) can only be identifiers when quoted;
// the other keywords, type names and window function names are ordinary
// identifiers outside the place where they have a meaning.
package parser
