package kafka

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/types"
)

// The option keys (Flink's names).
const (
	optTopic             = "topic"
	optTopicPattern      = "topic-pattern"
	optBootstrap         = "properties.bootstrap.servers"
	optGroupID           = "properties.group.id"
	optCommitOnCP        = "properties.commit.offsets.on.checkpoint"
	optProperties        = "properties."
	optStartupMode       = "scan.startup.mode"
	optStartupTimestamp  = "scan.startup.timestamp-millis"
	optStartupOffsets    = "scan.startup.specific-offsets"
	optDiscovery         = "scan.topic-partition-discovery.interval"
	optIdleTimeout       = "scan.watermark.idle-timeout"
	optValueFormat       = "value.format"
	optKeyFormat         = "key.format"
	optKeyFields         = "key.fields"
	optValueFieldsInc    = "value.fields-include"
	optDeliveryGuarantee = "sink.delivery-guarantee"
	optTxnPrefix         = "sink.transactional-id-prefix"
	optPartitioner       = "sink.partitioner"
	optTxnTimeout        = "sink.transaction-timeout"
	propTxnTimeout       = "properties.transaction.timeout.ms"
)

// The startup modes.
const (
	startEarliest = "earliest-offset"
	startLatest   = "latest-offset"
	startGroup    = "group-offsets"
	startTime     = "timestamp"
	startSpecific = "specific-offsets"
)

// The delivery guarantees.
const (
	exactlyOnce = "exactly-once"
	atLeastOnce = "at-least-once"
	noGuarantee = "none"
)

// formatRaw is the 'raw' format: the whole value as one STRING column.
const formatRaw = "raw"

const (
	defaultTxnTimeout = 15 * time.Minute
	defaultDiscovery  = 5 * time.Minute
	minTxnTimeout     = time.Second
)

// kafkaVersion is the protocol version sarama speaks: transactions,
// read_committed, DescribeTransactions (3.0+) and epoch bumps all need a
// recent one.
var kafkaVersion = sarama.V3_6_0_0

// property maps one Kafka client property ('properties.<name>') onto the
// sarama configuration. apply is nil for properties the connector reads
// itself.
type property struct {
	name   string
	source bool
	sink   bool
	help   string
	apply  func(c *sarama.Config, v string) error
}

func msProp(set func(c *sarama.Config, d time.Duration)) func(*sarama.Config, string) error {
	return func(c *sarama.Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("expected a number of milliseconds, got %q", v)
		}
		set(c, time.Duration(n)*time.Millisecond)
		return nil
	}
}

func intProp(set func(c *sarama.Config, n int)) func(*sarama.Config, string) error {
	return func(c *sarama.Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return fmt.Errorf("expected a non-negative integer, got %q", v)
		}
		set(c, n)
		return nil
	}
}

var jaasUser = regexp.MustCompile(`username\s*=\s*"([^"]*)"`)
var jaasPass = regexp.MustCompile(`password\s*=\s*"([^"]*)"`)

