-- Nexmark Query 17: Auction Statistics Report
-- How many bids on an auction made a day and what is the price?
-- Illustrates an unbounded group aggregation.
--
-- Status: rewritten because
--   * the original groups by auction and DATE_FORMAT(dateTime,
--     'yyyy-MM-dd') without a window, an updating aggregation, which
--     StreamSQL does not support yet (nor DATE_FORMAT): this file uses a
--     1-day TUMBLE window per auction, emitted when the day ends;
--   * FILTER (WHERE …) is written with CASE inside COUNT, as in q15.
-- The original:
--
--   INSERT INTO nexmark_q17
--   SELECT
--        auction,
--        DATE_FORMAT(dateTime, 'yyyy-MM-dd') as `day`,
--        count(*) AS total_bids,
--        count(*) filter (where price < 10000) AS rank1_bids,
--        count(*) filter (where price >= 10000 and price < 1000000) AS rank2_bids,
--        count(*) filter (where price >= 1000000) AS rank3_bids,
--        min(price) AS min_price,
--        max(price) AS max_price,
--        avg(price) AS avg_price,
--        sum(price) AS sum_price
--   FROM bid
--   GROUP BY auction, DATE_FORMAT(dateTime, 'yyyy-MM-dd');
--
-- rows: 100..6100

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

CREATE TABLE nexmark_q17 (
  auction BIGINT,
  `day` VARCHAR,
  total_bids BIGINT,
  rank1_bids BIGINT,
  rank2_bids BIGINT,
  rank3_bids BIGINT,
  min_price BIGINT,
  max_price BIGINT,
  avg_price BIGINT,
  sum_price BIGINT
) WITH (
  'connector' = 'blackhole'
);

INSERT INTO nexmark_q17
SELECT
     auction,
     SUBSTRING(CAST(window_start AS STRING), 1, 10) as `day`,
     count(*) AS total_bids,
     COUNT(CASE WHEN price < 10000 THEN 1 END) AS rank1_bids,
     COUNT(CASE WHEN price >= 10000 and price < 1000000 THEN 1 END) AS rank2_bids,
     COUNT(CASE WHEN price >= 1000000 THEN 1 END) AS rank3_bids,
     min(price) AS min_price,
     max(price) AS max_price,
     avg(price) AS avg_price,
     sum(price) AS sum_price
FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '1' DAY))
GROUP BY auction, window_start, window_end;
