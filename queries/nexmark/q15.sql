-- Nexmark Query 15: Bidding Statistics Report
-- How many distinct users join the bidding for different level of price?
-- Illustrates multiple distinct aggregations with filters.
--
-- Status: rewritten because
--   * the original groups by DATE_FORMAT(dateTime, 'yyyy-MM-dd') without a
--     window, an updating aggregation, which StreamSQL does not support
--     yet (nor DATE_FORMAT): this file uses a 1-day TUMBLE window, whose
--     result is the same but emitted once, when the day ends, and prints
--     the day as the first 10 characters of window_start;
--   * FILTER (WHERE …) clauses are not supported: count(*) FILTER (WHERE c)
--     is written COUNT(CASE WHEN c THEN 1 END) and count(distinct x)
--     FILTER (WHERE c) is COUNT(DISTINCT CASE WHEN c THEN x END), which
--     count the same rows (COUNT skips NULLs).
-- The original:
--
--   INSERT INTO nexmark_q15
--   SELECT
--        DATE_FORMAT(dateTime, 'yyyy-MM-dd') as `day`,
--        count(*) AS total_bids,
--        count(*) filter (where price < 10000) AS rank1_bids,
--        count(*) filter (where price >= 10000 and price < 1000000) AS rank2_bids,
--        count(*) filter (where price >= 1000000) AS rank3_bids,
--        count(distinct bidder) AS total_bidders,
--        count(distinct bidder) filter (where price < 10000) AS rank1_bidders,
--        count(distinct bidder) filter (where price >= 10000 and price < 1000000) AS rank2_bidders,
--        count(distinct bidder) filter (where price >= 1000000) AS rank3_bidders,
--        count(distinct auction) AS total_auctions,
--        count(distinct auction) filter (where price < 10000) AS rank1_auctions,
--        count(distinct auction) filter (where price >= 10000 and price < 1000000) AS rank2_auctions,
--        count(distinct auction) filter (where price >= 1000000) AS rank3_auctions
--   FROM bid
--   GROUP BY DATE_FORMAT(dateTime, 'yyyy-MM-dd');
--
-- 100,000 events are 10 seconds: one day.
--
-- rows: 1

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

CREATE TABLE nexmark_q15 (
  `day` VARCHAR,
  total_bids BIGINT,
  rank1_bids BIGINT,
  rank2_bids BIGINT,
  rank3_bids BIGINT,
  total_bidders BIGINT,
  rank1_bidders BIGINT,
  rank2_bidders BIGINT,
  rank3_bidders BIGINT,
  total_auctions BIGINT,
  rank1_auctions BIGINT,
  rank2_auctions BIGINT,
  rank3_auctions BIGINT
) WITH (
  'connector' = 'blackhole'
);

INSERT INTO nexmark_q15
SELECT
     SUBSTRING(CAST(window_start AS STRING), 1, 10) as `day`,
     COUNT(*) AS total_bids,
     COUNT(CASE WHEN price < 10000 THEN 1 END) AS rank1_bids,
     COUNT(CASE WHEN price >= 10000 and price < 1000000 THEN 1 END) AS rank2_bids,
     COUNT(CASE WHEN price >= 1000000 THEN 1 END) AS rank3_bids,
     COUNT(DISTINCT bidder) AS total_bidders,
     COUNT(DISTINCT CASE WHEN price < 10000 THEN bidder END) AS rank1_bidders,
     COUNT(DISTINCT CASE WHEN price >= 10000 and price < 1000000 THEN bidder END) AS rank2_bidders,
     COUNT(DISTINCT CASE WHEN price >= 1000000 THEN bidder END) AS rank3_bidders,
     COUNT(DISTINCT auction) AS total_auctions,
     COUNT(DISTINCT CASE WHEN price < 10000 THEN auction END) AS rank1_auctions,
     COUNT(DISTINCT CASE WHEN price >= 10000 and price < 1000000 THEN auction END) AS rank2_auctions,
     COUNT(DISTINCT CASE WHEN price >= 1000000 THEN auction END) AS rank3_auctions
FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '1' DAY))
GROUP BY window_start, window_end;