// properties lists the Kafka client properties the connector understands.
// Any other 'properties.*' key is refused: a misspelt security setting
// must not be ignored silently.
var properties = []property{
	{name: "bootstrap.servers", source: true, sink: true, help: "comma-separated host:port list of brokers (required)"},
	{name: "group.id", source: true, help: "consumer group: read by 'group-offsets', and offsets are committed to it after each checkpoint"},
	{name: "commit.offsets.on.checkpoint", source: true, help: "commit the checkpoint's offsets to the consumer group (for lag tools; never read back on restore)"},
	{name: "auto.offset.reset", source: true, help: "where 'group-offsets' starts a partition without a committed offset: 'earliest', 'latest' or 'none' (fail)"},
	{name: "transaction.timeout.ms", sink: true, help: "same as 'sink.transaction-timeout', in milliseconds"},
	{name: "client.id", source: true, sink: true, help: "client id sent to the brokers",
		apply: func(c *sarama.Config, v string) error { c.ClientID = v; return nil }},
	{name: "security.protocol", source: true, sink: true, help: "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
		apply: func(c *sarama.Config, v string) error {
			switch strings.ToUpper(v) {
			case "PLAINTEXT":
			case "SSL":
				c.Net.TLS.Enable = true
			case "SASL_PLAINTEXT":
				c.Net.SASL.Enable = true
			case "SASL_SSL":
				c.Net.SASL.Enable, c.Net.TLS.Enable = true, true
			default:
				return fmt.Errorf("expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, got %q", v)
			}
			return nil
		}},
	{name: "sasl.mechanism", source: true, sink: true, help: "SASL mechanism: PLAIN (SCRAM and GSSAPI are not supported)",
		apply: func(c *sarama.Config, v string) error {
			if strings.ToUpper(v) != sarama.SASLTypePlaintext {
				return fmt.Errorf("only PLAIN is supported, got %q", v)
			}
			c.Net.SASL.Mechanism = sarama.SASLTypePlaintext
			return nil
		}},
	{name: "sasl.jaas.config", source: true, sink: true, help: `PlainLoginModule required username="…" password="…";`,
		apply: func(c *sarama.Config, v string) error {
			u, p := jaasUser.FindStringSubmatch(v), jaasPass.FindStringSubmatch(v)
			if u == nil || p == nil {
				return fmt.Errorf(`expected username="…" and password="…"`)
			}
			c.Net.SASL.User, c.Net.SASL.Password = u[1], p[1]
			return nil
		}},
	{name: "request.timeout.ms", source: true, sink: true, help: "network read/write timeout",
		apply: msProp(func(c *sarama.Config, d time.Duration) { c.Net.ReadTimeout, c.Net.WriteTimeout = d, d })},
	{name: "retry.backoff.ms", source: true, sink: true, help: "backoff between retries to a broker",
		apply: msProp(func(c *sarama.Config, d time.Duration) {
			c.Metadata.Retry.Backoff, c.Consumer.Retry.Backoff, c.Producer.Retry.Backoff = d, d, d
		})},
	{name: "metadata.max.age.ms", source: true, sink: true, help: "metadata refresh interval",
		apply: msProp(func(c *sarama.Config, d time.Duration) { c.Metadata.RefreshFrequency = d })},
	{name: "isolation.level", source: true, help: "read_uncommitted (default) or read_committed",
		apply: func(c *sarama.Config, v string) error {
			switch strings.ToLower(v) {
			case "read_uncommitted":
				c.Consumer.IsolationLevel = sarama.ReadUncommitted
			case "read_committed":
				c.Consumer.IsolationLevel = sarama.ReadCommitted
			default:
				return fmt.Errorf("expected read_committed or read_uncommitted, got %q", v)
			}
			return nil
		}},
	{name: "session.timeout.ms", source: true, help: "a job on several processes: how long the group waits for a silent process before it moves its partitions",
		apply: msProp(func(c *sarama.Config, d time.Duration) { c.Consumer.Group.Session.Timeout = d })},
	{name: "heartbeat.interval.ms", source: true, help: "a job on several processes: how often a process tells the group it is alive (below a third of session.timeout.ms)",
		apply: msProp(func(c *sarama.Config, d time.Duration) { c.Consumer.Group.Heartbeat.Interval = d })},
	{name: "fetch.min.bytes", source: true, help: "minimum bytes per fetch",
		apply: intProp(func(c *sarama.Config, n int) { c.Consumer.Fetch.Min = int32(n) })},
	{name: "fetch.max.bytes", source: true, help: "maximum bytes per fetch response",
		apply: intProp(func(c *sarama.Config, n int) { c.Consumer.Fetch.Max = int32(n) })},
	{name: "max.partition.fetch.bytes", source: true, help: "bytes fetched per partition and request",
		apply: intProp(func(c *sarama.Config, n int) { c.Consumer.Fetch.Default = int32(n) })},
	{name: "fetch.max.wait.ms", source: true, help: "how long the broker waits for fetch.min.bytes",
		apply: msProp(func(c *sarama.Config, d time.Duration) { c.Consumer.MaxWaitTime = d })},
	{name: "acks", sink: true, help: "0, 1 or all (exactly-once and idempotence need all)",
		apply: func(c *sarama.Config, v string) error {
			switch strings.ToLower(v) {
			case "0":
				c.Producer.RequiredAcks = sarama.NoResponse
			case "1":
				c.Producer.RequiredAcks = sarama.WaitForLocal
			case "all", "-1":
				c.Producer.RequiredAcks = sarama.WaitForAll
			default:
				return fmt.Errorf("expected 0, 1 or all, got %q", v)
			}
			return nil
		}},
	{name: "linger.ms", sink: true, help: "how long the producer waits to fill a batch",
		apply: msProp(func(c *sarama.Config, d time.Duration) { c.Producer.Flush.Frequency = d })},
	{name: "batch.size", sink: true, help: "bytes that trigger sending a batch",
		apply: intProp(func(c *sarama.Config, n int) { c.Producer.Flush.Bytes = n })},
	{name: "max.request.size", sink: true, help: "largest message the producer sends",
		apply: intProp(func(c *sarama.Config, n int) { c.Producer.MaxMessageBytes = n })},
	{name: "retries", sink: true, help: "how often the producer retries a message",
		apply: intProp(func(c *sarama.Config, n int) { c.Producer.Retry.Max = n })},
	{name: "compression.type", sink: true, help: "none, gzip, snappy, lz4 or zstd",
		apply: func(c *sarama.Config, v string) error {
			m := map[string]sarama.CompressionCodec{"none": sarama.CompressionNone, "gzip": sarama.CompressionGZIP,
				"snappy": sarama.CompressionSnappy, "lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD}
			codec, ok := m[strings.ToLower(v)]
			if !ok {
				return fmt.Errorf("expected none, gzip, snappy, lz4 or zstd, got %q", v)
			}
			c.Producer.Compression = codec
			return nil
		}},
	{name: "enable.idempotence", sink: true, help: "idempotent producer for at-least-once (exactly-once always is)",
		apply: func(c *sarama.Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("expected true or false, got %q", v)
			}
			c.Producer.Idempotent = b
			return nil
		}},
}

