-- One job, two sinks: a statement set reads the clicks once and writes
-- both the clicks per user per 5 minutes and every click on the cart, as
-- JSON-lines files that are committed together, on the same checkpoints.
-- Then a UNION ALL: the cart and checkout clicks, counted per 5 minutes.
--
--   go run ./cmd/streamsql run queries/statement_set.sql
--   cat out/clicks_per_user/part-0.json out/cart_clicks/part-0.json
--
-- Run it from any directory: the input path is relative to this file
-- (data/clicks.json next to it), the output paths to the working directory.

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

CREATE TABLE clicks_per_user (
  `user`       STRING,
  window_start TIMESTAMP(3),
  window_end   TIMESTAMP(3),
  clicks       BIGINT
) WITH (
  'connector' = 'filesystem',
  'path' = 'out/clicks_per_user',
  'format' = 'json'
);

CREATE TABLE cart_clicks (
  `user` STRING,
  ts     TIMESTAMP(3)
) WITH (
  'connector' = 'filesystem',
  'path' = 'out/cart_clicks',
  'format' = 'json'
);

EXECUTE STATEMENT SET BEGIN
  INSERT INTO clicks_per_user
  SELECT `user`, window_start, window_end, COUNT(*)
  FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '5' MINUTE))
  GROUP BY window_start, window_end, `user`;

  INSERT INTO cart_clicks
  SELECT `user`, ts FROM clicks WHERE url = '/cart';
END;

-- UNION ALL: the rows of both queries, which have the same columns.
CREATE VIEW buying AS
  SELECT `user`, ts FROM clicks WHERE url = '/cart'
  UNION ALL
  SELECT `user`, ts FROM clicks WHERE url = '/checkout';

SELECT window_start, window_end, COUNT(*) AS buying_clicks
FROM TABLE(TUMBLE(TABLE buying, DESCRIPTOR(ts), INTERVAL '5' MINUTE))
GROUP BY window_start, window_end;
