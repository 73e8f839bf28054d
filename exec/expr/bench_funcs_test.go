package expr

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/types"
)

// BenchmarkFunctions measures the Nexmark functions over a batch of 4096
// rows: url STRING (Nexmark's bid URLs, ~5% NULL) and ts TIMESTAMP.
func BenchmarkFunctions(b *testing.B) {
	mem := newPoolAllocator()
	schema := types.Schema{Fields: []types.Field{
		{Name: "url", Type: types.StringType}, {Name: "ts", Type: types.TimestampType},
	}}
	rb := array.NewRecordBuilder(memory.NewGoAllocator(), schema.Arrow())
	r := rand.New(rand.NewSource(1))
	ts := int64(1_700_000_000_000)
	for i := 0; i < benchRows; i++ {
		if r.Intn(20) == 0 {
			rb.Field(0).AppendNull()
		} else {
			rb.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("https://www.nexmark.com/%c%c%c/item.htm?query=1&channel_id=%d", 'a'+r.Intn(26), 'a'+r.Intn(26), 'a'+r.Intn(26), r.Intn(1<<30)))
		}
		ts += r.Int63n(1000)
		rb.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(ts))
	}
	rec := rb.NewRecord()
	rb.Release()
	defer rec.Release()
	for _, bc := range []struct{ name, expr string }{
		{"regexp-extract", "(REGEXP_EXTRACT url '(&|^)channel_id=([^&]*)' 2)"},
		{"regexp-extract-whole", "(REGEXP_EXTRACT url 'channel_id=[0-9]+')"},
		{"regexp", "(REGEXP url 'channel_id=1[0-9]*$')"},
		{"regexp-replace", "(REGEXP_REPLACE url '[0-9]+' '#')"},
		{"split-index", "(SPLIT_INDEX url '/' 3)"},
		{"date-format-day", "(DATE_FORMAT ts 'yyyy-MM-dd')"},
		{"date-format-hm", "(DATE_FORMAT ts 'HH:mm')"},
		{"date-format-full", "(DATE_FORMAT ts 'yyyy-MM-dd HH:mm:ss.SSS')"},
		{"dayofweek", "(DAYOFWEEK ts)"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e, err := parseExprText(bc.expr, schema)
			if err != nil {
				b.Fatal(err)
			}
			ev, err := Compile(e, schema, mem)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				a, err := ev.Eval(rec)
				if err != nil {
					b.Fatal(err)
				}
				a.Release()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRows, "ns/row")
		})
	}
}
