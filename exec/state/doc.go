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
// state knows nothing of operators, tasks or channels; it depends only on
// types, Arrow and checkpoint's reader and writer interfaces.
package state
