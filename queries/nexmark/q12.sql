-- Nexmark Query 12: Processing Time Windows
-- How many bids does a user make within a fixed processing time limit?
-- Illustrates working in processing time windows: bids of the same user
-- in 10-second windows; emit the count of bids per window.
--
-- Status: rewritten because it would not be replayable: the original
-- windows on PROCTIME() (a view B adds p_time = PROCTIME()), whose results
-- depend on when the query runs; this file windows on event time
-- (dateTime) instead, which also makes the test deterministic. The
-- original:
--
--   CREATE VIEW B AS SELECT *, PROCTIME() as p_time FROM bid;
--
--   INSERT INTO discard_sink
--   SELECT bidder, count(*) as bid_count, window_start AS starttime, window_end AS endtime
--   FROM TABLE(TUMBLE(TABLE B, DESCRIPTOR(p_time), INTERVAL '10' SECOND))
--   GROUP BY bidder, window_start, window_end;
--
-- rows: 100..92000

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

CREATE TABLE discard_sink (
  bidder BIGINT,
  bid_count BIGINT,
  starttime TIMESTAMP(3),
  endtime TIMESTAMP(3)
) WITH (
  'connector' = 'blackhole'
);

INSERT INTO discard_sink
SELECT
    bidder,
    count(*) as bid_count,
    window_start AS starttime,
    window_end AS endtime
FROM TABLE(
        TUMBLE(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
GROUP BY bidder, window_start, window_end;
