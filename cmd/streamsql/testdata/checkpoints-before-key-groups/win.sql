SET 'execution.checkpointing.interval' = '20 ms';
SET 'pipeline.name' = 'legacy-window';
CREATE TABLE ev (k INT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'filesystem', 'path' = '/tmp/gen/in', 'format' = 'csv');
CREATE TABLE agg (k INT, window_start TIMESTAMP(3), window_end TIMESTAMP(3), n BIGINT, s BIGINT, mx BIGINT) WITH ('connector' = 'filesystem', 'path' = '/tmp/gen/out-window', 'format' = 'json');
INSERT INTO agg SELECT k, window_start, window_end, COUNT(*), SUM(v), MAX(v) FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY k, window_start, window_end;
