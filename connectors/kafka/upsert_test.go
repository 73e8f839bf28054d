package kafka

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

func upsertOpts(b *kafkatest.Broker, kv ...string) map[string]string {
	m := map[string]string{"connector": UpsertName, optBootstrap: b.Addr(), optTopic: "up",
		optKeyFormat: "json", optValueFormat: "json", plan.PrimaryKeyOption: "id"}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// change is one changelog row of testSchema.
type change struct {
	kind types.RowKind
	id   int64
	name string
}

func changes(cs ...change) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, testSchema.Arrow())
	defer b.Release()
	kinds := make([]types.RowKind, len(cs))
	for i, c := range cs {
		b.Field(0).(*array.Int64Builder).Append(c.id)
		b.Field(1).(*array.StringBuilder).Append(c.name)
		kinds[i] = c.kind
	}
	rec := b.NewRecord()
	defer rec.Release()
	k := exec.NewRowKinds(memory.DefaultAllocator, kinds)
	defer k.Release()
	return exec.WithRowKinds(rec, k)
}

// renderKinds renders rows as "+I[1,a]".
func renderKinds(rec arrow.Record) []string {
	kinds := exec.RowKinds(rec)
	var out []string
	for r := 0; r < int(rec.NumRows()); r++ {
		var cells []string
		for c := 0; c < int(exec.DataColumns(rec)); c++ {
			v, ok := format.FormatValue(rec.Column(c), r)
			if !ok {
				v = "NULL"
			}
			cells = append(cells, v)
		}
		out = append(out, fmt.Sprintf("%s[%s]", exec.RowKindAt(kinds, r), strings.Join(cells, ",")))
	}
	return out
}

func openUpsertSink(t *testing.T, o map[string]string, handle []byte) *sink {
	t.Helper()
	if err := (upsertFactory{}).Validate(o, testSchema, true); err != nil {
		t.Fatalf("validate: %v", err)
	}
	es, err := (upsertFactory{}).NewSink(exec.SinkConfig{Table: "out", Schema: testSchema, Options: o, JobName: "job"})
	must(t, err)
	s := es.(*sink)
	if err := s.Open(context.Background(), handle); err != nil {
		s.Close()
		t.Fatal(err)
	}
	return s
}

func openUpsertSource(t *testing.T, o map[string]string, offsets map[string][]byte) *source {
	t.Helper()
	if err := (upsertFactory{}).Validate(o, testSchema, false); err != nil {
		t.Fatalf("validate: %v", err)
	}
	es, err := (upsertFactory{}).NewSource(exec.SourceConfig{Table: "t", Schema: testSchema, Options: o, BatchSize: 100})
	must(t, err)
	s := es.(*source)
	if err := s.Open(context.Background(), offsets); err != nil {
		s.Close()
		t.Fatal(err)
	}
	return s
}

// readChanges reads until want rows came, or with want < 0 until the
// source is quiet for 300 ms.
func readChanges(t *testing.T, s *source, want int) []string {
	t.Helper()
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	quiet := time.Now()
	for want < 0 || len(got) < want {
		if time.Now().After(deadline) {
			t.Fatalf("timeout: got %d rows, want %d: %v", len(got), want, got)
		}
		rec, _, err := s.Read(context.Background())
		must(t, err)
		if rec == nil {
			if want < 0 && time.Since(quiet) > 300*time.Millisecond {
				break
			}
			continue
		}
		quiet = time.Now()
		got = append(got, renderKinds(rec)...)
		rec.Release()
	}
	return got
}

func offsetsOf(t *testing.T, s *source) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	must(t, s.Offsets(func(split string, b []byte) error {
		out[split] = slices.Clone(b)
		return nil
	}))
	return out
}

func TestUpsertOptionErrors(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"up"}, Partitions: 1})
	for _, tc := range []struct {
		kv   []string
		sink bool
		err  string
	}{
		{[]string{plan.PrimaryKeyOption, ""}, true, "needs PRIMARY KEY (…) NOT ENFORCED"},
		{[]string{plan.PrimaryKeyOption, ""}, false, "needs PRIMARY KEY (…) NOT ENFORCED"},
		{[]string{optValueFormat, "debezium-json"}, false, "use connector 'kafka' for debezium-json"},
		{[]string{optTopic, "a;b"}, false, "one topic"},
		{[]string{optKeyPrefix, "k_"}, false, "needs 'value.fields-include' = 'EXCEPT_KEY'"},
		{[]string{optKeyPrefix, "k_", optValueFieldsInc, "EXCEPT_KEY"}, true, `key column "id" does not start with the prefix "k_"`},
		{[]string{optDeliveryGuarantee, exactlyOnce}, true, `"sink.transactional-id-prefix": required`},
		{[]string{optKeyFormat, "avro"}, true, `unknown format "avro"`},
	} {
		o := upsertOpts(b, tc.kv...)
		if o[plan.PrimaryKeyOption] == "" {
			delete(o, plan.PrimaryKeyOption)
		}
		err := (upsertFactory{}).Validate(o, testSchema, tc.sink)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v: got %v, want an error containing %q", tc.kv, err, tc.err)
		}
	}
}

