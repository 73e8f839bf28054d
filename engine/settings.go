package engine

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/checkpoint/objstore"
	"github.com/streamsql/streamsql/internal/suggest"
	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/types"
)

// SettingKey describes one key that SET accepts.
type SettingKey struct {
	// Name is the key, as written in SET 'name' = '…' (case-sensitive, as
	// in Flink).
	Name string
	// Default is the value in effect when the session has not set the key,
	// in SET's syntax ("" for none). A few defaults come from the
	// engine's Options; Session.SettingsTable shows those.
	Default string
	// Values are the accepted values when they are a fixed list (for
	// completion), else nil.
	Values []string
	// Doc says what the key does, in one line.
	Doc string
	// Check refuses an invalid value, saying what was expected.
	Check func(value string) error
	// Aliases are other names of the key (Flink's older ones): SET and
	// RESET of an alias act on the key itself, which SET; lists under
	// Name only.
	Aliases []string
	// Secret keys (credentials) are stored as set but shown as '******'
	// by SET;, SET's reply, the REST API and logs.
	Secret bool
}

// UserKeyPrefix starts the keys a user may SET freely (any value): the
// namespace for application settings. Any other key must be a known one.
const UserKeyPrefix = "user."

// settingKeys is the table of the keys the engine, the shell and the
// server read. Adding a key is one entry; keep them sorted by name.
var settingKeys = []SettingKey{
	{Name: checkpointDirKey, Aliases: []string{"state.checkpoints.dir"}, Check: checkLocation, Doc: "where every checkpoint is also made durable: 's3://bucket/prefix' (incremental: new table files and a manifest per checkpoint) or a directory; empty keeps checkpoints in the state directory only"},
	{Name: "execution.checkpointing.interval", Default: "10 s", Check: checkInterval, Doc: "time between checkpoints (e.g. '10 s', '500 ms', '1 min'); '0' or 'off' turns checkpoints off"},
	{Name: "execution.checkpointing.mode", Default: "EXACTLY_ONCE", Values: []string{"EXACTLY_ONCE", "AT_LEAST_ONCE"}, Check: oneOf("EXACTLY_ONCE", "AT_LEAST_ONCE"), Doc: "barrier alignment at tasks with several inputs: EXACTLY_ONCE holds inputs until all delivered the barrier; AT_LEAST_ONCE does not (rows may be counted twice after a restore)"},
	{Name: savepointDirKey, Aliases: []string{"state.savepoints.dir"}, Check: checkLocation, Doc: "where savepoints taken without a target go ('s3://bucket/prefix' or a directory); empty: the state directory's savepoints/"},
	{Name: checkpointTimeoutKey, Default: "10 min", Check: checkPositiveDuration, Doc: "longest a checkpoint's upload to the checkpoint dir may take before that checkpoint fails"},
	{Name: tolerableFailuresKey, Default: "0", Check: intRange(0, 1<<30), Doc: "checkpoints in a row that may fail to be written (a full disk) before the job fails; each is logged, counted and retried at the next interval"},
	{Name: distributedKey, Default: "false", Values: []string{"true", "false"}, Check: checkBool, Doc: "run the next jobs on several processes as one Kafka consumer group named by pipeline.name: each process reads the source partitions the group assigns it (queries from kafka into an exactly-once kafka sink, stateless or with one keyed window aggregation)"},
	{Name: repartitionKey, Default: "0", Check: intRange(0, 32768), Doc: "partitions of the repartition and changelog topics a job on several processes creates for its keyed window aggregation; 0: the most partitions of a source topic"},
	{Name: "execution.savepoint.ignore-unclaimed-state", Default: "false", Values: []string{"true", "false"}, Check: checkBool, Doc: "restore a checkpoint or savepoint even when some of its state no longer fits the query, dropping that state"},
	{Name: "execution.savepoint.path", Check: checkSavepointPath, Doc: "restore the next jobs from this savepoint directory"},
	{Name: "parallelism.default", Default: "1", Check: intRange(1, 256), Doc: "subtasks of keyed window aggregations (1 to 256)"},
	{Name: "pipeline.max-parallelism", Default: "128", Check: intRange(1, 32768), Doc: "key groups keyed state is split into: the most subtasks a keyed operator can run as (1 to 32768); parallelism.default may not exceed it"},
	{Name: "pipeline.name", Check: checkJobName, Doc: "the name of the next jobs: their identity for checkpoints"},
	{Name: "s3.access-key", Secret: true, Check: checkCredential, Doc: "access key of the S3 checkpoint and savepoint dirs (default: AWS_ACCESS_KEY_ID); shown as '******'"},
	{Name: "s3.endpoint", Check: checkEndpoint, Doc: "S3 endpoint, e.g. 'http://127.0.0.1:8333' (the scheme decides TLS; default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS)"},
	{Name: "s3.path.style.access", Default: "false", Values: []string{"true", "false"}, Check: checkBool, Doc: "address buckets in the path (http://host/bucket/key), as most S3-compatible servers need, instead of the host name"},
	{Name: "s3.region", Check: checkRegion, Doc: "S3 region (default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1)"},
	{Name: "s3.secret-key", Secret: true, Check: checkCredential, Doc: "secret key of the S3 checkpoint and savepoint dirs (default: AWS_SECRET_ACCESS_KEY); shown as '******'"},
	{Name: "sql-client.display.max-column-width", Default: "30", Check: intRange(1, 1<<20), Doc: "the shell's widest column, in characters; longer values are cut with an ellipsis"},
	{Name: "sql-client.display.vertical", Default: "false", Values: []string{"true", "false"}, Check: checkBool, Doc: "the shell prints each row of a SELECT as a record of name | value lines (\\x toggles it)"},
	{Name: "sql-client.execution.result-mode", Default: "tableau", Values: []string{"tableau", "table", "changelog"}, Check: oneOf("tableau", "table", "changelog"), Doc: "how the shell prints a SELECT's rows: 'tableau' (changes as they come), 'table' (the current table, redrawn in place) or 'changelog' (with the row kind)"},
	{Name: "table.exec.emit.allow-lateness", Default: "0 ms", Check: checkInterval, Doc: "event-time window aggregations keep a fired window this long (event time) for late rows, which update its result (-U/+U): the output becomes updating; 0 drops late rows"},
	{Name: "table.exec.emit.early-fire.delay", Check: checkInterval, Doc: "with early-fire enabled: how often (processing time) the partial results of open windows are emitted; '0' after every batch"},
	{Name: "table.exec.emit.late-fire.delay", Check: checkInterval, Doc: "with late-fire enabled: how often (processing time) the late updates of fired windows are emitted; '0' after every batch"},
	{Name: "table.exec.emit.late-fire.enabled", Default: "false", Values: []string{"true", "false"}, Check: checkBool, Doc: "with allow-lateness: event-time window aggregations emit the updates late rows make to fired windows every late-fire.delay instead of after every batch"},
	{Name: "table.exec.emit.early-fire.enabled", Default: "false", Values: []string{"true", "false"}, Check: checkBool, Doc: "event-time window aggregations emit partial results before their window closes, every early-fire.delay (+I, then -U/+U): the output becomes updating"},
	{Name: "table.exec.mini-batch.allow-latency", Default: "0 ms", Check: checkInterval, Doc: "with mini-batch: the longest an input row waits in the buffer before it is aggregated (processing time, checked as rows arrive; 0: only size, watermarks and checkpoints flush)"},
	{Name: "table.exec.mini-batch.enabled", Default: "false", Values: []string{"true", "false"}, Check: checkBool, Doc: "buffer the input of non-windowed aggregations and emit one update per key per batch"},
	{Name: "table.exec.mini-batch.size", Default: "5000", Check: intRange(1, 1<<30), Doc: "with mini-batch: the input rows buffered before they are aggregated"},
	{Name: "table.exec.state.ttl", Default: "0 ms", Check: checkInterval, Doc: "how long a key of a non-windowed aggregation may stay idle (processing time) before its state is dropped, without a retraction; 0 keeps state forever"},
	{Name: localTimeZoneKey, Default: "UTC", Check: checkTimeZone, Doc: "the session time zone TIMESTAMP_LTZ values are shown and computed in (casts to TIMESTAMP and STRING, date functions, day and hour windows over a TIMESTAMP_LTZ or PROCTIME attribute): an IANA name ('Asia/Shanghai'), 'UTC' or an offset ('+08:00'); the default is UTC, not the machine's zone as in Flink, so that a query gives the same results on every machine"},
	{Name: "state.checkpoints.num-retained", Default: strconv.Itoa(checkpoint.DefaultNumRetained), Check: intRange(1, 1<<20), Doc: "completed checkpoints kept per job"},
}

