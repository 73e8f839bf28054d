package checkpoint

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/streamsql/streamsql/checkpoint/objstore"
)

// Remote layout, under <CheckpointDir>/<path-escaped job>/:
//
//	shared/<sha256>.<ext>   an immutable Pebble data file (table, blob), content-addressed
//	chk-<id>/<name>         the checkpoint's other files (MANIFEST-*, OPTIONS-*, marker.*, WAL)
//	chk-<id>/_metadata      the manifest: written last, self-checksummed
//
// A savepoint location holds db/<name> for every file and _metadata.
const (
	manifestKey    = "_metadata"
	failedKey      = "_failed"
	manifestMagic  = "streamsql-checkpoint-manifest"
	manifestFormat = 1
	sharedPrefix   = "shared/"
	chkPrefix      = "chk-"
	savepointFiles = "db/"
	transferJobs   = 4
	// maxManifestFileSize bounds Pebble's MANIFEST, which every remote
	// checkpoint uploads whole.
	maxManifestFileSize = 1 << 20
	// remoteL0Threshold is Pebble's L0 compaction threshold with a
	// checkpoint dir (Pebble's default is 4).
	remoteL0Threshold = 16
)

// manifest is a checkpoint's (or a remote savepoint's) manifest.
type manifest struct {
	Format int    `json:"format"`
	Kind   string `json:"kind"` // "checkpoint" or "savepoint"
	Job    string `json:"job"`
	ID     uint64 `json:"id"`
	// TimeUnixNs is when the manifest was written.
	TimeUnixNs int64 `json:"time_unix_ns"`
	// Meta is the checkpoint's metadata record, with the digest of its
	// records, so that a local store can be compared with it.
	Meta    *metaRecord                  `json:"meta"`
	Offsets map[string]map[string][]byte `json:"offsets,omitempty"`
	Handles map[string][]byte            `json:"handles,omitempty"`
	Files   []remoteFile                 `json:"files"`
	// Uploaded is the bytes of files this checkpoint uploaded (those not
	// uploaded before), the manifest not counted.
	Uploaded int64 `json:"uploaded,omitempty"`
}

// remoteFile is one file of a checkpoint: its name in the Pebble
// directory, its key relative to the job's (or savepoint's) prefix.
type remoteFile struct {
	Name   string `json:"name"`
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// encodeManifest returns the manifest's bytes: one header line carrying
// the SHA-256 of the JSON body that follows it.
func encodeManifest(m *manifest) []byte {
	body, err := json.Marshal(m)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	sum := sha256.Sum256(body)
	return append(fmt.Appendf(nil, "%s v%d sha256=%x\n", manifestMagic, manifestFormat, sum), body...)
}

// decodeManifest parses and verifies a manifest.
func decodeManifest(b []byte) (*manifest, error) {
	header, body, ok := bytes.Cut(b, []byte("\n"))
	if !ok {
		return nil, errors.New("truncated manifest (no header line)")
	}
	var format int
	var sum string
	if _, err := fmt.Sscanf(string(header), manifestMagic+" v%d sha256=%s", &format, &sum); err != nil {
		return nil, fmt.Errorf("not a manifest (header %q)", truncate(string(header), 80))
	}
	if format != manifestFormat {
		return nil, fmt.Errorf("unknown manifest format %d", format)
	}
	got := sha256.Sum256(body)
	if hex.EncodeToString(got[:]) != sum {
		return nil, fmt.Errorf("manifest checksum mismatch (%d bytes of body: torn or damaged)", len(body))
	}
	var m manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("manifest: %v", err)
	}
	if m.Format != manifestFormat || m.Meta == nil || m.ID == 0 || m.Meta.ID != m.ID {
		return nil, errors.New("manifest: missing or inconsistent fields")
	}
	return &m, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// info is the checkpoint the manifest describes.
func (m *manifest) info() CheckpointInfo {
	info := m.Meta.info()
	info.SourceOffsets = m.Offsets
	info.SinkHandles = m.Handles
	info.Uploaded = m.Uploaded
	return info
}

// size is the total size of the manifest's files.
func (m *manifest) size() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// remote is the store's checkpoint dir. Guarded by Store.mu.
type remote struct {
	bucket objstore.Bucket // the job's prefix
	// uploaded maps a local table file (name and size: Pebble never reuses
	// a file number within a store) to where it is in shared/, so that an
	// unchanged file is neither read nor uploaded again.
	uploaded map[fileID]remoteFile
	// kept maps the id of every valid manifest in the bucket to the keys
	// it references (its own included): what retention keeps.
	kept map[uint64][]string
	// failed are checkpoints whose manifest PUT was sent but not confirmed:
	// it may still land (a request delayed in a stalled server), so each
	// gets a chk-<id>/_failed marker, written before the next manifest,
	// and restore never uses a checkpoint so marked.
	failed []uint64
	// highest is the highest id of any chk-<id> directory in the bucket
	// when the store opened: attempts of earlier runs that never became a
	// checkpoint (no manifest, a _failed marker) keep their ids, so that a
	// new checkpoint never writes into such a directory (see NextID).
	highest uint64
}

type fileID struct {
	name string
	size int64
}

// invalidError marks a problem with a checkpoint's content (a bad or
// missing manifest or file), as opposed to the store being unreachable.
type invalidError struct{ err error }

func (e *invalidError) Error() string { return e.err.Error() }
func (e *invalidError) Unwrap() error { return e.err }

func invalid(format string, args ...any) error {
	return &invalidError{fmt.Errorf(format, args...)}
}

func (s *Store) uploadTimeout() time.Duration {
	if s.opts.UploadTimeout > 0 {
		return s.opts.UploadTimeout
	}
	return DefaultUploadTimeout
}

// jobBucket opens the job's prefix of the checkpoint dir.
func jobBucket(ctx context.Context, location, job string, cfg objstore.Config) (objstore.Bucket, error) {
	if job == "" || job == "." || job == ".." {
		return nil, fmt.Errorf("checkpoint: invalid job name %q", job)
	}
	b, err := objstore.Open(ctx, location, cfg)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: checkpoint dir: %w", err)
	}
	return objstore.Sub(b, url.PathEscape(job)), nil
}

