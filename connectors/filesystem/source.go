package filesystem

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/exec"
)

const (
	readBufferSize = 1 << 20
	offsetVersion  = 1
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

	f       *os.File
	r       *bufio.Reader
	scratch []byte
}

var _ exec.Source = (*source)(nil)

func newSource(cfg exec.SourceConfig) (*source, error) {
	cfg = cfg.WithDefaults()
	dec, err := format.NewDecoder("", cfg.Schema, cfg.Options, cfg.Alloc)
	if err != nil {
		return nil, fmt.Errorf("filesystem: table %q: %w", cfg.Table, err)
	}
	if et := cfg.EventTime; et != nil {
		if err := dec.CheckEventTime(et.Column, et.MaxFuture, cfg.Clock.Now); err != nil {
			dec.Release()
			return nil, fmt.Errorf("filesystem: table %q: %w", cfg.Table, err)
		}
	}
	s := &source{cfg: cfg, path: cfg.Options[optPath], dec: dec, batch: cfg.BatchSize, metrics: cfg.Metrics}

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

// Open implements exec.Source.
func (s *source) Open(_ context.Context, offset []byte) error {
	files, err := listFiles(s.path)
	if err != nil {
		return fmt.Errorf("filesystem: table %q: %w", s.cfg.Table, err)
	}
	s.files = files
	s.idx, s.pos, s.line = 0, 0, 0
	if offset == nil {
		return nil
	}
	idx, pos, line, name, err := decodeOffset(offset)
	if err != nil {
		return fmt.Errorf("filesystem: table %q: invalid offset: %w", s.cfg.Table, err)
	}
	if name == "" {
		// The checkpoint was taken after the last file.
		s.idx = len(files)
		return nil
	}
	s.idx = -1
	if idx < len(files) && filepath.Base(files[idx]) == name {
		s.idx = idx
	} else {
		for i, f := range files {
			if filepath.Base(f) == name {
				s.idx = i
			}
		}
	}
	if s.idx < 0 {
		return fmt.Errorf("filesystem: table %q: file %q of the restored offset no longer exists in %q", s.cfg.Table, name, s.path)
	}
	s.pos, s.line = pos, line
	return nil
}

// Offset implements exec.Source.
func (s *source) Offset() ([]byte, error) {
	name := ""
	if s.idx < len(s.files) {
		name = filepath.Base(s.files[s.idx])
	}
	b := []byte{offsetVersion}
	b = binary.AppendUvarint(b, uint64(s.idx))
	b = binary.AppendUvarint(b, uint64(s.pos))
	b = binary.AppendUvarint(b, uint64(s.line))
	b = binary.AppendUvarint(b, uint64(len(name)))
	return append(b, name...), nil
}

func decodeOffset(b []byte) (idx int, pos, line int64, name string, err error) {
	if len(b) == 0 || b[0] != offsetVersion {
		return 0, 0, 0, "", errors.New("unknown version")
	}
	b = b[1:]
	var vals [4]uint64
	for i := range vals {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, 0, 0, "", errors.New("truncated")
		}
		vals[i], b = v, b[n:]
	}
	if uint64(len(b)) != vals[3] {
		return 0, 0, 0, "", errors.New("bad file name length")
	}
	return int(vals[0]), int64(vals[1]), int64(vals[2]), string(b), nil
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
		}
		line, n, err := s.readLine()
		if err == io.EOF {
			if err := s.closeFile(); err != nil {
				return nil, 0, fmt.Errorf("filesystem: %w", err)
			}
			s.idx, s.pos, s.line = s.idx+1, 0, 0
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