// SettingKeys returns the keys SET accepts (besides the user.* ones),
// sorted by name: for completion, help and SET;.
func SettingKeys() []SettingKey {
	out := append([]SettingKey(nil), settingKeys...)
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// settingKey returns the table entry of name, a key's name or alias.
func settingKey(name string) (*SettingKey, bool) {
	for i := range settingKeys {
		if settingKeys[i].Name == name || slices.Contains(settingKeys[i].Aliases, name) {
			return &settingKeys[i], true
		}
	}
	return nil, false
}

// CanonicalKey returns the name of the key that name is an alias of, else
// name: SET 'state.checkpoints.dir' sets execution.checkpointing.dir.
func CanonicalKey(name string) string {
	if k, ok := settingKey(name); ok {
		return k.Name
	}
	return name
}

// IsSecretKey reports whether the value of SET key name must never be
// shown: the credentials (s3.access-key, s3.secret-key) and any key, a
// user.* one too, whose name says it holds a secret (…secret-key,
// …password, …token, …credentials, as table options are masked).
func IsSecretKey(name string) bool {
	if k, ok := settingKey(name); ok && k.Secret {
		return true
	}
	return isSecretOption(name)
}

// RedactSettings returns a copy of settings with the values of secret keys
// (IsSecretKey) replaced by '******': what the REST API and logs show.
func RedactSettings(settings map[string]string) map[string]string {
	if settings == nil {
		return nil
	}
	out := make(map[string]string, len(settings))
	for k, v := range settings {
		out[k] = redactSetting(k, v)
	}
	return out
}

// redactSetting returns v, or '******' when k is a secret key with a value.
func redactSetting(k, v string) string {
	if v != "" && IsSecretKey(k) {
		return maskedValue
	}
	return v
}

// CheckSetting returns an error when key is not a known key (nor a user.*
// one) or value is not valid for it. The error names the key and, for a
// misspelt one, the likely intended key.
func CheckSetting(key, value string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if k, ok := settingKey(key); ok && k.Check != nil {
		if err := k.Check(value); err != nil {
			return fmt.Errorf("SET %s: %v", key, err)
		}
	}
	return nil
}

// checkKey refuses an unknown key, with a did-you-mean.
func checkKey(key string) error {
	if strings.HasPrefix(key, UserKeyPrefix) && len(key) > len(UserKeyPrefix) {
		return nil
	}
	if _, ok := settingKey(key); ok {
		return nil
	}
	var names []string
	for _, k := range settingKeys {
		names = append(names, k.Name)
		names = append(names, k.Aliases...)
	}
	if s := suggest.Closest(key, names); s != "" {
		return fmt.Errorf("unknown SET key %q; did you mean %q?", key, s)
	}
	return fmt.Errorf("unknown SET key %q (SET; lists the known keys; keys of your own start with %q)", key, UserKeyPrefix)
}

// checkSetting is CheckSetting, for the engine's callers.
func checkSetting(key, value string) error { return CheckSetting(key, value) }

func checkInterval(v string) error {
	_, err := parseDuration(v)
	return err
}

// parseDuration reads Flink-style durations ("10 s", "100ms", "1 min",
// "500" for milliseconds); "0", "off" or "none" mean no checkpoints (-1).
// A negative duration is an error.
func parseDuration(v string) (time.Duration, error) {
	if s := strings.ToLower(strings.TrimSpace(v)); s == "off" || s == "none" {
		return -1, nil
	}
	ms, err := types.ParseInterval(v)
	if err != nil {
		return 0, err
	}
	if ms < 0 {
		return 0, fmt.Errorf("expected a duration of 0 or more (e.g. '10 s'; '0' or 'off' turns checkpoints off), got %q", v)
	}
	if ms == 0 {
		return -1, nil
	}
	return time.Duration(ms) * time.Millisecond, nil
}

func checkBool(v string) error {
	if _, err := strconv.ParseBool(strings.TrimSpace(v)); err != nil {
		return fmt.Errorf("expected true or false, got %q", v)
	}
	return nil
}

// settingInt reads an integer setting checked by intRange: the value in
// settings, else the engine's default.
func (e *Engine) settingInt(settings map[string]string, key string) int {
	v, ok := settings[key]
	if !ok {
		k, _ := settingKey(key)
		v = e.defaultSetting(k)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(v)) // checked by SET
	return n
}

// settingBool reads a boolean setting checked by checkBool.
func settingBool(settings map[string]string, key string) bool {
	b, _ := strconv.ParseBool(strings.TrimSpace(settings[key]))
	return b
}

// oneOf accepts one of values, in any case.
func oneOf(values ...string) func(string) error {
	return func(v string) error {
		for _, w := range values {
			if strings.EqualFold(strings.TrimSpace(v), w) {
				return nil
			}
		}
		return fmt.Errorf("expected %s, got %q", strings.Join(values, " or "), v)
	}
}

func intRange(lo, hi int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("expected an integer from %d to %d, got %q", lo, hi, v)
		}
		return nil
	}
}

