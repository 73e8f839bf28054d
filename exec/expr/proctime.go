package expr

import (
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/types"
)

// proctime is PROCTIME(): the processing time when the batch is
// evaluated, as a TIMESTAMP_LTZ(3) NOT NULL, the same for every row of the
// batch. It has no operands, so it is never folded into a constant.
type proctime struct {
	now   func() time.Time
	alloc memory.Allocator
}

func (e *proctime) Type() types.Type { return types.LTZType.WithNotNull(true) }

func (e *proctime) Eval(rec arrow.Record) (arrow.Array, error) {
	n := int(rec.NumRows())
	ms := arrow.Timestamp(e.now().UnixMilli())
	b := array.NewTimestampBuilder(e.alloc, types.LTZType.Arrow().(*arrow.TimestampType))
	defer b.Release()
	b.Reserve(n)
	for range n {
		b.UnsafeAppend(ms)
	}
	return b.NewArray(), nil
}
