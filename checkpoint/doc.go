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
//	store, err := checkpoint.OpenContext(ctx, stateDir, checkpoint.Options{JobName: name, Logger: l, Clock: c})
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
//
// # Remote checkpoints (Options.CheckpointDir)
//
// With a checkpoint dir ("s3://bucket/prefix" or a local directory, see
// package objstore) every checkpoint is also made durable off the
// machine, incrementally, as Flink's RocksDB backend does with shared SST
// files. The job's objects live under <location>/<path-escaped job>/:
//
//	shared/<sha256>.<ext>  an immutable Pebble table (or blob) file, content-addressed
//	chk-<id>/<name>        the checkpoint's small private files (MANIFEST-*, OPTIONS-*, marker.*)
//	chk-<id>/_metadata     the manifest, written last
//	chk-<id>/_failed       marks a checkpoint whose manifest upload failed
//
// Pending.Commit writes the local synced batch as before, then, still
// holding the store's lock: flushes the memtable, takes a Pebble
// checkpoint (hard links) into a staging directory beside the job's,
// uploads in parallel the table files not uploaded before (remembered by
// name and size: Pebble never reuses a file number within a store, so an
// unchanged table is neither re-read nor re-sent), then the private files,
// then the manifest. The manifest is one header line carrying the SHA-256
// of the JSON body after it: format, job, id, the checkpoint's metadata
// record (with the digest of its records, so that a local store can be
// compared with it), its offsets and sink handles, and every file (local
// name, key, size, SHA-256). Commit reads it back and compares the bytes;
// only then does it return nil, so a sink's two-phase commit, which waits
// for Commit, waits for the remote checkpoint. Pebble's log is left out:
// it holds nothing after the flush (every write to the store takes the
// lock the upload holds), and Pebble recycles log files, so a copy could
// be as large as the biggest batch ever written.
//
// Why this is safe (write-then-verify, not put-if-absent): an S3 PUT of
// one object is atomic (a reader sees the old object, none, or all of the
// new one; never part) and S3 is strongly consistent for read-after-write
// and list, so a manifest that reads back equal exists whole, and so do
// the files written before it. Nothing ever overwrites a shared object
// with different bytes (the key is the content's hash), and chk-<id>/ is
// written only by the checkpoint with that id. A torn manifest cannot
// exist on S3, but a local-directory store on a failing disk or a broken
// proxy could produce one: its checksum catches it. The protocol assumes
// one writer per job and checkpoint dir (as the local directory's lock
// does for the local store); two jobs with the same name and checkpoint
// dir would delete each other's files.
//
// A failed or timed-out upload (Options.UploadTimeout) fails the
// checkpoint: Commit returns an error naming the location and the object,
// the runtime counts it against the tolerable failures, and the local
// checkpoint stays, so the next checkpoint's upload carries its data. It
// is never restored from the local store: with a checkpoint dir the
// remote manifests are the source of truth. A manifest PUT that failed in
// the writer's view may still land later (a request delayed in a stalled
// server or proxy); so Commit writes a chk-<id>/_failed marker for it
// before it returns (retried as long as Open retries, Options.OpenRetry,
// the sinks waiting meanwhile), restore never uses a marked checkpoint,
// and the sinks, which wait for Commit, go on only once the checkpoint
// cannot come back. If the marker cannot be
// written either, Commit's error wraps ErrOutcomeUnknown: the runtime
// stops the job with its sinks still at the checkpoint's barrier, so that
// whichever checkpoint the next run restores, the sinks' transactions
// hold exactly the output it covers.
//
// OpenContext finds the newest manifest that verifies (newest first;
// every one skipped is logged as an error, and a checkpoint directory
// without a manifest, an interrupted upload, too). If the local store's
// newest checkpoint is that one (same id, same digest) it is used as is;
// otherwise the local job directory is cleared and the checkpoint's files
// downloaded into it in parallel, each one's SHA-256 checked; a missing
// or damaged file skips that checkpoint for the next older one. If
// manifests exist and none is usable, Open fails (ErrCorrupt) rather than
// start empty; with no checkpoint in the checkpoint dir the local store
// is used. While the checkpoint dir is unreachable Open retries with
// backoff until ctx or UploadTimeout ends, then fails naming the
// location. Fresh and FromSavepoint delete the job's remote checkpoints:
// a new lineage must never restore the old one's.
//
// Remote retention keeps the newest NumRetained manifests and, after each
// successful upload, deletes every other chk-* object and every shared
// object no kept manifest references. Pebble gets a larger L0 compaction
// threshold with a checkpoint dir, since every compaction's output is
// uploaded again; reads, only at restore, pay for it.
//
// Savepoint to an s3:// location is self-contained: every file under db/
// and a manifest (_metadata) written last and verified; FromSavepoint
// accepts such a location (or a local copy of one), downloads and checks
// every file, then restores as from a directory savepoint. ListRemote and
// InspectRemote read a checkpoint dir for `streamsql checkpoints`. A
// ReadOnly store never contacts the checkpoint dir.
package checkpoint