// stagingDir is where a Pebble checkpoint is built for upload: beside the
// job's directory, named with a '%' that url.PathEscape never leaves
// unescaped before two non-hex letters, so it cannot be another job's.
func (s *Store) stagingDir() string { return s.dir + "%staging" }

// pebbleCheckpoint writes a Pebble checkpoint of the database into a fresh
// staging directory and returns its regular files. s.mu is held.
func (s *Store) pebbleCheckpoint(flush bool) (dir string, files []os.DirEntry, err error) {
	defer catchFatal(&err)
	dir = s.stagingDir()
	if err := os.RemoveAll(dir); err != nil {
		return "", nil, err
	}
	if flush {
		// The memtable goes into a table, so the log the checkpoint carries
		// (uploaded whole every time) stays small.
		if err := s.db.Flush(); err != nil {
			return "", nil, fmt.Errorf("flush: %w", err)
		}
	}
	if err := s.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("pebble checkpoint: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	for _, e := range ents {
		if e.Type().IsRegular() && e.Name() != "LOCK" {
			files = append(files, e)
		}
	}
	return dir, files, nil
}

// isWAL reports whether a Pebble file is a write-ahead log. A remote
// checkpoint does not carry the log: it is taken right after a flush, with
// the store's lock held (every write to the store takes it), so the log
// holds no record the tables do not; and Pebble reuses (recycles) log
// files, so a log's copy can be as large as the biggest batch ever
// written. Restore verifies every record of the checkpoint against its
// digest regardless.
func isWAL(name string) bool { return filepath.Ext(name) == ".log" }

// isShared reports whether a Pebble file is immutable data that is
// uploaded once, content-addressed, and shared between checkpoints.
func isShared(name string) bool {
	switch filepath.Ext(name) {
	case ".sst", ".blob":
		return true
	}
	return false
}

