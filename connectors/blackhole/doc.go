// Package blackhole is the 'blackhole' connector: a sink that discards
// every row, counting them. It is for benchmarks, and for running a query
// only for its side effects (metrics, checkpoints). It takes no options.
package blackhole
