package filesystem

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// The options of a PARTITIONED BY sink, with Flink's names.
const (
	optCommitTrigger    = "sink.partition-commit.trigger"
	optCommitDelay      = "sink.partition-commit.delay"
	optCommitPolicy     = "sink.partition-commit.policy.kind"
	optSuccessFile      = "sink.partition-commit.success-file.name"
	optWatermarkZone    = "sink.partition-commit.watermark-time-zone"
	optExtractorKind    = "partition.time-extractor.kind"
	optTimestampPattern = "partition.time-extractor.timestamp-pattern"
	optDefaultPartition = "partition.default-name"
	optRollSize         = "sink.rolling-policy.file-size"
	optRollInterval     = "sink.rolling-policy.rollover-interval"
	optRollCheck        = "sink.rolling-policy.check-interval"
	optRollInactivity   = "sink.rolling-policy.inactivity-interval"
)

var partitionOptions = []connectors.Option{
	{Key: optCommitTrigger, Sink: true, Default: "process-time",
		Help: "when a partition is committed: 'process-time' (delay after its first row, by the clock) or 'partition-time' (once the watermark passes its time plus the delay)"},
	{Key: optCommitDelay, Sink: true, Default: "0 s", Help: "how long after its time a partition is committed, e.g. '1 h'"},
	{Key: optCommitPolicy, Sink: true, Help: "'success-file': a committed partition gets a success file (without it, partitions are not marked)"},
	{Key: optSuccessFile, Sink: true, Default: "_SUCCESS", Help: "the success file's name"},
	{Key: optWatermarkZone, Sink: true, Default: "UTC", Help: "the time zone of partition times, for the 'partition-time' trigger (e.g. 'Asia/Shanghai')"},
	{Key: optExtractorKind, Sink: true, Default: "default", Help: "'default': a partition's time is read from timestamp-pattern"},
	{Key: optTimestampPattern, Sink: true,
		Help: "a partition's time from its values, e.g. '$dt $hm:00' ('yyyy-MM-dd HH:mm:ss' or 'yyyy-MM-dd'); default: the first partition column's value"},
	{Key: optDefaultPartition, Sink: true, Default: "__DEFAULT_PARTITION__", Help: "the directory name of a NULL or empty partition value"},
	{Key: optRollSize, Sink: true, Default: "128 mb", Help: "a part file at least this large is closed at the next checkpoint, and a new one started"},
	{Key: optRollInterval, Sink: true, Default: "30 min", Help: "a part file open at least this long is closed at the next checkpoint"},
	{Key: optRollCheck, Sink: true, Default: "1 min", Help: "accepted for Flink's DDL: the rolling policy is checked at every checkpoint"},
	{Key: optRollInactivity, Sink: true, Default: "30 min", Help: "a part file that got no row for this long is closed at the next checkpoint"},
}

// partitionConfig is the parsed options of a partitioned sink.
type partitionConfig struct {
	keys        []string
	byTime      bool // trigger 'partition-time'
	delay       time.Duration
	successFile string // "" when no success-file policy
	zone        *time.Location
	pattern     string
	defaultName string
	rollSize    int64
	rollAge     time.Duration
	rollIdle    time.Duration
}

