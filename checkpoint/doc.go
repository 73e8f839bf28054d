// Package checkpoint owns durable state: the on-disk format of checkpoints
// in Pebble, the coordinator that decides when to take one, savepoints,
// retention and restore.
//
// Operators never see Pebble. They write their state (or its delta) through
// a StateWriter during a barrier and read it back through a StateReader on
// restore; the runtime in exec commits every operator's writes, every
// source split's offset and every sink's pending-commit handle in one
// atomic, synced Pebble batch. This package does not import exec.
package checkpoint
