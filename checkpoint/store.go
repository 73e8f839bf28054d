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
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/streamsql/streamsql/checkpoint/objstore"
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
	// ErrUnreadable means Pebble found on-disk corruption (a damaged
	// table, manifest or log) that keeps the job's state from being read.
	ErrUnreadable = errors.New("checkpoint: state is unreadable")
	// ErrOutcomeUnknown means a checkpoint's manifest may or may not have
	// reached the checkpoint dir (its PUT failed, and so did marking it
	// failed): a later restore may take it. A job that gets it must stop
	// without writing past the checkpoint's barrier.
	ErrOutcomeUnknown = errors.New("checkpoint: the outcome of the checkpoint's upload is unknown")
	// ErrReadOnly means a write was attempted on a store opened with
	// Options.ReadOnly.
	ErrReadOnly = errors.New("checkpoint: store is open read-only")
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
	// ReadOnly opens the store for List, Failures and Restore only: no
	// file in the job's directory is created, written or removed (Pebble
	// replays its log in memory instead of flushing it), and nothing is
	// purged. The directory must exist.
	ReadOnly bool
	// AllowRollback lets Restore return a checkpoint older than the newest
	// one the job completed when the newer ones left no trace in the store
	// (see ErrRollback), with a loud warning, instead of failing.
	AllowRollback bool
	// FS is the filesystem Pebble and the checkpoint catalogue use; nil
	// means the operating system's. Tests inject faults through it.
	FS vfs.FS
	// CheckpointDir, if set, is a location (objstore.Open) where every
	// checkpoint is made durable ("s3://bucket/prefix" or a local
	// directory): the job's files live under <location>/<path-escaped
	// job>/. Open then restores the newest complete checkpoint found there
	// (downloading it unless the local store already holds it), and Commit
	// returns only once the checkpoint's manifest is written and verified.
	CheckpointDir string
	// ObjectStore reaches s3:// locations: CheckpointDir, FromSavepoint
	// and Savepoint targets.
	ObjectStore objstore.Config
	// UploadTimeout bounds one checkpoint's upload (its retries while the
	// checkpoint dir is unreachable); 0 means DefaultUploadTimeout.
	UploadTimeout time.Duration
	// OpenRetry bounds Open's retries while the checkpoint dir is
	// unreachable, and those of a failed checkpoint's _failed marker
	// (while the sinks wait at its barrier); 0 means the larger of UploadTimeout and
	// DefaultOpenRetry, so that a job restarted while its object store is
	// briefly down (a restarting server, a network blip) waits for it
	// rather than failing at once.
	OpenRetry time.Duration

	// wrapBucket, if set, wraps the checkpoint dir's Bucket (tests count
	// and fail requests through it).
	wrapBucket func(objstore.Bucket) objstore.Bucket
}

// DefaultUploadTimeout bounds a checkpoint's upload when
// Options.UploadTimeout is zero.
const DefaultUploadTimeout = 10 * time.Minute

// DefaultOpenRetry is how long Open at least retries an unreachable
// checkpoint dir when Options.OpenRetry is zero.
const DefaultOpenRetry = 2 * time.Minute

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

	fs        vfs.FS
	corruptMu sync.Mutex
	corrupt   error // corruption Pebble reported (DataCorruption), guarded by corruptMu

	mu         sync.Mutex
	db         *pebble.DB
	broken     error // why db was closed after a failed write; reopened by the next Commit
	failStats  FailureStats
	carry      map[string]*opWriter // writes of a failed checkpoint, for the next one
	reopening  *reopening           // a reopen after a failed write, in progress
	completed  uint64               // the catalogue's newest completed checkpoint
	failLoaded bool
	ids        []uint64 // committed checkpoints with metadata, ascending
	maxID      uint64   // highest id with any record in the store
	restored   bool     // Restore has run (or the store was empty)
	maxRestore uint64   // Restore considers ids <= this (savepoint), 0 = any
	writeSets  map[uint64]*writeSet
	stats      Stats
	remote     *remote // Options.CheckpointDir; nil if local only
}

