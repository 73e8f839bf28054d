// Package exec is the runtime: it runs a plan graph (plan.Graph) as a
// dataflow of tasks. It owns the graph's execution and nothing of any
// operator's logic: operators come from Options.Operators (the registry in
// package operators), sources and sinks from Options.Connectors; exec
// imports neither. Durable state goes through package checkpoint.
//
// Where things are:
//
//   - graph.go: Build. One generic walk over the plan cuts it into tasks:
//     consecutive nodes with the same parallelism and no repartitioning
//     exchange between them are chained into one task (Flink's operator
//     chaining); a source, a node with several inputs (a union), a change
//     of parallelism and an exchange of parallelism > 1 start a task.
//     Sources and sinks run as one subtask.
//   - task.go: a task runs as Parallelism subtasks, each driven by one
//     goroutine. Inside a subtask a batch goes from node to node by plain
//     calls (Emitter), fan-out included; between tasks it travels over
//     channels.
//   - channel.go: the channels, bounded (channelCapacity messages), one
//     per pair of sending and receiving subtask, carrying in order batches,
//     watermarks, idle/active status and barriers (RisingWave's Chunk |
//     Watermark | Barrier). A full channel blocks its sender, so a slow
//     operator backpressures the sources; memory between tasks is a few
//     batches per channel.
//   - exchange.go: the edge out of a subtask: forward, hash (each row to
//     the subtask owning its key; hashes and row indexes in buffers reused
//     from batch to batch), single (gather), rebalance.
//   - valve.go: event time. A subtask with several input channels keeps a
//     watermark valve over them: the minimum over active inputs, idle
//     inputs stop holding it back, all idle advances it to the maximum, a
//     waking input becomes active (Flink's StatusWatermarkValve). A
//     source's splits go through the same valve (watermark.go).
//   - align.go: where a barrier waits. A subtask with several inputs
//     aligns barriers: EXACTLY_ONCE holds an input that delivered barrier
//     n until every input did; AT_LEAST_ONCE does not hold.
//   - source.go: a source subtask reads its source (a batch ahead in a
//     prefetcher on several cores, prefetch.go), injects barriers between
//     batches, and, once exhausted, sends the final watermark and stays to
//     pass barriers until the final one.
//   - job.go, checkpointing.go, savepoint.go: Run's goroutine is the
//     coordinator. It starts a checkpoint by handing a barrier to every
//     source; operators snapshot when the aligned barrier reaches them
//     (OnBarrier: they never see alignment or channels); every sink
//     pre-commits and reports; the coordinator then commits every
//     operator's state, every source's offset and every sink's handle in
//     one synced batch, after which the sinks commit. A savepoint is a
//     checkpoint whose barrier has Savepoint set. A job ends when every
//     sink's branch has ended (every source exhausted, or a satisfied
//     LIMIT): a final barrier makes the output durable and stops the
//     tasks.
//
// A job of one task at parallelism 1 — the common case — runs its whole
// chain in one goroutine with no channel between its nodes.
//
// The operators themselves live in packages under operators/ (the window
// operators in operators/window); keyed state's key groups and declared
// state tables in exec/state.
package exec
