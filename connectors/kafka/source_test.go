package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

func init() {
	// Quiet sarama-independent connector logs in tests.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

var testSchema = types.Schema{Fields: []types.Field{
	{Name: "id", Type: types.Type{Kind: types.BigInt}},
	{Name: "name", Type: types.Type{Kind: types.String}},
}}

func opts(b *kafkatest.Broker, kv ...string) map[string]string {
	m := map[string]string{"connector": "kafka", optBootstrap: b.Addr(), "format": "json"}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func openSource(t *testing.T, schema types.Schema, meta []string, o map[string]string, offset map[string][]byte, alloc memory.Allocator) (*source, *exec.SourceMetrics) {
	t.Helper()
	if err := (factory{}).Validate(o, schema, false); err != nil {
		t.Fatalf("validate: %v", err)
	}
	m := new(exec.SourceMetrics)
	s, err := newSource(exec.SourceConfig{Table: "t", Schema: schema, Options: o, Metadata: meta, BatchSize: 100, Alloc: alloc, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(context.Background(), offset); err != nil {
		s.Close()
		t.Fatal(err)
	}
	return s, m
}

// readRows reads until want rows came (or, with want < 0, until the
// source is quiet for 300 ms) and returns them as "split|col,col…".
func readRows(t *testing.T, s *source, want int) []string {
	t.Helper()
	var rows []string
	deadline := time.Now().Add(10 * time.Second)
	quietSince := time.Now()
	for want < 0 || len(rows) < want {
		if time.Now().After(deadline) {
			t.Fatalf("timeout: got %d rows, want %d: %v", len(rows), want, rows)
		}
		rec, split, err := s.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if rec == nil {
			if want < 0 && time.Since(quietSince) > 300*time.Millisecond {
				break
			}
			continue
		}
		quietSince = time.Now()
		rows = append(rows, render(rec, split)...)
		rec.Release()
	}
	return rows
}

func render(rec arrow.Record, split int) []string {
	var out []string
	for r := 0; r < int(rec.NumRows()); r++ {
		var cells []string
		for c := 0; c < int(rec.NumCols()); c++ {
			v, ok := format.FormatValue(rec.Column(c), r)
			if !ok {
				v = "NULL"
			}
			cells = append(cells, v)
		}
		out = append(out, fmt.Sprintf("%d|%s", split, strings.Join(cells, ",")))
	}
	return out
}

func jsonRecs(p int32, from, n int) []kafkatest.Record {
	var out []kafkatest.Record
	for i := from; i < from+n; i++ {
		out = append(out, kafkatest.Record{Partition: p, Value: fmt.Appendf(nil, `{"id":%d,"name":"p%d-%d"}`, i, p, i),
			Timestamp: time.UnixMilli(int64(1_700_000_000_000 + i*1000))})
	}
	return out
}

func TestSourceStartupModes(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"t"}, Partitions: 2})
	must(t, b.Produce("t", append(jsonRecs(0, 0, 3), jsonRecs(1, 10, 3)...)...))
	must(t, b.CommitOffsets("g1", "t", map[int32]int64{0: 1, 1: 3}))
	for _, tc := range []struct {
		name string
		kv   []string
		want []string
	}{
		{"earliest", []string{optStartupMode, startEarliest},
			[]string{"0|0,p0-0", "0|1,p0-1", "0|2,p0-2", "1|10,p1-10", "1|11,p1-11", "1|12,p1-12"}},
		{"latest", []string{optStartupMode, startLatest}, nil},
		{"group", []string{optStartupMode, startGroup, optGroupID, "g1"}, []string{"0|1,p0-1", "0|2,p0-2"}},
		{"group-new-earliest", []string{optGroupID, "fresh", "properties.auto.offset.reset", "earliest"},
			[]string{"0|0,p0-0", "0|1,p0-1", "0|2,p0-2", "1|10,p1-10", "1|11,p1-11", "1|12,p1-12"}},
		{"group-new-latest", []string{optGroupID, "fresh2"}, nil},
		{"timestamp", []string{optStartupMode, startTime, optStartupTimestamp, fmt.Sprint(1_700_000_000_000 + 2*1000)},
			[]string{"0|2,p0-2", "1|10,p1-10", "1|11,p1-11", "1|12,p1-12"}},
		{"specific", []string{optStartupMode, startSpecific, optStartupOffsets, "partition:0,offset:2;partition:1,offset:1"},
			[]string{"0|2,p0-2", "1|11,p1-11", "1|12,p1-12"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openSource(t, testSchema, nil, opts(b, append([]string{"topic", "t"}, tc.kv...)...), nil, nil)
			defer s.Close()
			got := readRows(t, s, -1)
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v\nwant %v", got, tc.want)
			}
		})
	}
	// latest: what comes after the start is read.
	s, _ := openSource(t, testSchema, nil, opts(b, "topic", "t", optStartupMode, startLatest), nil, nil)
	defer s.Close()
	must(t, b.Produce("t", jsonRecs(1, 99, 1)...))
	if got := readRows(t, s, 1); got[0] != "1|99,p1-99" {
		t.Fatalf("latest: got %v", got)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestSourceResume reads a topic while closing and reopening the source
// from its Offset at random batch boundaries: every record is read
// exactly once, in partition order, even though the group's committed
// offsets (and the startup mode) point elsewhere.
func TestSourceResume(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"t"}, Partitions: 3})
	const per = 2000
	var all []kafkatest.Record
	for p := int32(0); p < 3; p++ {
		all = append(all, jsonRecs(p, int(p)*per, per)...)
	}
	must(t, b.Produce("t", all...))
	// The group claims everything was read: a restore must ignore it.
	must(t, b.CommitOffsets("g", "t", map[int32]int64{0: per, 1: per, 2: per}))
	o := opts(b, "topic", "t", optGroupID, "g", optStartupMode, startEarliest)
	rng := rand.New(rand.NewSource(1))
	var offset map[string][]byte
	seen := map[int64]int{}
	lastByPart := map[int]int64{0: -1, 1: per - 1, 2: 2*per - 1}
	restarts := 0
	for len(seen) < 3*per {
		o[optStartupMode] = startLatest
		if offset == nil {
			o[optStartupMode] = startEarliest
		}
		s, _ := openSource(t, testSchema, nil, o, offset, nil)
		for n, tries := rng.Intn(4), 0; n >= 0 && tries < 50; tries++ {
			rec, split, err := s.Read(context.Background())
			must(t, err)
			if rec == nil {
				if len(seen) == 3*per {
					break
				}
				continue
			}
			n--
			ids := rec.Column(0).(interface{ Value(int) int64 })
			for r := 0; r < int(rec.NumRows()); r++ {
				id := ids.Value(r)
				seen[id]++
				if id != lastByPart[split]+1 {
					t.Fatalf("split %d: id %d after %d", split, id, lastByPart[split])
				}
				lastByPart[split] = id
			}
			rec.Release()
		}
		var err error
		offset, err = exec.SourceOffsets(s)
		must(t, err)
		must(t, s.Close())
		restarts++
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("id %d read %d times", id, n)
		}
	}
	t.Logf("%d restarts", restarts)
}

