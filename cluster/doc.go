// Package cluster runs one job on several processes as one Kafka consumer
// group, as Kafka Streams does: there is no cluster manager of our own.
// Every process runs the same SQL with 'execution.distributed' = 'true';
// they join the group named by the job's name ('pipeline.name'), and the
// group's assignment (sarama's sticky strategy over the job's source
// topics) decides which source partitions each process reads.
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
