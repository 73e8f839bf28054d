package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/streamsql/streamsql/checkpoint/objstore"
)

// savepointRemote writes a self-contained savepoint to an object-store
// location: every file of a Pebble checkpoint under db/, then the
// manifest _metadata, last, read back and verified. s.mu is held.
func (s *Store) savepointRemote(ctx context.Context, location string) (_ SavepointInfo, err error) {
	b, err := objstore.Open(ctx, location, s.opts.ObjectStore)
	if err != nil {
		return SavepointInfo{}, fmt.Errorf("checkpoint: savepoint: %w", err)
	}
	fail := func(err error) (SavepointInfo, error) {
		return SavepointInfo{}, fmt.Errorf("checkpoint: savepoint %s: %w", b, err)
	}
	if _, err := b.Stat(ctx, manifestKey); err == nil {
		return fail(errors.New("a savepoint already exists there"))
	} else if !errors.Is(err, objstore.ErrNotExist) {
		return fail(err)
	}
	id := s.ids[len(s.ids)-1]
	k := idKey(prefixMeta, id)
	v, closer, err := s.db.Get(k)
	if err != nil {
		return fail(fmt.Errorf("metadata of checkpoint %d: %w", id, err))
	}
	meta, err := decodeMeta(k, v)
	closer.Close()
	if err != nil {
		return fail(fmt.Errorf("checkpoint %d: %w", id, err))
	}
	dir, ents, err := s.pebbleCheckpoint(false)
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	m := &manifest{Format: manifestFormat, Kind: "savepoint", Job: s.opts.JobName, ID: id, Meta: meta, Files: make([]remoteFile, len(ents))}
	var mu sync.Mutex
	err = parallel(ctx, len(ents), func(ctx context.Context, i int) error {
		fi, err := ents[i].Info()
		if err != nil {
			return err
		}
		path := filepath.Join(dir, ents[i].Name())
		sum, err := hashFile(path)
		if err != nil {
			return err
		}
		f := remoteFile{Name: ents[i].Name(), Key: savepointFiles + ents[i].Name(), Size: fi.Size(), SHA256: sum}
		if err := putFile(ctx, b, f.Key, path, f.Size); err != nil {
			return err
		}
		mu.Lock()
		m.Files[i] = f
		mu.Unlock()
		return nil
	})
	if err != nil {
		return fail(err)
	}
	now := s.clock.Now().UTC()
	m.TimeUnixNs = now.UnixNano()
	if err := putVerified(ctx, b, manifestKey, encodeManifest(m)); err != nil {
		return fail(err)
	}
	return SavepointInfo{Path: location, Job: s.opts.JobName, CheckpointID: id, Time: now, Format: savepointFormat}, nil
}

// readRemoteSavepoint reads and verifies the manifest of the savepoint at
// location.
func readRemoteSavepoint(ctx context.Context, location string, cfg objstore.Config) (objstore.Bucket, *manifest, error) {
	b, err := objstore.Open(ctx, location, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: savepoint: %w", err)
	}
	data, err := getAll(ctx, b, manifestKey)
	if errors.Is(err, objstore.ErrNotExist) {
		return nil, nil, fmt.Errorf("checkpoint: %s is not a savepoint: no %s", b, manifestKey)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: savepoint %s: %w", b, err)
	}
	m, err := decodeManifest(data)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: savepoint %s: %w", b, err)
	}
	if m.Kind != "savepoint" {
		return nil, nil, fmt.Errorf("checkpoint: %s is a %s, not a savepoint", b, m.Kind)
	}
	for _, f := range m.Files {
		if !strings.HasPrefix(f.Key, savepointFiles) {
			return nil, nil, fmt.Errorf("checkpoint: savepoint %s: file %q outside the savepoint", b, f.Key)
		}
	}
	return b, m, nil
}

// ReadSavepointContext reads the manifest of the savepoint at location: a
// directory (as ReadSavepoint) or an object-store location written by
// Savepoint, reached with cfg.
func ReadSavepointContext(ctx context.Context, location string, cfg objstore.Config) (SavepointInfo, error) {
	if !isRemoteSavepoint(location) {
		return ReadSavepoint(location)
	}
	_, m, err := readRemoteSavepoint(ctx, location, cfg)
	if err != nil {
		return SavepointInfo{}, err
	}
	return savepointInfo(location, m), nil
}

func savepointInfo(location string, m *manifest) SavepointInfo {
	return SavepointInfo{Path: location, Job: m.Job, CheckpointID: m.ID, Time: m.info().Time.UTC(), Format: savepointFormat}
}

// downloadSavepoint copies the savepoint at location into dst (holding
// nothing but its lock file), verifying every file's checksum.
func downloadSavepoint(ctx context.Context, location, dst string, cfg objstore.Config) (SavepointInfo, error) {
	b, m, err := readRemoteSavepoint(ctx, location, cfg)
	if err != nil {
		return SavepointInfo{}, err
	}
	if err := download(ctx, b, m.Files, dst); err != nil {
		clearDir(dst)
		return SavepointInfo{}, fmt.Errorf("checkpoint: restore savepoint %s: %w", b, err)
	}
	return savepointInfo(location, m), nil
}

// isRemoteSavepoint reports whether location holds a savepoint in the
// object-store format: on an object store, or a local copy of one (a
// directory with a manifest and no savepoint.json).
func isRemoteSavepoint(location string) bool {
	if objstore.IsRemote(location) {
		return true
	}
	if strings.Contains(location, "://") {
		return false
	}
	_, err := os.Stat(filepath.Join(location, manifestKey))
	_, err2 := os.Stat(filepath.Join(location, savepointManifest))
	return err == nil && err2 != nil
}
