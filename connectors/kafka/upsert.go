package kafka

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/IBM/sarama"
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// UpsertName is the upsert connector's name in WITH ('connector' =
// 'upsert-kafka').
const UpsertName = "upsert-kafka"

// optKeyPrefix is 'key.fields-prefix': the prefix of the key columns'
// names that the key format does not write.
const optKeyPrefix = "key.fields-prefix"

// upsertFactory is the 'upsert-kafka' connector: a topic read and written
// as a changelog keyed by the table's PRIMARY KEY. It translates its
// options into the kafka connector's (key.fields = the primary key,
// earliest-offset startup) and reuses its source and sink with upsert set.
type upsertFactory struct{ factory }

var (
	_ exec.StatefulOffsets       = (*source)(nil)
	_ connectors.Factory         = upsertFactory{}
	_ connectors.MetadataFactory = upsertFactory{}
	_ connectors.StateDescriber  = upsertFactory{}
)

// NewUpsert returns the upsert-kafka connector.
func NewUpsert() connectors.Factory { return upsertFactory{} }

// Name implements connectors.Factory.
func (upsertFactory) Name() string { return UpsertName }

// Options implements connectors.Factory.
func (upsertFactory) Options() []connectors.Option {
	opts := []connectors.Option{
		{Key: optTopic, Required: true, Source: true, Sink: true, Help: "the topic read and written (one)"},
		{Key: optBootstrap, Required: true, Source: true, Sink: true, Help: "comma-separated host:port list of brokers"},
		{Key: optProperties, Prefix: true, Source: true, Sink: true,
			Help: "Kafka client properties: " + strings.Join(propertyNames(), ", ") + "; others are refused"},
		{Key: optKeyFormat, Required: true, Source: true, Sink: true,
			Help: "format of the record key, which holds the PRIMARY KEY columns: json, csv or raw"},
		{Key: optValueFormat, Required: true, Source: true, Sink: true, Help: "format of the record value: json, csv or raw"},
		{Key: optKeyPrefix, Source: true, Sink: true,
			Help: "prefix of the key columns' names, not written in the key (needs 'value.fields-include' = 'EXCEPT_KEY')"},
		{Key: optValueFieldsInc, Source: true, Sink: true, Default: "ALL",
			Help: "ALL (the value holds every column) or EXCEPT_KEY (key columns only in the key)"},
		{Key: optIdleTimeout, Source: true,
			Help: "a partition without records for this long stops holding the watermark back"},
		connectors.WatermarkMaxFuture,
		// The sink's options are accepted (and ignored) by the source: an
		// upsert-kafka table is often written by one query and read by
		// another.
		{Key: optDeliveryGuarantee, Source: true, Sink: true, Default: atLeastOnce, Help: "sink: exactly-once, at-least-once or none"},
		{Key: optTxnPrefix, Source: true, Sink: true, Help: "sink: prefix of transactional ids (required for exactly-once)"},
		{Key: optTxnTimeout, Source: true, Sink: true, Default: "15 min",
			Help: "sink: Kafka transaction timeout; must exceed the checkpoint interval plus the longest downtime to recover from"},
	}
	for _, o := range format.Options {
		if o.Key != format.KeyFormat && !strings.HasPrefix(o.Key, format.DebeziumJSON+".") {
			opts = append(opts, o)
		}
	}
	return opts
}

// Validate implements connectors.Factory.
func (upsertFactory) Validate(opts map[string]string, schema types.Schema, sink bool) error {
	kopts, err := upsertOptions(opts, sink)
	if err != nil {
		return err
	}
	_, err = parseConfig(kopts, schema, sink)
	return err
}

// NewSource implements connectors.Factory.
func (upsertFactory) NewSource(cfg exec.SourceConfig) (exec.Source, error) {
	kopts, err := upsertOptions(cfg.Options, false)
	if err != nil {
		return nil, fmt.Errorf("kafka: table %q: %w", cfg.Table, err)
	}
	cfg.Options = kopts
	s, err := newSource(cfg)
	if err != nil {
		return nil, err
	}
	s.upsert = true
	s.rb.upsert = true
	return s, nil
}

// NewSink implements connectors.Factory.
func (upsertFactory) NewSink(cfg exec.SinkConfig) (exec.Sink, error) {
	kopts, err := upsertOptions(cfg.Options, true)
	if err != nil {
		return nil, fmt.Errorf("kafka: table %q: %w", cfg.Table, err)
	}
	cfg.Options = kopts
	s, err := newSink(cfg)
	if err != nil {
		return nil, err
	}
	s.upsert = true
	return s, nil
}