func TestSourceCommitsGroupOffsets(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"t"}, Partitions: 2})
	must(t, b.Produce("t", append(jsonRecs(0, 0, 5), jsonRecs(1, 0, 2)...)...))
	s, _ := openSource(t, testSchema, nil, opts(b, "topic", "t", optGroupID, "lag", optStartupMode, startEarliest), nil, nil)
	defer s.Close()
	readRows(t, s, 7)
	off, err := exec.SourceOffsets(s)
	must(t, err)
	must(t, s.CheckpointComplete(context.Background(), 1, off))
	got, err := b.CommittedOffsets("lag", "t")
	must(t, err)
	if got[0] != 5 || got[1] != 2 {
		t.Fatalf("committed %v, want 0:5 1:2", got)
	}
	// Disabled: nothing more is committed.
	s2, _ := openSource(t, testSchema, nil, opts(b, "topic", "t", optGroupID, "off", optCommitOnCP, "false", optStartupMode, startEarliest), nil, nil)
	defer s2.Close()
	readRows(t, s2, 7)
	off, _ = exec.SourceOffsets(s2)
	must(t, s2.CheckpointComplete(context.Background(), 1, off))
	if got, _ := b.CommittedOffsets("off", "t"); len(got) != 0 {
		t.Fatalf("committed %v with commit.offsets.on.checkpoint false", got)
	}
}

