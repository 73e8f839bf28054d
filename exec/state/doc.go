// Package state owns the identity and partitioning of keyed state: the one
// byte encoding of a row's key columns (shared by the keyed exchange, which
// hashes it, and by operators' state, which stores it), the hash of those
// bytes, key groups (Flink's unit of keyed state: a key belongs to key group
// hash % maxParallelism; subtask i of p owns a contiguous range of them),
// and the readers that give one subtask the part of a checkpoint that
// belongs to its range.
//
// The encoding and the hash are part of the checkpoint format: a restored
// subtask must receive exactly the keys whose state it restored, so neither
// may change without a state version change.
//
// How the runtime uses it, for a node of parallelism p with max key groups:
//
//   - The keyed exchange in front of it hashes each row with a KeyHasher on
//     the node's keys and sends it to subtask
//     SubtaskOf(KeyGroupOf(hash, max), p, max).
//   - Subtask i is built with NewSubtask(i, p, max) (its KeyGroups are
//     RangeFor(i, p, max)) and opened with
//     SubtaskReader(restored.Operator(id), its KeyGroups): keyed entries
//     of its key groups plus every non-keyed entry.
//   - All subtasks of a node write their state into the node's one
//     checkpoint.StateWriter, unprefixed (the keys already carry key
//     groups and subtask indexes), one at a time (a writer is used by one
//     goroutine at a time).
//   - pipeline.max-parallelism must not change between a checkpoint and
//     its restore: Tables.Restore refuses it.
//
// Operators declare their state as tables (Spec, NewTables); see
// tables.go for the key layout and the rules of redistribution. A Meter
// keeps the encoded size of one operator's state as its subtasks write it
// (the runtime meters every node's state writer; the job's metrics report
// it).
//
// state knows nothing of operators, tasks or channels; it depends only on
// types, Arrow and checkpoint's reader and writer interfaces.
package state