// JobDir returns the directory in which Open keeps job's checkpoints.
func JobDir(dir, job string) (string, error) {
	if job == "" || job == "." || job == ".." {
		return "", fmt.Errorf("checkpoint: invalid job name %q", job)
	}
	return filepath.Join(dir, url.PathEscape(job)), nil
}

// Open is OpenContext with context.Background().
func Open(dir string, opts Options) (*Store, error) {
	return OpenContext(context.Background(), dir, opts)
}

// OpenContext opens (creating if needed) the checkpoint store of
// opts.JobName in the state directory dir. It fails with ErrLocked if
// another process has the job open. With Options.CheckpointDir set it
// first finds the newest complete checkpoint there, and downloads it
// unless the local store already holds it; ctx bounds that. Call Restore
// next, then Begin/Commit; Close at the end.
func OpenContext(ctx context.Context, dir string, opts Options) (*Store, error) {
	jobDir, err := JobDir(dir, opts.JobName)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: jobDir, opts: opts, log: opts.Logger, clock: opts.Clock, retain: opts.NumRetained, fs: opts.FS}
	if s.fs == nil {
		s.fs = vfs.Default
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = systemClock{}
	}
	if s.retain <= 0 {
		s.retain = DefaultNumRetained
	}
	if opts.ReadOnly {
		if opts.Fresh || opts.FromSavepoint != "" {
			return nil, errors.New("checkpoint: a read-only store cannot be reset (Fresh, FromSavepoint)")
		}
		if _, err := os.Stat(jobDir); err != nil {
			return nil, fmt.Errorf("checkpoint: %w", err)
		}
	} else if err := os.MkdirAll(jobDir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	lock, err := pebble.LockDirectory(jobDir, s.fs)
	if err != nil {
		return nil, &lockedError{dir: jobDir, err: err}
	}
	s.lock = lock
	if opts.CheckpointDir != "" && !opts.ReadOnly {
		b, err := jobBucket(ctx, opts.CheckpointDir, opts.JobName, opts.ObjectStore)
		if err != nil {
			lock.Close()
			return nil, err
		}
		if opts.wrapBucket != nil {
			b = opts.wrapBucket(b)
		}
		s.remote = &remote{bucket: b, uploaded: map[fileID]remoteFile{}, kept: map[uint64][]string{}}
	}
	if opts.Fresh || opts.FromSavepoint != "" {
		if err := clearDir(jobDir); err != nil {
			lock.Close()
			return nil, err
		}
	}
	if opts.FromSavepoint != "" {
		info, err := s.copySavepoint(ctx, opts.FromSavepoint, jobDir)
		if err != nil {
			lock.Close()
			return nil, err
		}
		if info.Job != opts.JobName {
			s.log.Warn("checkpoint: restoring a savepoint of another job", "savepoint", opts.FromSavepoint, "savepoint_job", info.Job, "job", opts.JobName)
		}
		s.maxRestore = info.CheckpointID
	}
	if s.completed, err = readCatalog(s.fs, jobDir); err != nil {
		lock.Close()
		return nil, err
	}
	if s.remote != nil {
		err = s.openRemote(ctx)
	} else {
		err = s.openDB()
	}
	if err != nil {
		if s.db != nil {
			s.closeDB()
		}
		lock.Close()
		return nil, err
	}
	if err := s.loadFailures(); err != nil {
		s.Close()
		return nil, err
	}
	s.restored = s.maxID == 0
	return s, nil
}

// openDB opens the Pebble database and loads the checkpoint ids. A
// failure (corruption, a full disk) is an error, never a panic; the
// database is then closed.
func (s *Store) openDB() (err error) {
	db, err := s.openPebble()
	if err != nil {
		return err
	}
	return s.useDB(db)
}

