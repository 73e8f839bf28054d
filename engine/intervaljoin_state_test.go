package engine_test

import (
	"fmt"
	"sort"
	"testing"

	"github.com/streamsql/streamsql/engine"
)

// TestIntervalJoinStateIsFlat: an interval join with a one-minute bound
// each way over ten minutes of event time (two datagen sources of 50 rows a
// second of event time, 3000 keys) holds only the rows of the last
// minute or so of each side: its live state entries and its checkpointed
// state bytes (state.Meter) stay within the bound the interval sets, and
// flat, while the inputs run, where a regular join would hold all 120,000
// rows; at the end the final watermark leaves nothing but the watermark.
func TestIntervalJoinStateIsFlat(t *testing.T) {
	const perSide, rowsPerSec = 30_000, 50 // 10 minutes of event time, 20 ms apart
	sql := fmt.Sprintf(`
CREATE TABLE a (k BIGINT, x BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '%[1]d', 'seed' = '3',
      'fields.k.min' = '0', 'fields.k.max' = '2999', 'fields.x.min' = '0', 'fields.x.max' = '1000',
      'fields.ts.step' = '20 ms', 'fields.ts.max-out-of-orderness' = '500 ms');
CREATE TABLE b (k BIGINT, y BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '%[1]d', 'seed' = '4',
      'fields.k.min' = '0', 'fields.k.max' = '2999', 'fields.y.min' = '0', 'fields.y.max' = '1000',
      'fields.ts.step' = '20 ms', 'fields.ts.max-out-of-orderness' = '500 ms');
CREATE TABLE out (k BIGINT, x BIGINT, y BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO out SELECT a.k, a.x, b.y FROM a FULL JOIN b
ON a.k = b.k AND a.ts BETWEEN b.ts - INTERVAL '1' MINUTE AND b.ts + INTERVAL '1' MINUTE;
`, perSide)
	dir := t.TempDir()
	run := runStateJobWith(t, engine.Options{StateDir: dir, BatchSize: 256}, "interval", sql, 0, "interval-join")
	// Each side holds a row while the watermark is less than a minute past
	// it; the watermark trails the newest rows by the 1 s delay, a batch
	// (256 rows, 5 s) may be read before it advances, and the join's
	// watermark is the slower source's: one source may run ahead of the
	// other by what the channels between them and the join hold.
	bound := int64(2*(60+1+5)*rowsPerSec) * 3 / 2
	var mid []int64 // state bytes once a minute of input is in, before the end
	var maxEntries int64
	for _, s := range run.samples {
		if s.RecordsIn > 2*perSide*95/100 {
			continue // the final watermark is near
		}
		maxEntries = max(maxEntries, s.StateEntries)
		if s.RecordsIn > 2*perSide*15/100 && s.StateBytes > 0 {
			mid = append(mid, s.StateBytes)
		}
	}
	if maxEntries > bound || maxEntries < bound/2 {
		t.Fatalf("the join held up to %d rows; the interval bounds it by %d (a regular join would hold %d)", maxEntries, bound, 2*perSide)
	}
	if len(mid) < 5 {
		t.Fatalf("only %d samples of the checkpointed state while the inputs ran: %v", len(mid), mid)
	}
	sort.Slice(mid, func(i, j int) bool { return mid[i] < mid[j] })
	lo, hi, median := mid[0], mid[len(mid)-1], mid[len(mid)/2]
	if lo < median*80/100 || hi > median*120/100 {
		t.Fatalf("checkpointed state bytes not flat over %d checkpoints from minute 1.5 to 9.5: %d to %d (median %d)", len(mid), lo, hi, median)
	}
	id, end := opBytes(t, run, "interval-join")
	if want, entries := scannedBytes(t, dir, "interval", id); end != want || entries > 2 {
		t.Fatalf("at the end %d state bytes, the checkpoint has %d in %d entries (only its catalog and watermark should be left)", end, want, entries)
	}
	t.Logf("held rows at most %d (bound %d); checkpointed state %d..%d bytes (median %d, %.0f bytes a row) over %d samples; %d bytes at the end",
		maxEntries, bound, lo, hi, median, float64(median)/float64(maxEntries), len(mid), end)
}
