SET 'execution.checkpointing.interval' = '50 ms';
SET 'pipeline.name' = 'legacy-gen';
CREATE TABLE ev (k BIGINT, x BIGINT, ts TIMESTAMP(3))
WITH ('connector' = 'datagen', 'rows-per-second' = '50000', 'number-of-rows' = '100000', 'seed' = '7',
      'fields.k.min' = '0', 'fields.k.max' = '9', 'fields.ts.step' = '1 ms');
CREATE TABLE sel (k BIGINT, x BIGINT, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '/tmp/gen/out-gen', 'format' = 'csv');
INSERT INTO sel SELECT k, x, ts FROM ev WHERE MOD(x, 50) = 0;
