SET 'execution.checkpointing.interval' = '50 ms';
SET 'pipeline.name' = 'legacy-gen';
CREATE TABLE ev (k BIGINT, x BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'rows-per-second' = '50000', 'number-of-rows' = '100000', 'seed' = '7',
      'fields.k.min' = '0', 'fields.k.max' = '9', 'fields.ts.step' = '1 ms', 'fields.ts.max-out-of-orderness' = '500');
CREATE TABLE agg (k BIGINT, ws TIMESTAMP(3), n BIGINT, s BIGINT) WITH ('connector' = 'filesystem', 'path' = '/tmp/gen/out-gen', 'format' = 'csv');
INSERT INTO agg SELECT k, window_start, COUNT(*), SUM(x)
FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '2' SECOND)) GROUP BY window_start, window_end, k;
