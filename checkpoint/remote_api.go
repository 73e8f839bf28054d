package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/streamsql/streamsql/checkpoint/objstore"
)

// Stats is what the store reports for metrics.
type Stats struct {
	// UploadedBytes and UploadDuration are the last checkpoint's upload to
	// Options.CheckpointDir (zero when checkpoints are local only).
	UploadedBytes  int64
	UploadDuration time.Duration
	// RemoteFailures counts checkpoints whose upload failed since Open.
	RemoteFailures int64
}

// Stats returns the store's statistics.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// RemoteCheckpoint describes one checkpoint in a checkpoint dir, from its
// manifest.
type RemoteCheckpoint struct {
	// CheckpointInfo is the checkpoint's metadata, offsets and handles.
	CheckpointInfo
	// Manifest is the manifest's location.
	Manifest string
	// Files is the number of files the checkpoint consists of; Size their
	// total size in bytes.
	Files int
	Size  int64
	// Problem says why the manifest is not valid ("" if it is); such a
	// checkpoint is skipped by restore.
	Problem string `json:",omitempty"`
}

// ListRemote returns the checkpoints of job in the checkpoint dir
// location, oldest first, including invalid ones (with Problem set).
func ListRemote(ctx context.Context, location, job string, cfg objstore.Config) ([]RemoteCheckpoint, error) {
	return listRemote(ctx, location, job, cfg)
}

// InspectRemote returns checkpoint id of job in the checkpoint dir
// location; id 0 means the newest valid one.
func InspectRemote(ctx context.Context, location, job string, id uint64, cfg objstore.Config) (RemoteCheckpoint, error) {
	return inspectRemote(ctx, location, job, id, cfg)
}

func listRemote(ctx context.Context, location, job string, cfg objstore.Config) ([]RemoteCheckpoint, error) {
	b, err := jobBucket(ctx, location, job, cfg)
	if err != nil {
		return nil, err
	}
	ids, chkDirs, err := remoteManifests(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: list %s: %w", b, err)
	}
	var out []RemoteCheckpoint
	for id, has := range chkDirs {
		if !has {
			out = append(out, RemoteCheckpoint{CheckpointInfo: CheckpointInfo{ID: id, Job: job}, Manifest: manifestLoc(b, id), Problem: "no usable manifest (an incomplete or failed upload)"})
		}
	}
	for _, id := range ids {
		rc, err := remoteCheckpoint(ctx, b, job, id)
		if err != nil {
			return nil, err
		}
		out = append(out, rc)
	}
	slices.SortFunc(out, func(a, b RemoteCheckpoint) int { return cmpU64(a.ID, b.ID) })
	return out, nil
}

func manifestLoc(b objstore.Bucket, id uint64) string {
	return b.String() + "/" + chkPrefix + strconv.FormatUint(id, 10) + "/" + manifestKey
}

// remoteCheckpoint reads checkpoint id's manifest; an invalid one is
// reported in Problem, an unreachable store as an error.
func remoteCheckpoint(ctx context.Context, b objstore.Bucket, job string, id uint64) (RemoteCheckpoint, error) {
	rc := RemoteCheckpoint{CheckpointInfo: CheckpointInfo{ID: id, Job: job}, Manifest: manifestLoc(b, id)}
	m, err := readManifest(ctx, b, job, id)
	var inv *invalidError
	if errors.As(err, &inv) {
		rc.Problem = err.Error()
		return rc, nil
	}
	if err != nil {
		return rc, fmt.Errorf("checkpoint: %s: %w", rc.Manifest, err)
	}
	rc.CheckpointInfo = m.info()
	rc.Files = len(m.Files)
	rc.Size = m.size()
	return rc, nil
}

func inspectRemote(ctx context.Context, location, job string, id uint64, cfg objstore.Config) (RemoteCheckpoint, error) {
	b, err := jobBucket(ctx, location, job, cfg)
	if err != nil {
		return RemoteCheckpoint{}, err
	}
	if id != 0 {
		return remoteCheckpoint(ctx, b, job, id)
	}
	ids, _, err := remoteManifests(ctx, b)
	if err != nil {
		return RemoteCheckpoint{}, fmt.Errorf("checkpoint: list %s: %w", b, err)
	}
	for _, id := range ids {
		rc, err := remoteCheckpoint(ctx, b, job, id)
		if err != nil || rc.Problem == "" {
			return rc, err
		}
	}
	return RemoteCheckpoint{}, fmt.Errorf("checkpoint: no valid checkpoint of job %q in %s", job, b)
}
