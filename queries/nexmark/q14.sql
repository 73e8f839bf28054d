-- Nexmark Query 14: Calculation
-- Convert bid timestamp into types and find bids with specific price.
-- Illustrates duplicate expressions and usage of user-defined functions.
--
-- Status: rewritten because the UDF column count_char(extra, 'c')
-- (CREATE FUNCTION … AS 'com.github.nexmark.flink.udf.CountChar', a Java
-- class) is left out: StreamSQL's UDFs are registered from Go
-- (engine.RegisterFunction), not with CREATE FUNCTION.
-- The original:
--
--   CREATE FUNCTION count_char AS 'com.github.nexmark.flink.udf.CountChar';
--   INSERT INTO nexmark_q14
--   SELECT auction, bidder, 0.908 * price as price,
--       CASE
--           WHEN HOUR(dateTime) >= 8 AND HOUR(dateTime) <= 18 THEN 'dayTime'
--           WHEN HOUR(dateTime) <= 6 OR HOUR(dateTime) >= 20 THEN 'nightTime'
--           ELSE 'otherTime'
--       END AS bidTimeType,
--       dateTime, extra, count_char(extra, 'c') AS c_counts
--   FROM bid
--   WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000;
--
-- rows: 1000..92000

CREATE TABLE bid (
  auction  BIGINT,
  bidder   BIGINT,
  price    BIGINT,
  channel  VARCHAR,
  url      VARCHAR,
  dateTime TIMESTAMP(3),
  extra    VARCHAR,
  WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
) WITH (
  'connector' = 'nexmark',
  'event.type' = 'bid',
  'events.num' = '100000'
);

CREATE TABLE nexmark_q14 (
    auction BIGINT,
    bidder BIGINT,
    price  DECIMAL(23, 3),
    bidTimeType VARCHAR,
    dateTime TIMESTAMP(3),
    extra VARCHAR
) WITH (
  'connector' = 'blackhole'
);

INSERT INTO nexmark_q14
SELECT
    auction,
    bidder,
    0.908 * price as price,
    CASE
        WHEN HOUR(dateTime) >= 8 AND HOUR(dateTime) <= 18 THEN 'dayTime'
        WHEN HOUR(dateTime) <= 6 OR HOUR(dateTime) >= 20 THEN 'nightTime'
        ELSE 'otherTime'
    END AS bidTimeType,
    dateTime,
    extra
FROM bid
WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000;