// upload makes checkpoint m durable in the checkpoint dir: new table files
// into shared/, the other files into chk-<id>/, then the manifest, read
// back and verified; then remote retention. s.mu is held.
func (s *Store) upload(parent context.Context, m *manifest) (uploaded int64, err error) {
	r := s.remote
	ctx, cancel := context.WithTimeout(parent, s.uploadTimeout())
	defer cancel()
	if err := s.markFailed(ctx); err != nil {
		return 0, s.remoteErr(m.ID, err)
	}
	dir, ents, err := s.pebbleCheckpoint(true)
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	chk := chkPrefix + strconv.FormatUint(m.ID, 10) + "/"
	type job struct {
		i     int
		path  string
		chk   bool // private to the checkpoint
		share fileID
	}
	ents = slices.DeleteFunc(ents, func(e os.DirEntry) bool { return isWAL(e.Name()) })
	m.Files = make([]remoteFile, len(ents))
	var jobs []job
	for i, e := range ents {
		fi, err := e.Info()
		if err != nil {
			return 0, err
		}
		id := fileID{e.Name(), fi.Size()}
		if isShared(e.Name()) {
			if f, ok := r.uploaded[id]; ok {
				m.Files[i] = f
				continue
			}
		}
		m.Files[i] = remoteFile{Name: e.Name(), Size: fi.Size()}
		jobs = append(jobs, job{i: i, path: filepath.Join(dir, e.Name()), chk: !isShared(e.Name()), share: id})
	}
	var mu sync.Mutex
	err = parallel(ctx, len(jobs), func(ctx context.Context, n int) error {
		j := jobs[n]
		f := &m.Files[j.i]
		sum, err := hashFile(j.path)
		if err != nil {
			return err
		}
		f.SHA256 = sum
		if j.chk {
			f.Key = chk + f.Name
		} else {
			f.Key = sharedPrefix + sum + filepath.Ext(f.Name)
		}
		if err := putFile(ctx, r.bucket, f.Key, j.path, f.Size); err != nil {
			return err
		}
		mu.Lock()
		uploaded += f.Size
		mu.Unlock()
		return nil
	})
	if err != nil {
		return uploaded, s.remoteErr(m.ID, err)
	}
	m.TimeUnixNs = s.clock.Now().UnixNano()
	m.Uploaded = uploaded
	b := encodeManifest(m)
	if err := putVerified(ctx, r.bucket, chk+manifestKey, b); err != nil {
		r.failed = append(r.failed, m.ID)
		return uploaded, s.manifestFailed(parent, m.ID, s.remoteErr(m.ID, err))
	}
	uploaded += int64(len(b))

	// The checkpoint is durable. Remember its table files; forget those it
	// no longer has (compacted away).
	r.uploaded = map[fileID]remoteFile{}
	keys := []string{chk + manifestKey}
	for _, f := range m.Files {
		if isShared(f.Name) {
			r.uploaded[fileID{f.Name, f.Size}] = f
		}
		keys = append(keys, f.Key)
	}
	r.kept[m.ID] = keys
	// A job that stops cancels ctx; then the next run's first checkpoint
	// deletes what this one would have.
	if err := s.remoteRetain(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("checkpoint: remote retention failed", "job", s.opts.JobName, "location", r.bucket.String(), "err", err)
	}
	return uploaded, nil
}

// manifestFailed settles the outcome of checkpoint id, whose manifest PUT
// was sent but not confirmed: the server may still apply it (a request
// delayed in a stalled server), and a later restore would then take the
// checkpoint, committing the sinks' transactions as they are by then. So
// the _failed marker is written now, before the job goes on: then the
// checkpoint has failed, and the job may tolerate it. The marker is
// retried for as long as Open would wait for the checkpoint dir
// (openRetry, not the upload timeout): the sinks wait at the barrier
// meanwhile, so a server that restarts within it costs a stall, not the
// job. If even the marker cannot be written, the outcome stays unknown
// and the error wraps ErrOutcomeUnknown: the job must fail at once,
// before its sinks write anything past the checkpoint's barrier. s.mu is
// held.
func (s *Store) manifestFailed(ctx context.Context, id uint64, err error) error {
	merr := s.withRetry(ctx, s.openRetry(), fmt.Sprintf("marking checkpoint %d failed", id), s.markFailed)
	if merr == nil {
		return err
	}
	return fmt.Errorf("%w: %w; and %w", ErrOutcomeUnknown, err, merr)
}

// markFailed writes the _failed marker of every checkpoint in
// s.remote.failed. s.mu is held.
func (s *Store) markFailed(ctx context.Context) error {
	r := s.remote
	for len(r.failed) > 0 {
		key := chkPrefix + strconv.FormatUint(r.failed[0], 10) + "/" + failedKey
		if err := r.bucket.Put(ctx, key, strings.NewReader(""), 0); err != nil {
			return fmt.Errorf("marking checkpoint %d failed: %w", r.failed[0], err)
		}
		r.failed = r.failed[1:]
	}
	return nil
}