func TestSourceMalformed(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"t"}})
	must(t, b.ProduceJSON("t", 0, `{"id":1,"name":"a"}`, `{"id":"x"`, `{"id":3,"name":"c"}`))
	s, _ := openSource(t, testSchema, nil, opts(b, "topic", "t", optStartupMode, startEarliest), nil, nil)
	defer s.Close()
	var err error
	for i := 0; i < 50 && err == nil; i++ {
		var rec arrow.Record
		rec, _, err = s.Read(context.Background())
		if rec != nil {
			rec.Release()
		}
	}
	if err == nil || !strings.Contains(err.Error(), `topic "t" partition 0 offset 1`) {
		t.Fatalf("want an error naming topic, partition and offset, got %v", err)
	}
	s2, m := openSource(t, testSchema, nil, opts(b, "topic", "t", optStartupMode, startEarliest, "json.ignore-parse-errors", "true"), nil, nil)
	defer s2.Close()
	got := readRows(t, s2, 2)
	if !slices.Equal(got, []string{"0|1,a", "0|3,c"}) || m.Malformed.Load() != 1 {
		t.Fatalf("got %v, malformed %d", got, m.Malformed.Load())
	}
	off, _ := exec.SourceOffsets(s2)
	pos, _ := restoredOffsets(off)
	if pos[0].offset != 3 {
		t.Fatalf("offset %v, want 3 (past the skipped record)", pos)
	}
}

func TestSourceMetadataAndKey(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"t"}, Partitions: 2})
	ts := time.UnixMilli(1_700_000_000_123)
	must(t, b.Produce("t",
		kafkatest.Record{Partition: 1, Key: []byte(`{"k":"a"}`), Value: []byte(`{"v":1}`), Timestamp: ts},
		kafkatest.Record{Partition: 1, Key: nil, Value: []byte(`{"v":2}`), Timestamp: ts.Add(time.Second)},
		kafkatest.Record{Partition: 1, Key: []byte(`{"k":"c"}`), Value: nil, Timestamp: ts}, // tombstone
	))
	schema := types.Schema{Fields: []types.Field{
		{Name: "k", Type: types.Type{Kind: types.String}},
		{Name: "v", Type: types.Type{Kind: types.Int}},
		{Name: "p", Type: types.Type{Kind: types.Int}},
		{Name: "o", Type: types.Type{Kind: types.BigInt}},
		{Name: "ts", Type: types.Type{Kind: types.TimestampLTZ, Precision: 3}},
		{Name: "tp", Type: types.Type{Kind: types.String}},
	}}
	meta := []string{"", "", metaPartition, metaOffset, metaTimestamp, metaTopic}
	s, _ := openSource(t, schema, meta, opts(b, "topic", "t", optStartupMode, startEarliest,
		optKeyFormat, "json", optKeyFields, "k", optValueFieldsInc, "EXCEPT_KEY"), nil, nil)
	defer s.Close()
	got := readRows(t, s, 2)
	want := []string{"1|a,1,1,0,2023-11-14 22:13:20.123,t", "1|NULL,2,1,1,2023-11-14 22:13:21.123,t"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	for _, tc := range []struct {
		key string
		typ types.Type
		ok  bool
	}{
		{metaPartition, types.Type{Kind: types.Int}, true},
		{metaPartition, types.Type{Kind: types.BigInt}, false},
		{metaOffset, types.Type{Kind: types.BigInt}, true},
		{metaTimestamp, types.Type{Kind: types.Timestamp, Precision: 3}, true},
		{metaTimestamp, types.Type{Kind: types.String}, false},
		{"headers", types.Type{Kind: types.String}, false},
	} {
		if err := (factory{}).ValidateMetadata(tc.key, tc.typ); (err == nil) != tc.ok {
			t.Errorf("ValidateMetadata(%s, %s) = %v", tc.key, tc.typ, err)
		}
	}
}