func findProperty(name string) (property, bool) {
	for _, p := range properties {
		if p.name == name {
			return p, true
		}
	}
	return property{}, false
}

func propertyNames() []string {
	var out []string
	for _, p := range properties {
		out = append(out, p.name)
	}
	return out
}

func optErr(key, format string, args ...any) error {
	return &connectors.OptionError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// saramaConfig builds the client configuration from the table's options.
func saramaConfig(opts map[string]string, sink bool) (*sarama.Config, error) {
	c := sarama.NewConfig()
	c.Version = kafkaVersion
	c.ClientID = "streamsql"
	c.Metadata.AllowAutoTopicCreation = false
	c.Metadata.Full = false
	c.Consumer.Return.Errors = true
	c.Consumer.Offsets.AutoCommit.Enable = false
	c.Consumer.Fetch.Default = 1 << 20
	c.Consumer.MaxWaitTime = 100 * time.Millisecond
	c.ChannelBufferSize = 1024
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Flush.Bytes = 512 << 10
	c.Producer.Flush.Frequency = 5 * time.Millisecond
	c.Producer.Partitioner = sarama.NewReferenceHashPartitioner
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		name, ok := strings.CutPrefix(k, optProperties)
		if !ok {
			continue
		}
		p, ok := findProperty(name)
		if !ok {
			return nil, optErr(k, "unknown Kafka property (supported: %s)", strings.Join(propertyNames(), ", "))
		}
		if sink && !p.sink || !sink && !p.source {
			role := "source"
			if sink {
				role = "sink"
			}
			return nil, optErr(k, "does not apply to a kafka %s", role)
		}
		if p.apply != nil {
			if err := p.apply(c, opts[k]); err != nil {
				return nil, optErr(k, "%v", err)
			}
		}
	}
	if err := c.Validate(); err != nil {
		return nil, optErr(optBootstrap, "invalid client configuration: %v", err)
	}
	return c, nil
}

