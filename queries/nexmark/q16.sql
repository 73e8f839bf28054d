-- Nexmark Query 16: Channel Statistics Report
-- How many distinct users join the bidding for different level of price
-- for a channel? Illustrates multiple distinct aggregations with filters
-- for multiple keys.
--
-- Status: rewritten because
--   * the original groups by channel and DATE_FORMAT(dateTime,
--     'yyyy-MM-dd') without a window, an updating aggregation, which
--     StreamSQL does not support yet (nor DATE_FORMAT): this file uses a
--     1-day TUMBLE window per channel, emitted when the day ends; the day
--     is the first 10 characters of window_start and the minute
--     (max(DATE_FORMAT(dateTime, 'HH:mm'))) is characters 12 to 16 of the
--     timestamp's text;
--   * FILTER (WHERE …) is written with CASE inside COUNT, as in q15.
-- The original:
--
--   INSERT INTO nexmark_q16
--   SELECT
--       channel,
--       DATE_FORMAT(dateTime, 'yyyy-MM-dd') as `day`,
--       max(DATE_FORMAT(dateTime, 'HH:mm')) as `minute`,
--       count(*) AS total_bids,
--       count(*) filter (where price < 10000) AS rank1_bids,
--       … (the same twelve counts as q15) …
--   FROM bid
--   GROUP BY channel, DATE_FORMAT(dateTime, 'yyyy-MM-dd');
--
-- rows: 100..10004

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

CREATE TABLE nexmark_q16 (
    channel VARCHAR,
    `day` VARCHAR,
    `minute` VARCHAR,
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

INSERT INTO nexmark_q16
SELECT
     channel,
     SUBSTRING(CAST(window_start AS STRING), 1, 10) as `day`,
     MAX(SUBSTRING(CAST(dateTime AS STRING), 12, 5)) as `minute`,
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
GROUP BY channel, window_start, window_end;