func TestSourceDiscovery(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"t"}, Partitions: 2})
	must(t, b.Produce("t", jsonRecs(1, 0, 1)...))
	s, _ := openSource(t, testSchema, nil, opts(b, "topic", "t", optStartupMode, startEarliest, optDiscovery, "100 ms"), nil, nil)
	defer s.Close()
	readRows(t, s, 1)
	must(t, b.AddPartitions("t", 3))
	must(t, b.Produce("t", jsonRecs(2, 7, 2)...))
	got := readRows(t, s, 2)
	if !slices.Equal(got, []string{"2|7,p2-7", "2|8,p2-8"}) || s.Splits() != 3 {
		t.Fatalf("got %v with %d splits", got, s.Splits())
	}
	// The new partition has its own offset record.
	off, err := exec.SourceOffsets(s)
	must(t, err)
	if len(off) != 3 || off["t/2"] == nil || s.SplitName(2) != "t/2" {
		t.Fatalf("offsets %q, split 2 named %q", slices.Sorted(maps.Keys(off)), s.SplitName(2))
	}
	noop := func(string, []byte) error { return nil }
	if n := testing.AllocsPerRun(10, func() { _ = s.Offsets(noop) }); n != 0 {
		t.Fatalf("Offsets allocates %v times", n)
	}
	// A restore from offsets taken before the partition existed reads the
	// new partition from its start, as the same split.
	delete(off, "t/2")
	s2, _ := openSource(t, testSchema, nil, opts(b, "topic", "t", optStartupMode, startLatest), off, nil)
	defer s2.Close()
	if got := readRows(t, s2, 2); !slices.Equal(got, []string{"2|7,p2-7", "2|8,p2-8"}) {
		t.Fatalf("after restore: %v", got)
	}
	// And so does one from the one blob of a checkpoint written before
	// offsets were kept per split.
	pos, err := restoredOffsets(off)
	must(t, err)
	s3, _ := openSource(t, testSchema, nil, opts(b, "topic", "t", optStartupMode, startLatest), map[string][]byte{exec.LegacySplit: encodeOffsets(pos)}, nil)
	defer s3.Close()
	if got := readRows(t, s3, 2); !slices.Equal(got, []string{"2|7,p2-7", "2|8,p2-8"}) {
		t.Fatalf("after a legacy restore: %v", got)
	}
}

func TestSourceErrors(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"t"}})
	s, err := newSource(exec.SourceConfig{Table: "t", Schema: testSchema, Options: opts(b, "topic", "nope", optStartupMode, startEarliest)})
	must(t, err)
	err = s.Open(context.Background(), nil)
	s.Close()
	if err == nil || !strings.Contains(err.Error(), `topic "nope" does not exist`) {
		t.Fatalf("unknown topic: %v", err)
	}
	for _, tc := range []struct {
		kv  []string
		msg string
	}{
		{[]string{"topic", "t"}, "needs 'properties.group.id'"},
		{[]string{"topic", "t", optStartupMode, "bogus"}, "unknown mode"},
		{[]string{"topic", "t", optStartupMode, startTime}, "scan.startup.timestamp-millis"},
		{[]string{"topic", "t", optStartupMode, startSpecific, optStartupOffsets, "partition:x"}, "non-negative"},
		{[]string{"topic", "t", optStartupMode, startEarliest, "properties.bogus.setting", "1"}, "unknown Kafka property"},
		{[]string{"topic", "t", optStartupMode, startEarliest, optKeyFormat, "json"}, "needs 'key.fields'"},
		{[]string{optStartupMode, startEarliest}, "needs 'topic' or 'topic-pattern'"},
	} {
		err := (factory{}).Validate(opts(b, tc.kv...), testSchema, false)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v: got %v, want %q", tc.kv, err, tc.msg)
		}
	}
	var oe interface{ OptionKey() string }
	err = (factory{}).Validate(opts(b, "topic", "t", optDeliveryGuarantee, exactlyOnce), testSchema, true)
	if !errors.As(err, &oe) || oe.OptionKey() != optTxnPrefix {
		t.Errorf("exactly-once without prefix: %v", err)
	}
	err = (factory{}).Validate(opts(b, "topic", "t", optTxnTimeout, "500 ms"), testSchema, true)
	if err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("short timeout: %v", err)
	}
}

