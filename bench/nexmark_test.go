package bench

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/engine"
)

// nexmarkSettings is the reference's configuration of its Flink runs
// (nexmark-flink's sql-client-defaults.yaml): mini-batches of 50,000 rows
// or 2 s for the non-windowed aggregations. (Its
// table.optimizer.distinct-agg.split.enabled spreads a hot COUNT DISTINCT
// over parallel subtasks; at parallelism 1 it has nothing to do, and
// StreamSQL has no such option.)
const nexmarkSettings = `SET 'table.exec.mini-batch.enabled' = 'true';
SET 'table.exec.mini-batch.allow-latency' = '2 s';
SET 'table.exec.mini-batch.size' = '50000';
`

// BenchmarkNexmark runs every runnable file of queries/nexmark (those
// without an '-- error:' header) from the nexmark generator at maximum
// speed into its sink, without checkpoints, with the published
// configuration: first-event.rate 10,000,000 events per second of event
// time and the reference's mini-batch settings. b.N is the number of
// Nexmark events, of all three types (46 in 50 are bids): events/s
// compares with published Nexmark figures, which count events the same
// way; events/cpu-s is what one core does. q5 and q11 also run with their
// keyed operators at parallelism 2.
// eventsNum is a query file's bound of its nexmark tables, which the
// benchmark replaces by b.N.
var eventsNum = regexp.MustCompile(`'events\.num' = '\d+'`)

func BenchmarkNexmark(b *testing.B) {
	files, err := filepath.Glob("../queries/nexmark/q*.sql")
	if err != nil || len(files) == 0 {
		b.Fatalf("no queries: %v", err)
	}
	type query struct {
		name, src   string
		parallelism int
	}
	var qs []query
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if strings.Contains(string(src), "\n-- error: ") {
			continue // not runnable
		}
		name := strings.TrimSuffix(filepath.Base(f), ".sql")
		qs = append(qs, query{name, string(src), 1})
		if name == "q5" || name == "q11" {
			qs = append(qs, query{name + "/parallelism=2", string(src), 2})
		}
	}
	// q0 … q22 in numeric order.
	num := func(q query) int {
		n, _ := strconv.Atoi(strings.TrimPrefix(strings.SplitN(q.name, "/", 2)[0], "q"))
		return n
	}
	for i := 1; i < len(qs); i++ {
		for j := i; j > 0 && num(qs[j]) < num(qs[j-1]); j-- {
			qs[j], qs[j-1] = qs[j-1], qs[j]
		}
	}
	sideInput, err := filepath.Abs("../queries/nexmark/side_input.txt")
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range qs {
		if !eventsNum.MatchString(q.src) {
			b.Fatalf("%s: no 'events.num' option to replace", q.name)
		}
		b.Run(q.name, func(b *testing.B) {
			sql := eventsNum.ReplaceAllLiteralString(q.src, "'events.num' = '"+strconv.Itoa(b.N)+"', 'first-event.rate' = '10000000'")
			sql = strings.ReplaceAll(sql, "file:///tmp/nexmark/", "file://"+filepath.ToSlash(b.TempDir())+"/") // q10's files
			sql = strings.ReplaceAll(sql, "'path' = 'side_input.txt'", "'path' = '"+sideInput+"'")             // q13's, relative to its file
			eng := engine.New(engine.Options{StateDir: b.TempDir(), CheckpointInterval: -1, Parallelism: q.parallelism})
			b.ReportAllocs()
			b.ResetTimer()
			m := startMeter()
			runSQL(b, eng, nexmarkSettings+sql)
			reportRate(b, m)
		})
	}
}