// GroupConfig returns the brokers and client configuration a kafka source
// table's options name, for the consumer group of a job that runs on
// several processes (package cluster).
func GroupConfig(opts map[string]string) ([]string, *sarama.Config, error) {
	c, err := saramaConfig(opts, false)
	if err != nil {
		return nil, nil, err
	}
	b, err := brokers(opts)
	if err != nil {
		return nil, nil, err
	}
	return b, c, nil
}

// Topics returns the topics a kafka table's 'topic' option names.
func Topics(opts map[string]string) []string { return topics(opts) }

// brokers splits 'properties.bootstrap.servers'.
func brokers(opts map[string]string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(opts[optBootstrap], ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, optErr(optBootstrap, "expected host:port[,host:port…], got %q", opts[optBootstrap])
	}
	return out, nil
}

// topics splits 'topic' (semicolon-separated).
func topics(opts map[string]string) []string {
	var out []string
	for _, s := range strings.Split(opts[optTopic], ";") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// duration parses a duration option; def when absent.
func duration(opts map[string]string, key string, def time.Duration) (time.Duration, error) {
	v, ok := opts[key]
	if !ok {
		return def, nil
	}
	ms, err := types.ParseInterval(v)
	if err != nil || ms < 0 {
		return 0, optErr(key, "expected a duration such as '10 s', got %q", v)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

func boolOpt(opts map[string]string, key string, def bool) (bool, error) {
	v, ok := opts[key]
	if !ok {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, optErr(key, "expected 'true' or 'false', got %q", v)
}

// specificOffset is one entry of 'scan.startup.specific-offsets'.
type specificOffset struct {
	partition int32
	offset    int64
}

// parseSpecificOffsets parses 'partition:0,offset:42;partition:1,offset:300'.
func parseSpecificOffsets(v string) (map[int32]int64, error) {
	out := map[int32]int64{}
	for _, entry := range strings.Split(v, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		var so specificOffset
		var seenP, seenO bool
		for _, kv := range strings.Split(entry, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(kv), ":")
			if !ok {
				return nil, fmt.Errorf("expected 'partition:N,offset:M' entries separated by ';', got %q", entry)
			}
			n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("expected a non-negative number in %q", entry)
			}
			switch strings.TrimSpace(k) {
			case "partition":
				so.partition, seenP = int32(n), true
			case "offset":
				so.offset, seenO = n, true
			default:
				return nil, fmt.Errorf("unknown field %q in %q: expected 'partition' and 'offset'", k, entry)
			}
		}
		if !seenP || !seenO {
			return nil, fmt.Errorf("expected 'partition:N,offset:M', got %q", entry)
		}
		out[so.partition] = so.offset
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no offsets in %q", v)
	}
	return out, nil
}

// formats resolves the value and key formats of a table.
type formats struct {
	value      string
	key        string   // "" without a key format
	keyFields  []string // columns of the key
	keyPrefix  string   // 'key.fields-prefix': not part of the key format's field names
	exceptKey  bool     // value.fields-include = EXCEPT_KEY
	valueOpts  map[string]string
	keyOptions map[string]string
}

// formatOptions keeps only the format options of format f in opts (and
// 'format' itself set to f), so a JSON key and a CSV value do not trip
// over each other's options.
func formatOptions(f string, opts map[string]string) map[string]string {
	out := map[string]string{format.KeyFormat: f}
	for k, v := range opts {
		if strings.HasPrefix(k, f+".") {
			out[k] = v
		}
	}
	return out
}

func parseFormats(opts map[string]string, schema types.Schema) (formats, error) {
	var f formats
	f.value = opts[format.KeyFormat]
	if v, ok := opts[optValueFormat]; ok {
		if f.value != "" && f.value != v {
			return f, optErr(optValueFormat, "conflicts with 'format' = '%s'", f.value)
		}
		f.value = v
	}
	switch f.value {
	case format.JSON, format.CSV, formatRaw, format.DebeziumJSON:
	case "":
		return f, optErr(format.KeyFormat, "missing: expected 'json', 'csv', 'raw' or 'debezium-json' ('value.format' is an alias)")
	default:
		return f, optErr(format.KeyFormat, "unknown format %q: expected 'json', 'csv', 'raw' or 'debezium-json'", f.value)
	}
	f.valueOpts = formatOptions(f.value, opts)
	for k := range opts {
		if (strings.HasPrefix(k, "json.") || strings.HasPrefix(k, "csv.") || strings.HasPrefix(k, "debezium-json.")) && !strings.HasPrefix(k, f.value+".") {
			if _, ok := opts[optKeyFormat]; !ok || !strings.HasPrefix(k, opts[optKeyFormat]+".") {
				return f, optErr(k, "applies to format '%s', but the value format is '%s' and the key format %q", k[:strings.IndexByte(k, '.')], f.value, opts[optKeyFormat])
			}
		}
	}
	if f.value != formatRaw {
		if err := format.Validate(f.value, f.valueOpts); err != nil {
			return f, err
		}
	}
	f.key = opts[optKeyFormat]
	fields, hasFields := opts[optKeyFields]
	switch {
	case f.key == "" && hasFields:
		return f, optErr(optKeyFields, "needs 'key.format'")
	case f.key != "" && !hasFields:
		return f, optErr(optKeyFormat, "needs 'key.fields' (the columns of the key, separated by ';')")
	}
	if f.key != "" {
		switch f.key {
		case format.JSON, format.CSV, formatRaw:
		default:
			return f, optErr(optKeyFormat, "unknown format %q: expected 'json', 'csv' or 'raw'", f.key)
		}
		f.keyOptions = formatOptions(f.key, opts)
		for _, name := range strings.Split(fields, ";") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if schema.Index(name) < 0 {
				return f, optErr(optKeyFields, "no column %q in the table", name)
			}
			f.keyFields = append(f.keyFields, name)
		}
		if len(f.keyFields) == 0 {
			return f, optErr(optKeyFields, "expected column names separated by ';'")
		}
		if f.key == formatRaw && len(f.keyFields) != 1 {
			return f, optErr(optKeyFormat, "format 'raw' holds one column, but 'key.fields' names %d", len(f.keyFields))
		}
	}
	switch v := strings.ToUpper(opts[optValueFieldsInc]); v {
	case "", "ALL":
	case "EXCEPT_KEY":
		if f.key == "" {
			return f, optErr(optValueFieldsInc, "EXCEPT_KEY needs 'key.fields'")
		}
		f.exceptKey = true
	default:
		return f, optErr(optValueFieldsInc, "expected ALL or EXCEPT_KEY, got %q", opts[optValueFieldsInc])
	}
	if p, ok := opts[optKeyPrefix]; ok {
		switch {
		case p == "":
			return f, optErr(optKeyPrefix, "empty prefix")
		case !f.exceptKey:
			return f, optErr(optKeyPrefix, "needs 'value.fields-include' = 'EXCEPT_KEY' (as in Flink)")
		}
		for _, name := range f.keyFields {
			if !strings.HasPrefix(name, p) || name == p {
				return f, optErr(optKeyPrefix, "key column %q does not start with the prefix %q", name, p)
			}
		}
		f.keyPrefix = p
	}
	return f, nil
}

// keyField is fld as the key format names it: without 'key.fields-prefix'.
func (f formats) keyField(fld types.Field) types.Field {
	fld.Name = strings.TrimPrefix(fld.Name, f.keyPrefix)
	return fld
}