// checkJobName refuses names that could not safely name a directory or
// appear in a URL path: a job name is its checkpoint directory's name.
func checkJobName(v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("expected a job name, got %q", v)
	}
	if len(v) > 200 {
		return fmt.Errorf("a job name is at most 200 bytes, got %d", len(v))
	}
	if v[0] == '.' || strings.ContainsAny(v, "/\\") || strings.ContainsFunc(v, unicode.IsControl) {
		return fmt.Errorf("a job name must not start with '.' nor contain '/', '\\' or control characters, got %q", v)
	}
	_, err := checkpoint.JobDir(".", v)
	return err
}

// localTimeZoneKey is Flink's key of the session time zone.
const localTimeZoneKey = "table.local-time-zone"

func checkTimeZone(v string) error {
	_, err := types.ParseZone(v)
	return err
}

// timeZone returns the session time zone in settings (checked by SET).
func timeZone(settings map[string]string) *types.Zone {
	z, err := types.ParseZone(settings[localTimeZoneKey])
	if err != nil || settings[localTimeZoneKey] == "" {
		return types.UTCZone
	}
	return z
}

func checkSavepointPath(v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("expected a savepoint directory, got %q", v)
	}
	if strings.Contains(v, "://") {
		// A savepoint in an object store is read when the job starts
		// (checkpoint.Options.FromSavepoint); only its form is checked
		// here, so SET works without credentials or network.
		return checkLocation(v)
	}
	fi, err := os.Stat(v)
	if err != nil {
		return fmt.Errorf("no savepoint at %q: %v", v, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%q is not a savepoint directory", v)
	}
	return nil
}