// TestUpsertSink: +I and +U are the key's value, -D a tombstone, a -U
// followed by a +U of its key nothing, any other -U a tombstone; every
// key's records are in one partition.
func TestUpsertSink(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"up"}, Partitions: 3})
	s := openUpsertSink(t, upsertOpts(b), nil)
	defer s.Close()
	rec := changes(
		change{types.Insert, 1, "a"}, change{types.Insert, 2, "b"},
		change{types.UpdateBefore, 1, "a"}, change{types.UpdateAfter, 1, "c"},
		change{types.Delete, 2, "b"},
		change{types.UpdateBefore, 3, "x"}, // its +U went to another key
		change{types.UpdateAfter, 4, "x"},
	)
	must(t, s.Write(context.Background(), rec))
	rec.Release()
	_, err := s.PreCommit(context.Background(), 1)
	must(t, err)
	must(t, s.Commit(context.Background(), 1))
	recs, err := b.Read(context.Background(), "up", kafkatest.ReadOptions{})
	must(t, err)
	partOf := map[string]int32{}
	var got []string
	for _, r := range recs {
		k := string(r.Key)
		if p, ok := partOf[k]; ok && p != r.Partition {
			t.Errorf("key %s in partitions %d and %d", k, p, r.Partition)
		}
		partOf[k] = r.Partition
		v := "<tombstone>"
		if r.Value != nil {
			v = string(r.Value)
		}
		got = append(got, k+" "+v)
	}
	slices.Sort(got)
	want := []string{
		`{"id":1} {"id":1,"name":"a"}`, `{"id":1} {"id":1,"name":"c"}`,
		`{"id":2} <tombstone>`, `{"id":2} {"id":2,"name":"b"}`,
		`{"id":3} <tombstone>`, `{"id":4} {"id":4,"name":"x"}`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Per key, in the order written.
	var one []string
	for _, r := range recs {
		if string(r.Key) == `{"id":1}` {
			one = append(one, string(r.Value))
		}
	}
	if !slices.Equal(one, []string{`{"id":1,"name":"a"}`, `{"id":1,"name":"c"}`}) {
		t.Errorf("key 1's records out of order: %v", one)
	}
}

// TestUpsertSinkExceptKeyPrefix: with 'key.fields-prefix' the key format
// writes the key column without the prefix; EXCEPT_KEY leaves it out of
// the value.
func TestUpsertSinkExceptKeyPrefix(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"up"}, Partitions: 1})
	schema := types.Schema{Fields: []types.Field{
		{Name: "k_id", Type: types.Type{Kind: types.BigInt}},
		{Name: "name", Type: types.Type{Kind: types.String}},
	}}
	o := upsertOpts(b, plan.PrimaryKeyOption, "k_id", optKeyPrefix, "k_", optValueFieldsInc, "EXCEPT_KEY")
	must(t, (upsertFactory{}).Validate(o, schema, true))
	es, err := (upsertFactory{}).NewSink(exec.SinkConfig{Table: "out", Schema: schema, Options: o, JobName: "job"})
	must(t, err)
	s := es.(*sink)
	must(t, s.Open(context.Background(), nil))
	defer s.Close()
	rec := changes(change{types.Insert, 7, "a"}, change{types.Delete, 7, "a"})
	must(t, s.Write(context.Background(), rec))
	rec.Release()
	_, err = s.PreCommit(context.Background(), 1)
	must(t, err)
	recs, err := b.Read(context.Background(), "up", kafkatest.ReadOptions{})
	must(t, err)
	if len(recs) != 2 || string(recs[0].Key) != `{"id":7}` || string(recs[0].Value) != `{"name":"a"}` ||
		string(recs[1].Key) != `{"id":7}` || recs[1].Value != nil {
		t.Fatalf("got %+v", recs)
	}
	// Read back through the source: the key column comes from the key.
	src, err := (upsertFactory{}).NewSource(exec.SourceConfig{Table: "t", Schema: schema, Options: o, BatchSize: 100})
	must(t, err)
	must(t, src.Open(context.Background(), nil))
	defer src.Close()
	if got := readChanges(t, src.(*source), 2); !slices.Equal(got, []string{"+I[7,a]", "-D[7,a]"}) {
		t.Fatalf("source read %v", got)
	}
}

