-- Nexmark Query 13: Bounded Side Input Join
-- Joins a stream to a bounded side input, modeling basic stream
-- enrichment.
--
-- The query is the original with the side input's legacy connector
-- options ('connector.type' = 'filesystem', 'connector.path' =
-- 'file://${FLINK_HOME}/data/side_input.txt', 'format.type' = 'csv')
-- written as the filesystem connector's; side_input.txt holds keys
-- 0..9999, each with its number as the value.
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

CREATE TABLE side_input (
  key BIGINT,
  `value` VARCHAR
) WITH (
  'connector' = 'filesystem',
  'path' = 'side_input.txt',
  'format' = 'csv'
);

CREATE TABLE nexmark_q13 (
  auction  BIGINT,
  bidder  BIGINT,
  price  BIGINT,
  dateTime  TIMESTAMP(3),
  `value`  VARCHAR
) WITH (
  'connector' = 'blackhole'
);

INSERT INTO nexmark_q13
SELECT
    B.auction,
    B.bidder,
    B.price,
    B.dateTime,
    S.`value`
FROM (SELECT *, PROCTIME() as p_time FROM bid) B
JOIN side_input FOR SYSTEM_TIME AS OF B.p_time AS S
ON mod(B.auction, 10000) = S.key;
