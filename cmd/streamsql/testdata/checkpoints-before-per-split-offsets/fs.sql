SET 'execution.checkpointing.interval' = '50 ms';
SET 'pipeline.name' = 'legacy-fs';
CREATE TABLE ev (k INT, v BIGINT, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '/tmp/gen/in', 'format' = 'csv');
CREATE TABLE sel (k INT, v BIGINT, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '/tmp/gen/out-fs', 'format' = 'json');
INSERT INTO sel SELECT k, v, ts FROM ev WHERE v % 100 = 0;
