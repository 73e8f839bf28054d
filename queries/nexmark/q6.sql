-- Nexmark Query 6: Average Selling Price by Seller
-- What is the average selling price per seller for their last 10 closed
-- auctions. Shares the same 'winning bids' core as Query 4, and
-- illustrates a specialized combiner.
--
-- Not supported (nor by Flink: FLINK-19059 in the nexmark README): the join (auction with bid) plans, but its inner
-- SELECT filters on rownum in the WHERE of the block that defines it, so
-- ROW_NUMBER() OVER is not a Top-N there; and the OVER window (AVG over the
-- last 10 rows) would consume the Top-N's retractions, which Flink refuses
-- too. The query below is the original; the test checks that planning it
-- fails with this error:
--
-- error: ROW_NUMBER() OVER (…) is only supported in a Top-N query

CREATE TABLE auction (
  id          BIGINT,
  itemName    VARCHAR,
  description VARCHAR,
  initialBid  BIGINT,
  reserve     BIGINT,
  dateTime    TIMESTAMP(3),
  expires     TIMESTAMP(3),
  seller      BIGINT,
  category    BIGINT,
  extra       VARCHAR,
  WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
) WITH (
  'connector' = 'nexmark',
  'event.type' = 'auction',
  'events.num' = '100000'
);

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

CREATE TABLE nexmark_q6 (
  seller VARCHAR,
  avg_price  BIGINT
) WITH (
  'connector' = 'blackhole'
);

INSERT INTO nexmark_q6
SELECT
    Q.seller,
    AVG(Q.price) OVER
        (PARTITION BY Q.seller ORDER BY Q.dateTime ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)
FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY A.id, A.seller ORDER BY B.price DESC) AS rownum
    FROM (SELECT A.id, A.seller, B.price, B.dateTime
        FROM auction AS A,
            bid AS B
        WHERE A.id = B.auction
            and B.dateTime between A.dateTime and A.expires)
    WHERE rownum <= 1
) AS Q;
