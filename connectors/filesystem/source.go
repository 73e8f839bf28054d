package filesystem

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/exec"
)

const (
	readBufferSize = 1 << 20
	// offsetVersion is the first byte of a file's offset; legacyOffsetVersion
	// the one of the source's one offset in checkpoints written before
	// offsets were kept per split.
	offsetVersion       = 2
	legacyOffsetVersion = 1
)

// source reads the lines of a list of files. Called from one goroutine.
type source struct {
	cfg     exec.SourceConfig
	path    string
	files   []string // full paths, in reading order
	dec     *format.Decoder
	batch   int
	metrics *exec.SourceMetrics

	// The position of the next unread line.
	idx  int   // index in files
	pos  int64 // byte offset in files[idx]
	line int64 // lines of files[idx] before pos

	// part reads a PARTITIONED BY table's partition directories; nil
	// for a table that is not partitioned.
	part *partReader

	f       *os.File
	r       *bufio.Reader
	scratch []byte
	buf     []byte // Offsets' encoding
}

var _ exec.Source = (*source)(nil)

func newSource(cfg exec.SourceConfig) (*source, error) {
	cfg = cfg.WithDefaults()
	part, schema, err := newPartReader(cfg)
	if err != nil {
		return nil, fmt.Errorf("filesystem: table %q: %w", cfg.Table, err)
	}
	dec, err := format.NewDecoder("", schema, cfg.Options, cfg.Alloc)
	if err != nil {
		return nil, fmt.Errorf("filesystem: table %q: %w", cfg.Table, err)
	}
	dec.SetZone(cfg.Zone)
	if et := cfg.EventTime; et != nil {
		if err := dec.CheckEventTime(part.decoderColumn(et.Column), et.MaxFuture, cfg.Clock.Now); err != nil {
			dec.Release()
			return nil, fmt.Errorf("filesystem: table %q: %w", cfg.Table, err)
		}
	}
	s := &source{cfg: cfg, path: cfg.Options[optPath], dec: dec, batch: cfg.BatchSize, metrics: cfg.Metrics, part: part}

	return s, nil
}

// listFiles returns path if it is a file, or the readable files of the
// directory path in name order.
func listFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") || e.IsDir() {
			continue
		}
		if !e.Type().IsRegular() {
			if st, err := os.Stat(filepath.Join(path, n)); err != nil || !st.Mode().IsRegular() {
				continue
			}
		}
		out = append(out, filepath.Join(path, n))
	}
	sort.Strings(out)
	return out, nil
}

// Open implements exec.Source. The offset is the one of the file being
// read (see Offsets); files before it in name order were read.
func (s *source) Open(_ context.Context, offsets map[string][]byte) error {
	list := listFiles
	if s.part != nil {
		list = listPartFiles
	}
	files, err := list(s.path)
	if err != nil {
		return fmt.Errorf("filesystem: table %q: %w", s.cfg.Table, err)
	}
	s.files = files
	s.idx, s.pos, s.line = 0, 0, 0
	if len(offsets) == 0 {
		return nil
	}
	if len(offsets) > 1 {
		return fmt.Errorf("filesystem: table %q: invalid offset: %d splits %q, want the one file being read", s.cfg.Table, len(offsets), slices.Sorted(maps.Keys(offsets)))
	}
	for split, b := range offsets {
		var o fileOffset
		if split == exec.LegacySplit {
			o, err = decodeLegacyOffset(b)
		} else {
			o, err = decodeOffset(b)
			o.name = s.name(split)
		}
		if err != nil {
			return fmt.Errorf("filesystem: table %q: invalid offset of split %q: %w", s.cfg.Table, split, err)
		}
		return s.restore(o)
	}
	return nil
}

// restore positions the source at o.
func (s *source) restore(o fileOffset) error {
	files := s.files
	if o.name == "" {
		// A legacy checkpoint taken after the last file.
		s.idx = len(files)
		return nil
	}
	s.idx = -1
	if o.idx < len(files) && s.name(files[o.idx]) == o.name {
		s.idx = o.idx
	} else {
		for i, f := range files {
			if s.name(f) == o.name {
				s.idx = i
			}
		}
	}
	if o.done {
		// Every file up to this one was read; it need not exist any more.
		if s.idx < 0 {
			s.idx, _ = slices.BinarySearchFunc(files, o.name, func(f, name string) int { return strings.Compare(s.name(f), name) })
		} else {
			s.idx++
		}
		return nil
	}
	if s.idx < 0 {
		return fmt.Errorf("filesystem: table %q: file %q of the restored offset no longer exists in %q", s.cfg.Table, o.name, s.path)
	}
	s.pos, s.line = o.pos, o.line
	return nil
}

