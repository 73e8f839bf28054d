package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec/expr"
	"github.com/streamsql/streamsql/exec/state"
)

// dist is how an edge between two tasks routes batches to the subtasks of
// its consumer.
type dist uint8

const (
	distForward   dist = iota // subtask i to subtask i (same parallelism), or to the only one
	distHash                  // each row to the subtask owning its key
	distSingle                // everything to subtask 0
	distRebalance             // whole batches round-robin (a parallelism change without keys)
)

func (d dist) String() string {
	switch d {
	case distForward:
		return "forward"
	case distHash:
		return "hash"
	case distSingle:
		return "single"
	}
	return "rebalance"
}

// outEdge is one subtask's output into a consuming task: one channel per
// consumer subtask. Batches are routed by dist; watermarks, status and
// barriers go to every channel. The hash exchange sends each row to the
// subtask owning its key's key group (state.KeyHasher, the hash of the
// key's encoding that the state uses too, then state.KeyGroupOf and
// state.SubtaskOf); it reuses its hash and index buffers from batch to
// batch, so it allocates per batch (the taken parts), never per row.
type outEdge struct {
	chans  []*channel
	dist   dist
	hasher *state.KeyHasher // distHash
	maxP   int              // distHash: key groups
	alloc  memory.Allocator
	late   bool // into a plan.LateRows: carries only the rows its sender drops as late

	hashes []uint64
	idx    [][]int32
	owner  []int32 // distHash: the consumer subtask of each key group (state.SubtaskOf), built at the first batch
	next   int     // distRebalance: the channel of the next batch
}

// batch sends rec (which the caller keeps) to the consumer subtasks that
// own its rows.
func (e *outEdge) batch(ctx context.Context, rec arrow.Record) error {
	switch {
	case len(e.chans) == 1:
		return e.sendWhole(ctx, 0, rec)
	case e.dist == distSingle:
		return e.sendWhole(ctx, 0, rec)
	case e.dist == distRebalance, e.dist == distForward:
		i := e.next
		e.next = (e.next + 1) % len(e.chans)
		return e.sendWhole(ctx, i, rec)
	}
	n := int(rec.NumRows())
	if cap(e.hashes) < n {
		e.hashes = make([]uint64, n)
	}
	h := e.hashes[:n]
	if err := e.hasher.Hash(rec, h); err != nil {
		return fmt.Errorf("exchange: %w", err)
	}
	parts := len(e.chans)
	for i := range e.idx {
		e.idx[i] = e.idx[i][:0]
	}
	if len(e.owner) != e.maxP {
		e.owner = make([]int32, e.maxP)
		for kg := range e.owner {
			e.owner[kg] = int32(state.SubtaskOf(kg, parts, e.maxP))
		}
	}
	owner := e.owner
	for r, x := range h {
		t := owner[state.KeyGroupOf(x, e.maxP)]
		e.idx[t] = append(e.idx[t], int32(r))
	}
	for t, idx := range e.idx {
		switch len(idx) {
		case 0:
			continue
		case n:
			if err := e.sendWhole(ctx, t, rec); err != nil {
				return err
			}
			continue
		}
		part, err := expr.Take(rec, idx, e.alloc)
		if err != nil {
			return fmt.Errorf("exchange: %w", err)
		}
		if err := e.chans[t].send(ctx, message{kind: msgBatch, rec: part}); err != nil {
			return err
		}
	}
	return nil
}

func (e *outEdge) sendWhole(ctx context.Context, i int, rec arrow.Record) error {
	rec.Retain()
	return e.chans[i].send(ctx, message{kind: msgBatch, rec: rec})
}

// broadcast sends a non-data message to every consumer subtask.
func (e *outEdge) broadcast(ctx context.Context, m message) error {
	for _, c := range e.chans {
		if err := c.send(ctx, m); err != nil {
			return err
		}
	}
	return nil
}
