package exec_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/operators"
	"github.com/streamsql/streamsql/plan"
)

var errPreCommit = errors.New("pre-commit refused")

// preCommitFails fails its first pre-commit, once released.
type preCommitFails struct {
	*testSink
	entered chan struct{}
	release chan struct{}
}

func (s *preCommitFails) PreCommit(ctx context.Context, id int64) ([]byte, error) {
	close(s.entered)
	<-s.release
	return nil, errPreCommit
}

// TestSavepointOfFailedJobIsAnswered: a savepoint requested of a job that
// then fails, with the savepoint's checkpoint in flight, gets the job's
// error instead of waiting forever; so does one requested after the job
// ended.
func TestSavepointOfFailedJobIsAnswered(t *testing.T) {
	src := &testSource{id: 0, rows: 1 << 40, batch: 100}
	out := &preCommitFails{testSink: newTestSink(), entered: make(chan struct{}), release: make(chan struct{})}
	conns := sinkOverride{testConnectors{sources: map[string]*testSource{"a": src}}, out}
	g := &plan.Graph{Sinks: []*plan.Sink{sink("2-sink", source("a"))}}
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	j, err := exec.Build(g, exec.Options{Connectors: conns, Operators: operators.New(), Alloc: alloc,
		NoPrefetch: true, Store: openStore(t), CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- j.Run(ctx) }()
	waitFor(t, "rows", func() bool { return out.count(0) > 0 })
	sp := j.TriggerSavepoint(filepath.Join(t.TempDir(), "sp"))
	<-out.entered
	close(out.release)
	if err := <-ran; !errors.Is(err, errPreCommit) {
		t.Fatalf("Run: %v, want the pre-commit's error", err)
	}
	select {
	case res := <-sp:
		if res.Err == nil || !strings.Contains(res.Err.Error(), errPreCommit.Error()) {
			t.Fatalf("savepoint of the failed job: %+v, want the job's error", res)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the savepoint request of a failed job was never answered")
	}
	select {
	case res := <-j.TriggerSavepoint(filepath.Join(t.TempDir(), "sp2")):
		if res.Err == nil {
			t.Fatal("a savepoint of an ended job succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a savepoint request after the job ended was never answered")
	}
	alloc.AssertSize(t, 0)
}