// TestUpsertSinkExactlyOnce: a read_committed reader sees the upserts of a
// transaction only once it is committed, and none of an aborted one.
func TestUpsertSinkExactlyOnce(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"up"}, Partitions: 2})
	o := upsertOpts(b, optDeliveryGuarantee, exactlyOnce, optTxnPrefix, "up")
	s := openUpsertSink(t, o, nil)
	rec := changes(change{types.Insert, 1, "a"}, change{types.Insert, 2, "b"})
	must(t, s.Write(context.Background(), rec))
	rec.Release()
	_, err := s.PreCommit(context.Background(), 1)
	must(t, err)
	if got := readValues(t, b, "up", false); len(got) != 0 {
		t.Fatalf("read_committed sees %v before the commit", got)
	}
	must(t, s.Commit(context.Background(), 1))
	rec = changes(change{types.UpdateBefore, 1, "a"}, change{types.UpdateAfter, 1, "z"}, change{types.Delete, 2, "b"})
	must(t, s.Write(context.Background(), rec))
	rec.Release()
	h2, err := s.PreCommit(context.Background(), 2)
	must(t, err)
	if got := readValues(t, b, "up", false); !slices.Equal(got, []string{`{"id":1,"name":"a"}`, `{"id":2,"name":"b"}`}) {
		t.Fatalf("read_committed after the first commit: %v", got)
	}
	// A crash after PreCommit(2): the next run commits it from its handle.
	s.Close()
	s = openUpsertSink(t, o, h2)
	// Written after the restore and never committed: aborted by the next run.
	rec = changes(change{types.Insert, 9, "lost"})
	must(t, s.Write(context.Background(), rec))
	rec.Release()
	_, err = s.PreCommit(context.Background(), 3)
	must(t, err)
	s.Close()
	s = openUpsertSink(t, o, h2)
	defer s.Close()
	recs, err := b.Read(context.Background(), "up", kafkatest.ReadOptions{})
	must(t, err)
	view := map[string]string{}
	for _, r := range recs {
		if r.Value == nil {
			delete(view, string(r.Key))
		} else {
			view[string(r.Key)] = string(r.Value)
		}
	}
	if len(view) != 1 || view[`{"id":1}`] != `{"id":1,"name":"z"}` {
		t.Fatalf("the compacted view of the committed records is %v, want only key 1 = z", view)
	}
}

// TestUpsertSource: a topic of keyed values and tombstones reads as a
// retracting changelog, per partition: a first value +I, a new value -U
// of the last one and +U, a repeated value nothing, a tombstone -D of the
// last value, a tombstone of an unknown key nothing.
func TestUpsertSource(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"up"}, Partitions: 2})
	rec := func(p int32, id int, name string) kafkatest.Record {
		r := kafkatest.Record{Partition: p, Key: fmt.Appendf(nil, `{"id":%d}`, id)}
		if name != "" {
			r.Value = fmt.Appendf(nil, `{"id":%d,"name":"%s"}`, id, name)
		}
		return r
	}
	must(t, b.Produce("up",
		rec(0, 1, "a"), rec(0, 1, "b"), rec(0, 1, "b"), rec(0, 5, ""), rec(0, 1, ""), rec(0, 1, "c"),
		rec(1, 2, "x"), rec(1, 3, "y"), rec(1, 2, ""),
	))
	s := openUpsertSource(t, upsertOpts(b), nil)
	got := readChanges(t, s, -1)
	byPart := func(rows []string, ids ...string) []string {
		var out []string
		for _, r := range rows {
			for _, id := range ids {
				if strings.HasPrefix(r[2:], "["+id+",") {
					out = append(out, r)
				}
			}
		}
		return out
	}
	if p0 := byPart(got, "1", "5"); !slices.Equal(p0, []string{"+I[1,a]", "-U[1,a]", "+U[1,b]", "-D[1,b]", "+I[1,c]"}) {
		t.Errorf("partition 0: %v", p0)
	}
	if p1 := byPart(got, "2", "3"); !slices.Equal(p1, []string{"+I[2,x]", "+I[3,y]", "-D[2,x]"}) {
		t.Errorf("partition 1: %v", p1)
	}
	if len(got) != 8 {
		t.Errorf("%d rows, want 8: %v", len(got), got)
	}

	// Restore: the checkpointed last values retract what comes next, and
	// nothing before the offsets is read again.
	off := offsetsOf(t, s)
	s.Close()
	if d, err := (upsertFactory{}).DescribeOffset(off["up/0"]); err != nil || !strings.Contains(d, "next offset 6 (split #0), last values of 1 keys") {
		t.Errorf("describe: %q, %v", d, err)
	}
	must(t, b.Produce("up", rec(0, 1, "d"), rec(1, 3, ""), rec(1, 2, "w")))
	s = openUpsertSource(t, upsertOpts(b), off)
	got = readChanges(t, s, -1)
	slices.Sort(got)
	if want := []string{"+I[2,w]", "+U[1,d]", "-D[3,y]", "-U[1,c]"}; !slices.Equal(got, want) {
		t.Errorf("after the restore: %v, want %v", got, want)
	}
	// A checkpoint of a plain kafka source holds no state: nothing to
	// retract.
	s.Close()
	plain := map[string][]byte{"up/0": appendSplitOffset(nil, 0, 6), "up/1": appendSplitOffset(nil, 1, 3)}
	s = openUpsertSource(t, upsertOpts(b), plain)
	defer s.Close()
	got = readChanges(t, s, -1)
	slices.Sort(got)
	if want := []string{"+I[1,d]", "+I[2,w]"}; !slices.Equal(got, want) {
		t.Errorf("from offsets without state: %v, want %v", got, want)
	}
}

