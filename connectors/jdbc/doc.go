// Package jdbc is the 'jdbc' connector for PostgreSQL, with the option
// names of Flink's JDBC connector, on github.com/jackc/pgx/v5.
//
// A table names a database table ('url', 'table-name'); its columns are
// bound to the database table's by name (exactly, else ignoring case) and
// checked against the catalog when a query is planned: a missing column,
// a type that does not fit (see fits), a NOT NULL column a sink does not
// write, or a PRIMARY KEY without a unique index on the same columns is a
// planning error naming the table and column. The password comes from
// 'password' or from the environment variable 'password.env' names (or,
// with neither, libpq's $PGPASSWORD and ~/.pgpass); a password inside the
// url is refused, since the url is shown. Option values whose key holds
// "password" are masked wherever options are shown.
//
// Type mapping (StreamSQL ↔ PostgreSQL): BOOLEAN boolean, INT integer
// (smallint too when read), BIGINT bigint, FLOAT real, DOUBLE double
// precision, DECIMAL(p,s) numeric(p,s) (unconstrained numeric too when
// written), STRING text/varchar/char, TIMESTAMP(3) timestamp,
// TIMESTAMP_LTZ(3) timestamptz, INTERVAL interval. A sink also writes into
// wider columns: INT into bigint or numeric, BIGINT into numeric, FLOAT
// into double precision, DECIMAL into a numeric with at least as many
// integer and fraction digits.
//
// Sink (sink.go): an append-only table gets INSERTs of many rows; a table
// with PRIMARY KEY (…) NOT ENFORCED takes updating queries as upserts
// (INSERT … ON CONFLICT (key) DO UPDATE), -D and a lone -U as DELETE. The
// buffer keeps one change per key and is written when it holds
// 'sink.buffer-flush.max-rows' rows, when 'sink.buffer-flush.interval'
// has passed (checked as rows arrive), and at every checkpoint, in one
// round trip. 'sink.delivery-guarantee':
//   - exactly-once: the rows between two barriers go into one
//     transaction, PREPARE TRANSACTION'd at the barrier under the id
//     "streamsql:<job>:<table>:<hash>:0:<checkpoint>:<run>" and COMMIT
//     PREPARED once the checkpoint is durable; the ids of the prepared,
//     uncommitted transactions are the sink's handle in the checkpoint. On
//     restore the sink commits those still prepared and rolls back every
//     other prepared transaction with its prefix (pg_prepared_xacts). A
//     lost connection (a restarted server, a terminated backend) is
//     retried ('sink.max-retries', reconnecting for up to
//     'connection.max-retry-timeout'): the transaction's rows since the
//     barrier are kept in memory and replayed into a new transaction.
//     Needs max_prepared_transactions > 0 on the server (a planning error
//     otherwise, offering at-least-once). Each transaction records its
//     checkpoint in the table streamsql_checkpoints (rollback.go), so a
//     restore from older state than the committed output is refused.
//   - at-least-once (the default, as in Flink) and none: each flush is its
//     own transaction; retried after a lost connection. Upserts are
//     idempotent, so a replay after a crash rewrites the same rows.
//
// Source (source.go): a bounded scan, one SELECT in one REPEATABLE READ
// snapshot, for backfills. Lookup (lookup.go): connectors.LookupSource
// with one SELECT … WHERE (keys) IN (…) per call, retried
// ('lookup.max-retries'), behind connectors.LookupCache when
// 'lookup.cache.max-rows' is set ('lookup.cache.ttl',
// 'lookup.cache.caching-missing-key').
package jdbc
