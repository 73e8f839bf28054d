package kafka_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/engine"
)

// TestDebeziumTopic: a Kafka topic of Debezium change events, read through
// the engine, gives a SELECT's client each row with its kind, the message
// key's column on both rows of an update.
func TestDebeziumTopic(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"cdc"}, Partitions: 1})
	ts := time.UnixMilli(1_700_000_000_000)
	if err := b.Produce("cdc",
		kafkatest.Record{Key: []byte(`{"id":1}`), Value: []byte(`{"before":null,"after":{"price":10},"op":"c"}`), Timestamp: ts},
		kafkatest.Record{Key: []byte(`{"id":1}`), Value: []byte(`{"before":{"price":10},"after":{"price":12},"op":"u"}`), Timestamp: ts},
		kafkatest.Record{Key: []byte(`{"id":1}`), Value: []byte(`{"before":{"price":12},"after":null,"op":"d"}`), Timestamp: ts},
		kafkatest.Record{Key: []byte(`{"id":1}`), Value: nil, Timestamp: ts},
	); err != nil {
		t.Fatal(err)
	}
	sql := fmt.Sprintf(`CREATE TABLE prices (id BIGINT, price BIGINT) WITH ('connector' = 'kafka', 'topic' = 'cdc',
  'properties.bootstrap.servers' = '%s', 'scan.startup.mode' = 'earliest-offset',
  'key.format' = 'json', 'key.fields' = 'id', 'value.fields-include' = 'EXCEPT_KEY', 'value.format' = 'debezium-json');
SELECT id, price FROM prices WHERE price > 0;`, b.Addr())
	var got []string
	runQuery(t, sql, 20*time.Second, func(rec arrow.Record) bool {
		for _, r := range engine.TypedRows(rec) {
			got = append(got, r.String())
		}
		return len(got) >= 4
	})
	want := []string{"+I[1, 10]", "-U[1, 10]", "+U[1, 12]", "-D[1, 12]"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
