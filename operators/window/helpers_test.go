package window

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/types"
)

// arrowRecordRef holds the record of a batch event (nil for watermarks).
type arrowRecordRef struct{ rec arrow.Record }

func buildWinEventRecords(alloc memory.Allocator, cols []types.Field, evs []winEvent) []arrowRecordRef {
	recs := make([]arrowRecordRef, len(evs))
	for i, e := range evs {
		if !e.isWatermark() {
			recs[i].rec = buildWinRecord(alloc, cols, e.rows)
		}
	}
	return recs
}

func releaseWinRecords(recs []arrowRecordRef) {
	for _, r := range recs {
		if r.rec != nil {
			r.rec.Release()
		}
	}
}
