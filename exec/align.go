package exec

import (
	"fmt"
	"strings"
	"time"
)

// CheckpointingMode is how a task with several input channels aligns
// barriers ('execution.checkpointing.mode').
type CheckpointingMode uint8

const (
	// ExactlyOnce (the default) holds an input that delivered barrier n
	// until every input did: the snapshot covers exactly the rows before
	// the barrier on every input.
	ExactlyOnce CheckpointingMode = iota
	// AtLeastOnce does not hold inputs: rows that arrive after barrier n
	// on an input whose barrier came first are processed before the
	// snapshot, so after a restore they are processed again.
	AtLeastOnce
)

func (m CheckpointingMode) String() string {
	if m == AtLeastOnce {
		return "AT_LEAST_ONCE"
	}
	return "EXACTLY_ONCE"
}

// ParseCheckpointingMode parses EXACTLY_ONCE or AT_LEAST_ONCE (any case).
func ParseCheckpointingMode(s string) (CheckpointingMode, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "EXACTLY_ONCE":
		return ExactlyOnce, nil
	case "AT_LEAST_ONCE":
		return AtLeastOnce, nil
	}
	return ExactlyOnce, fmt.Errorf("checkpointing mode %q: want EXACTLY_ONCE or AT_LEAST_ONCE", s)
}

// aligner is where a barrier waits: it tracks which input channels of a
// subtask delivered the current barrier. In ExactlyOnce mode an input
// that delivered it is held (the subtask reads nothing more from it) until
// every input has; then the barrier is complete and the subtask snapshots
// and forwards it. One checkpoint is in flight at a time (the coordinator
// starts the next only after the last completed), so barriers of two
// checkpoints never interleave.
type aligner struct {
	mode  CheckpointingMode
	held  []bool // per input: delivered the current barrier
	count int
	cp    *inflight
	start time.Time
}

func newAligner(inputs int, mode CheckpointingMode) *aligner {
	return &aligner{mode: mode, held: make([]bool, inputs)}
}

// blocked reports whether input i must not be read now.
func (a *aligner) blocked(i int) bool { return a.mode == ExactlyOnce && a.held[i] }

// receive records the barrier of cp on input i at now. It returns true
// when every input has delivered it, with the time alignment took (from
// the first input's barrier to the last's); the aligner is then reset.
func (a *aligner) receive(i int, cp *inflight, now time.Time) (complete bool, took time.Duration, err error) {
	if a.count > 0 && cp != a.cp {
		return false, 0, fmt.Errorf("exec: barrier of checkpoint %d arrived while aligning checkpoint %d", cp.id, a.cp.id)
	}
	if a.held[i] {
		return false, 0, fmt.Errorf("exec: input %d delivered the barrier of checkpoint %d twice", i, cp.id)
	}
	if a.count == 0 {
		a.cp, a.start = cp, now
	}
	a.held[i] = true
	a.count++
	if a.count < len(a.held) {
		return false, 0, nil
	}
	clear(a.held)
	a.count, a.cp = 0, nil
	return true, now.Sub(a.start), nil
}
