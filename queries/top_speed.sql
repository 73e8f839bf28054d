-- Top speed per car over a sliding window: 30-second HOP windows every 10
-- seconds over sensor readings in a CSV file (car, speed, event time),
-- which arrive up to one second out of order.
--
--   go run ./cmd/streamsql run queries/top_speed.sql

CREATE TABLE speeds (
  car   INT,
  speed DOUBLE,
  ts    TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH (
  'connector' = 'filesystem',
  'path' = 'data/speeds.csv',
  'format' = 'csv'
);

SELECT car, window_start, window_end,
       MAX(speed) AS top_speed, AVG(speed) AS avg_speed, COUNT(*) AS readings
FROM TABLE(HOP(TABLE speeds, DESCRIPTOR(ts), INTERVAL '10' SECOND, INTERVAL '30' SECOND))
WHERE speed > 0
GROUP BY car, window_start, window_end
HAVING MAX(speed) > 130;