// name is the name a file is known by in offsets: its base name, or for a
// partitioned table its path below the table's (dt=…/part-0.json), since
// partitions hold files of the same names.
func (s *source) name(path string) string {
	if s.part != nil {
		if rel, err := filepath.Rel(s.path, path); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.Base(path)
}

// Offsets implements exec.Source: the files are read one after the other,
// in name order, so the one split with a position is the file being read
// (named by its path), or, after the last file, the last file, read to
// its end. There is none before the first file is opened or when there is
// no file.
func (s *source) Offsets(fn func(split string, offset []byte) error) error {
	o := fileOffset{idx: s.idx, pos: s.pos, line: s.line}
	switch {
	case len(s.files) == 0:
		return nil
	case s.idx >= len(s.files):
		o = fileOffset{idx: len(s.files) - 1, done: true}
	}
	s.buf = o.append(s.buf[:0])
	return fn(s.files[o.idx], s.buf)
}

// fileOffset is the position in one file.
type fileOffset struct {
	name      string // the file's base name (from the split name)
	idx       int    // its index in the listing (a hint: files may have come or gone)
	pos, line int64  // the next line's byte offset, and the lines before it
	done      bool   // the file was read to its end
}

// append encodes o: version byte (2), flags (1: done), uvarint idx, pos
// and line. The name is the split's.
func (o fileOffset) append(b []byte) []byte {
	var flags byte
	if o.done {
		flags = 1
	}
	b = append(b, offsetVersion, flags)
	b = binary.AppendUvarint(b, uint64(o.idx))
	b = binary.AppendUvarint(b, uint64(o.pos))
	return binary.AppendUvarint(b, uint64(o.line))
}

func decodeOffset(b []byte) (fileOffset, error) {
	if len(b) < 2 || b[0] != offsetVersion {
		return fileOffset{}, errors.New("unknown version")
	}
	if b[1] > 1 {
		return fileOffset{}, fmt.Errorf("unknown flags %#x", b[1])
	}
	o := fileOffset{done: b[1] == 1}
	vals, rest, err := uvarints(b[2:], 3)
	if err != nil {
		return fileOffset{}, err
	}
	if len(rest) != 0 {
		return fileOffset{}, fmt.Errorf("%d trailing bytes", len(rest))
	}
	o.idx, o.pos, o.line = int(vals[0]), int64(vals[1]), int64(vals[2])
	return o, nil
}

// decodeLegacyOffset decodes the one offset of the source that
// checkpoints written before offsets were kept per split hold: version
// byte (1), uvarint idx, pos, line and len(name), the file's base name ("":
// every file was read).
func decodeLegacyOffset(b []byte) (fileOffset, error) {
	if len(b) == 0 || b[0] != legacyOffsetVersion {
		return fileOffset{}, errors.New("unknown version")
	}
	vals, rest, err := uvarints(b[1:], 4)
	if err != nil {
		return fileOffset{}, err
	}
	if uint64(len(rest)) != vals[3] {
		return fileOffset{}, errors.New("bad file name length")
	}
	return fileOffset{idx: int(vals[0]), pos: int64(vals[1]), line: int64(vals[2]), name: string(rest)}, nil
}

func uvarints(b []byte, n int) ([]uint64, []byte, error) {
	vals := make([]uint64, n)
	for i := range vals {
		v, k := binary.Uvarint(b)
		if k <= 0 || v > math.MaxInt64 {
			return nil, nil, errors.New("truncated")
		}
		vals[i], b = v, b[k:]
	}
	return vals, b, nil
}

// Close implements exec.Source.
func (s *source) Close() error {
	s.dec.Release()
	return s.closeFile()
}

func (s *source) closeFile() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f, s.r = nil, nil
	return err
}

func (s *source) openFile() error {
	f, err := os.Open(s.files[s.idx])
	if err != nil {
		return fmt.Errorf("filesystem: %w", err)
	}
	if s.pos > 0 {
		if _, err := f.Seek(s.pos, io.SeekStart); err != nil {
			f.Close()
			return fmt.Errorf("filesystem: %w", err)
		}
	}
	s.f = f
	if s.r == nil {
		s.r = bufio.NewReaderSize(f, readBufferSize)
	} else {
		s.r.Reset(f)
	}
	return nil
}

// readLine returns the next line without its terminator and the number of
// bytes it took, or io.EOF at the end of the file. The line is valid until
// the next call.
func (s *source) readLine() ([]byte, int, error) {
	b, err := s.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		s.scratch = append(s.scratch[:0], b...)
		for err == bufio.ErrBufferFull {
			b, err = s.r.ReadSlice('\n')
			s.scratch = append(s.scratch, b...)
		}
		b = s.scratch
	}
	n := len(b)
	if err != nil && err != io.EOF {
		return nil, 0, err
	}
	if n == 0 {
		return nil, 0, io.EOF
	}
	if b[n-1] == '\n' {
		b = b[:n-1]
		if len(b) > 0 && b[len(b)-1] == '\r' {
			b = b[:len(b)-1]
		}
	}
	return b, n, nil
}

// Read implements exec.Source.
func (s *source) Read(ctx context.Context) (arrow.Record, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	var bytes int64
	for s.dec.Len() < s.batch && s.idx < len(s.files) {
		if s.f == nil {
			if err := s.openFile(); err != nil {
				return nil, 0, err
			}
			if s.part != nil {
				if err := s.part.startFile(s.path, s.files[s.idx]); err != nil {
					return nil, 0, fmt.Errorf("filesystem: table %q: %w", s.cfg.Table, err)
				}
			}
		}
		line, n, err := s.readLine()
		if err == io.EOF {
			if err := s.closeFile(); err != nil {
				return nil, 0, fmt.Errorf("filesystem: %w", err)
			}
			s.idx, s.pos, s.line = s.idx+1, 0, 0
			if s.part != nil && s.dec.Len() > 0 {
				break // a batch holds the rows of one partition
			}
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("filesystem: %s: %w", s.files[s.idx], err)
		}
		s.pos += int64(n)
		s.line++
		bytes += int64(n)
		if isBlank(line) {
			continue
		}
		if s.part != nil {
			line = s.part.withPartition(line)
		}
		if err := s.dec.Decode(line); err != nil {
			if s.dec.IgnoreParseErrors() {
				s.metrics.Malformed.Add(1)
				continue
			}
			return nil, 0, fmt.Errorf("%s:%d: %w", s.files[s.idx], s.line, err)
		}
	}
	s.metrics.Bytes.Add(bytes)
	if s.dec.Len() == 0 {
		return nil, 0, io.EOF
	}
	rec := s.dec.NewRecord()
	if s.part != nil {
		rec = s.part.record(rec)
	}
	s.metrics.Records.Add(rec.NumRows())
	return rec, 0, nil
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}
