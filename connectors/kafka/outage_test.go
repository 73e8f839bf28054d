package kafka

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/exec"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSourceBrokerOutage: while the broker drops every connection, the
// source keeps returning "nothing now" (so the job keeps checkpointing and
// can be stopped), logs that it is retrying, and when the broker is back
// it goes on from where it was: every record once.
func TestSourceBrokerOutage(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"t"}, Partitions: 1})
	must(t, b.Produce("t", jsonRecs(0, 0, 100)...))
	var down atomic.Bool
	b.Cluster().ControlKey(-1, func(kmsg.Request) (kmsg.Response, error, bool) {
		b.Cluster().KeepControl()
		if down.Load() {
			return nil, errors.New("broker down"), true
		}
		return nil, nil, false
	})
	var logs syncBuffer
	o := opts(b, "topic", "t", "scan.startup.mode", "earliest-offset")
	if err := (factory{}).Validate(o, testSchema, false); err != nil {
		t.Fatal(err)
	}
	s, err := newSource(exec.SourceConfig{Table: "t", Schema: testSchema, Options: o, BatchSize: 100,
		Alloc: memory.DefaultAllocator, Metrics: new(exec.SourceMetrics),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	must(t, err)
	must(t, s.Open(context.Background(), nil))
	defer s.Close()
	first := readRows(t, s, 100)

	down.Store(true)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		rec, _, err := s.Read(context.Background())
		if err != nil {
			t.Fatalf("Read during the outage: %v (want retries, not a failure, before %v)", err, stuckAfter)
		}
		if rec != nil {
			t.Fatalf("rows during the outage: %d", rec.NumRows())
		}
		if strings.Contains(logs.String(), "retrying") {
			break
		}
	}
	if !strings.Contains(logs.String(), "kafka partition failing, retrying") {
		t.Fatalf("the outage was not reported; logs:\n%s", logs.String())
	}
	down.Store(false)
	must(t, b.Produce("t", jsonRecs(0, 100, 100)...))
	rest := readRows(t, s, 100)
	all := append(first, rest...)
	seen := map[string]bool{}
	for _, r := range all {
		if seen[r] {
			t.Fatalf("duplicate row %s", r)
		}
		seen[r] = true
	}
	if len(seen) != 200 {
		t.Fatalf("%d distinct rows, want 200", len(seen))
	}
}
