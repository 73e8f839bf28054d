-- Quickstart: purchases from a deterministic generator, counted and summed
-- per user in 10-second tumbling event-time windows. Each window's rows are
-- printed when the watermark passes its end.
--
--   go run ./cmd/streamsql run queries/quickstart.sql

CREATE TABLE purchases (
  user_id BIGINT,
  amount  BIGINT,
  ts      TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH (
  'connector' = 'datagen',
  'seed' = '42',
  'number-of-rows' = '40000',
  'rows-per-second' = '10000',       -- 4 seconds of wall-clock time
  'fields.user_id.min' = '1',
  'fields.user_id.max' = '4',
  'fields.amount.min' = '1',
  'fields.amount.max' = '100',
  'fields.ts.step' = '1 ms',         -- event time runs 10x the wall clock
  'fields.ts.max-out-of-orderness' = '1 s'
);

SELECT window_start, window_end, user_id,
       COUNT(*) AS purchases, SUM(amount) AS total, MAX(amount) AS biggest
FROM TABLE(TUMBLE(TABLE purchases, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, user_id;
