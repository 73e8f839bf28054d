SET 'execution.checkpointing.interval' = '50 ms';
SET 'pipeline.name' = 'legacy-fs';
CREATE TABLE ev (k INT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'filesystem', 'path' = '/tmp/gen/in', 'format' = 'csv');
CREATE TABLE agg (k INT, window_start TIMESTAMP(3), n BIGINT, total BIGINT)
WITH ('connector' = 'filesystem', 'path' = '/tmp/gen/out-fs', 'format' = 'json');
INSERT INTO agg SELECT k, window_start, COUNT(*), SUM(v)
FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, k;
