package state

import (
	"encoding/binary"
	"fmt"
)

// DefaultMaxParallelism is the number of key groups when
// pipeline.max-parallelism is not set (Flink's default for small jobs).
const DefaultMaxParallelism = 128

// MaxMaxParallelism is the largest number of key groups: a key group is
// stored as two bytes (Flink's upper bound, 1 << 15, as well).
const MaxMaxParallelism = 1 << 15

// KeyGroupPrefixLen is the length of the key-group prefix of a keyed
// state key.
const KeyGroupPrefixLen = 2

// KeyGroupRange is the half-open range [Start, End) of key groups one
// subtask owns.
type KeyGroupRange struct{ Start, End int }

// FullRange returns the range of every key group: what a single subtask
// owns.
func FullRange(maxParallelism int) KeyGroupRange {
	return KeyGroupRange{0, maxParallelism}
}

// Contains reports whether key group kg is in r.
func (r KeyGroupRange) Contains(kg int) bool { return kg >= r.Start && kg < r.End }

// Len returns the number of key groups in r.
func (r KeyGroupRange) Len() int { return max(0, r.End-r.Start) }

// String formats r as "[start, end)".
func (r KeyGroupRange) String() string { return fmt.Sprintf("[%d, %d)", r.Start, r.End) }

// CheckMaxParallelism returns an error unless n is a valid number of key
// groups (1 to MaxMaxParallelism) for a job of the given parallelism
// (parallelism <= n).
func CheckMaxParallelism(n, parallelism int) error {
	if n < 1 || n > MaxMaxParallelism {
		return fmt.Errorf("state: pipeline.max-parallelism must be between 1 and %d, got %d", MaxMaxParallelism, n)
	}
	if parallelism > n {
		return fmt.Errorf("state: parallelism %d exceeds pipeline.max-parallelism %d", parallelism, n)
	}
	return nil
}

// RangeFor returns the key groups subtask (0-based) of parallelism owns:
// [ceil(subtask*max/p), ceil((subtask+1)*max/p)), as Flink's
// KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex (whose end
// is inclusive). It requires 1 <= parallelism <= maxParallelism.
func RangeFor(subtask, parallelism, maxParallelism int) KeyGroupRange {
	start := (subtask*maxParallelism + parallelism - 1) / parallelism
	end := ((subtask+1)*maxParallelism-1)/parallelism + 1
	return KeyGroupRange{start, end}
}

// SubtaskOf returns the subtask of parallelism that owns keyGroup, as
// Flink's KeyGroupRangeAssignment.computeOperatorIndexForKeyGroup: the
// inverse of RangeFor.
func SubtaskOf(keyGroup, parallelism, maxParallelism int) int {
	return keyGroup * parallelism / maxParallelism
}

// KeyGroupOf returns the key group of a key whose HashKey is hash.
func KeyGroupOf(hash uint64, maxParallelism int) int {
	if m := uint64(maxParallelism); m&(m-1) == 0 {
		// A power of two (the default 128): the same value as the
		// modulo, without a division.
		return int(hash & (m - 1))
	}
	return int(hash % uint64(maxParallelism))
}

// KeyGroupOfKey returns the key group of the encoded key bytes key.
func KeyGroupOfKey(key []byte, maxParallelism int) int {
	return KeyGroupOf(HashKey(key), maxParallelism)
}

// AppendKeyGroup appends key group kg as the 2-byte big-endian prefix of a
// keyed state key.
func AppendKeyGroup(buf []byte, kg int) []byte {
	return binary.BigEndian.AppendUint16(buf, uint16(kg))
}

// KeyGroupPrefix returns the key group a keyed state key begins with, and
// false if the key is too short to have one.
func KeyGroupPrefix(key []byte) (int, bool) {
	if len(key) < KeyGroupPrefixLen {
		return 0, false
	}
	return int(binary.BigEndian.Uint16(key)), true
}