func (s *Store) remoteErr(id uint64, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w (execution.checkpointing.timeout is %s)", err, s.uploadTimeout())
	}
	return fmt.Errorf("checkpoint: upload of checkpoint %d to %s: %w", id, s.remote.bucket, err)
}

// remoteRetain keeps the newest NumRetained manifests and deletes every
// object under chk-* or shared/ that none of them references. s.mu is
// held.
func (s *Store) remoteRetain(ctx context.Context) error {
	r := s.remote
	ids := slices.Sorted(func(yield func(uint64) bool) {
		for id := range r.kept {
			if !yield(id) {
				return
			}
		}
	})
	if len(ids) > s.retain {
		for _, id := range ids[:len(ids)-s.retain] {
			delete(r.kept, id)
		}
	}
	ref := map[string]bool{}
	for _, keys := range r.kept {
		for _, k := range keys {
			ref[k] = true
		}
	}
	objs, err := r.bucket.List(ctx, "")
	if err != nil {
		return err
	}
	for _, o := range objs {
		if ref[o.Key] || !strings.HasPrefix(o.Key, chkPrefix) && !strings.HasPrefix(o.Key, sharedPrefix) {
			continue
		}
		if err := r.bucket.Delete(ctx, o.Key); err != nil {
			return err
		}
	}
	return nil
}

// parallel runs fn(ctx, i) for i in [0, n) on up to transferJobs
// goroutines; the first error cancels the rest and is returned.
func parallel(ctx context.Context, n int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	next := make(chan int)
	var once sync.Once
	var first error
	for range min(n, transferJobs) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel(err) })
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func putFile(ctx context.Context, b objstore.Bucket, key, path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return b.Put(ctx, key, f, size)
}

// putVerified writes a manifest and reads it back: the checkpoint exists
// once the bytes read are the bytes written.
func putVerified(ctx context.Context, b objstore.Bucket, key string, data []byte) error {
	if err := b.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
		return err
	}
	got, err := getAll(ctx, b, key)
	if err != nil {
		return fmt.Errorf("reading back the manifest: %w", err)
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("manifest %s read back differs from what was written (%d bytes, not %d)", key, len(got), len(data))
	}
	return nil
}