// defaultSetting returns the value of key in effect when no session set
// it: the engine's Options where they give one, else the table's default.
func (e *Engine) defaultSetting(k *SettingKey) string {
	switch k.Name {
	case "execution.checkpointing.interval":
		if e.opts.CheckpointInterval < 0 {
			return "off"
		}
		return e.opts.CheckpointInterval.String()
	case "parallelism.default":
		if e.opts.Parallelism > 0 {
			return strconv.Itoa(e.opts.Parallelism)
		}
	case "pipeline.name":
		return e.opts.DefaultJobName
	case "execution.savepoint.path":
		return e.opts.FromSavepoint
	case "execution.savepoint.ignore-unclaimed-state":
		return strconv.FormatBool(e.opts.AllowNonRestoredState)
	case checkpointDirKey:
		return e.opts.CheckpointDir
	case savepointDirKey:
		return e.opts.SavepointDir
	case "s3.endpoint":
		return e.opts.ObjectStore.Endpoint
	case "s3.region":
		return e.opts.ObjectStore.Region
	case "s3.path.style.access":
		return strconv.FormatBool(e.opts.ObjectStore.PathStyle)
	case "s3.access-key":
		return e.opts.ObjectStore.AccessKey
	case "s3.secret-key":
		return e.opts.ObjectStore.SecretKey
	}
	return k.Default
}

// SettingsTable returns every known key with its value in the session and
// whether the session set it ("set") or it is the default ("default"),
// then the session's user.* keys: what SET; shows.
func (s *Session) SettingsTable() [][3]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settingsTable()
}

func (s *Session) settingsTable() [][3]string {
	var out [][3]string
	for _, k := range SettingKeys() {
		if v, ok := s.settings[k.Name]; ok {
			out = append(out, [3]string{k.Name, redactSetting(k.Name, v), "set"})
		} else {
			out = append(out, [3]string{k.Name, redactSetting(k.Name, s.e.defaultSetting(&k)), "default"})
		}
	}
	for _, k := range sortedKeys(s.settings) {
		if _, known := settingKey(k); !known {
			out = append(out, [3]string{k, redactSetting(k, s.settings[k]), "set"})
		}
	}
	return out
}

