// Package exec runs physical plans: it builds operators from plan nodes
// (one switch, in build.go), evaluates expressions over whole Arrow arrays,
// aggregates windows, and drives the dataflow: sources are read batch by
// batch, batches are pushed through operators to the sink, and watermarks
// and checkpoint barriers travel in-band between batches.
//
// exec defines the interfaces that connectors implement (Source, Sink) and
// that operators implement (Operator). It knows nothing of SQL text or of
// any connector's internals; durable state goes through package checkpoint.
package exec