// upsertOptions translates an upsert-kafka table's options into the
// kafka connector's: the PRIMARY KEY columns become 'key.fields', the
// source reads from the earliest offset (the topic is the table: every
// key's latest value), the sink partitions by the key's murmur2 hash (as
// Kafka's Java client), so that the records of one key stay in one
// partition, in order.
func upsertOptions(opts map[string]string, sink bool) (map[string]string, error) {
	pk := opts[plan.PrimaryKeyOption]
	if pk == "" {
		return nil, &connectors.OptionError{Msg: "an upsert-kafka table needs PRIMARY KEY (…) NOT ENFORCED: its columns are the record key"}
	}
	if t := opts[optTopic]; strings.Contains(t, ";") {
		return nil, optErr(optTopic, "upsert-kafka reads and writes one topic, got %q", t)
	}
	switch opts[optValueFormat] {
	case format.DebeziumJSON:
		return nil, optErr(optValueFormat, "'debezium-json' carries its own changelog; upsert-kafka values are rows (json, csv or raw): use connector 'kafka' for debezium-json")
	case "":
		return nil, optErr(optValueFormat, "missing: expected 'json', 'csv' or 'raw'")
	}
	out := maps.Clone(opts)
	delete(out, plan.PrimaryKeyOption)
	out[optKeyFields] = strings.ReplaceAll(pk, ",", ";")
	if !sink {
		out[optStartupMode] = startEarliest
		for _, k := range []string{optDeliveryGuarantee, optTxnPrefix, optTxnTimeout, propTxnTimeout} {
			delete(out, k)
		}
	}
	return out, nil
}

// upsertAdd turns msg into changelog rows of the table keyed by the
// record key, against the split's last value per key: a first value is
// +I, a new value of a known key -U (the last value) and +U, a value equal
// to the last one nothing (a repeated write), a tombstone -D of the last
// value, and nothing for an unknown key. The rows of the last value carry
// msg's metadata. On error no row is added and the state is unchanged.
func (s *source) upsertAdd(sp *split, msg *sarama.ConsumerMessage) error {
	if msg.Key == nil {
		return errors.New("the record has no key (upsert-kafka records are keyed by the PRIMARY KEY)")
	}
	last, had := sp.state[string(msg.Key)]
	if msg.Value == nil {
		if !had {
			return nil
		}
		prev := *msg
		prev.Value = last
		if err := s.rb.addKind(&prev, types.Delete); err != nil {
			return fmt.Errorf("the key's last value: %w", err)
		}
		delete(sp.state, string(msg.Key))
		return nil
	}
	if had && bytes.Equal(last, msg.Value) {
		return nil
	}
	if !had {
		if err := s.rb.addKind(msg, types.Insert); err != nil {
			return err
		}
	} else {
		prev := *msg
		prev.Value = last
		if err := s.rb.addKind(&prev, types.UpdateBefore); err != nil {
			return fmt.Errorf("the key's last value: %w", err)
		}
		if err := s.rb.addKind(msg, types.UpdateAfter); err != nil {
			// Put the last value back: -U and +U of it cancel out.
			if err2 := s.rb.addKind(&prev, types.UpdateAfter); err2 != nil {
				return errors.Join(err, err2)
			}
			return err
		}
	}
	if sp.state == nil {
		sp.state = map[string][]byte{}
	}
	sp.state[string(msg.Key)] = bytes.Clone(msg.Value)
	return nil
}

// upsertPlan decides, for the rows of a batch with row kinds, what the
// upsert sink sends: +I and +U rows as the key's value, -D rows as a
// tombstone (a null value) of the key, and a -U row nothing when the next
// row is a +U of the same key (the update's new value follows, as Flink
// drops -U), else a tombstone: the row's key changed, and its old key
// must not keep the old value. keys holds the encoded keys, cut by
// s.kcuts. It returns which rows to skip, which to send as tombstones,
// and the number of messages.
func (s *sink) upsertPlan(kinds *array.Int8, keys []byte) (skip, tomb []bool, sends int) {
	n := kinds.Len()
	skip, tomb = make([]bool, n), make([]bool, n)
	key := func(r int) []byte { return keys[s.kcuts[r]:s.kcuts[r+1]] }
	for r := 0; r < n; r++ {
		switch exec.RowKindAt(kinds, r) {
		case types.Delete:
			tomb[r] = true
		case types.UpdateBefore:
			if r+1 < n && exec.RowKindAt(kinds, r+1) == types.UpdateAfter && bytes.Equal(key(r), key(r+1)) {
				skip[r] = true
				continue
			}
			tomb[r] = true
		}
		sends++
	}
	return skip, tomb, sends
}

// checkKeys refuses a row with a NULL in a PRIMARY KEY column: its record
// would have no key to upsert, and a tombstone for it none to delete.
func (s *sink) checkKeys(rec arrow.Record) error {
	for _, c := range s.keyCols {
		col := rec.Column(c)
		if col.NullN() == 0 {
			continue
		}
		for r := 0; r < col.Len(); r++ {
			if col.IsNull(r) {
				return fmt.Errorf("kafka: table %q: a row has NULL in PRIMARY KEY column %q; upsert-kafka records are keyed by it", s.cfg.Table, s.cfg.Schema.Fields[c].Name)
			}
		}
	}
	return nil
}

// StatefulOffsets implements exec.StatefulOffsets: an upsert-kafka
// source's offsets hold the last value of every key, so the runtime takes
// them only at barriers.
func (s *source) StatefulOffsets() bool { return s.upsert || s.stage != nil }
