package nexmark

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// CountCharClass is the class name by which the Nexmark suite declares
// count_char (q14): CREATE FUNCTION count_char AS
// 'com.github.nexmark.flink.udf.CountChar'. The engine registers CountChar
// under it.
const CountCharClass = "com.github.nexmark.flink.udf.CountChar"

// CountChar is the Nexmark suite's count_char(s STRING, c STRING) BIGINT,
// as the reference's CountChar: how many bytes of s equal the first byte
// of c; 0 when s is NULL. A NULL or empty c is an error (the reference
// fails too). It is a vectorized scalar function (plan.ScalarFunc).
func CountChar(args []arrow.Array, rows int, alloc memory.Allocator) (arrow.Array, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("count_char: %d arguments, want 2", len(args))
	}
	s, ok1 := args[0].(*array.String)
	c, ok2 := args[1].(*array.String)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("count_char: arguments of types %s and %s, want STRING", args[0].DataType(), args[1].DataType())
	}
	b := array.NewInt64Builder(alloc)
	defer b.Release()
	b.Resize(rows)
	for r := 0; r < rows; r++ {
		if c.IsNull(r) || len(c.Value(r)) == 0 {
			return nil, fmt.Errorf("count_char: the character argument is NULL or empty")
		}
		if s.IsNull(r) {
			b.UnsafeAppend(0)
			continue
		}
		b.UnsafeAppend(int64(strings.Count(s.Value(r), c.Value(r)[:1])))
	}
	return b.NewArray(), nil
}