// TestUpsertSourceMalformed: a record without a key, or whose value does
// not decode, fails the source naming its position; with
// 'json.ignore-parse-errors' it is skipped and the state stays.
func TestUpsertSourceMalformed(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"up"}, Partitions: 1})
	must(t, b.Produce("up",
		kafkatest.Record{Key: []byte(`{"id":1}`), Value: []byte(`{"id":1,"name":"a"}`)},
		kafkatest.Record{Key: []byte(`{"id":1}`), Value: []byte(`{"id":"oops"`)},
		kafkatest.Record{Value: []byte(`{"id":2,"name":"b"}`)},
		kafkatest.Record{Key: []byte(`{"id":1}`), Value: []byte(`{"id":1,"name":"c"}`)},
	))
	s := openUpsertSource(t, upsertOpts(b), nil)
	var err error
	for i := 0; i < 50 && err == nil; i++ {
		var rec arrow.Record
		rec, _, err = s.Read(context.Background())
		if rec != nil {
			rec.Release()
		}
	}
	s.Close()
	if err == nil || !strings.Contains(err.Error(), "malformed record at topic \"up\" partition 0 offset 1") {
		t.Fatalf("got %v", err)
	}
	s = openUpsertSource(t, upsertOpts(b, format.KeyJSONIgnoreParseErrors, "true"), nil)
	defer s.Close()
	got := readChanges(t, s, -1)
	// The malformed update leaves -U/+U of the last value, which cancel.
	if want := []string{"+I[1,a]", "-U[1,a]", "+U[1,a]", "-U[1,a]", "+U[1,c]"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// BenchmarkUpsertSource reads a topic of b.N records (one partition,
// 10,000 keys, so most records update a key) through the upsert source:
// events/s is records read per second (the -U/+U rows they become
// included in nothing but the time).
func BenchmarkUpsertSource(b *testing.B) {
	br := kafkatest.StartT(b, kafkatest.Options{Topics: []string{"up"}, Partitions: 1})
	p, err := br.NewProducer()
	must(b, err)
	for i := 0; i < b.N; i++ {
		id := i % 10000
		must(b, p.Send("up", kafkatest.Record{Key: fmt.Appendf(nil, `{"id":%d}`, id), Value: fmt.Appendf(nil, `{"id":%d,"name":"v%d"}`, id, i)}))
	}
	must(b, p.Close())
	es, err := (upsertFactory{}).NewSource(exec.SourceConfig{Table: "t", Schema: testSchema, Options: upsertOpts(br), BatchSize: 1024})
	must(b, err)
	s := es.(*source)
	must(b, s.Open(context.Background(), nil))
	defer s.Close()
	b.ResetTimer()
	rows := 0
	for s.splits[0].next < int64(b.N) {
		rec, _, err := s.Read(context.Background())
		must(b, err)
		if rec != nil {
			rows += int(rec.NumRows())
			rec.Release()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(rows)/float64(b.N), "rows/event")
}

// BenchmarkUpsertOffsets encodes the checkpointed state of one partition
// with 1,000,000 keys (JSON keys and values of about 20 and 35 bytes):
// the time per checkpoint and its bytes per key, and the state's heap
// bytes per key.
func BenchmarkUpsertOffsets(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	state := make(map[string][]byte, 1_000_000)
	for i := 0; i < 1_000_000; i++ {
		state[fmt.Sprintf(`{"id":%d}`, i)] = fmt.Appendf(nil, `{"id":%d,"name":"name-%d"}`, i, i)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc-before.HeapAlloc) / float64(len(state))
	var buf []byte
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf = appendUpsertOffset(buf[:0], 0, 42, state)
	}
	b.StopTimer()
	b.ReportMetric(float64(len(buf))/float64(len(state)), "checkpoint-bytes/key")
	b.ReportMetric(heap, "heap-bytes/key")
	if _, _, got, _, err := decodeSplitOffset(buf, true); err != nil || len(got) != len(state) {
		b.Fatalf("decode: %d keys, %v", len(got), err)
	}
}
