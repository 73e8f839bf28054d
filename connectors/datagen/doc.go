// Package datagen is the 'datagen' connector: a source that generates rows
// for any schema, deterministically, for demos, tests and benchmarks.
//
// Every value is a pure function of (seed, row number, column): a
// splitmix64 hash of them. So a source restored from a checkpoint resumes
// at the row number its offset records and produces exactly the rows an
// uninterrupted run would have produced; two runs with the same seed
// produce the same rows.
//
// Options (Flink's datagen, plus event time):
//
//	'rows-per-second'  rows emitted per second (default 10000), a positive
//	                   integer, or 'unlimited' for no rate limit. The rate
//	                   is measured with the injected clock.
//	'number-of-rows'   total rows; the source is bounded when it is set.
//	'seed'             the seed of all random values (default 0).
//	'fields.<col>.kind'       'random' (default for all but timestamps) or
//	                          'sequence'; for TIMESTAMP columns 'sequence'
//	                          (default: event time, below) or 'now' (the
//	                          clock's time, not replayable).
//	'fields.<col>.min'/'max'  bounds of random numbers, inclusive. Defaults:
//	                          the whole range of INT and BIGINT, [0, 1) for
//	                          FLOAT and DOUBLE, [0, 10^(p-s)) for DECIMAL,
//	                          [0, 1 day) for INTERVAL.
//	'fields.<col>.start'/'end' the bounds of a sequence (start default 0,
//	                          end unbounded). A sequence with an end bounds
//	                          the source: it ends after the end value.
//	                          Sequences of strings are decimal numbers.
//	'fields.<col>.length'     length of random strings (default 100).
//	'fields.<col>.null-rate'  fraction of NULLs in [0, 1] (default 0).
//
// Event time. A TIMESTAMP or TIMESTAMP_LTZ column is by default derived from
// the row number n: start + n×step − jitter(n), where
//
//	'fields.<col>.start'  a timestamp ('2024-01-01 00:00:00', the default) or
//	                      epoch milliseconds;
//	'fields.<col>.step'   the event-time distance between rows: '1 ms',
//	                      '10 s', or plain milliseconds. Default 1000 ms /
//	                      rows-per-second (so event time runs at the pace
//	                      of the wall clock), or 1 ms when unlimited;
//	'fields.<col>.max-out-of-orderness' the largest random jitter, in
//	                      milliseconds or as an interval (default 0): each
//	                      row's time is moved back by a random amount in
//	                      [0, max-out-of-orderness].
//
// So replays are identical and windows close on data, not on the wall
// clock. The offset of a source is the next row number (9 bytes).
package datagen
