-- Distinct visitors per page, as an updating result: a non-windowed
-- GROUP BY emits +I for a page's first row, -U/+U when its result
-- changes (nothing when it does not: more clicks of a known visitor), and
-- -D when HAVING stops holding. (As in Flink, an aggregate that only HAVING
-- reads is part of the result that is compared: HAVING COUNT(*) >= 10 here
-- would emit a -U/+U pair per click, with equal visible columns.) SELECT DISTINCT, global aggregates and
-- aggregates over updating inputs (debezium-json) work the same way.
--
--   go run ./cmd/streamsql run queries/page_visitors.sql
--
-- With SET 'table.exec.mini-batch.enabled' = 'true' a page changes once
-- per batch of input rows instead of once per row.

CREATE TABLE clicks (
  `user` STRING,
  url    STRING,
  ts     TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (
  'connector' = 'filesystem',
  'path' = 'data/clicks.json',
  'format' = 'json'
);

SELECT url, COUNT(DISTINCT `user`) AS visitors, MIN(ts) AS first_click
FROM clicks
GROUP BY url
HAVING COUNT(DISTINCT `user`) >= 3;
