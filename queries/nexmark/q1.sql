-- Nexmark Query 1: Currency Conversion
-- Convert each bid value from dollars to euros. Illustrates a simple
-- transformation.
--
-- Status: rewritten because StreamSQL types the literal 0.908 as DOUBLE
-- (Flink: DECIMAL(4, 3)), and a DOUBLE is not written to the sink's
-- DECIMAL(23, 3) column without a CAST. Casting the literal to
-- DECIMAL(4, 3) gives Flink's exact decimal arithmetic.
--
-- rows: 92000

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

CREATE TABLE nexmark_q1 (
  auction  BIGINT,
  bidder   BIGINT,
  price    DECIMAL(23, 3),
  dateTime TIMESTAMP(3),
  extra    VARCHAR
) WITH (
  'connector' = 'blackhole'
);

INSERT INTO nexmark_q1
SELECT
    auction,
    bidder,
    CAST(0.908 AS DECIMAL(4, 3)) * price as price, -- convert dollar to euro
    dateTime,
    extra
FROM bid;
