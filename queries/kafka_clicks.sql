-- Clicks per user in 10-second windows, from one Kafka topic into another,
-- exactly-once: the output topic's read_committed readers see each window
-- once, even when the job is killed and restarted.
--
-- Try it against the local broker:
--
--   streamsql dev kafka --partitions 4 --topic clicks --topic clicks_per_user &
--   kcat -b 127.0.0.1:9092 -t clicks -P -l queries/testdata/kafka_clicks.jsonl
--   streamsql run -v queries/kafka_clicks.sql        # runs until Ctrl-C
--   kcat -b 127.0.0.1:9092 -t clicks_per_user -C -e -X isolation.level=read_committed
--
-- Without kcat, any Kafka producer works; each line of the .jsonl file is one
-- message. The last lines lie an hour ahead, so that every window of the data
-- closes. kcat sends keyless messages to one partition at a time, so most of
-- the 4 partitions stay empty: a partition without messages for 2 s stops
-- holding event time back, and once all of them are idle, event time
-- advances to the most advanced partition's watermark (Flink's rule).
-- cmd/streamsql/kafka_example_test.go runs exactly these commands and
-- compares the output with queries/testdata/kafka_clicks.out.

SET 'execution.checkpointing.interval' = '1 s';
SET 'pipeline.name' = 'kafka-clicks';

CREATE TABLE clicks (
  user_id STRING,
  url STRING,
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = 'clicks',
  'properties.bootstrap.servers' = '127.0.0.1:9092',
  'properties.group.id' = 'kafka-clicks',
  'scan.startup.mode' = 'earliest-offset',
  'scan.watermark.idle-timeout' = '2 s',
  'format' = 'json'
);

CREATE TABLE clicks_per_user (
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  user_id STRING,
  clicks BIGINT,
  pages BIGINT
) WITH (
  'connector' = 'kafka',
  'topic' = 'clicks_per_user',
  'properties.bootstrap.servers' = '127.0.0.1:9092',
  'format' = 'json',
  'key.format' = 'json',
  'key.fields' = 'user_id',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = 'kafka-clicks'
);

INSERT INTO clicks_per_user
SELECT window_start, window_end, user_id, COUNT(*), COUNT(DISTINCT url)
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, user_id;
