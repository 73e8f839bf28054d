package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/streamsql/streamsql/checkpoint/objstore"
)

// SavepointInfo describes a savepoint directory.
type SavepointInfo struct {
	// Path is the savepoint directory.
	Path string `json:"-"`
	// Job is the job the savepoint was taken from.
	Job string `json:"job"`
	// CheckpointID is the checkpoint a job restored from the savepoint
	// resumes at: the newest one when the savepoint was taken.
	CheckpointID uint64 `json:"checkpoint_id"`
	// Time is when the savepoint was taken, by the store's clock.
	Time time.Time `json:"time"`
	// Format is the savepoint format version.
	Format int `json:"format"`
}

const (
	savepointManifest = "savepoint.json"
	savepointDB       = "db"
	savepointFormat   = 1
)

// Savepoint writes a self-contained copy of the store's newest checkpoint
// (and the older retained ones) to dir, which must not exist: a Pebble
// checkpoint of the database in dir/db (hard links where the filesystem
// allows) and a manifest, dir/savepoint.json, naming the job and the
// checkpoint. The directory appears atomically (it is built beside dir
// and renamed), is never modified by this package afterwards, and
// outlives retention. Restore from it with Options.FromSavepoint. Take a
// checkpoint first if the savepoint should hold the latest state: it
// captures the last committed one.
func (s *Store) Savepoint(ctx context.Context, dir string) (_ SavepointInfo, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return SavepointInfo{}, s.unavailable()
	}
	defer func() { err = s.readErr(err) }()
	defer catchFatal(&err)
	if len(s.ids) == 0 {
		return SavepointInfo{}, fmt.Errorf("checkpoint: savepoint of job %q: no completed checkpoint", s.opts.JobName)
	}
	if err := ctx.Err(); err != nil {
		return SavepointInfo{}, err
	}
	if objstore.IsRemote(dir) {
		return s.savepointRemote(ctx, dir)
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return SavepointInfo{}, fmt.Errorf("checkpoint: %w", err)
	}
	if _, err := os.Stat(dir); err == nil {
		return SavepointInfo{}, fmt.Errorf("checkpoint: savepoint directory %q already exists", dir)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return SavepointInfo{}, fmt.Errorf("checkpoint: %w", err)
	}
	tmp := filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp")
	if err := os.RemoveAll(tmp); err != nil {
		return SavepointInfo{}, fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return SavepointInfo{}, fmt.Errorf("checkpoint: %w", err)
	}
	fail := func(err error) (SavepointInfo, error) {
		os.RemoveAll(tmp)
		return SavepointInfo{}, fmt.Errorf("checkpoint: savepoint %q: %w", dir, err)
	}
	if err := s.db.Checkpoint(filepath.Join(tmp, savepointDB), pebble.WithFlushedWAL()); err != nil {
		return fail(err)
	}
	info := SavepointInfo{Path: dir, Job: s.opts.JobName, CheckpointID: s.ids[len(s.ids)-1], Time: s.clock.Now().UTC(), Format: savepointFormat}
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fail(err)
	}
	if err := writeFileSync(filepath.Join(tmp, savepointManifest), append(b, '\n')); err != nil {
		return fail(err)
	}
	if err := syncDir(tmp); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fail(err)
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return SavepointInfo{}, fmt.Errorf("checkpoint: savepoint %q: %w", dir, err)
	}
	return info, nil
}

// ReadSavepoint reads the manifest of the savepoint in dir.
func ReadSavepoint(dir string) (SavepointInfo, error) {
	b, err := os.ReadFile(filepath.Join(dir, savepointManifest))
	if err != nil {
		return SavepointInfo{}, fmt.Errorf("checkpoint: %q is not a savepoint: %w", dir, err)
	}
	var info SavepointInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return SavepointInfo{}, fmt.Errorf("checkpoint: savepoint %q: bad manifest: %w", dir, err)
	}
	if info.Format != savepointFormat {
		return SavepointInfo{}, fmt.Errorf("checkpoint: savepoint %q: unknown format %d", dir, info.Format)
	}
	if info.CheckpointID == 0 {
		return SavepointInfo{}, fmt.Errorf("checkpoint: savepoint %q: manifest names no checkpoint", dir)
	}
	info.Path = dir
	return info, nil
}

// copySavepoint copies the savepoint's database files into dst, which
// holds nothing but its lock file. The savepoint is only read.
func (s *Store) copySavepoint(ctx context.Context, src, dst string) (SavepointInfo, error) {
	if isRemoteSavepoint(src) {
		return downloadSavepoint(ctx, src, dst, s.opts.ObjectStore)
	}
	info, err := ReadSavepoint(src)
	if err != nil {
		return info, err
	}
	db := filepath.Join(src, savepointDB)
	ents, err := os.ReadDir(db)
	if err != nil {
		return info, fmt.Errorf("checkpoint: savepoint %q: %w", src, err)
	}
	for _, e := range ents {
		if e.Name() == "LOCK" || !e.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(db, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return info, fmt.Errorf("checkpoint: restore savepoint %q: %w", src, err)
		}
	}
	if err := syncDir(dst); err != nil {
		return info, fmt.Errorf("checkpoint: %w", err)
	}
	return info, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return errors.Join(out.Sync(), out.Close())
}

func writeFileSync(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}
