package checkpoint

import (
	"context"
	"errors"
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

var errNotImplemented = errors.New("checkpoint: remote checkpoints are not implemented yet")

func listRemote(context.Context, string, string, objstore.Config) ([]RemoteCheckpoint, error) {
	return nil, errNotImplemented
}

func inspectRemote(context.Context, string, string, uint64, objstore.Config) (RemoteCheckpoint, error) {
	return RemoteCheckpoint{}, errNotImplemented
}
