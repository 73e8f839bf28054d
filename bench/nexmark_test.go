package bench

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/engine"
)

// nexmarkQueries are the Nexmark queries benchmarked, by file in
// queries/nexmark: the runnable ones whose cost is the engine's (q7 is its
// window-aggregate part; see the file's header).
var nexmarkQueries = []struct {
	name, file  string
	parallelism int
}{
	{"q0", "q0.sql", 1},
	{"q1", "q1.sql", 1},
	{"q2", "q2.sql", 1},
	{"q5", "q5.sql", 1},
	{"q5/parallelism=2", "q5.sql", 2},
	{"q7-part", "q7.sql", 1},
	{"q11", "q11.sql", 1},
	{"q11/parallelism=2", "q11.sql", 2},
	{"q21", "q21.sql", 1},
	{"q22", "q22.sql", 1},
}

// BenchmarkNexmark runs Nexmark queries from the nexmark generator (bids,
// at maximum speed) into blackhole, without checkpoints. b.N is the number
// of Nexmark events, of all three types (46 in 50 are bids, the rest are
// generated and skipped): events/s compares with published Nexmark
// figures, which count events the same way.
func BenchmarkNexmark(b *testing.B) {
	for _, q := range nexmarkQueries {
		src, err := os.ReadFile("../queries/nexmark/" + q.file)
		if err != nil {
			b.Fatal(err)
		}
		const num = "'events.num' = '100000'"
		if !strings.Contains(string(src), num) {
			b.Fatalf("%s: no %s to replace", q.file, num)
		}
		b.Run(q.name, func(b *testing.B) {
			// The published configuration: 10M events per second of event
			// time (the reference's default, 10,000, spreads the same events
			// over 1000 times more event time).
			sql := strings.ReplaceAll(string(src), num, "'events.num' = '"+strconv.Itoa(b.N)+"', 'first-event.rate' = '10000000'")
			eng := engine.New(engine.Options{StateDir: b.TempDir(), CheckpointInterval: -1, Parallelism: q.parallelism})
			b.ReportAllocs()
			b.ResetTimer()
			m := startMeter()
			runSQL(b, eng, sql)
			reportRate(b, m)
		})
	}
}
