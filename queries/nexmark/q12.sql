-- Nexmark Query 12: Processing Time Windows
-- How many bids does a user make within a fixed processing time limit?
-- Illustrates working in processing time windows: bids of the same user
-- in 10-second windows; emit the count of bids per window.
--
-- Runs unmodified: processing-time windows (PROCTIME()), so the
-- windows a bid falls in depend on when the query runs; the test checks
-- the row count's range only (from one window per bidder, for a run that
-- takes under 10 s, to one row per bid), not the rows against SQLite.
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

CREATE VIEW B AS SELECT *, PROCTIME() as p_time FROM bid;

INSERT INTO discard_sink
SELECT
    bidder,
    count(*) as bid_count,
    window_start AS starttime,
    window_end AS endtime
FROM TABLE(
        TUMBLE(TABLE B, DESCRIPTOR(p_time), INTERVAL '10' SECOND))
GROUP BY bidder, window_start, window_end;
