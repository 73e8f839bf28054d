// Package cluster runs one job on several processes as one Kafka consumer
// group, as Kafka Streams does: there is no cluster manager of our own.
// Every process runs the same SQL with 'execution.distributed' = 'true';
// they join the group named by the job's name ('pipeline.name'), and the
// group's assignment (Strategy: sticky and lag-aware, over the job's source
// topics) decides which source partitions each process reads. Members are
// static (the process's instance id is sarama's Consumer.Group.InstanceId,
// KIP-345): a process restarted within the session timeout takes its
// partitions back without a rebalance.
//
// Rebalancing is eager although sarama 1.61 offers the cooperative
// protocol (RebalanceProtocolBalanceStrategy: the session survives a
// rebalance and only revoked claims stop): a job commits its input
// offsets in its transactions under the group generation, which each
// rebalance changes, over a fixed set of partitions; so every rebalance
// stops the job at a checkpoint and starts a fresh one, which the sticky
// assignment keeps mostly on the same partitions. Exactness does not rest
// on the protocol: offsets and output commit together.
//
// Run is the membership loop. For each assignment it calls the job's
// RunFunc with the exec.Member it describes (partitions, generation,
// member id); when the group rebalances (a process joins, leaves or stops
// answering) it closes the revoked channel, and the RunFunc stops its job
// at a checkpoint boundary (its last transaction, which commits the
// output and the input offsets together, committed) before Run lets the
// rebalance go on; then the next assignment starts a fresh job that
// resumes every partition it owns from the group's committed offsets.
//
// The package owns membership only: it never reads or writes records, and
// knows nothing of plans; the engine wires it to a query.
package cluster
