// Package filesystem is the 'filesystem' connector: a bounded source that
// reads JSON lines, CSV or Debezium change events from a file or a
// directory of files, and an exactly-once sink that writes them.
//
// Options: 'path' (required), 'format' (required: 'json', 'csv' or
// 'debezium-json') and the format options of package format
// ('json.ignore-parse-errors', 'csv.field-delimiter', …). With
// 'debezium-json' the source emits changelog rows (a line may give two
// rows, -U and +U, or none, a tombstone; see exec/rowkind.go) and the sink
// writes each row as a change event.
//
// Source. 'path' is a file, or a directory whose files are read in name
// order (a relative path is relative to the working directory, or, for
// `streamsql run FILE`, to FILE's directory: connectors.Registry.WithBaseDir); names starting with '.' or '_' and subdirectories are skipped.
// One record per line; empty lines are skipped; a line may end in "\r\n".
// Read returns io.EOF after the last line of the last file. The offset is
// (file name, file index, byte offset, line number) of the next unread
// line, so a restored source starts exactly after the last batch it
// returned: lines a checkpoint covered are never read again. Files are
// listed once, at Open: a file added later is read only by a later run,
// and only if its name sorts after the file the offset points into.
//
// A malformed record fails the source with "path/to/file.json:LINE: <what
// is wrong>", unless '<format>.ignore-parse-errors' is 'true': then it is
// skipped and counted in SourceMetrics.Malformed. So is a record whose
// event-time column (exec.SourceConfig.EventTime) is NULL or missing, or
// lies more than 'scan.watermark.max-future' ahead of the wall clock.
//
// Sink. 'path' is a directory, created if missing; the sink writes one part
// file in it, part-0.<format> (one sink per table: there is no
// parallel writing). The protocol of exec.Sink is kept by the file length:
// Write appends (buffered); PreCommit flushes, fsyncs and returns a handle
// holding the file name and its length; Commit has nothing to do (the
// length recorded in the checkpoint is the truth); Open(handle) truncates
// the part file to the handle's length, discarding what was written after
// the checkpoint, and Open(nil) — a fresh start — truncates it to empty.
//
// So the output is exactly-once only when checkpointing is on and readers
// read up to the length of the last completed checkpoint. Without
// checkpoints, the output is whatever was flushed: PreCommit, Close, and
// the 1 MiB write buffer flush it.
package filesystem
