package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Sentinel errors, tested with errors.Is.
var (
	// ErrLocked means another process (or another Store in this process)
	// has the job's state directory open.
	ErrLocked = errors.New("checkpoint: state dir is in use by another process")
	// ErrCorrupt means no checkpoint in the store passed verification.
	ErrCorrupt = errors.New("checkpoint: no valid checkpoint")
	// ErrStaleID means Commit was given an id not above the newest
	// checkpoint in the store.
	ErrStaleID = errors.New("checkpoint: checkpoint id is not newer than the last one")
	// ErrNotRestored means Commit was called on a store holding
	// checkpoints before Restore was called; a new checkpoint is a delta on
	// the restored state, so it needs to know which one that is.
	ErrNotRestored = errors.New("checkpoint: Restore must be called before committing into a store with checkpoints")
	// ErrClosed means the Store was closed.
	ErrClosed = errors.New("checkpoint: store is closed")
)

// Clock tells time; inject a fake one in tests. exec.Clock satisfies it.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// DefaultNumRetained is the number of completed checkpoints kept when
// Options.NumRetained is zero.
const DefaultNumRetained = 3

// Options configures Open.
type Options struct {
	// JobName names the job; its checkpoints live in DIR/<JobName>/
	// (path-escaped). Required.
	JobName string
	// Logger receives warnings (corrupt checkpoints, fallbacks) and
	// Pebble's own messages at debug level. Nil discards.
	Logger *slog.Logger
	// NumRetained is how many completed checkpoints are kept; 0 means
	// DefaultNumRetained.
	NumRetained int
	// Clock stamps checkpoints; nil means the wall clock.
	Clock Clock
	// FromSavepoint, if set, is a directory written by Store.Savepoint.
	// Open replaces the job's checkpoints with a copy of it (the savepoint
	// itself is only read), and Restore returns the savepoint's checkpoint.
	FromSavepoint string
	// Fresh discards every checkpoint of the job before opening: the job
	// starts with empty state.
	Fresh bool
}

// Store is the durable checkpoint store of one job: a Pebble database in
// DIR/<job>/ holding the retained checkpoints. A Store is safe for
// concurrent use; commits are serialised. The directory is locked while
// the Store is open.
type Store struct {
	dir    string
	opts   Options
	log    *slog.Logger
	clock  Clock
	lock   *pebble.Lock
	retain int

	mu         sync.Mutex
	db         *pebble.DB
	ids        []uint64 // committed checkpoints with metadata, ascending
	maxID      uint64   // highest id with any record in the store
	restored   bool     // Restore has run (or the store was empty)
	maxRestore uint64   // Restore considers ids <= this (savepoint), 0 = any
	writeSets  map[uint64]*writeSet
}

// JobDir returns the directory in which Open keeps job's checkpoints.
func JobDir(dir, job string) (string, error) {
	if job == "" || job == "." || job == ".." {
		return "", fmt.Errorf("checkpoint: invalid job name %q", job)
	}
	return filepath.Join(dir, url.PathEscape(job)), nil
}

// Open opens (creating if needed) the checkpoint store of opts.JobName in
// the state directory dir. It fails with ErrLocked if another process has
// the job open. Call Restore next, then Begin/Commit; Close at the end.
func Open(dir string, opts Options) (*Store, error) {
	jobDir, err := JobDir(dir, opts.JobName)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: jobDir, opts: opts, log: opts.Logger, clock: opts.Clock, retain: opts.NumRetained}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = systemClock{}
	}
	if s.retain <= 0 {
		s.retain = DefaultNumRetained
	}
	if err := os.MkdirAll(jobDir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	lock, err := pebble.LockDirectory(jobDir, vfs.Default)
	if err != nil {
		return nil, &lockedError{dir: jobDir, err: err}
	}
	s.lock = lock
	if opts.Fresh || opts.FromSavepoint != "" {
		if err := clearDir(jobDir); err != nil {
			lock.Close()
			return nil, err
		}
	}
	if opts.FromSavepoint != "" {
		info, err := copySavepoint(opts.FromSavepoint, jobDir)
		if err != nil {
			lock.Close()
			return nil, err
		}
		if info.Job != opts.JobName {
			s.log.Warn("checkpoint: restoring a savepoint of another job", "savepoint", opts.FromSavepoint, "savepoint_job", info.Job, "job", opts.JobName)
		}
		s.maxRestore = info.CheckpointID
	}
	db, err := pebble.Open(jobDir, s.pebbleOptions())
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("checkpoint: open %q: %w", jobDir, err)
	}
	s.db = db
	if err := s.loadIDs(); err != nil {
		s.Close()
		return nil, err
	}
	s.restored = s.maxID == 0
	return s, nil
}

