package exec

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/types"
)

// Row kinds in batches.
//
// A batch whose rows are not all inserts carries one extra, last column
// named RowKindColumn ("$row_kind") of Arrow type Int8 holding each row's
// types.RowKind (0 +I, 1 -U, 2 +U, 3 -D; never null). A batch without that
// column is all inserts, so append-only streams pay nothing: no column, no
// allocation, no copy. Plan schemas (plan.Node.Schema) never include the
// column; a batch has Schema().Len() data columns, plus the kind column
// when it has one.
//
// How an operator keeps the column with its rows:
//   - An operator that passes rows through unchanged (union, exchange)
//     forwards the record as it is: the column travels with it.
//   - An operator that drops rows (a filter, limit) selects the kind
//     column with the same selection as the data columns; expr.Filter and
//     Record.NewSlice already do, since they treat every column alike.
//   - An operator that computes new columns from its input (calc) takes
//     kinds := RowKinds(in) before projecting, evaluates its expressions
//     (they only refer to data columns, so the extra column is invisible to
//     them) and emits WithRowKinds(projected, kinds), which appends the
//     kinds (nil: returns the projection itself) and releases nothing.
//   - An operator that only accepts inserts (the window operators) is
//     never fed updates (the planner guarantees it); it may check
//     RowKinds(rec) == nil defensively.
//   - Sinks that accept only inserts likewise never see the column; sinks
//     that accept updates (print, collect) read each row's kind with
//     RowKindAt.

// RowKindColumn is the name of the row-kind column.
const RowKindColumn = "$row_kind"

// rowKindField is the Arrow field of the row-kind column.
var rowKindField = arrow.Field{Name: RowKindColumn, Type: arrow.PrimitiveTypes.Int8}

// RowKinds returns the row-kind column of rec, or nil when rec has none
// (all its rows are inserts). The array is rec's: valid while rec is.
func RowKinds(rec arrow.Record) *array.Int8 {
	n := int(rec.NumCols())
	if n == 0 || rec.ColumnName(n-1) != RowKindColumn {
		return nil
	}
	a, _ := rec.Column(n - 1).(*array.Int8)
	return a
}

// DataColumns returns the number of data columns of rec: its columns
// without the row-kind column.
func DataColumns(rec arrow.Record) int64 {
	if RowKinds(rec) != nil {
		return rec.NumCols() - 1
	}
	return rec.NumCols()
}

// RowKindAt returns the kind of row i given the kind column of its batch
// (nil: every row is an insert).
func RowKindAt(kinds *array.Int8, i int) types.RowKind {
	if kinds == nil {
		return types.Insert
	}
	return types.RowKind(kinds.Value(i))
}

// WithRowKinds returns rec's data columns followed by kinds as the
// row-kind column (replacing a kind column rec already has). kinds must
// have rec's number of rows. With kinds nil it returns rec's data columns
// alone (rec itself, retained, when rec has no kind column: no copy). The
// caller releases the result; rec and kinds remain the caller's too (the
// result retains what it uses).
func WithRowKinds(rec arrow.Record, kinds *array.Int8) arrow.Record {
	if kinds == nil {
		return WithoutRowKinds(rec)
	}
	if int64(kinds.Len()) != rec.NumRows() {
		panic(fmt.Sprintf("exec: WithRowKinds: %d kinds for %d rows", kinds.Len(), rec.NumRows()))
	}
	n := int(DataColumns(rec))
	fields := make([]arrow.Field, n+1)
	cols := make([]arrow.Array, n+1)
	sc := rec.Schema()
	for i := 0; i < n; i++ {
		fields[i] = sc.Field(i)
		cols[i] = rec.Column(i)
	}
	fields[n] = rowKindField
	cols[n] = kinds
	return array.NewRecord(arrow.NewSchema(fields, nil), cols, rec.NumRows())
}

// WithoutRowKinds returns rec without its row-kind column: rec itself,
// retained, when it has none (no copy). The caller releases the result.
func WithoutRowKinds(rec arrow.Record) arrow.Record {
	if RowKinds(rec) == nil {
		rec.Retain()
		return rec
	}
	n := int(rec.NumCols()) - 1
	sc := rec.Schema()
	fields := make([]arrow.Field, n)
	for i := range fields {
		fields[i] = sc.Field(i)
	}
	return array.NewRecord(arrow.NewSchema(fields, nil), rec.Columns()[:n], rec.NumRows())
}

// NewRowKinds builds a row-kind column holding kinds.
func NewRowKinds(alloc memory.Allocator, kinds []types.RowKind) *array.Int8 {
	b := array.NewInt8Builder(alloc)
	defer b.Release()
	b.Reserve(len(kinds))
	for _, k := range kinds {
		b.UnsafeAppend(int8(k))
	}
	return b.NewInt8Array()
}

// CheckInsertOnly returns an error naming who when rec carries row kinds
// other than inserts: the defensive check of an operator or sink that the
// planner feeds only append-only input.
func CheckInsertOnly(who string, rec arrow.Record) error {
	kinds := RowKinds(rec)
	if kinds == nil {
		return nil
	}
	for i := 0; i < kinds.Len(); i++ {
		if k := types.RowKind(kinds.Value(i)); k != types.Insert {
			return fmt.Errorf("%s accepts only inserts, got a %s row (an updating input reached an append-only operator or sink)", who, k)
		}
	}
	return nil
}
