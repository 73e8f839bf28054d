package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// The catalogue records the newest checkpoint the job completed outside
// Pebble: a small JSON file in the job's directory, replaced atomically
// (written beside, synced, renamed, directory synced) after every commit.
// Pebble's log holds the newest checkpoints until they are flushed into a
// table; if the log is truncated, zeroed or deleted, Pebble opens without
// them and the store looks like an older, valid one. The catalogue tells
// the difference, so that Restore refuses such a rollback instead of
// silently repeating the output committed since.
const catalogFile = "COMPLETED"

// ErrRollback means the store's newest intact checkpoint is older than the
// newest one the job completed, and the missing ones left no trace in the
// store (Pebble's log lost them). Options.AllowRollback accepts it.
var ErrRollback = errors.New("checkpoint: the store lost the job's newest checkpoints")

type catalogRecord struct {
	Job          string    `json:"job"`
	CheckpointID uint64    `json:"checkpoint_id"`
	Time         time.Time `json:"time"`
}

// readCatalog returns the newest completed checkpoint id the catalogue
// records, 0 if there is none. An unreadable catalogue is an error: it
// may hide a rollback.
func readCatalog(fs vfs.FS, dir string) (uint64, error) {
	f, err := fs.Open(fs.PathJoin(dir, catalogFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return 0, fmt.Errorf("checkpoint: %s: %w", fs.PathJoin(dir, catalogFile), err)
	}
	var r catalogRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, fmt.Errorf("checkpoint: %s is damaged (%v); remove it to start without the check against a rollback", fs.PathJoin(dir, catalogFile), err)
	}
	return r.CheckpointID, nil
}

// writeCatalog records id as the newest completed checkpoint.
func writeCatalog(fs vfs.FS, dir, job string, id uint64, now time.Time) error {
	b, err := json.Marshal(catalogRecord{Job: job, CheckpointID: id, Time: now.UTC()})
	if err != nil {
		return err
	}
	tmp := fs.PathJoin(dir, catalogFile+".tmp")
	f, err := fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return err
	}
	if err := fs.Rename(tmp, fs.PathJoin(dir, catalogFile)); err != nil {
		return err
	}
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// Completed returns the newest checkpoint the job completed, as its
// catalogue records it (0 if unknown). It can be newer than every
// checkpoint List returns when the store lost some.
func (s *Store) Completed() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.completed
}

// checkRollback is Restore's check of the chosen checkpoint (0: none)
// against the catalogue. newestTrace is the highest id with any record in
// the store. s.mu is held.
func (s *Store) checkRollback(chosen, newestTrace uint64) error {
	if s.completed <= chosen || s.maxRestore != 0 {
		return nil
	}
	if newestTrace >= s.completed {
		// The newer checkpoints are in the store but failed verification:
		// Restore logged each, and falls back loudly (or fails: none is
		// intact).
		if chosen == 0 {
			return nil
		}
		s.log.Error("checkpoint: ROLLBACK: restoring an older checkpoint than the job completed; output committed after it may be repeated",
			"job", s.opts.JobName, "checkpoint", chosen, "completed", s.completed)
		return nil
	}
	what := fmt.Sprintf("its newest intact checkpoint is %d", chosen)
	if chosen == 0 {
		what = "it holds no checkpoint"
	}
	if s.opts.AllowRollback {
		s.log.Error("checkpoint: ROLLBACK ACCEPTED (--allow-rollback): the job completed checkpoint "+fmt.Sprint(s.completed)+" but "+what+"; output committed after it will be repeated",
			"job", s.opts.JobName, "checkpoint", chosen, "completed", s.completed)
		return nil
	}
	return fmt.Errorf("%w: job %q completed checkpoint %d (recorded in %s), but %s: Pebble's log in %s was truncated, zeroed or deleted. Restoring would repeat the output committed since; accept that with --allow-rollback, start over with --fresh, or restore a savepoint with --from-savepoint",
		ErrRollback, s.opts.JobName, s.completed, catalogFile, what, s.dir)
}
