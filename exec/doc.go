// Package exec runs physical plans: it builds operators from plan nodes
// (one switch, buildOperator in job.go), evaluates expressions over whole Arrow arrays,
// aggregates windows, and drives the dataflow: sources are read batch by
// batch, batches are pushed through operators to the sink, and watermarks
// and checkpoint barriers travel in-band between batches.
//
// A job is driven by one goroutine (job.go): it reads the source, pushes
// batches through the operators and the sink, advances the watermark and
// takes checkpoints between batches (checkpointing.go). On a machine with
// several cores the source is read a batch ahead in its own goroutine
// (prefetch.go), and a keyed window aggregation may run as N subtasks
// behind a hash exchange on its group keys (parallel.go); both keep the
// checkpoint exact: the offset stored is that of the last batch consumed,
// and barriers wait for every subtask.
//
// exec defines the interfaces that connectors implement (Source, Sink) and
// that operators implement (Operator). It knows nothing of SQL text or of
// any connector's internals; durable state goes through package checkpoint.
package exec
