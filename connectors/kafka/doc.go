// Package kafka is the 'kafka' connector: a source that reads the
// partitions of one or more topics with per-partition offsets kept in
// StreamSQL's checkpoints, and a sink that writes one topic at-least-once
// or exactly-once with one Kafka transaction per checkpoint. It talks to
// the brokers with sarama; it knows nothing of plans or SQL.
//
// # Source
//
// Each partition is a split (exec.SplitReporter): splits are numbered in
// the order topic, then partition, at the first start, and partitions
// found later ('scan.topic-partition-discovery.interval') are appended, so
// the runtime keeps one watermark per partition and a quiet partition
// stops holding event time back after 'scan.watermark.idle-timeout' (when
// all are quiet, event time advances to the largest of their watermarks). Read
// returns a batch of one partition's messages (round-robin over
// partitions) and waits at most 100 ms when none is available.
//
// The source assigns partitions itself (sarama ConsumePartition), never
// through a consumer-group rebalance; in a job on several processes
// (exec.Member, member.go) package cluster's group decides which
// partitions it reads, each from the group's committed offset (waiting
// while a transaction commits one: OffsetFetch with require_stable), and
// the exactly-once sink commits their offsets in its transactions under
// the member's generation (AddOffsetsToTxn, EOS-v2) with the transactional
// id '<prefix>-<job>-<instance id>'; the checkpoint-recording group and the
// rollback check are skipped, since such a job starts every assignment
// fresh. Offset encodes every partition's
// next offset — the one after the last message of a returned batch;
// messages sarama buffered but Read has not returned are not counted — as
// (topic, partition, offset) triples in split order (see encodeOffsets).
// Open with a checkpointed offset resumes exactly there, whatever the
// startup mode and the group's committed offsets say; partitions the
// checkpoint does not know start from their earliest offset. Without a
// checkpoint, 'scan.startup.mode' decides: earliest-offset, latest-offset,
// group-offsets (the default, as in Flink; partitions without a committed
// offset follow 'properties.auto.offset.reset', default latest),
// timestamp ('scan.startup.timestamp-millis') or specific-offsets
// ('scan.startup.specific-offsets' = 'partition:0,offset:42;…', other
// partitions from earliest). After each completed checkpoint the offsets
// are committed to 'properties.group.id' (unless
// 'properties.commit.offsets.on.checkpoint' is false) so that lag tools
// see progress; they are never read back on restore.
//
// Formats: 'format' (alias 'value.format') is json, csv, raw (the whole
// value as one STRING column) or debezium-json (change events: an update
// is a -U and a +U row, a delete a -D row, both carrying the message's key
// and metadata columns); the json.*, csv.* and debezium-json.* options of
// package format apply. With 'key.format' and 'key.fields' and
// 'value.fields-include' = 'EXCEPT_KEY', the key columns are decoded from
// the message key; with ALL (the default) every column is read from the
// value. Metadata columns: `col INT METADATA FROM 'partition'`, BIGINT
// 'offset', TIMESTAMP_LTZ(3) or TIMESTAMP(3) 'timestamp', STRING 'topic'.
// A malformed record fails the job with its topic, partition and offset,
// or, with '<format>.ignore-parse-errors', is skipped and counted as
// malformed. Tombstones (null values) are skipped, except by 'raw'.
//
// A broker that goes away is retried by sarama with backoff; the errors
// are logged, and a partition that makes no progress for a minute fails
// the source with its last error. An unknown topic fails Open.
//
// # Sink
//
// 'sink.delivery-guarantee': none (fire and forget), at-least-once (the
// default: PreCommit waits until every message is acknowledged), or
// exactly-once. Exactly-once uses one transactional id per job,
// '<sink.transactional-id-prefix>-<job name>-0', the same in every run,
// and one transaction per checkpoint: Write produces into the open
// transaction; PreCommit flushes and returns a handle holding the
// transactional id, the producer id and epoch, and the partitions
// written; Commit commits (EndTxn) and starts a new producer, whose
// InitProducerID bumps the epoch, so every transaction has its own
// epoch. Open(handle) after a crash commits the handle's transaction with
// a low-level EndTxn under its producer id and epoch (a fenced answer
// means it was committed before), then starts a producer whose
// InitProducerID fences the crashed process and aborts whatever it wrote
// after the checkpoint. 'sink.transaction-timeout' (default 15 min, at
// least 1 s) must exceed the checkpoint interval plus the longest downtime
// to recover from: a pre-committed transaction that times out is aborted
// by the broker and its rows are lost. Open fails saying so when the
// broker answers INVALID_TXN_STATE; a broker that bumped the epoch on the
// timeout answers PRODUCER_FENCED, which Open cannot tell from "committed
// before" and only logs.
//
// Each transaction that writes output also records its checkpoint id,
// atomically with the output: PreCommit adds an offset commit into the
// consumer group '<transactional id>-checkpoints' (the sink topic's
// partition 0, offset = checkpoint id, metadata "checkpoint N of job J")
// to the open transaction. Open reads the group's committed offset before
// committing or fencing anything: when it names a newer checkpoint than
// the handle's (or any, on a start without a handle), the job's state was
// lost or replaced by an older copy, and Open fails naming both ids and
// --allow-rollback / --fresh, unless exec.SinkConfig.AllowRollback is set
// (--allow-rollback, --fresh, a savepoint, a job without checkpoints). A
// checkpoint whose transaction wrote nothing records nothing: restoring it
// or a later one repeats no output. Handles of version 1 (before the id
// was recorded) skip the check.
//
// 'sink.partitioner': default (murmur2 of the key as Kafka's Java client,
// random without a key), fixed (partition 0: one sink subtask) or
// round-robin. Key columns ('key.format', 'key.fields') are written as the
// message key (named without 'key.fields-prefix', which needs
// 'value.fields-include' = 'EXCEPT_KEY'); a 'timestamp' metadata column as
// the record timestamp.
//
// # Upsert-kafka
//
// NewUpsert is the 'upsert-kafka' connector (upsert.go): the table's
// PRIMARY KEY (required; the planner passes it as plan.PrimaryKeyOption)
// becomes 'key.fields', and the kafka source and sink run with upsert set.
// The sink writes +I/+U rows as the key's value and -D rows as tombstones;
// a -U is dropped when the next row is a +U of the same encoded key, else
// written as a tombstone; a NULL key column is an error. The source starts
// from the earliest offset and keeps per split the last value bytes of
// every key bytes: +I for a first value, -U (last) and +U for a new one,
// nothing for a repeated one, -D (last) for a tombstone of a known key.
// The rows of the last value carry the current record's metadata. That
// state is part of the split's offset (version 3, appendUpsertOffset), so
// it is checkpointed atomically with the next offset; a version 2 offset
// (connector 'kafka') restores with no state. A value that fails to
// decode under 'json.ignore-parse-errors' leaves the state unchanged (its
// -U is cancelled by a +U of the last value).
//
// # Properties
//
// 'properties.*' keys map to sarama settings where sarama has one:
// bootstrap.servers, group.id, client.id, security.protocol,
// sasl.mechanism (PLAIN), sasl.jaas.config, request.timeout.ms,
// retry.backoff.ms, metadata.max.age.ms, isolation.level,
// fetch.min.bytes, fetch.max.bytes, max.partition.fetch.bytes,
// fetch.max.wait.ms, auto.offset.reset, session.timeout.ms,
// heartbeat.interval.ms, acks, linger.ms, batch.size,
// max.request.size, retries, compression.type, enable.idempotence,
// transaction.timeout.ms. Any other property is an error, so that a
// misspelt setting is not silently ignored.
package kafka
