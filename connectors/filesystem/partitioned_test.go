package filesystem

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// partSchema is (id BIGINT, dt STRING, hm STRING), partitioned by dt, hm.
var partSchema = types.Schema{Fields: []types.Field{
	{Name: "id", Type: types.BigIntType},
	{Name: "dt", Type: types.Type{Kind: types.String}},
	{Name: "hm", Type: types.Type{Kind: types.String}},
}}

type partRow struct {
	id     int64
	dt, hm string
}

func partRecord(alloc memory.Allocator, rows []partRow) arrow.Record {
	b := array.NewRecordBuilder(alloc, partSchema.Arrow())
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.Int64Builder).Append(r.id)
		b.Field(1).(*array.StringBuilder).Append(r.dt)
		if r.hm == "" {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.StringBuilder).Append(r.hm)
		}
	}
	return b.NewRecord()
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func newPartSink(t *testing.T, dir string, clock exec.Clock, extra map[string]string) *partitionedSink {
	t.Helper()
	opts := map[string]string{optPath: dir, "format": "csv", plan.PartitionKeysOption: "dt,hm",
		optCommitPolicy: "success-file", optCommitTrigger: "partition-time", optTimestampPattern: "$dt $hm:00"}
	for k, v := range extra {
		opts[k] = v
	}
	if err := validatePartitioned(opts, true); err != nil {
		t.Fatal(err)
	}
	s, err := newPartitionedSink(exec.SinkConfig{Table: "out", Schema: partSchema, Options: opts, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tree returns every file under dir with its content.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// byPartition returns, per partition directory, the sorted ids in its part
// files, and the partitions that have a success file.
func byPartition(files map[string]string) (map[string][]string, []string) {
	ids := map[string][]string{}
	var committed []string
	for p, content := range files {
		dir, name := filepath.ToSlash(filepath.Dir(p)), filepath.Base(p)
		if name == "_SUCCESS" {
			committed = append(committed, dir)
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(content), "\n") {
			if line != "" {
				ids[dir] = append(ids[dir], line)
			}
		}
	}
	for _, v := range ids {
		slices.Sort(v)
	}
	slices.Sort(committed)
	return ids, committed
}

// TestPartitionedSinkLayoutAndCommit: rows go to dt=…/hm=…/ (':' escaped,
// NULL to the default partition), without their partition columns; a
// partition gets its success file at the first checkpoint after the
// watermark passed its time plus the delay, not before.
func TestPartitionedSinkLayoutAndCommit(t *testing.T) {
	dir := t.TempDir()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	s := newPartSink(t, dir, &fakeClock{t: time.Unix(0, 0)}, map[string]string{optCommitDelay: "1 min"})
	ctx := context.Background()
	must(t, s.Open(ctx, nil))
	rec := partRecord(alloc, []partRow{{1, "2024-01-01", "10:00"}, {2, "2024-01-01", "10:00"}, {3, "2024-01-01", "10:01"}, {4, "2024-01-01", ""}})
	must(t, s.Write(ctx, rec))
	rec.Release()
	must(t, s.Watermark(ctx, mustTS(t, "2024-01-01 10:00:30")))
	if _, err := s.PreCommit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	must(t, s.Commit(ctx, 1))
	ids, committed := byPartition(tree(t, dir))
	want := map[string][]string{"dt=2024-01-01/hm=10%3A00": {"1", "2"}, "dt=2024-01-01/hm=10%3A01": {"3"}, "dt=2024-01-01/hm=__DEFAULT_PARTITION__": {"4"}}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("partitions %v, want %v", ids, want)
	}
	if len(committed) != 0 {
		t.Fatalf("committed %v before the watermark passed 10:00 + 1 min", committed)
	}
	must(t, s.Watermark(ctx, mustTS(t, "2024-01-01 10:01:00")))
	if _, err := s.PreCommit(ctx, 2); err != nil {
		t.Fatal(err)
	}
	must(t, s.Commit(ctx, 2))
	if _, committed = byPartition(tree(t, dir)); !slices.Equal(committed, []string{"dt=2024-01-01/hm=10%3A00"}) {
		t.Fatalf("committed %v, want only 10:00", committed)
	}
	// The default partition has no time: it keeps its rows but is never
	// committed.
	must(t, s.Watermark(ctx, mustTS(t, "2024-01-01 12:00:00")))
	if _, err := s.PreCommit(ctx, 3); err != nil {
		t.Fatal(err)
	}
	must(t, s.Commit(ctx, 3))
	if _, committed = byPartition(tree(t, dir)); !slices.Equal(committed, []string{"dt=2024-01-01/hm=10%3A00", "dt=2024-01-01/hm=10%3A01"}) {
		t.Fatalf("committed %v, want 10:00 and 10:01, not the default partition", committed)
	}
	must(t, s.Close())
}

func mustTS(t *testing.T, s string) int64 {
	t.Helper()
	ms, err := types.ParseTimestamp(s)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// TestPartitionedSinkExactlyOnce: a sink killed after writing past its
// last checkpoint and restored from it (over and over, at random points,
// with rolling files) leaves exactly the rows of an uninterrupted run in
// each partition, and commits the partitions the restored checkpoint
// committed even when its Commit never ran.
func TestPartitionedSinkExactlyOnce(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var all []partRow
	for i := 0; i < 3000; i++ {
		all = append(all, partRow{int64(i), "2024-01-0" + fmt.Sprint(1+i/1000), fmt.Sprintf("%02d:%02d", i/100%24, i%3)})
	}
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	ctx := context.Background()
	dir := t.TempDir()
	clock := &fakeClock{t: time.Unix(0, 0)}
	extra := map[string]string{optRollSize: "2kb", optCommitTrigger: "process-time", optCommitDelay: "10 s"}
	var handle []byte
	next, done := 0, 0 // rows covered by the handle; rows written
	restores := 0
	for next < len(all) {
		s := newPartSink(t, dir, clock, extra)
		must(t, s.Open(ctx, handle))
		done = next
		for done < len(all) {
			n := 1 + rng.Intn(80)
			rec := partRecord(alloc, all[done:min(done+n, len(all))])
			must(t, s.Write(ctx, rec))
			done += int(rec.NumRows())
			rec.Release()
			clock.t = clock.t.Add(time.Second)
			if rng.Intn(4) == 0 {
				h, err := s.PreCommit(ctx, int64(done))
				must(t, err)
				if rng.Intn(3) > 0 { // else: killed before the commit
					must(t, s.Commit(ctx, int64(done)))
				}
				handle, next = h, done
				if rng.Intn(2) == 0 {
					break
				}
			}
		}
		if done == len(all) {
			h, err := s.PreCommit(ctx, int64(done))
			must(t, err)
			handle, next = h, done
			if rng.Intn(2) == 0 {
				must(t, s.Commit(ctx, int64(done)))
			}
		}
		must(t, s.Close()) // killed: what came after the handle must go
		restores++
	}
	// A last run restores the final checkpoint (committing what it
	// committed) and ends.
	clock.t = clock.t.Add(time.Minute)
	s := newPartSink(t, dir, clock, extra)
	must(t, s.Open(ctx, handle))
	_, err := s.PreCommit(ctx, 1<<40)
	must(t, err)
	must(t, s.Commit(ctx, 1<<40))
	must(t, s.Close())

	files := tree(t, dir)
	ids, committed := byPartition(files)
	want := map[string][]string{}
	for _, r := range all {
		d := "dt=" + r.dt + "/hm=" + escapePartitionValue(r.hm)
		want[d] = append(want[d], fmt.Sprint(r.id))
	}
	var wantDirs []string
	for d, v := range want {
		slices.Sort(v)
		wantDirs = append(wantDirs, d)
	}
	slices.Sort(wantDirs)
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("after %d restores the partitions differ from an uninterrupted run's:\n got %v\nwant %v", restores, ids, want)
	}
	if !slices.Equal(committed, wantDirs) {
		t.Fatalf("committed partitions %v, want %v", committed, wantDirs)
	}
	parts := 0
	for p := range files {
		if strings.HasPrefix(filepath.Base(p), "part-0-") {
			parts++
		}
	}
	if parts <= len(wantDirs) {
		t.Fatalf("%d part files for %d partitions: files did not roll at 2 KB", parts, len(wantDirs))
	}
	t.Logf("%d restores, %d part files in %d partitions", restores, parts, len(wantDirs))
}

func TestPartitionOptions(t *testing.T) {
	base := map[string]string{optPath: t.TempDir(), "format": "csv", plan.PartitionKeysOption: "dt,hm"}
	for _, c := range []struct {
		opts map[string]string
		sink bool
		want string
	}{
		{map[string]string{optPath: "x", "format": "csv", optCommitDelay: "1 min"}, true, "applies to a PARTITIONED BY table only"},
		{map[string]string{"format": "debezium-json"}, false, "reading a PARTITIONED BY table supports the 'json' and 'csv' formats"},
		{map[string]string{optCommitTrigger: "partition-tme"}, true, "expected 'process-time' or 'partition-time'"},
		{map[string]string{optCommitPolicy: "metastore"}, true, "needs a metastore"},
		{map[string]string{optSuccessFile: "_DONE"}, true, "to write success files"},
		{map[string]string{optTimestampPattern: "$dt $hour:00"}, true, "$hour is not a partition column"},
		{map[string]string{optWatermarkZone: "Mars/Olympus"}, true, "unknown time zone"},
		{map[string]string{optRollSize: "lots"}, true, "expected a size"},
		{map[string]string{optCommitDelay: "soon"}, true, "expected a duration"},
	} {
		opts := map[string]string{}
		if c.opts[optPath] == "" {
			for k, v := range base {
				opts[k] = v
			}
		}
		for k, v := range c.opts {
			opts[k] = v
		}
		err := validatePartitioned(opts, c.sink)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.opts, err, c.want)
		}
	}
	for v, want := range map[string]int64{"128 mb": 128 << 20, "64kb": 64 << 10, "1g": 1 << 30, "4096": 4096} {
		if n, err := parseSize(v); err != nil || n != want {
			t.Errorf("parseSize(%q) = %d, %v", v, n, err)
		}
	}
}
