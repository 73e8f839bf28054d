package kafkatest

import (
	"context"
	"fmt"
	"testing"
)

// TestProduceRead: records produced into a topic created a moment before
// (the setup of most Kafka tests) are read back once each, in order per
// partition, however many producers write at the same time.
func TestProduceRead(t *testing.T) {
	b := StartT(t, Options{})
	const producers, n, parts = 4, 2000, 4
	if err := b.CreateTopic("t", parts); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, producers)
	for w := 0; w < producers; w++ {
		go func() {
			var recs []Record
			for i := 0; i < n; i++ {
				recs = append(recs, Record{Partition: int32(w), Value: fmt.Appendf(nil, "%d", i)})
			}
			errs <- b.Produce("t", recs...)
		}()
	}
	for w := 0; w < producers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.Read(context.Background(), "t", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	next := make([]int, parts)
	for _, r := range got {
		if want := fmt.Sprint(next[r.Partition]); string(r.Value) != want {
			t.Fatalf("partition %d offset %d: %q, want %q", r.Partition, r.Offset, r.Value, want)
		}
		next[r.Partition]++
	}
	for p, c := range next {
		if c != n {
			t.Errorf("partition %d: %d records, want %d", p, c, n)
		}
	}
}
