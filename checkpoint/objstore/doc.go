// Package objstore owns the object-store client the checkpoint package uses
// to make checkpoints durable off the machine: a flat key space (a Bucket)
// rooted at a location, either an S3-compatible bucket and prefix
// ("s3://bucket/prefix") or a local directory ("/abs/dir", "file:///abs/dir",
// "rel/dir"). It knows nothing of checkpoints, manifests or Pebble; it never
// logs, and never prints credentials (Config redacts them wherever it is
// formatted).
//
// # Keys
//
// Keys are relative and '/'-separated ("shared/000123.sst",
// "chk-7/_metadata"). An empty key, a leading or trailing '/', an empty, "."
// or ".." segment, a backslash or a NUL byte is rejected with an error, so a
// key can never escape its location on either implementation.
//
// # Consistency
//
// Both implementations give what the checkpoint protocol (write the data,
// then one manifest last, then read the manifest back) needs: an object is
// visible whole or not at all once Put returns nil, and a Get, Stat or List
// issued after a successful Put or Delete sees its effect.
//
//   - S3: a single PUT (no multipart below 64 MiB) is atomic, there are no
//     partial objects, and since December 2020 AWS S3 is strongly consistent
//     for read-after-write, overwrite, delete and list. S3-compatible
//     servers (SeaweedFS, MinIO) give the same. A PUT never leaves a
//     partial object, but a Put that fails on the client (a timeout, a
//     cancelled context, a lost connection) may still be applied by the
//     server afterwards — a request already sent to a hung server is
//     carried out when it resumes — so a failed Put means "unknown", not
//     "absent", and the same holds for Delete. Put does not check the key
//     is absent: callers needing put-if-absent write under a fresh name and
//     verify by reading back.
//   - Local directory: Put writes a temporary file beside the target (in the
//     same directory, a name List never shows), fsyncs it, renames it over
//     the key and fsyncs the directory, so a crash leaves either the old
//     file or the new one, never a torn one; a leftover temporary file from
//     a crash is invisible to Get, Stat and List. Delete removes the file
//     and any directories it leaves empty. A local directory cannot hold
//     both "a" and "a/b" (S3 can); Put reports that as an error.
//
// # Errors
//
// Errors name the operation and the object ("objstore: put
// s3://ckpt/jobs/x/chk-3/_metadata: …"), never credentials. A missing object
// is ErrNotExist (errors.Is). Timeouts: an S3 call that makes no progress
// for Config.Timeout fails with an error wrapping context.DeadlineExceeded,
// and the caller's context bounds every call; the S3 client (minio-go)
// retries a failed request at most 3 times, with a short backoff, within
// those bounds. A wrong key or secret is reported as "access denied".
package objstore
