-- Nexmark Query 1: Currency Conversion
-- Convert each bid value from dollars to euros. Illustrates a simple
-- transformation.
--
-- Runs unmodified (the literal 0.908 is DECIMAL(3, 3), as in
-- Flink, and the product exact decimal arithmetic).
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
    0.908 * price as price, -- convert dollar to euro
    dateTime,
    extra
FROM bid;