func (s *Store) pebbleOptions() *pebble.Options {
	return &pebble.Options{
		Logger:             pebbleLogger{s.log},
		FormatMajorVersion: pebble.FormatNewest,
		CacheSize:          32 << 20,
		MemTableSize:       64 << 20,
		Lock:               s.lock,
	}
}

// loadIDs reads the ids of the metadata records and the highest id seen.
func (s *Store) loadIDs() error {
	s.ids = s.ids[:0]
	s.maxID = 0
	err := s.scanPrefix([]byte{prefixMeta}, func(k, _ []byte) error {
		if id, ok := parseIDKey(k); ok {
			s.ids = append(s.ids, id)
			s.maxID = max(s.maxID, id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// State versions or offsets without metadata (e.g. metadata lost to
	// corruption) still count: their ids must not be reused.
	for _, p := range []byte{prefixOffset, prefixHandle} {
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{p}, UpperBound: []byte{p + 1}})
		if err != nil {
			return err
		}
		if it.Last() {
			if id, ok := parseIDKey(it.Key()); ok {
				s.maxID = max(s.maxID, id)
			}
		}
		if err := it.Close(); err != nil {
			return err
		}
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixState}, UpperBound: []byte{prefixState + 1}})
	if err != nil {
		return err
	}
	if it.First() {
		s.maxID = max(s.maxID, 1) // some state exists: the store is not empty
	}
	return it.Close()
}

func parseIDKey(k []byte) (uint64, bool) {
	if len(k) < 9 {
		return 0, false
	}
	var id uint64
	for _, b := range k[1:9] {
		id = id<<8 | uint64(b)
	}
	return id, true
}

func (s *Store) scanPrefix(prefix []byte, fn func(k, v []byte) error) error {
	upper := slices.Clone(prefix)
	upper[len(upper)-1]++
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upper})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		if err := fn(it.Key(), v); err != nil {
			it.Close()
			return err
		}
	}
	return it.Close()
}

// Close flushes nothing (every commit is already durable), closes the
// database and releases the directory lock. Pending checkpoints are lost.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if s.db != nil {
		err = s.db.Close()
		s.db = nil
	}
	if s.lock != nil {
		err = errors.Join(err, s.lock.Close())
		s.lock = nil
	}
	return err
}

// Dir returns the job's state directory.
func (s *Store) Dir() string { return s.dir }

// clearDir removes everything in dir but the lock file.
func clearDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	for _, e := range ents {
		if e.Name() == "LOCK" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	return nil
}

// pebbleLogger routes Pebble's messages to the store's logger: info at
// debug level (Pebble is chatty), errors as warnings.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	if p.l.Enabled(context.Background(), slog.LevelDebug) {
		p.l.Debug("pebble: " + fmt.Sprintf(format, args...))
	}
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Warn("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error("pebble: fatal: " + msg)
	panic("pebble: " + msg)
}

var _ pebble.Logger = pebbleLogger{}

type lockedError struct {
	dir string
	err error
}

func (e *lockedError) Error() string {
	return fmt.Sprintf("checkpoint: state dir %q is in use by another process (%v)", e.dir, e.err)
}

func (e *lockedError) Is(target error) bool { return target == ErrLocked }

var _ io.Closer = (*Store)(nil)