// The keys of remote checkpoints (Flink's names).
const (
	checkpointDirKey     = "execution.checkpointing.dir"
	savepointDirKey      = "execution.checkpointing.savepoint-dir"
	checkpointTimeoutKey = "execution.checkpointing.timeout"
)

// CheckLocation is SET's check of a checkpoint or savepoint dir, for the
// command line's flags.
func CheckLocation(v string) error { return checkLocation(v) }

// checkLocation accepts a checkpoint or savepoint location: empty (none),
// "s3://bucket[/prefix]" (also s3a://, s3p://), "file:///abs/dir" or a
// local path. Nothing is created or contacted.
func checkLocation(v string) error {
	if v == "" {
		return nil
	}
	if strings.TrimSpace(v) != v || strings.ContainsFunc(v, unicode.IsControl) {
		return fmt.Errorf("expected 's3://bucket/prefix' or a directory, got %q (spaces around it or control characters)", v)
	}
	scheme, rest, ok := strings.Cut(v, "://")
	if !ok {
		return nil // a local path
	}
	switch {
	case objstore.IsRemote(v):
		if strings.ContainsAny(rest, "?#") {
			return fmt.Errorf("expected 's3://bucket/prefix' without a query or fragment, got %q", v)
		}
		bucket, prefix, _ := strings.Cut(rest, "/")
		if !validBucket(bucket) {
			return fmt.Errorf("expected 's3://bucket/prefix' with a bucket of 3 to 63 lowercase letters, digits, '.' or '-', got %q", v)
		}
		for _, part := range strings.Split(strings.Trim(prefix, "/"), "/") {
			if part == "." || part == ".." || (part == "" && strings.Trim(prefix, "/") != "") || strings.Contains(part, "\\") {
				return fmt.Errorf("expected 's3://bucket/prefix' with a prefix of '/'-separated names (no '.', '..' or empty parts), got %q", v)
			}
		}
		return nil
	case strings.EqualFold(scheme, "file"):
		if !filepath.IsAbs(rest) {
			return fmt.Errorf("expected 'file:///absolute/dir', got %q", v)
		}
		return nil
	}
	return fmt.Errorf("expected 's3://bucket/prefix' or a directory, got %q (scheme %q is not supported)", v, scheme)
}

// validBucket checks an S3 bucket name's characters and length.
func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return b[0] != '.' && b[0] != '-' && b[len(b)-1] != '.' && b[len(b)-1] != '-'
}

// CheckEndpoint is SET 's3.endpoint”s check, for the command line.
func CheckEndpoint(v string) error { return checkEndpoint(v) }

// checkEndpoint accepts "http://host:port", "https://host" or "host[:port]".
func checkEndpoint(v string) error {
	if v == "" {
		return nil
	}
	raw := v
	if !strings.Contains(v, "://") {
		raw = "https://" + v
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("expected an endpoint such as 'http://127.0.0.1:8333' or 's3.eu-west-1.amazonaws.com' (http or https, a host, no path), got %q", v)
	}
	return nil
}

func checkRegion(v string) error {
	if strings.ContainsFunc(v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return fmt.Errorf("expected a region such as 'eu-west-1', got %q", v)
	}
	return nil
}

// checkCredential refuses a credential with spaces around it or control
// characters (a copy-and-paste slip) without ever quoting it.
func checkCredential(v string) error {
	if strings.TrimSpace(v) != v || strings.ContainsFunc(v, unicode.IsControl) {
		return fmt.Errorf("expected a credential without spaces around it or control characters (the value is not shown)")
	}
	return nil
}

// checkPositiveDuration accepts a duration of more than 0 ("10 min").
func checkPositiveDuration(v string) error {
	d, err := parseDuration(v)
	if err != nil {
		return err
	}
	if d <= 0 {
		return fmt.Errorf("expected a duration of more than 0 (e.g. '10 min'), got %q", v)
	}
	return nil
}

// StatementText returns st as SQL text to show (the REST API's echo of a
// statement, a log line, the REPL's history): a SET of a secret key
// (IsSecretKey) has its value printed as '******', and so have the secret
// options of a CREATE TABLE (a jdbc table's 'password').
func StatementText(st parser.Statement) string {
	if set, ok := st.(*parser.SetStmt); ok && set.Key != "" && IsSecretKey(set.Key) {
		masked := *set
		masked.Value = maskedValue
		return masked.String()
	}
	if ct, ok := st.(*parser.CreateTableStmt); ok {
		return maskDDL(ct).String()
	}
	return st.String()
}
