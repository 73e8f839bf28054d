package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/connectors/kafka"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/state"
)

// positionsFile is the file, in the job's local store directory, in which
// stage 1's sink records the changelog positions the local checkpoint
// covers (kafka.ChangelogPositions).
const positionsFile = "changelog-positions.json"

// PartitionRestore says where the keyed state of one repartition
// partition of an assignment came from.
type PartitionRestore struct {
	// Partition is the repartition partition, "topic/partition".
	Partition string
	// From is "local" (the process's local checkpoint covered the
	// changelog partition's end) or "changelog" (replayed).
	From string
	// Entries are the state entries the partition restored, Records the
	// changelog records read for it (0 when local).
	Entries, Records int64
	// Took is how long reading the partition took; for local partitions,
	// the one read of the local checkpoint they share.
	Took time.Duration
}

// localState is the keyed state of the process's newest local
// checkpoint, for the repartition partitions of an assignment whose
// changelog position it covers.
type localState struct {
	// current are the positions of every partition the assignment owns,
	// as they stood before the restore.
	current map[int32]kafka.ChangelogPosition
	// valid are the partitions the local checkpoint covers, with the
	// entries each restored.
	valid   map[int32]int64
	entries map[string][]byte
	catalog []byte
	took    time.Duration
}

// positionsPath is the positions file of the job's local store.
func (q *ContinuousQuery) positionsPath() (string, error) {
	dir, err := checkpoint.JobDir(q.e.opts.StateDir, q.name)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, positionsFile), nil
}

// readLocalState reads, before the store is opened afresh for assignment
// m, the local checkpoint's keyed state of the repartition partitions of
// m whose changelog positions are still those the checkpoint covers (the
// positions file names that checkpoint, and the changelog partition's end
// and committed repartition offset did not move since: nobody wrote into
// it). Everything else is replayed from the changelog: so is every
// partition when the file is missing, names another checkpoint than the
// store's newest (a crash between the local checkpoint and its Kafka
// commit), or cannot be read. The file is removed: the store is reset
// next, and only positions of its new checkpoints may be trusted.
func (q *ContinuousQuery) readLocalState(ctx context.Context, m *exec.Member) (*localState, error) {
	split := q.member.split
	owned := m.Partitions[split.Repartition]
	log := q.e.opts.Logger.With("job", q.name)
	path, err := q.positionsPath()
	if err != nil {
		return nil, err
	}
	pos, perr := kafka.ReadPositions(path)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ls := &localState{valid: map[int32]int64{}, entries: map[string][]byte{}}
	if len(owned) == 0 {
		return ls, nil
	}
	if ls.current, err = kafka.CurrentPositions(ctx, split.Options, q.name, split.Repartition, split.Changelog, owned); err != nil {
		return nil, err
	}
	switch {
	case errors.Is(perr, os.ErrNotExist):
		return ls, nil
	case perr != nil:
		log.Warn("cannot read the changelog positions of the local checkpoint; replaying the changelog", "err", perr)
		return ls, nil
	case pos.Changelog != split.Changelog || pos.Owner != split.Repartition:
		return ls, nil
	}
	cand := map[int32]bool{}
	for _, p := range owned {
		if old, ok := pos.Partitions[p]; ok && old == ls.current[p] {
			cand[p] = true
		}
	}
	if len(cand) == 0 {
		return ls, nil
	}
	start := time.Now()
	store, err := checkpoint.Open(q.e.opts.StateDir, checkpoint.Options{JobName: q.name, ReadOnly: true, Logger: q.e.opts.Logger})
	if err != nil {
		log.Warn("cannot open the local checkpoint store; replaying the changelog", "err", err)
		return ls, nil
	}
	defer store.Close()
	r, err := store.Restore()
	if err != nil || r == nil || r.ID() != uint64(pos.Checkpoint) {
		var id uint64
		if r != nil {
			id = r.ID()
		}
		log.Info("the local checkpoint is not the one whose changelog positions are recorded; replaying the changelog",
			"checkpoint", id, "recorded", pos.Checkpoint, "err", err)
		return ls, nil
	}
	maxP := split.MaxParallelism
	if st := r.Operator(split.Operator); st != nil {
		err := st.Scan(func(key, value []byte) error {
			if len(key) == 2 && key[0] == 0x80 && key[1] == 0 {
				ls.catalog = slices.Clone(value)
				return nil
			}
			kg, ok := state.KeyGroupPrefix(key)
			if !ok || kg >= maxP {
				return nil // non-keyed: not restored, as from the changelog
			}
			p := int32(state.SubtaskOf(kg, split.Partitions, maxP))
			if !cand[p] {
				return nil
			}
			ls.entries[string(key)] = slices.Clone(value)
			ls.valid[p]++
			return nil
		})
		if err != nil {
			log.Warn("cannot read the local checkpoint; replaying the changelog", "err", err)
			return &localState{current: ls.current, valid: map[int32]int64{}, entries: map[string][]byte{}}, nil
		}
	}
	if len(ls.entries) > 0 && ls.catalog == nil {
		log.Warn("the local checkpoint holds keyed state without its catalog entry; replaying the changelog")
		return &localState{current: ls.current, valid: map[int32]int64{}, entries: map[string][]byte{}}, nil
	}
	for p := range cand {
		if _, ok := ls.valid[p]; !ok {
			ls.valid[p] = 0 // covered, and empty
		}
	}
	ls.took = time.Since(start)
	return ls, nil
}

// stateOffsets is the cluster.Config.StateOffsets of a job with a keyed
// stage: the repartition offsets the local checkpoint covers, from its
// positions file (none when there is none).
func (q *ContinuousQuery) stateOffsets() map[string]map[int32]int64 {
	split := q.member.split
	path, err := q.positionsPath()
	if err != nil || split == nil {
		return nil
	}
	pos, err := kafka.ReadPositions(path)
	if err != nil || pos.Owner != split.Repartition {
		return nil
	}
	out := map[int32]int64{}
	for p, c := range pos.Partitions {
		out[p] = c.Offset
	}
	return map[string]map[int32]int64{split.Repartition: out}
}
