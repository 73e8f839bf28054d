package exec

import (
	"errors"
	"fmt"
)

// splitOffsets is a copy of the per-split offsets a source reported (see
// Source.Offsets), in the order it reported them. Its buffers are reused
// by the next capture, so that taking the offsets after every batch (the
// prefetcher does) does not allocate once the buffers have grown.
type splitOffsets struct {
	names []string
	offs  [][]byte
	n     int
	add   func(split string, offset []byte) error // s.record, bound once
}

func newSplitOffsets() *splitOffsets {
	s := &splitOffsets{}
	s.add = s.record
	return s
}

// capture replaces the offsets with src's current ones.
func (s *splitOffsets) capture(src Source) error {
	s.n = 0
	return src.Offsets(s.add)
}

func (s *splitOffsets) record(split string, offset []byte) error {
	if split == "" {
		return errors.New("the source reported an offset without a split name")
	}
	if s.n < len(s.names) {
		s.names[s.n] = split
		s.offs[s.n] = append(s.offs[s.n][:0], offset...)
	} else {
		s.names = append(s.names, split)
		s.offs = append(s.offs, append([]byte(nil), offset...))
	}
	s.n++
	return nil
}

// toMap returns a copy of the offsets by split name, as Open and
// CheckpointListener take them. It fails on a split reported twice.
func (s *splitOffsets) toMap() (map[string][]byte, error) {
	m := make(map[string][]byte, s.n)
	for i := 0; i < s.n; i++ {
		if _, dup := m[s.names[i]]; dup {
			return nil, fmt.Errorf("the source reported split %q twice", s.names[i])
		}
		m[s.names[i]] = append([]byte(nil), s.offs[i]...)
	}
	return m, nil
}

// watermarks names the split watermarks of a SplitReporter source (by
// split number) by split name: the i-th offset it reported is split i's.
func (s *splitOffsets) watermarks(wms map[int]Watermark) map[string]Watermark {
	out := make(map[string]Watermark, len(wms))
	for i, wm := range wms {
		if i < s.n {
			out[s.names[i]] = wm
		}
	}
	return out
}

// SourceOffsets returns src's offsets by split name, as a checkpoint
// stores them and Open takes them back (for tests and tools).
func SourceOffsets(src Source) (map[string][]byte, error) {
	s := newSplitOffsets()
	if err := s.capture(src); err != nil {
		return nil, err
	}
	return s.toMap()
}