func getAll(ctx context.Context, b objstore.Bucket, key string) ([]byte, error) {
	rc, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// download fetches files from b into dir, checking each one's size and
// SHA-256; a missing or damaged file is an *invalidError.
func download(ctx context.Context, b objstore.Bucket, files []remoteFile, dir string) error {
	for _, f := range files {
		if f.Name != filepath.Base(f.Name) || f.Name == "." || f.Name == ".." || f.Name == "LOCK" {
			return invalid("manifest names file %q", f.Name)
		}
	}
	err := parallel(ctx, len(files), func(ctx context.Context, i int) error {
		f := files[i]
		rc, err := b.Get(ctx, f.Key)
		if errors.Is(err, objstore.ErrNotExist) {
			return invalid("file %s is missing: %w", f.Key, err)
		}
		if err != nil {
			return err
		}
		defer rc.Close()
		path := filepath.Join(dir, f.Name)
		out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(out, h), rc)
		if err == nil {
			err = out.Sync()
		}
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("download %s: %w", f.Key, err)
		}
		if n != f.Size {
			return invalid("file %s has %d bytes, the manifest says %d", f.Key, n, f.Size)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
			return invalid("file %s fails its checksum (sha256 %s, the manifest says %s)", f.Key, got, f.SHA256)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return syncDir(dir)
}

// remoteManifests lists the checkpoint manifests under b, newest first,
// leaving out checkpoints marked failed, and the ids of every chk-*
// directory, true if it holds a usable manifest.
func remoteManifests(ctx context.Context, b objstore.Bucket) (ids []uint64, chkDirs map[uint64]bool, err error) {
	objs, err := b.List(ctx, chkPrefix)
	if err != nil {
		return nil, nil, err
	}
	chkDirs = map[uint64]bool{}
	failed := map[uint64]bool{}
	for _, o := range objs {
		dirName, file, ok := strings.Cut(o.Key, "/")
		if !ok {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimPrefix(dirName, chkPrefix), 10, 64)
		if err != nil || id == 0 {
			continue
		}
		has := chkDirs[id]
		chkDirs[id] = has || file == manifestKey
		failed[id] = failed[id] || file == failedKey
	}
	for id := range failed {
		if failed[id] {
			chkDirs[id] = false
		}
	}
	for id, has := range chkDirs {
		if has {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b uint64) int { return cmpU64(b, a) })
	return ids, chkDirs, nil
}

// readManifest reads and verifies checkpoint id's manifest.
func readManifest(ctx context.Context, b objstore.Bucket, job string, id uint64) (*manifest, error) {
	key := chkPrefix + strconv.FormatUint(id, 10) + "/" + manifestKey
	data, err := getAll(ctx, b, key)
	if errors.Is(err, objstore.ErrNotExist) {
		return nil, invalid("manifest is missing")
	}
	if err != nil {
		return nil, err
	}
	m, err := decodeManifest(data)
	if err != nil {
		return nil, &invalidError{err}
	}
	if m.Kind != "checkpoint" || m.ID != id || m.Job != job {
		return nil, invalid("manifest of %s %d of job %q under checkpoint %d of job %q", m.Kind, m.ID, m.Job, id, job)
	}
	return m, nil
}

// openRetry is how long Open retries an unreachable checkpoint dir.
func (s *Store) openRetry() time.Duration {
	if s.opts.OpenRetry > 0 {
		return s.opts.OpenRetry
	}
	return max(s.uploadTimeout(), DefaultOpenRetry)
}

// withRetry runs fn until it succeeds, fails with an *invalidError, ctx
// ends, or an attempt fails after window has passed since the first,
// backing off between attempts. The window bounds the retrying, not an
// attempt: a large download is not cut short by it (each request is
// bounded by the object store's own timeout).
func (s *Store) withRetry(ctx context.Context, window time.Duration, what string, fn func(context.Context) error) error {
	deadline := time.Now().Add(window)
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		var inv *invalidError
		if err == nil || errors.As(err, &inv) {
			return err
		}
		if ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("checkpoint: %s: checkpoint dir %s unreachable (gave up after %d attempts): %w", what, s.remote.bucket, attempt, err)
		}
		s.log.Warn("checkpoint: checkpoint dir unreachable, retrying", "job", s.opts.JobName, "location", s.remote.bucket.String(), "attempt", attempt, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// openRemote is OpenContext's part for Options.CheckpointDir, after the
// local directory is locked (and reset, for Fresh or FromSavepoint): it
// finds the newest valid manifest and makes the local store hold its
// checkpoint, downloading it unless the store already does. It opens the
// database. The lock is held; s.remote is set.
func (s *Store) openRemote(ctx context.Context) error {
	r := s.remote
	if s.opts.Fresh || s.opts.FromSavepoint != "" {
		// The job's lineage starts again: checkpoints of the old one must
		// never be restored.
		err := s.withRetry(ctx, s.openRetry(), "discarding the job's checkpoints", func(ctx context.Context) error {
			objs, err := r.bucket.List(ctx, "")
			if err != nil {
				return err
			}
			for _, o := range objs {
				if strings.HasPrefix(o.Key, chkPrefix) || strings.HasPrefix(o.Key, sharedPrefix) {
					if err := r.bucket.Delete(ctx, o.Key); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		return s.openDB()
	}
	var ids []uint64
	var chkDirs map[uint64]bool
	err := s.withRetry(ctx, s.openRetry(), "listing checkpoints", func(ctx context.Context) (err error) {
		ids, chkDirs, err = remoteManifests(ctx, r.bucket)
		return err
	})
	if err != nil {
		return err
	}
	for id, has := range chkDirs {
		r.highest = max(r.highest, id)
		if !has && (len(ids) == 0 || id > ids[len(ids)-1]) {
			s.log.Error("checkpoint: INCOMPLETE REMOTE CHECKPOINT SKIPPED (no manifest, or its upload failed)", "job", s.opts.JobName, "location", r.bucket.String(), "checkpoint", id)
		}
	}
	// The local store, if it opens, may already be the newest checkpoint.
	localErr := s.openDB()
	var problems []string
	for _, id := range ids {
		var m *manifest
		err := s.withRetry(ctx, s.openRetry(), fmt.Sprintf("reading checkpoint %d", id), func(ctx context.Context) (err error) {
			m, err = readManifest(ctx, r.bucket, s.opts.JobName, id)
			return err
		})
		if err == nil {
			if localErr == nil && s.holds(m) {
				s.log.Info("checkpoint: local state is the newest remote checkpoint; not downloading", "job", s.opts.JobName, "checkpoint", id)
				return s.useRemote(ctx, m, ids)
			}
			err = s.fetch(ctx, m)
			if err == nil {
				return s.useRemote(ctx, m, ids)
			}
		}
		var inv *invalidError
		if !errors.As(err, &inv) {
			return err
		}
		s.log.Error("checkpoint: INVALID REMOTE CHECKPOINT SKIPPED", "job", s.opts.JobName, "location", r.bucket.String(), "checkpoint", id, "problem", err.Error())
		problems = append(problems, fmt.Sprintf("%d: %v", id, err))
	}
	if len(ids) > 0 {
		if s.db != nil {
			s.closeDB()
		}
		return fmt.Errorf("%w: job %q has %d checkpoint(s) in %s, none intact (%s); start over with --fresh, or restore a savepoint with --from-savepoint",
			ErrCorrupt, s.opts.JobName, len(ids), r.bucket, strings.Join(problems, "; "))
	}
	if localErr != nil {
		return localErr
	}
	if s.maxID > 0 {
		s.log.Warn("checkpoint: no checkpoint in the checkpoint dir; restoring the local store", "job", s.opts.JobName, "location", r.bucket.String())
	}
	return nil
}

// holds reports whether the open local store's newest checkpoint is m's.
func (s *Store) holds(m *manifest) bool {
	if len(s.ids) == 0 || s.ids[len(s.ids)-1] != m.ID || s.maxID != m.ID {
		return false
	}
	k := idKey(prefixMeta, m.ID)
	v, closer, err := s.db.Get(k)
	if err != nil {
		return false
	}
	defer closer.Close()
	local, err := decodeMeta(k, v)
	return err == nil && local.Digest == m.Meta.Digest && local.Job == m.Meta.Job
}

// fetch replaces the local store with checkpoint m's files and opens it.
func (s *Store) fetch(ctx context.Context, m *manifest) error {
	if s.db != nil {
		s.closeDB()
	}
	start := time.Now()
	if err := clearDir(s.dir); err != nil {
		return err
	}
	err := s.withRetry(ctx, s.openRetry(), fmt.Sprintf("downloading checkpoint %d", m.ID), func(ctx context.Context) error {
		return download(ctx, s.remote.bucket, m.Files, s.dir)
	})
	if err != nil {
		clearDir(s.dir)
		return err
	}
	if err := s.openDB(); err != nil {
		clearDir(s.dir)
		return invalid("checkpoint %d does not open: %w", m.ID, err)
	}
	s.log.Info("checkpoint: downloaded checkpoint", "job", s.opts.JobName, "location", s.remote.bucket.String(), "checkpoint", m.ID,
		"files", len(m.Files), "bytes", m.size(), "took", time.Since(start))
	return nil
}

// useRemote records that the local store holds m, the newest valid
// remote checkpoint: Restore returns it, and the catalogue follows the
// remote (the source of truth when a checkpoint dir is set). ids are the
// remote manifests.
func (s *Store) useRemote(ctx context.Context, m *manifest, ids []uint64) error {
	s.maxRestore = m.ID
	if s.completed != m.ID {
		if err := writeCatalog(s.fs, s.dir, s.opts.JobName, m.ID, time.Now()); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		s.completed = m.ID
	}
	r := s.remote
	for _, f := range m.Files {
		if isShared(f.Name) {
			r.uploaded[fileID{f.Name, f.Size}] = f
		}
	}
	// Retention keeps the retained manifests up to m; newer (invalid) ones
	// are garbage, older ones are read lazily: only their keys matter.
	for _, id := range ids {
		if id > m.ID || len(r.kept) >= s.retain {
			continue
		}
		if id == m.ID {
			r.kept[id] = manifestKeys(m)
			continue
		}
		if om, err := readManifest(ctx, r.bucket, s.opts.JobName, id); err == nil {
			r.kept[id] = manifestKeys(om)
		}
	}
	return nil
}

func manifestKeys(m *manifest) []string {
	keys := []string{chkPrefix + strconv.FormatUint(m.ID, 10) + "/" + manifestKey}
	for _, f := range m.Files {
		keys = append(keys, f.Key)
	}
	return keys
}
