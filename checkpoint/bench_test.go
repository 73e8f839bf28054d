package checkpoint

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"
)

// accKey and accValue make the ~32-byte (window, key) accumulator records
// of the benchmarks: 8 bytes of window start, 24 of group key, and a
// 32-byte value.
func accKey(buf []byte, i int) []byte {
	buf = binary.BigEndian.AppendUint64(buf[:0], uint64(1764000000000+(i%10)*10000))
	buf = append(buf, "auction-0000000000000000"...)
	for j, n := len(buf)-1, i; n > 0; j, n = j-1, n/10 {
		buf[j] = byte('0' + n%10)
	}
	return buf
}

func accValue(buf []byte, i, gen int) []byte {
	buf = binary.BigEndian.AppendUint64(buf[:0], uint64(i))
	buf = binary.BigEndian.AppendUint64(buf, uint64(gen))
	buf = binary.BigEndian.AppendUint64(buf, uint64(i*gen))
	return binary.BigEndian.AppendUint64(buf, uint64(i+gen))
}

func writeAccs(b testing.TB, w StateWriter, keys []int, gen int) {
	var kb, vb []byte
	for _, i := range keys {
		kb = accKey(kb, i)
		vb = accValue(vb, i, gen)
		if err := w.Set(kb, vb); err != nil {
			b.Fatal(err)
		}
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// BenchmarkCheckpoint times one full checkpoint of keys accumulators,
// written in hash order (as a Go map hands them out): the writer calls and
// Commit (sort, one synced batch, collection), into a fresh store each
// iteration so that compaction of earlier iterations does not compete.
// The steady state is BenchmarkCheckpointIncremental.
func BenchmarkCheckpoint(b *testing.B) {
	for _, n := range []int{10000, 1000000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			keys := seq(n)
			for j := range keys {
				keys[j] = int((uint64(j) * 2654435761) % uint64(n))
			}
			b.ReportAllocs()
			var commit time.Duration
			for b.Loop() {
				b.StopTimer()
				s := openTest(b, b.TempDir(), nil)
				b.StartTimer()
				cp := s.Begin(1)
				writeAccs(b, cp.Operator("3-window-agg"), keys, 1)
				cp.SetSourceOffset("1-source", "bids/0", []byte("12345"))
				start := time.Now()
				if _, err := cp.Commit(context.Background()); err != nil {
					b.Fatal(err)
				}
				commit += time.Since(start)
				b.StopTimer()
				s.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(commit.Milliseconds())/float64(b.N), "commit-ms/op")
		})
	}
}

// BenchmarkCheckpointIncremental commits dirty changed keys out of keys
// each iteration.
func BenchmarkCheckpointIncremental(b *testing.B) {
	const n, dirty = 1000000, 10000
	b.Run(fmt.Sprintf("dirty=%d/keys=%d", dirty, n), func(b *testing.B) {
		s := openTest(b, b.TempDir(), nil)
		defer s.Close()
		cp := s.Begin(1)
		writeAccs(b, cp.Operator("3-window-agg"), seq(n), 1)
		if _, err := cp.Commit(context.Background()); err != nil {
			b.Fatal(err)
		}
		id := uint64(1)
		keys := make([]int, dirty)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			id++
			for j := range keys {
				keys[j] = int((uint64(j)*2654435761 + id*7919) % n)
			}
			cp := s.Begin(id)
			writeAccs(b, cp.Operator("3-window-agg"), keys, int(id))
			if _, err := cp.Commit(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRestore opens a store holding keys accumulators, restores it
// (verifying every record) and scans the operator's whole state.
func BenchmarkRestore(b *testing.B) {
	for _, n := range []int{10000, 1000000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			s := openTest(b, dir, nil)
			cp := s.Begin(1)
			writeAccs(b, cp.Operator("3-window-agg"), seq(n), 1)
			if _, err := cp.Commit(context.Background()); err != nil {
				b.Fatal(err)
			}
			s.Close()
			b.ResetTimer()
			for b.Loop() {
				s := openTest(b, dir, nil)
				r, err := s.Restore()
				if err != nil || r == nil {
					b.Fatal(err)
				}
				got := 0
				if err := r.Operator("3-window-agg").Scan(func(k, v []byte) error {
					got++
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				if got != n {
					b.Fatalf("scanned %d keys, want %d", got, n)
				}
				s.Close()
			}
		})
	}
}
