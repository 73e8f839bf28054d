-- Browsing sessions: clicks of the same user less than 2 minutes apart
-- form a session; each session is written to a JSON-lines file when it
-- closes, with its length and number of distinct pages.
--
--   go run ./cmd/streamsql run queries/sessions.sql && cat out/sessions/part-0.json
--
-- Run it from any directory: the input path is relative to this file
-- (data/clicks.json next to it), the output path to the working directory.

CREATE TABLE clicks (
  `user` STRING,
  url    STRING,
  ts     TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (
  'connector' = 'filesystem',
  'path' = 'data/clicks.json',
  'format' = 'json'
);

CREATE TABLE sessions (
  `user`        STRING,
  session_start TIMESTAMP(3),
  session_end   TIMESTAMP(3),
  clicks        BIGINT,
  pages         BIGINT
) WITH (
  'connector' = 'filesystem',
  'path' = 'out/sessions',
  'format' = 'json'
);

INSERT INTO sessions
SELECT `user`, window_start, window_end, COUNT(*), COUNT(DISTINCT url)
FROM TABLE(SESSION(TABLE clicks PARTITION BY `user`, DESCRIPTOR(ts), INTERVAL '2' MINUTE))
GROUP BY window_start, window_end, `user`;

-- Legacy group-window syntax works too: clicks per user per 5 minutes.
SELECT `user`, TUMBLE_START(ts, INTERVAL '5' MINUTE) AS wstart, COUNT(*) AS clicks
FROM clicks
GROUP BY TUMBLE(ts, INTERVAL '5' MINUTE), `user`;
