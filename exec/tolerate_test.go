package exec

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/streamsql/streamsql/checkpoint"
)

// A failed checkpoint is tolerated within TolerableFailedCheckpoints, but
// one whose outcome is unknown (it may be restored after all) stops the
// job however many failures are tolerated.
func TestTolerateOutcomeUnknown(t *testing.T) {
	j := &Job{opts: Options{TolerableFailedCheckpoints: 5, Logger: slog.New(slog.DiscardHandler)}, failedInARow: 1}
	if err := j.tolerate(&commitError{id: 7, err: errors.New("upload failed")}); err != nil {
		t.Fatalf("a tolerable failure failed the job: %v", err)
	}
	unknown := fmt.Errorf("%w: manifest put timed out", checkpoint.ErrOutcomeUnknown)
	err := j.tolerate(&commitError{id: 8, err: unknown})
	if !errors.Is(err, checkpoint.ErrOutcomeUnknown) {
		t.Fatalf("tolerate = %v, want the job to fail with ErrOutcomeUnknown", err)
	}
}