func (s *Store) openPebble() (_ *pebble.DB, err error) {
	defer catchFatal(&err)
	db, err := pebble.Open(s.dir, s.pebbleOptions())
	if err != nil {
		return nil, s.readErr(fmt.Errorf("checkpoint: open %q: %w", s.dir, err))
	}
	return db, nil
}

// backgroundErrorPause is how long a background flush or compaction that
// failed waits before Pebble retries it.
const backgroundErrorPause = 250 * time.Millisecond

// reopenWait is how long a Commit waits for the database to reopen after
// a failed write. Reopening replays and flushes Pebble's log, which on a
// disk that is still full does not complete until space is freed; the
// checkpoint fails meanwhile, and the reopening goes on in the background.
const reopenWait = 2 * time.Second

// reopening is a reopen of the database in progress.
type reopening struct {
	done chan struct{}
	db   *pebble.DB
	err  error
}

// reopen reopens the database after a failed write, waiting up to
// reopenWait. s.mu is held.
func (s *Store) reopen(ctx context.Context) error {
	if s.reopening == nil {
		r := &reopening{done: make(chan struct{})}
		s.reopening = r
		go func() {
			defer close(r.done)
			r.db, r.err = s.openPebble()
		}()
	}
	r := s.reopening
	t := time.NewTimer(reopenWait)
	defer t.Stop()
	select {
	case <-r.done:
	case <-t.C:
		return fmt.Errorf("checkpoint: the state store of job %q is still being reopened after %w (is the disk still full?)", s.opts.JobName, s.broken)
	case <-ctx.Done():
		return ctx.Err()
	}
	s.reopening = nil
	if r.err != nil {
		return r.err
	}
	return s.useDB(r.db)
}

// useDB makes db the store's database and loads the checkpoint ids.
func (s *Store) useDB(db *pebble.DB) (err error) {
	defer catchFatal(&err)
	s.db = db
	if err := s.loadIDs(); err != nil {
		s.closeDB()
		return s.readErr(err)
	}
	return nil
}

// closeDB closes the database, turning a panic of Pebble's into an error.
func (s *Store) closeDB() (err error) {
	defer catchFatal(&err)
	db := s.db
	s.db = nil
	if db == nil {
		return nil
	}
	return db.Close()
}

// readErr marks an error that stems from on-disk corruption with
// ErrUnreadable and says what the user can do about it.
func (s *Store) readErr(err error) error {
	if err == nil || errors.Is(err, ErrUnreadable) || !pebble.IsCorruptionError(err) && !errors.Is(err, errPebbleFatal) {
		return err
	}
	return &unreadableError{job: s.opts.JobName, dir: s.dir, err: err}
}

type unreadableError struct {
	job, dir string
	err      error
}

func (e *unreadableError) Error() string {
	return fmt.Sprintf("checkpoint: the state of job %q in %s is unreadable: %s; start over with --fresh, or restore a savepoint with --from-savepoint", e.job, e.dir, firstLine(e.err))
}

