package kafka

import (
	"fmt"
	"strings"

	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// Name is the connector's name in WITH ('connector' = 'kafka').
const Name = "kafka"

// The metadata keys of a Kafka record.
const (
	metaTopic     = "topic"
	metaPartition = "partition"
	metaOffset    = "offset"
	metaTimestamp = "timestamp"
)

type factory struct{}

var (
	_ connectors.Factory         = factory{}
	_ connectors.MetadataFactory = factory{}
)

// New returns the kafka connector.
func New() connectors.Factory { return factory{} }

// Name implements connectors.Factory.
func (factory) Name() string { return Name }

// Options implements connectors.Factory.
func (factory) Options() []connectors.Option {
	opts := []connectors.Option{
		{Key: optTopic, Source: true, Sink: true,
			Help: "source: topic name, or several separated by ';'; sink: the topic written"},
		{Key: optTopicPattern, Source: true, Help: "source: a regular expression of topic names (instead of 'topic')"},
		{Key: optBootstrap, Required: true, Source: true, Sink: true, Help: "comma-separated host:port list of brokers"},
		{Key: optGroupID, Source: true, Help: "consumer group for 'group-offsets' and for committing checkpointed offsets"},
		{Key: optCommitOnCP, Source: true, Default: "true",
			Help: "commit offsets to the group after each completed checkpoint (lag tools only; never read back on restore)"},
		{Key: propTxnTimeout, Sink: true, Help: "transaction timeout in ms (as 'sink.transaction-timeout')"},
		{Key: optProperties, Prefix: true, Source: true, Sink: true,
			Help: "Kafka client properties: " + strings.Join(propertyNames(), ", ") + "; others are refused"},
		{Key: optStartupMode, Source: true, Default: startGroup,
			Help: "earliest-offset, latest-offset, group-offsets, timestamp or specific-offsets (a restored checkpoint wins)"},
		{Key: optStartupTimestamp, Source: true, Help: "epoch milliseconds for 'timestamp' startup mode"},
		{Key: optStartupOffsets, Source: true, Help: "'partition:0,offset:42;partition:1,offset:300' for 'specific-offsets'"},
		{Key: optDiscovery, Source: true, Default: "5 min", Help: "how often new partitions are looked for; '0' disables"},
		{Key: optIdleTimeout, Source: true,
			Help: "a partition without records for this long stops holding the watermark back"},
		connectors.WatermarkMaxFuture,
		{Key: optValueFormat, Source: true, Sink: true, Help: "alias of 'format'"},
		{Key: optKeyFormat, Source: true, Sink: true, Help: "format of the message key: json, csv or raw"},
		{Key: optKeyFields, Source: true, Sink: true, Help: "columns of the key, separated by ';'"},
		{Key: optKeyPrefix, Source: true, Sink: true,
			Help: "prefix of the key columns' names, not written in the key (needs 'value.fields-include' = 'EXCEPT_KEY')"},
		{Key: optValueFieldsInc, Source: true, Sink: true, Default: "ALL",
			Help: "ALL (the value holds every column) or EXCEPT_KEY (key columns only in the key)"},
		{Key: optDeliveryGuarantee, Sink: true, Default: atLeastOnce, Help: "exactly-once, at-least-once or none"},
		{Key: optTxnPrefix, Sink: true, Help: "prefix of transactional ids (required for exactly-once)"},
		{Key: optPartitioner, Sink: true, Default: "default",
			Help: "default (murmur2 of the key, round-robin without one), fixed (partition 0) or round-robin"},
		{Key: optTxnTimeout, Sink: true, Default: "15 min",
			Help: "Kafka transaction timeout; must exceed the checkpoint interval plus the longest downtime to recover from"},
	}
	for _, o := range format.Options {
		if o.Key == format.KeyFormat {
			o.Help = "value format: 'json', 'csv' or 'raw' (one STRING column)"
		}
		opts = append(opts, o)
	}
	return opts
}

// Validate implements connectors.Factory.
func (factory) Validate(opts map[string]string, schema types.Schema, sink bool) error {
	_, err := parseConfig(opts, schema, sink)
	return err
}

// ValidateMetadata implements connectors.MetadataFactory.
func (factory) ValidateMetadata(key string, t types.Type) error {
	var ok bool
	var want string
	switch key {
	case metaTopic:
		ok, want = t.Kind == types.String, "STRING"
	case metaPartition:
		ok, want = t.Kind == types.Int, "INT"
	case metaOffset:
		ok, want = t.Kind == types.BigInt, "BIGINT"
	case metaTimestamp:
		ok, want = t.Kind == types.TimestampLTZ || t.Kind == types.Timestamp, "TIMESTAMP_LTZ(3) or TIMESTAMP(3)"
	default:
		return fmt.Errorf("unknown metadata key %q of connector 'kafka' (known: topic, partition, offset, timestamp)", key)
	}
	if !ok {
		return fmt.Errorf("metadata %q of connector 'kafka' is %s, not %s", key, want, t.Nullable())
	}
	return nil
}

// NewSource implements connectors.Factory.
func (factory) NewSource(cfg exec.SourceConfig) (exec.Source, error) { return newSource(cfg) }

// NewSink implements connectors.Factory.
func (factory) NewSink(cfg exec.SinkConfig) (exec.Sink, error) { return newSink(cfg) }

// config is a table's parsed options.
type config struct {
	brokers   []string
	topics    []string
	pattern   string
	formats   formats
	groupID   string
	commitCP  bool
	startup   string
	startTS   int64
	specific  map[int32]int64
	resetTo   string // auto.offset.reset for group-offsets
	discovery int64  // ms; 0 disables

	guarantee  string
	txnPrefix  string
	partition  string
	txnTimeout int64 // ms
}

func parseConfig(opts map[string]string, schema types.Schema, sink bool) (config, error) {
	var c config
	var err error
	if c.brokers, err = brokers(opts); err != nil {
		return c, err
	}
	if _, err := saramaConfig(opts, sink); err != nil {
		return c, err
	}
	if c.formats, err = parseFormats(opts, schema); err != nil {
		return c, err
	}
	c.topics = topics(opts)
	c.pattern = opts[optTopicPattern]
	if sink {
		if len(c.topics) != 1 {
			return c, optErr(optTopic, "a kafka sink writes one topic, got %q", opts[optTopic])
		}
		return c, parseSinkConfig(&c, opts)
	}
	switch {
	case len(c.topics) == 0 && c.pattern == "":
		return c, &connectors.OptionError{Msg: "a kafka source needs 'topic' or 'topic-pattern'"}
	case len(c.topics) > 0 && c.pattern != "":
		return c, optErr(optTopicPattern, "give either 'topic' or 'topic-pattern', not both")
	}
	if c.pattern != "" {
		if _, err := compilePattern(c.pattern); err != nil {
			return c, optErr(optTopicPattern, "%v", err)
		}
	}
	c.groupID = opts[optGroupID]
	if c.commitCP, err = boolOpt(opts, optCommitOnCP, true); err != nil {
		return c, err
	}
	c.resetTo = strings.ToLower(opts["properties.auto.offset.reset"])
	switch c.resetTo {
	case "":
		c.resetTo = "latest"
	case "earliest", "latest", "none":
	default:
		return c, optErr("properties.auto.offset.reset", "expected earliest, latest or none, got %q", c.resetTo)
	}
	c.startup = opts[optStartupMode]
	if c.startup == "" {
		c.startup = startGroup
	}
	switch c.startup {
	case startEarliest, startLatest:
	case startGroup:
		if c.groupID == "" {
			return c, optErr(optStartupMode, "'group-offsets' (the default) needs 'properties.group.id'; set it or choose 'earliest-offset' or 'latest-offset'")
		}
	case startTime:
		v, ok := opts[optStartupTimestamp]
		if !ok {
			return c, optErr(optStartupMode, "'timestamp' needs 'scan.startup.timestamp-millis'")
		}
		if _, err := fmt.Sscan(v, &c.startTS); err != nil || c.startTS < 0 {
			return c, optErr(optStartupTimestamp, "expected epoch milliseconds, got %q", v)
		}
	case startSpecific:
		v, ok := opts[optStartupOffsets]
		if !ok {
			return c, optErr(optStartupMode, "'specific-offsets' needs 'scan.startup.specific-offsets'")
		}
		if len(c.topics) != 1 {
			return c, optErr(optStartupOffsets, "specific offsets need exactly one 'topic'")
		}
		if c.specific, err = parseSpecificOffsets(v); err != nil {
			return c, optErr(optStartupOffsets, "%v", err)
		}
	default:
		return c, optErr(optStartupMode, "unknown mode %q: expected earliest-offset, latest-offset, group-offsets, timestamp or specific-offsets", c.startup)
	}
	if _, ok := opts[optStartupTimestamp]; ok && c.startup != startTime {
		return c, optErr(optStartupTimestamp, "applies only to 'scan.startup.mode' = 'timestamp'")
	}
	if _, ok := opts[optStartupOffsets]; ok && c.startup != startSpecific {
		return c, optErr(optStartupOffsets, "applies only to 'scan.startup.mode' = 'specific-offsets'")
	}
	d, err := duration(opts, optDiscovery, defaultDiscovery)
	if err != nil {
		return c, err
	}
	c.discovery = d.Milliseconds()
	return c, nil
}

func parseSinkConfig(c *config, opts map[string]string) error {
	c.guarantee = opts[optDeliveryGuarantee]
	if c.guarantee == "" {
		c.guarantee = atLeastOnce
	}
	switch c.guarantee {
	case exactlyOnce:
		c.txnPrefix = strings.TrimSpace(opts[optTxnPrefix])
		if c.txnPrefix == "" {
			return optErr(optTxnPrefix, "required for 'sink.delivery-guarantee' = 'exactly-once'")
		}
	case atLeastOnce, noGuarantee:
		if _, ok := opts[optTxnPrefix]; ok {
			return optErr(optTxnPrefix, "applies only to 'sink.delivery-guarantee' = 'exactly-once'")
		}
	default:
		return optErr(optDeliveryGuarantee, "expected exactly-once, at-least-once or none, got %q", c.guarantee)
	}
	c.partition = opts[optPartitioner]
	switch c.partition {
	case "":
		c.partition = "default"
	case "default", "fixed", "round-robin":
	default:
		return optErr(optPartitioner, "expected default, fixed or round-robin, got %q", c.partition)
	}
	timeout, err := duration(opts, optTxnTimeout, defaultTxnTimeout)
	if err != nil {
		return err
	}
	key := optTxnTimeout
	if v, ok := opts[propTxnTimeout]; ok {
		if _, both := opts[optTxnTimeout]; both {
			return optErr(propTxnTimeout, "give either 'sink.transaction-timeout' or 'properties.transaction.timeout.ms', not both")
		}
		var ms int64
		if _, err := fmt.Sscan(v, &ms); err != nil {
			return optErr(propTxnTimeout, "expected milliseconds, got %q", v)
		}
		timeout, key = msDuration(ms), propTxnTimeout
	}
	if timeout < minTxnTimeout {
		return optErr(key, "transaction timeout %v is too short: a transaction stays open for a whole checkpoint interval and until the next restore commits it; use at least 1 s, better minutes", timeout)
	}
	c.txnTimeout = timeout.Milliseconds()
	return nil
}