func parsePartitionConfig(opts map[string]string) (*partitionConfig, error) {
	c := &partitionConfig{keys: strings.Split(opts[plan.PartitionKeysOption], ","), zone: time.UTC,
		successFile: "", defaultName: "__DEFAULT_PARTITION__", rollSize: 128 << 20, rollAge: 30 * time.Minute, rollIdle: 30 * time.Minute}
	bad := func(key, format string, args ...any) error {
		return &connectors.OptionError{Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	dur := func(key string, dst *time.Duration) error {
		v, ok := opts[key]
		if !ok {
			return nil
		}
		ms, err := types.ParseInterval(v)
		if err != nil || ms < 0 {
			return bad(key, "expected a duration such as '1 min', got %q", v)
		}
		*dst = time.Duration(ms) * time.Millisecond
		return nil
	}
	switch v := strings.ToLower(strings.TrimSpace(opts[optCommitTrigger])); v {
	case "", "process-time":
	case "partition-time":
		c.byTime = true
	default:
		return nil, bad(optCommitTrigger, "expected 'process-time' or 'partition-time', got %q", opts[optCommitTrigger])
	}
	for key, dst := range map[string]*time.Duration{optCommitDelay: &c.delay, optRollInterval: &c.rollAge, optRollInactivity: &c.rollIdle} {
		if err := dur(key, dst); err != nil {
			return nil, err
		}
	}
	var check time.Duration
	if err := dur(optRollCheck, &check); err != nil {
		return nil, err
	}
	if v, ok := opts[optCommitPolicy]; ok {
		for _, kind := range strings.Split(v, ",") {
			switch k := strings.ToLower(strings.TrimSpace(kind)); k {
			case "success-file":
				c.successFile = "_SUCCESS"
			case "metastore", "custom":
				return nil, bad(optCommitPolicy, "policy %q needs a metastore or custom class, which this engine does not have; 'success-file' is supported", k)
			default:
				return nil, bad(optCommitPolicy, "expected 'success-file', got %q", kind)
			}
		}
	}
	if v, ok := opts[optSuccessFile]; ok {
		if c.successFile == "" {
			return nil, bad(optSuccessFile, "set '%s' = 'success-file' to write success files", optCommitPolicy)
		}
		if v == "" || strings.ContainsAny(v, `/\`) || v == "." || v == ".." {
			return nil, bad(optSuccessFile, "expected a file name, got %q", v)
		}
		c.successFile = v
	}
	if v, ok := opts[optWatermarkZone]; ok {
		loc, err := time.LoadLocation(strings.TrimSpace(v))
		if err != nil {
			return nil, bad(optWatermarkZone, "unknown time zone %q (expected e.g. 'UTC' or 'Asia/Shanghai')", v)
		}
		c.zone = loc
	}
	if v, ok := opts[optExtractorKind]; ok && !strings.EqualFold(strings.TrimSpace(v), "default") {
		return nil, bad(optExtractorKind, "expected 'default' (custom extractors are classes, which this engine does not have), got %q", v)
	}
	c.pattern = "$" + c.keys[0]
	if v, ok := opts[optTimestampPattern]; ok {
		c.pattern = v
		for _, name := range patternNames(v) {
			if !slices.ContainsFunc(c.keys, func(k string) bool { return strings.EqualFold(k, name) }) {
				return nil, bad(optTimestampPattern, "$%s is not a partition column (PARTITIONED BY (%s))", name, strings.Join(c.keys, ", "))
			}
		}
	}
	if v, ok := opts[optDefaultPartition]; ok {
		if v == "" || strings.ContainsAny(v, `/\`) {
			return nil, bad(optDefaultPartition, "expected a directory name, got %q", v)
		}
		c.defaultName = v
	}
	if v, ok := opts[optRollSize]; ok {
		n, err := parseSize(v)
		if err != nil || n <= 0 {
			return nil, bad(optRollSize, "expected a size such as '128 mb', got %q", v)
		}
		c.rollSize = n
	}
	return c, nil
}

// patternNames returns the $names of a timestamp pattern.
func patternNames(p string) []string {
	var out []string
	for i := 0; i < len(p); i++ {
		if p[i] != '$' {
			continue
		}
		j := i + 1
		for j < len(p) && (p[j] == '_' || p[j] >= 'a' && p[j] <= 'z' || p[j] >= 'A' && p[j] <= 'Z' || p[j] >= '0' && p[j] <= '9') {
			j++
		}
		if j > i+1 {
			out = append(out, p[i+1:j])
		}
		i = j - 1
	}
	return out
}

// parseSize reads a memory size as Flink writes it: "1024", "128 mb",
// "64kb", "1g".
func parseSize(v string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, err
	}
	mult := map[string]int64{"": 1, "b": 1, "bytes": 1, "k": 1 << 10, "kb": 1 << 10, "kibibytes": 1 << 10,
		"m": 1 << 20, "mb": 1 << 20, "mebibytes": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gibibytes": 1 << 30}[strings.TrimSpace(s[i:])]
	if mult == 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q", v)
	}
	return n * mult, nil
}

// validatePartitioned checks a partitioned table's options; without
// PARTITIONED BY the partition options are refused.
func validatePartitioned(opts map[string]string, sink bool) error {
	if opts[plan.PartitionKeysOption] == "" {
		for _, o := range partitionOptions {
			if _, ok := opts[o.Key]; ok {
				return &connectors.OptionError{Key: o.Key, Msg: "applies to a PARTITIONED BY table only"}
			}
		}
		return nil
	}
	if !sink {
		if f := strings.ToLower(opts[format.KeyFormat]); f != "json" && f != "csv" {
			return &connectors.OptionError{Key: format.KeyFormat, Msg: fmt.Sprintf("reading a PARTITIONED BY table supports the 'json' and 'csv' formats, not %q", f)}
		}
		return nil
	}
	_, err := parsePartitionConfig(opts)
	return err
}

// ValidatePartitioning implements connectors.PartitionFactory (the
// options are checked by Validate).
func (factory) ValidatePartitioning([]string, types.Schema, bool) error { return nil }

// partitionedSink writes each row, without its partition columns, into a
// part file in the directory of its partition, path/k1=v1/k2=v2/ (Hive's
// layout, values escaped as Flink does), and commits partitions (writes
// their success file) once the commit trigger holds at a completed
// checkpoint.
//
// Exactly-once: part files are named part-0-<n>.<format> with n from a
// counter. PreCommit flushes and fsyncs every open file and returns a
// handle with the counter, each file written since the last checkpoint
// with its length, the partitions not committed yet and those this
// checkpoint commits. Open(handle) truncates those files to their lengths,
// deletes part files numbered at or above the counter (written after the
// checkpoint), writes the checkpoint's success files (its Commit may not
// have run) and starts new files; Open(nil) deletes every part file (and
// success file beside one) under path. Files are rolled only at
// checkpoints, so a closed file is complete.
type partitionedSink struct {
	cfg   exec.SinkConfig
	pc    *partitionConfig
	root  string
	keys  []int    // the partition columns in the table's schema
	names []string // their path-segment prefixes, "name="
	data  []int    // the others, written to the files
	dataS *arrow.Schema
	enc   *format.Encoder
	ext   string
	clock exec.Clock

	seq     uint64                // the next part file's number
	epoch   uint64                // PreCommits so far
	files   map[string]*partFile  // partition directory (relative) → open file
	written map[string]int64      // files written since the last PreCommit → length
	pending map[string]*partState // partitions with rows not committed yet
	commits map[int64][]string    // checkpoint id → partitions it commits
	wm      int64
	buf     []byte
	vals    []string
}

type partFile struct {
	rel       string // path relative to root
	f         *os.File
	w         *bufio.Writer
	written   int64
	opened    time.Time
	lastRow   time.Time
	dirSynced bool
}

// partState is a partition not committed yet.
type partState struct {
	Created int64  `json:"created"` // clock ms of its first row not committed
	epoch   uint64 // the epoch of its last row
	undated bool   // its time cannot be extracted (warned)
}

// partitionedHandle is the JSON handle of a partitioned sink (after a
// version byte).
type partitionedHandle struct {
	Seq     uint64               `json:"seq"`
	Files   map[string]int64     `json:"files,omitempty"`
	Pending map[string]partState `json:"pending,omitempty"`
	Commit  []string             `json:"commit,omitempty"`
}

const partitionedHandleVersion = 2

func newPartitionedSink(cfg exec.SinkConfig) (*partitionedSink, error) {
	pc, err := parsePartitionConfig(cfg.Options)
	if err != nil {
		return nil, fmt.Errorf("filesystem: table %q: %w", cfg.Table, err)
	}
	s := &partitionedSink{cfg: cfg, pc: pc, root: cfg.Options[optPath], clock: cfg.Clock,
		files: map[string]*partFile{}, written: map[string]int64{}, pending: map[string]*partState{}, commits: map[int64][]string{}}
	if s.clock == nil {
		s.clock = exec.SystemClock{}
	}
	var dataSchema types.Schema
	for i, f := range cfg.Schema.Fields {
		if slices.ContainsFunc(pc.keys, func(k string) bool { return strings.EqualFold(k, f.Name) }) {
			continue
		}
		s.data = append(s.data, i)
		dataSchema.Fields = append(dataSchema.Fields, f)
	}
	for _, k := range pc.keys {
		i := slices.IndexFunc(cfg.Schema.Fields, func(f types.Field) bool { return strings.EqualFold(k, f.Name) })
		if i < 0 {
			return nil, fmt.Errorf("filesystem: table %q: no partition column %q", cfg.Table, k)
		}
		s.keys = append(s.keys, i)
		s.names = append(s.names, escapePartitionValue(cfg.Schema.Fields[i].Name)+"=")
	}
	s.dataS = dataSchema.Arrow()
	if s.enc, err = format.NewEncoder("", dataSchema, cfg.Options); err != nil {
		return nil, fmt.Errorf("filesystem: table %q: %w", cfg.Table, err)
	}
	s.ext = s.enc.Format()
	return s, nil
}

// partFileNumber returns n of a part file name part-0-<n>.<ext>.
func (s *partitionedSink) partFileNumber(name string) (uint64, bool) {
	rest, ok := strings.CutPrefix(name, "part-0-")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, "."+s.ext)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(num, 10, 64)
	return n, err == nil
}

// Open implements exec.Sink.
func (s *partitionedSink) Open(_ context.Context, handle []byte) error {
	var h partitionedHandle
	if handle != nil {
		if len(handle) == 0 || handle[0] != partitionedHandleVersion {
			return fmt.Errorf("filesystem: table %q: the restored checkpoint's handle is not a PARTITIONED BY sink's (was the table's PARTITIONED BY changed?)", s.cfg.Table)
		}
		if err := json.Unmarshal(handle[1:], &h); err != nil {
			return fmt.Errorf("filesystem: table %q: invalid handle: %w", s.cfg.Table, err)
		}
	}
	if err := os.MkdirAll(s.root, 0o755); err != nil {
		return fmt.Errorf("filesystem: %w", err)
	}
	// Files written after the checkpoint (or all, fresh) go.
	var stale []string
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if n, ok := s.partFileNumber(d.Name()); ok && (handle == nil || n >= h.Seq) {
			stale = append(stale, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("filesystem: %w", err)
	}
	for _, p := range stale {
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("filesystem: %w", err)
		}
		if handle == nil && s.pc.successFile != "" {
			if err := os.Remove(filepath.Join(filepath.Dir(p), s.pc.successFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("filesystem: %w", err)
			}
		}
		if err := syncDir(filepath.Dir(p)); err != nil {
			return fmt.Errorf("filesystem: %w", err)
		}
	}
	for rel, length := range h.Files {
		p, err := s.inRoot(rel)
		if err != nil {
			return err
		}
		if err := truncateTo(p, length); err != nil {
			return fmt.Errorf("filesystem: table %q: %w", s.cfg.Table, err)
		}
	}
	s.seq = h.Seq
	for dir, st := range h.Pending {
		if _, err := s.inRoot(dir); err != nil {
			return err
		}
		s.pending[dir] = &partState{Created: st.Created}
	}
	// The checkpoint's commits: its Commit may not have run.
	if err := s.commitPartitions(h.Commit, 0); err != nil {
		return err
	}
	return nil
}

// inRoot returns the path of rel under the root, refusing one that leaves
// it (a damaged handle).
func (s *partitionedSink) inRoot(rel string) (string, error) {
	if rel == "" || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("filesystem: table %q: invalid path %q in the restored checkpoint", s.cfg.Table, rel)
	}
	return filepath.Join(s.root, rel), nil
}

func truncateTo(p string, length int64) error {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("part file of the restored checkpoint: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err == nil && st.Size() < length {
		err = fmt.Errorf("part file %q has %d bytes, fewer than the %d of the restored checkpoint", p, st.Size(), length)
	}
	if err == nil {
		err = f.Truncate(length)
	}
	if err == nil {
		err = f.Sync()
	}
	return err
}

// partitionDir returns the directory of row r's partition, relative to the
// root: k1=v1/k2=v2.
func (s *partitionedSink) partitionDir(rec arrow.Record, r int) string {
	s.vals = s.vals[:0]
	for i, c := range s.keys {
		v, ok := format.FormatValue(rec.Column(c), r)
		if !ok || v == "" {
			v = s.pc.defaultName
		} else {
			v = escapePartitionValue(v)
		}
		s.vals = append(s.vals, s.names[i]+v)
	}
	return strings.Join(s.vals, "/")
}

// samePartition reports whether rows a and b of rec hold equal values in
// every partition column, so that they share a directory without it being
// formatted. False means only "not known to be equal": two values may still
// give the same directory (NULL and the empty string, say), which partitionDir tells.
func (s *partitionedSink) samePartition(rec arrow.Record, a, b int) bool {
	for _, c := range s.keys {
		col := rec.Column(c)
		na, nb := col.IsNull(a), col.IsNull(b)
		if na || nb {
			if na != nb {
				return false
			}
			continue
		}
		switch col := col.(type) {
		case *array.String:
			if col.Value(a) != col.Value(b) {
				return false
			}
		case *array.Int64:
			if col.Value(a) != col.Value(b) {
				return false
			}
		case *array.Int32:
			if col.Value(a) != col.Value(b) {
				return false
			}
		case *array.Boolean:
			if col.Value(a) != col.Value(b) {
				return false
			}
		case *array.Timestamp:
			if col.Value(a) != col.Value(b) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// escapePartitionValue escapes what may not appear in a path segment as
// %XX, as Hive and Flink do.
func escapePartitionValue(v string) string {
	need := false
	for i := 0; i < len(v); i++ {
		if mustEscape(v[i]) {
			need = true
			break
		}
	}
	if !need {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if c := v[i]; mustEscape(c) {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func mustEscape(c byte) bool {
	return c < 0x20 || c == 0x7f || strings.IndexByte("\"#%'*/:=?\\{[]^", c) >= 0
}

// Write implements exec.Sink: rows go, in runs of one partition, to that
// partition's open file.
func (s *partitionedSink) Write(_ context.Context, rec arrow.Record) error {
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	cols := make([]arrow.Array, len(s.data))
	for i, c := range s.data {
		cols[i] = rec.Column(c)
	}
	proj := array.NewRecord(s.dataS, cols, rec.NumRows())
	defer proj.Release()
	start, dir := 0, s.partitionDir(rec, 0)
	for r := 1; r <= n; r++ {
		next := ""
		if r < n {
			if s.samePartition(rec, r-1, r) {
				continue
			}
			if next = s.partitionDir(rec, r); next == dir {
				continue
			}
		}
		if err := s.writeRun(dir, proj, start, r); err != nil {
			return err
		}
		start, dir = r, next
	}
	return nil
}

func (s *partitionedSink) writeRun(dir string, proj arrow.Record, from, to int) error {
	pf, err := s.file(dir)
	if err != nil {
		return err
	}
	run := proj.NewSlice(int64(from), int64(to))
	defer run.Release()
	if s.buf, err = s.enc.AppendRecord(s.buf[:0], run); err != nil {
		return fmt.Errorf("filesystem: %w", err)
	}
	k, err := pf.w.Write(s.buf)
	pf.written += int64(k)
	pf.lastRow = s.clock.Now()
	s.written[pf.rel] = pf.written
	if err != nil {
		return fmt.Errorf("filesystem: %s: %w", filepath.Join(s.root, pf.rel), err)
	}
	st := s.pending[dir]
	if st == nil {
		st = &partState{Created: s.clock.Now().UnixMilli()}
		s.pending[dir] = st
	}
	st.epoch = s.epoch
	return nil
}

// file returns the open part file of partition dir, starting one.
func (s *partitionedSink) file(dir string) (*partFile, error) {
	if pf := s.files[dir]; pf != nil {
		return pf, nil
	}
	rel := filepath.Join(filepath.FromSlash(dir), fmt.Sprintf("part-0-%d.%s", s.seq, s.ext))
	p := filepath.Join(s.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, fmt.Errorf("filesystem: %w", err)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("filesystem: %w", err)
	}
	s.seq++
	now := s.clock.Now()
	pf := &partFile{rel: rel, f: f, w: bufio.NewWriterSize(f, 64<<10), opened: now, lastRow: now}
	s.files[dir] = pf
	s.written[rel] = 0
	return pf, nil
}

// Watermark implements exec.WatermarkSink.
func (s *partitionedSink) Watermark(_ context.Context, wm int64) error {
	s.wm = max(s.wm, wm)
	return nil
}

// due reports whether partition dir may be committed now.
func (s *partitionedSink) due(dir string, st *partState) bool {
	if !s.pc.byTime {
		return s.clock.Now().UnixMilli() >= st.Created+s.pc.delay.Milliseconds()
	}
	t, err := s.partitionTime(dir)
	if err != nil {
		// (A NULL partition value, say.) Its rows are kept; the partition
		// is never committed.
		if !st.undated {
			st.undated = true
			if s.cfg.Logger != nil {
				s.cfg.Logger.Warn("filesystem: a partition without a time is not committed", "table", s.cfg.Table, "err", err)
			}
		}
		return false
	}
	return s.wm >= t+s.pc.delay.Milliseconds()
}

// partitionTime extracts the time of partition dir from the timestamp
// pattern, in ms since the epoch.
func (s *partitionedSink) partitionTime(dir string) (int64, error) {
	vals := map[string]string{}
	for _, seg := range strings.Split(dir, "/") {
		k, v, _ := strings.Cut(seg, "=")
		vals[strings.ToLower(unescapePartitionValue(k))] = unescapePartitionValue(v)
	}
	names := patternNames(s.pc.pattern)
	slices.SortFunc(names, func(a, b string) int { return len(b) - len(a) }) // $hm before $h
	text := s.pc.pattern
	for _, n := range names {
		text = strings.ReplaceAll(text, "$"+n, vals[strings.ToLower(n)])
	}
	layout := "2006-01-02 15:04:05"
	if len(text) == len("2006-01-02") {
		layout = "2006-01-02"
	}
	t, err := time.ParseInLocation(layout, text, s.pc.zone)
	if err != nil {
		return 0, fmt.Errorf("filesystem: table %q: partition %s: its time %q (from '%s' = '%s') is not 'yyyy-MM-dd HH:mm:ss' or 'yyyy-MM-dd'",
			s.cfg.Table, dir, text, optTimestampPattern, s.pc.pattern)
	}
	return t.UnixMilli(), nil
}

func unescapePartitionValue(v string) string {
	if !strings.Contains(v, "%") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '%' && i+2 < len(v) {
			if n, err := strconv.ParseUint(v[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 2
				continue
			}
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// PreCommit implements exec.Sink.
func (s *partitionedSink) PreCommit(_ context.Context, id int64) ([]byte, error) {
	for _, pf := range s.files {
		if err := pf.w.Flush(); err != nil {
			return nil, fmt.Errorf("filesystem: %s: %w", filepath.Join(s.root, pf.rel), err)
		}
		if err := pf.f.Sync(); err != nil {
			return nil, fmt.Errorf("filesystem: %s: %w", filepath.Join(s.root, pf.rel), err)
		}
		if !pf.dirSynced {
			if err := syncDirs(s.root, filepath.Dir(filepath.Join(s.root, pf.rel))); err != nil {
				return nil, fmt.Errorf("filesystem: %w", err)
			}
			pf.dirSynced = true
		}
	}
	h := partitionedHandle{Seq: s.seq, Files: s.written, Pending: map[string]partState{}}
	for dir, st := range s.pending {
		h.Pending[dir] = *st
		if s.due(dir, st) {
			h.Commit = append(h.Commit, dir)
		}
	}
	slices.Sort(h.Commit)
	b, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("filesystem: %w", err)
	}
	s.commits[id] = h.Commit
	// Roll: a file large, old or idle enough is complete at this
	// checkpoint; its partition's next row starts a new one.
	now := s.clock.Now()
	for dir, pf := range s.files {
		if pf.written >= s.pc.rollSize || now.Sub(pf.opened) >= s.pc.rollAge || now.Sub(pf.lastRow) >= s.pc.rollIdle {
			if err := pf.f.Close(); err != nil {
				return nil, fmt.Errorf("filesystem: %w", err)
			}
			delete(s.files, dir)
		}
	}
	s.written = map[string]int64{}
	for _, pf := range s.files {
		s.written[pf.rel] = pf.written
	}
	s.epoch++
	return append([]byte{partitionedHandleVersion}, b...), nil
}

// syncDirs fsyncs dir and its parents up to root.
func syncDirs(root, dir string) error {
	for {
		if err := syncDir(dir); err != nil {
			return err
		}
		if rel, err := filepath.Rel(root, dir); err != nil || rel == "." || !filepath.IsLocal(rel) {
			return nil
		}
		dir = filepath.Dir(dir)
	}
}

// Commit implements exec.Sink: the partitions due at checkpoint id's
// PreCommit are committed.
func (s *partitionedSink) Commit(_ context.Context, id int64) error {
	dirs := s.commits[id]
	for k := range s.commits {
		if k <= id {
			delete(s.commits, k)
		}
	}
	// A partition written again since the PreCommit stays pending: it is
	// committed again later (as Flink does for late rows).
	return s.commitPartitions(dirs, s.epoch)
}

// commitPartitions writes the success files of dirs; a partition whose
// last row came before epoch is done: its file is closed.
func (s *partitionedSink) commitPartitions(dirs []string, epoch uint64) error {
	for _, dir := range dirs {
		p, err := s.inRoot(filepath.FromSlash(dir))
		if err != nil {
			return err
		}
		if s.pc.successFile != "" {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return fmt.Errorf("filesystem: %w", err)
			}
			f, err := os.Create(filepath.Join(p, s.pc.successFile))
			if err == nil {
				err = f.Sync()
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err == nil {
				err = syncDir(p)
			}
			if err != nil {
				return fmt.Errorf("filesystem: committing partition %s: %w", dir, err)
			}
		}
		st := s.pending[dir]
		if st == nil || st.epoch >= epoch && epoch > 0 {
			continue
		}
		delete(s.pending, dir)
		if pf := s.files[dir]; pf != nil {
			if err := pf.w.Flush(); err != nil {
				return fmt.Errorf("filesystem: %w", err)
			}
			if err := pf.f.Close(); err != nil {
				return fmt.Errorf("filesystem: %w", err)
			}
			delete(s.files, dir)
		}
	}
	return nil
}

// Close implements exec.Sink: it flushes and closes the open files without
// committing.
func (s *partitionedSink) Close() error {
	var errs []error
	for dir, pf := range s.files {
		errs = append(errs, pf.w.Flush(), pf.f.Close())
		delete(s.files, dir)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("filesystem: %w", err)
	}
	return nil
}

// describePartitionedHandle is DescribeHandle of a partitioned sink's
// handle.
func describePartitionedHandle(b []byte) (string, error) {
	var h partitionedHandle
	if err := json.Unmarshal(b[1:], &h); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d part file(s) written since the previous checkpoint; %d partition(s) not committed, %d committed by this checkpoint; next part file number %d",
		len(h.Files), len(h.Pending), len(h.Commit), h.Seq), nil
}
