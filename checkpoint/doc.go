// Package checkpoint owns durable state: the on-disk format of checkpoints
// in Pebble, the coordinator that decides when to take one, savepoints,
// retention and restore.
//
// Operators never see Pebble. They write their state (or its delta) through
// a StateWriter during a barrier and read it back through a StateReader on
// restore; the runtime in exec commits every operator's writes, every
// source split's offset and every sink's pending-commit handle in one
// atomic, synced Pebble batch. This package does not import exec.
//
// # Use
//
//	store, err := checkpoint.Open(stateDir, checkpoint.Options{JobName: name, Logger: l, Clock: c})
//	r, err := store.Restore() // newest valid checkpoint, or nil
//	// r.Operator(id) → StateReader for Open; r.SourceOffsets(id); r.SinkHandle(id)
//	cp := store.Begin(r.ID() + 1)
//	w := cp.Operator("3-window-agg")    // StateWriter for OnBarrier
//	cp.SetSourceOffset("1-source", "bids/3", off)
//	cp.SetSinkHandle("5-sink", handle)
//	info, err := cp.Commit(ctx)         // one synced batch
//
// A Coordinator tells the runtime when the next barrier is due. Savepoint
// copies the store aside; Options.FromSavepoint starts a job from one.
// List, Failures and RecordFailure serve `streamsql checkpoints` and the
// metrics.
//
// # On disk
//
// Each job has its own Pebble database in DIR/<path-escaped job name>/,
// locked while open. State is versioned: a checkpoint writes only the keys
// that changed, as new versions tagged with its id, and a Delete is a
// tombstone version. Restoring checkpoint N reads, per key, the newest
// version at or below N. The key layout is in keys.go. Every record ends
// with a CRC-32C of its key and value, and each checkpoint's metadata holds
// an order-independent digest (count and sum of mixed CRCs) of the records
// it wrote; Restore checks both and falls back, loudly, past any checkpoint
// that fails.
//
// Retention keeps the last Options.NumRetained checkpoints. Dropping the
// oldest happens in the committing batch; the state versions that no
// retained checkpoint can see any more are deleted right after, in a
// second, unsynced batch (if it is lost, the garbage it would have deleted
// is shadowed and harmless, and a later collection removes it).
package checkpoint