// firstLine is the first line of err's message: Pebble's errors carry
// details and stack traces on the lines after it.
func firstLine(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

func (e *unreadableError) Unwrap() []error { return []error{ErrUnreadable, e.err} }

func (s *Store) pebbleOptions() *pebble.Options {
	o := &pebble.Options{
		FS:                 s.fs,
		Logger:             pebbleLogger{s.log},
		FormatMajorVersion: pebble.FormatNewest,
		CacheSize:          32 << 20,
		MemTableSize:       64 << 20,
		Lock:               s.lock,
		ReadOnly:           s.opts.ReadOnly,
	}
	if s.remote != nil {
		o.MaxManifestFileSize = maxManifestFileSize
		// Every compaction's output is uploaded again: let L0 grow
		// (reads are rare, only at restore) so that the whole state is
		// rewritten once per remoteL0Threshold checkpoints, not every few.
		o.L0CompactionThreshold = remoteL0Threshold
		o.L0StopWritesThreshold = 1000
	}
	if s.opts.ReadOnly {
		o.FormatMajorVersion = 0 // whatever the store has: ratcheting would write
	}
	// Pebble's default is to call Logger.Fatalf on corruption. Reads that
	// hit it also return an error, which is what the store reports; a
	// corruption found in the background (a compaction) fails the next
	// commit instead of the process.
	o.EventListener = &pebble.EventListener{
		DataCorruption: func(info pebble.DataCorruptionInfo) {
			s.log.Error("checkpoint: on-disk corruption in the state of job "+s.opts.JobName, "path", info.Path, "err", firstLine(info.Details))
			s.corruptMu.Lock() // not s.mu: this may run on a goroutine holding it
			if s.corrupt == nil {
				s.corrupt = fmt.Errorf("%s: %w", info.Path, info.Details)
			}
			s.corruptMu.Unlock()
		},
		BackgroundError: func(err error) {
			s.log.Warn("checkpoint: background error in the state store of job "+s.opts.JobName, "err", firstLine(err))
			// Pebble retries a failed flush at once, without backing off
			// (on a full disk: a busy loop creating empty tables). Pause
			// the background work that failed; nothing else waits on it.
			time.Sleep(backgroundErrorPause)
		},
	}
	return o
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
	err := s.closeDB()
	s.broken = ErrClosed
	if r := s.reopening; r != nil {
		s.reopening = nil
		select {
		case <-r.done:
			if r.db != nil {
				err = errors.Join(err, r.db.Close())
			}
		default:
			// Still replaying onto a full disk: finish and close it in the
			// background, releasing the directory lock only then.
			lock := s.lock
			s.lock = nil
			go func() {
				<-r.done
				if r.db != nil {
					_ = r.db.Close()
				}
				_ = lock.Close()
			}()
			err = errors.Join(err, fmt.Errorf("checkpoint: the state store of job %q was still being reopened; it is closed in the background", s.opts.JobName))
		}
	}
	if s.lock != nil {
		err = errors.Join(err, s.lock.Close())
		s.lock = nil
	}
	return err
}

// unavailable is the error of an operation on a store without a database:
// closed, or closed after a failed write until the next Commit reopens it.
// s.mu is held.
func (s *Store) unavailable() error {
	if s.broken == nil || s.broken == ErrClosed {
		return ErrClosed
	}
	return fmt.Errorf("checkpoint: the state store of job %q failed and is not reopened yet: %w", s.opts.JobName, s.broken)
}

// corruption returns the corruption Pebble reported, if any.
func (s *Store) corruption() error {
	s.corruptMu.Lock()
	defer s.corruptMu.Unlock()
	return s.corrupt
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

// Fatalf is called by Pebble for errors it cannot continue from (a
// failed write to its log on a full disk, corruption in a place it
// cannot skip). It panics with a *pebbleFatal, which every Store method
// that calls into Pebble recovers into an error (catchFatal), so that the
// job fails, or the checkpoint does, instead of the process.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error("pebble: fatal: " + msg)
	f := &pebbleFatal{msg: msg}
	for _, a := range args {
		if err, ok := a.(error); ok && f.cause == nil {
			f.cause = err
		}
	}
	panic(f)
}

// errPebbleFatal is the mark of a recovered Pebble fatal error.
var errPebbleFatal = errors.New("pebble: fatal error")

type pebbleFatal struct {
	msg   string
	cause error // the first error among Fatalf's arguments
}

func (f *pebbleFatal) Error() string {
	if strings.HasPrefix(f.msg, "pebble") {
		return f.msg
	}
	return "pebble: " + f.msg
}

func (f *pebbleFatal) Unwrap() error { return f.cause }

func (f *pebbleFatal) Is(target error) bool { return target == errPebbleFatal }

// catchFatal turns a *pebbleFatal panic into *err; other panics go on.
// Use as: defer catchFatal(&err).
func catchFatal(err *error) {
	r := recover()
	if r == nil {
		return
	}
	f, ok := r.(*pebbleFatal)
	if !ok {
		panic(r)
	}
	*err = f
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