func TestOffsetEncoding(t *testing.T) {
	pos := []partitionOffset{{"a", 0, 0}, {"a", 3, 1 << 40}, {"bé", 1, 7}}
	got, err := decodeOffsets(encodeOffsets(pos))
	if err != nil || !slices.Equal(got, pos) {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range [][]byte{nil, {2}, {1, 5}, append(encodeOffsets(pos), 0)} {
		if _, err := decodeOffsets(bad); err == nil {
			t.Errorf("decoded %v", bad)
		}
	}
	h := txnHandle{txnID: "p-job-0", pid: 12345, epoch: 7, topic: "out", partitions: []int32{0, 3}}
	h2, err := decodeHandle(h.encode())
	if err != nil || h2.txnID != h.txnID || h2.pid != h.pid || h2.epoch != h.epoch || !slices.Equal(h2.partitions, h.partitions) {
		t.Fatalf("%+v %v", h2, err)
	}
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// TestSourceEventTimeChecks: with the table's event-time column named, a
// message whose event time is NULL, missing, or beyond
// 'scan.watermark.max-future' of the clock is malformed: an error naming
// topic, partition, offset and column, or skipped and counted.
func TestSourceEventTimeChecks(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"t"}})
	must(t, b.ProduceJSON("t", 0,
		`{"id":1,"ts":"2024-01-01 00:00:00.000"}`,
		`{"id":2,"ts":null}`,
		`{"id":3}`,
		`{"id":4,"ts":"2024-01-01 02:00:00.001"}`,
		`{"id":5,"ts":"2024-01-01 01:59:59.000"}`))
	schema := types.Schema{Fields: []types.Field{{Name: "id", Type: types.Type{Kind: types.BigInt}}, {Name: "ts", Type: types.TimestampType}}}
	clock := fixedClock(time.UnixMilli(1_704_067_200_000 + 3_600_000)) // 01:00
	open := func(kv ...string) (*source, *exec.SourceMetrics) {
		o := opts(b, append([]string{"topic", "t", optStartupMode, startEarliest, "scan.watermark.max-future", "1 h"}, kv...)...)
		if err := (factory{}).Validate(o, schema, false); err != nil {
			t.Fatalf("validate: %v", err)
		}
		m := new(exec.SourceMetrics)
		s, err := newSource(exec.SourceConfig{Table: "t", Schema: schema, Options: o, BatchSize: 1, Metrics: m, Clock: clock,
			EventTime: &exec.EventTime{Column: 1, MaxFuture: time.Hour}})
		must(t, err)
		must(t, s.Open(context.Background(), nil))
		t.Cleanup(func() { s.Close() })
		return s, m
	}
	s, _ := open()
	var err error
	for i := 0; i < 50 && err == nil; i++ {
		var rec arrow.Record
		rec, _, err = s.Read(context.Background())
		if rec != nil {
			rec.Release()
		}
	}
	if err == nil || !strings.Contains(err.Error(), `topic "t" partition 0 offset 1: field "ts" is NULL: a row needs an event time`) {
		t.Fatalf("want an error naming the position and the column, got %v", err)
	}
	s2, m := open("json.ignore-parse-errors", "true")
	got := readRows(t, s2, 2)
	if !slices.Equal(got, []string{"0|1,2024-01-01 00:00:00.000", "0|5,2024-01-01 01:59:59.000"}) || m.Malformed.Load() != 3 {
		t.Fatalf("got %v, malformed %d (want rows 1 and 5, 3 malformed)", got, m.Malformed.Load())
	}
}
