package kafka

import (
	"slices"
	"testing"
	"time"

	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// TestSourceDebezium reads Debezium change events: an update becomes -U and
// +U rows with the message's key and metadata on both, a tombstone no row,
// and the batch carries the row kinds (exec/rowkind.go).
func TestSourceDebezium(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"t"}, Partitions: 1})
	ts := time.UnixMilli(1_700_000_000_000)
	must(t, b.Produce("t",
		kafkatest.Record{Key: []byte(`{"k":"a"}`), Value: []byte(`{"before":null,"after":{"v":1},"op":"c"}`), Timestamp: ts},
		kafkatest.Record{Key: []byte(`{"k":"a"}`), Value: []byte(`{"before":{"v":1},"after":{"v":2},"op":"u"}`), Timestamp: ts},
		kafkatest.Record{Key: []byte(`{"k":"a"}`), Value: []byte(`{"before":{"v":2},"after":null,"op":"d"}`), Timestamp: ts},
		kafkatest.Record{Key: []byte(`{"k":"a"}`), Value: nil, Timestamp: ts}, // tombstone
		kafkatest.Record{Key: []byte(`{"k":"b"}`), Value: []byte(`{"before":null,"after":{"v":3},"op":"r"}`), Timestamp: ts},
	))
	schema := types.Schema{Fields: []types.Field{
		{Name: "k", Type: types.Type{Kind: types.String}},
		{Name: "v", Type: types.Type{Kind: types.Int}},
		{Name: "o", Type: types.Type{Kind: types.BigInt}},
	}}
	s, _ := openSource(t, schema, []string{"", "", metaOffset}, opts(b, "topic", "t", optStartupMode, startEarliest,
		"format", format.DebeziumJSON, optKeyFormat, "json", optKeyFields, "k", optValueFieldsInc, "EXCEPT_KEY"), nil, nil)
	defer s.Close()
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < 5 && time.Now().Before(deadline) {
		rec, _, err := s.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if rec == nil {
			continue
		}
		if exec.DataColumns(rec) != 3 {
			t.Fatalf("%d data columns", exec.DataColumns(rec))
		}
		kinds := exec.RowKinds(rec)
		data := exec.WithoutRowKinds(rec)
		for i, row := range render(data, 0) {
			got = append(got, exec.RowKindAt(kinds, i).String()+row[1:])
		}
		data.Release()
		rec.Release()
	}
	want := []string{"+I|a,1,0", "-U|a,1,1", "+U|a,2,1", "-D|a,2,2", "+I|b,3,4"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}
