package filesystem

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/exec"
)

const (
	writeBufferSize = 1 << 20
	handleVersion   = 1
)

// sink appends encoded rows to one part file. Driven from one goroutine.
type sink struct {
	cfg  exec.SinkConfig
	dir  string
	name string // the part file's name in dir
	enc  *format.Encoder

	f       *os.File
	w       *bufio.Writer
	written int64 // bytes written to the file, buffered ones included
	buf     []byte
}

var _ exec.Sink = (*sink)(nil)

func newSink(cfg exec.SinkConfig) (*sink, error) {
	enc, err := format.NewEncoder("", cfg.Schema, cfg.Options)
	if err != nil {
		return nil, fmt.Errorf("filesystem: table %q: %w", cfg.Table, err)
	}
	return &sink{cfg: cfg, dir: cfg.Options[optPath], name: "part-0." + enc.Format(), enc: enc}, nil
}

// Path returns the path of the part file.
func (s *sink) Path() string { return filepath.Join(s.dir, s.name) }

// Open implements exec.Sink: it truncates the part file to the length the
// handle records (to empty on a fresh start).
func (s *sink) Open(_ context.Context, handle []byte) error {
	var length int64
	if handle != nil {
		name, n, err := decodeHandle(handle)
		if err != nil {
			return fmt.Errorf("filesystem: table %q: invalid handle: %w", s.cfg.Table, err)
		}
		s.name, length = name, n
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("filesystem: %w", err)
	}
	f, err := os.OpenFile(s.Path(), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("filesystem: %w", err)
	}
	st, err := f.Stat()
	if err == nil && st.Size() < length {
		err = fmt.Errorf("part file %q has %d bytes, fewer than the %d of the restored checkpoint", s.Path(), st.Size(), length)
	}
	if err == nil {
		err = f.Truncate(length)
	}
	if err == nil {
		_, err = f.Seek(length, 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("filesystem: %w", err)
	}
	s.f, s.written = f, length
	s.w = bufio.NewWriterSize(f, writeBufferSize)
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Write implements exec.Sink.
func (s *sink) Write(_ context.Context, rec arrow.Record) error {
	if s.w == nil {
		return errors.New("filesystem: sink not open")
	}
	var err error
	if s.buf, err = s.enc.AppendRecord(s.buf[:0], rec); err != nil {
		return fmt.Errorf("filesystem: %w", err)
	}
	n, err := s.w.Write(s.buf)
	s.written += int64(n)
	if err != nil {
		return fmt.Errorf("filesystem: %s: %w", s.Path(), err)
	}
	return nil
}

// PreCommit implements exec.Sink: it makes the file durable up to its
// current length and returns (file name, length) as the handle.
func (s *sink) PreCommit(context.Context, int64) ([]byte, error) {
	if s.w == nil {
		return nil, errors.New("filesystem: sink not open")
	}
	if err := s.w.Flush(); err != nil {
		return nil, fmt.Errorf("filesystem: %s: %w", s.Path(), err)
	}
	if err := s.f.Sync(); err != nil {
		return nil, fmt.Errorf("filesystem: %s: %w", s.Path(), err)
	}
	b := []byte{handleVersion}
	b = binary.AppendUvarint(b, uint64(len(s.name)))
	b = append(b, s.name...)
	return binary.AppendUvarint(b, uint64(s.written)), nil
}

func decodeHandle(b []byte) (string, int64, error) {
	if len(b) == 0 || b[0] != handleVersion {
		return "", 0, errors.New("unknown version")
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return "", 0, errors.New("truncated")
	}
	name := string(b[k : k+int(n)])
	b = b[k+int(n):]
	length, k := binary.Uvarint(b)
	if k <= 0 || k != len(b) || name == "" || filepath.Base(name) != name {
		return "", 0, errors.New("malformed")
	}
	return name, int64(length), nil
}

// Commit implements exec.Sink: the length in the checkpoint already is the
// commit.
func (s *sink) Commit(context.Context, int64) error { return nil }

// Close implements exec.Sink. It flushes what is buffered (a restore
// truncates it again if no checkpoint covers it) and closes the file.
func (s *sink) Close() error {
	if s.f == nil {
		return nil
	}
	err := s.w.Flush()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f, s.w = nil, nil
	if err != nil {
		return fmt.Errorf("filesystem: %w", err)
	}
	return nil
}
