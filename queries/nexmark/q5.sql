-- Nexmark Query 5: Hot Items
-- Which auctions have seen the most bids in the last period? Illustrates
-- sliding windows and combiners. (Flink's version uses 10-second windows
-- sliding every 2 seconds instead of the original hour and minute.)
--
-- Status: rewritten because the full query needs a window join (each
-- auction's count joined with the maximum count of its window). This file
-- runs its first half alone, AuctionBids: the number of bids per auction
-- per HOP window, exactly as in the original; what is left out is keeping
-- only the auctions whose count is the window's maximum. The original:
--
--   INSERT INTO nexmark_q5
--   SELECT AuctionBids.auction, AuctionBids.num
--    FROM (
--      SELECT auction, count(*) AS num, window_start AS starttime, window_end AS endtime
--      FROM TABLE(HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
--      GROUP BY auction, window_start, window_end
--    ) AS AuctionBids
--    JOIN (
--      SELECT max(CountBids.num) AS maxn, CountBids.starttime, CountBids.endtime
--      FROM (
--        SELECT count(*) AS num, window_start AS starttime, window_end AS endtime
--        FROM TABLE(HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
--        GROUP BY auction, window_start, window_end
--      ) AS CountBids
--      GROUP BY CountBids.starttime, CountBids.endtime
--    ) AS MaxBids
--    ON AuctionBids.starttime = MaxBids.starttime AND
--       AuctionBids.endtime = MaxBids.endtime AND
--       AuctionBids.num >= MaxBids.maxn;
--
-- rows: 1000..100000

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

CREATE TABLE nexmark_q5 (
  auction  BIGINT,
  num  BIGINT
) WITH (
  'connector' = 'blackhole'
);

INSERT INTO nexmark_q5
SELECT auction, count(*) AS num
FROM TABLE(
        HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
GROUP BY auction, window_start, window_end;
