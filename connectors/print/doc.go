// Package print is the 'print' connector: a sink that writes every row to
// standard output (or any io.Writer given to New) as Flink's print
// connector does, one line per row:
//
//	+I[1, 2024-01-01 00:00:10.000, 5]
//	ident> +I[2, 2024-01-01 00:00:20.000, null]
//	-U[1, 2024-01-01 00:00:10.000, 5]
//	+U[1, 2024-01-01 00:00:10.000, 6]
//	-D[2, 2024-01-01 00:00:20.000, null]
//
// with the optional 'print-identifier' option as prefix. Values are in
// their SQL text form (format.AppendValue); NULL prints as "null", as in
// Flink. Each line starts with its row's kind (exec/rowkind.go): +I for an
// insertion, -U and +U for the old and new rows of an update, -D for a
// deletion; print accepts updating queries.
//
// The print sink is at-least-once: rows are written when they arrive, not
// at a checkpoint, so after a restore the rows written since the last
// completed checkpoint are printed again. Several print sinks sharing one
// writer never interleave within a batch.
package print
