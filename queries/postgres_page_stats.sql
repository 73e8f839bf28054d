-- Views, distinct visitors and average dwell time per page, an updating
-- aggregate kept in a PostgreSQL table: each page's row is upserted by its
-- PRIMARY KEY as new views arrive (INSERT … ON CONFLICT DO UPDATE).
--
-- Try it against a local PostgreSQL (the url names no host, so libpq's
-- defaults and PGHOST, PGPORT, PGUSER, PGPASSWORD apply, as for psql):
--
--   psql -d postgres -c "CREATE TABLE page_stats (page integer PRIMARY KEY, views bigint, visitors bigint, avg_dwell_ms bigint)"
--   streamsql run -v queries/postgres_page_stats.sql        # runs until Ctrl-C
--   echo 'SELECT * FROM page_stats ORDER BY page \watch 1' | psql -d postgres
--
-- The rows change every second as the job's checkpoints flush the buffered
-- upserts. With 'sink.delivery-guarantee' = 'exactly-once' the rows of a
-- checkpoint become visible together, once it is durable (PREPARE
-- TRANSACTION / COMMIT PREPARED; the server needs max_prepared_transactions
-- > 0, which Debian's default of 0 is not). cmd/streamsql's
-- TestPostgresExampleAsDocumented runs these commands.

SET 'execution.checkpointing.interval' = '1 s';
SET 'pipeline.name' = 'postgres-page-stats';

CREATE TABLE page_views (
  page INT,
  user_id INT,
  dwell_ms BIGINT
) WITH (
  'connector' = 'datagen',
  'rows-per-second' = '50',
  'fields.page.min' = '1', 'fields.page.max' = '10',
  'fields.user_id.min' = '1', 'fields.user_id.max' = '500',
  'fields.dwell_ms.min' = '100', 'fields.dwell_ms.max' = '60000'
);

CREATE TABLE page_stats (
  page INT,
  views BIGINT,
  visitors BIGINT,
  avg_dwell_ms BIGINT,
  PRIMARY KEY (page) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  'url' = 'jdbc:postgresql:///postgres',
  'table-name' = 'page_stats'
);

INSERT INTO page_stats
SELECT page, COUNT(*), COUNT(DISTINCT user_id), AVG(dwell_ms)
FROM page_views
GROUP BY page;
