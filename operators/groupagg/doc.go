// Package groupagg is the operator of plan.GroupAgg: the non-windowed,
// updating aggregation of GROUP BY without a window, of an aggregation
// without GROUP BY and of SELECT DISTINCT, with Flink's GroupAggregate
// semantics (+I for a key's first row, -U/+U per change, -D when the key's
// rows are all retracted or its row stops satisfying HAVING). Its input may
// be updating. It keeps one group of retracting accumulators (exec/agg)
// per key in memory, as keyed state (exec/state) checkpointed at barriers,
// so a checkpoint restores at another parallelism; it buffers its input
// per mini-batch when the plan says so and expires idle keys after the
// state TTL.
//
// It never touches channels, other subtasks or the checkpoint store
// itself: the runtime feeds it, aligns barriers and commits what it writes.
//
// Checkpointed state, one keyed state table "groups" held by the operator:
//
//	key: the group key's encoding (package state; empty without keys)
//	value: zig-zag varint row count, zig-zag varint last access (ms of
//	       processing time, for the state TTL), then each aggregate's
//	       encoding (exec/agg's Encode) in AggCall order
//
// Each barrier writes the groups changed since the previous one and
// deletes the ones dropped (all rows retracted, or expired).
package groupagg
