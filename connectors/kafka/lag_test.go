package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
)

// TestSourceLag checks that the source reports each partition's lag: the
// records the broker has beyond what the source returned.
func TestSourceLag(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"t"}, Partitions: 1})
	must(t, b.Produce("t", jsonRecs(0, 0, 250)...))
	s, m := openSource(t, testSchema, nil, opts(b, "topic", "t", "scan.startup.mode", "earliest-offset"), nil, memory.DefaultAllocator)
	defer s.Close()
	got := 0
	deadline := time.Now().Add(10 * time.Second)
	for got == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no rows")
		}
		rec, _, err := s.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if rec != nil {
			got = int(rec.NumRows())
			rec.Release()
		}
	}
	lag := m.Lag()
	if lag["t/0"] != int64(250-got) {
		t.Fatalf("after reading %d of 250 records, lag = %v, want t/0: %d", got, lag, 250-got)
	}
	readRows(t, s, 250-got)
	if lag := m.Lag(); lag["t/0"] != 0 {
		t.Fatalf("after reading everything, lag = %v", lag)
	}
}
