package engine

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/internal/suggest"
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
}

// UserKeyPrefix starts the keys a user may SET freely (any value): the
// namespace for application settings. Any other key must be a known one.
const UserKeyPrefix = "user."

// settingKeys is the table of the keys the engine, the shell and the
// server read. Adding a key is one entry; keep them sorted by name.
var settingKeys = []SettingKey{
	{Name: "execution.checkpointing.interval", Default: "10 s", Check: checkInterval, Doc: "time between checkpoints (e.g. '10 s', '500 ms', '1 min'); '0' or 'off' turns checkpoints off"},
	{Name: "execution.checkpointing.mode", Default: "EXACTLY_ONCE", Values: []string{"EXACTLY_ONCE", "AT_LEAST_ONCE"}, Check: oneOf("EXACTLY_ONCE", "AT_LEAST_ONCE"), Doc: "barrier alignment at tasks with several inputs: EXACTLY_ONCE holds inputs until all delivered the barrier; AT_LEAST_ONCE does not (rows may be counted twice after a restore)"},
	{Name: tolerableFailuresKey, Default: "0", Check: intRange(0, 1<<30), Doc: "checkpoints in a row that may fail to be written (a full disk) before the job fails; each is logged, counted and retried at the next interval"},
	{Name: "execution.savepoint.ignore-unclaimed-state", Default: "false", Values: []string{"true", "false"}, Check: checkBool, Doc: "restore a checkpoint or savepoint even when some of its state no longer fits the query, dropping that state"},
	{Name: "execution.savepoint.path", Check: checkSavepointPath, Doc: "restore the next jobs from this savepoint directory"},
	{Name: "parallelism.default", Default: "1", Check: intRange(1, 256), Doc: "subtasks of keyed window aggregations (1 to 256)"},
	{Name: "pipeline.max-parallelism", Default: "128", Check: intRange(1, 32768), Doc: "key groups keyed state is split into: the most subtasks a keyed operator can run as (1 to 32768); parallelism.default may not exceed it"},
	{Name: "pipeline.name", Check: checkJobName, Doc: "the name of the next jobs: their identity for checkpoints"},
	{Name: "sql-client.display.max-column-width", Default: "30", Check: intRange(1, 1<<20), Doc: "the shell's widest column, in characters; longer values are cut with an ellipsis"},
	{Name: "sql-client.display.vertical", Default: "false", Values: []string{"true", "false"}, Check: checkBool, Doc: "the shell prints each row of a SELECT as a record of name | value lines (\\x toggles it)"},
	{Name: "sql-client.execution.result-mode", Default: "tableau", Values: []string{"tableau", "changelog"}, Check: oneOf("tableau", "table", "changelog"), Doc: "how the shell prints a SELECT's rows: 'tableau', or 'changelog' with the row kind"},
	{Name: "table.exec.mini-batch.allow-latency", Default: "0 ms", Check: checkInterval, Doc: "with mini-batch: the longest an input row waits in the buffer before it is aggregated (processing time, checked as rows arrive; 0: only size, watermarks and checkpoints flush)"},
	{Name: "table.exec.mini-batch.enabled", Default: "false", Values: []string{"true", "false"}, Check: checkBool, Doc: "buffer the input of non-windowed aggregations and emit one update per key per batch"},
	{Name: "table.exec.mini-batch.size", Default: "5000", Check: intRange(1, 1<<30), Doc: "with mini-batch: the input rows buffered before they are aggregated"},
	{Name: "table.exec.state.ttl", Default: "0 ms", Check: checkInterval, Doc: "how long a key of a non-windowed aggregation may stay idle (processing time) before its state is dropped, without a retraction; 0 keeps state forever"},
	{Name: "state.checkpoints.num-retained", Default: strconv.Itoa(checkpoint.DefaultNumRetained), Check: intRange(1, 1<<20), Doc: "completed checkpoints kept per job"},
}

// SettingKeys returns the keys SET accepts (besides the user.* ones),
// sorted by name: for completion, help and SET;.
func SettingKeys() []SettingKey {
	out := append([]SettingKey(nil), settingKeys...)
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// settingKey returns the table entry of name.
func settingKey(name string) (*SettingKey, bool) {
	for i := range settingKeys {
		if settingKeys[i].Name == name {
			return &settingKeys[i], true
		}
	}
	return nil, false
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
	names := make([]string, len(settingKeys))
	for i, k := range settingKeys {
		names[i] = k.Name
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

func checkSavepointPath(v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("expected a savepoint directory, got %q", v)
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
			out = append(out, [3]string{k.Name, v, "set"})
		} else {
			out = append(out, [3]string{k.Name, s.e.defaultSetting(&k), "default"})
		}
	}
	for _, k := range sortedKeys(s.settings) {
		if _, known := settingKey(k); !known {
			out = append(out, [3]string{k, s.settings[k], "set"})
		}
	}
	return out
}
