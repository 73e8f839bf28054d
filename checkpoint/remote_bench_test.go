package checkpoint

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/streamsql/streamsql/internal/s3test"
)

// remoteBench is where a benchmark's checkpoint dir is: a local directory
// or a real S3 server on loopback.
type remoteBench struct {
	name string
	opts func(b *testing.B) Options
}

func remoteBenches() []remoteBench {
	return []remoteBench{
		{"local", func(b *testing.B) Options { return Options{JobName: "job", Clock: systemClock{}, NumRetained: 3} }},
		{"dir", func(b *testing.B) Options {
			return Options{JobName: "job", Clock: systemClock{}, NumRetained: 3, CheckpointDir: b.TempDir()}
		}},
		{"s3", func(b *testing.B) Options {
			srv := s3test.Start(b)
			return Options{JobName: "job", Clock: systemClock{}, NumRetained: 3, CheckpointDir: srv.URL("ckpt"), ObjectStore: srv.Config()}
		}},
	}
}

func benchOpen(b *testing.B, dir string, o Options) *Store {
	b.Helper()
	o.Logger = slog.New(slog.DiscardHandler)
	s, err := OpenContext(context.Background(), dir, o)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Restore(); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkRemoteIncremental: bytes uploaded per checkpoint against the
// state the checkpoint changed, with keys accumulators of state and dirty
// of them updated per checkpoint (a local-directory checkpoint dir: the
// bytes do not depend on the backend).
func BenchmarkRemoteIncremental(b *testing.B) {
	const n = 1000000
	for _, dirty := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("dirty=%d/keys=%d", dirty, n), func(b *testing.B) {
			s := benchOpen(b, b.TempDir(), remoteBenches()[1].opts(b))
			defer s.Close()
			cp := s.Begin(1)
			writeAccs(b, cp.Operator("3-window-agg"), seq(n), 1)
			first, err := cp.Commit(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			id := uint64(1)
			keys := make([]int, dirty)
			var uploaded, changed int64
			b.ResetTimer()
			for b.Loop() {
				id++
				for j := range keys {
					keys[j] = int((uint64(j)*2654435761 + id*7919) % n)
				}
				cp := s.Begin(id)
				writeAccs(b, cp.Operator("3-window-agg"), keys, int(id))
				info, err := cp.Commit(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				uploaded += info.Uploaded
				changed += info.Bytes
			}
			b.ReportMetric(float64(first.Uploaded), "full-upload-B")
			b.ReportMetric(float64(uploaded)/float64(b.N), "uploaded-B/op")
			b.ReportMetric(float64(changed)/float64(b.N), "changed-B/op")
			b.ReportMetric(float64(uploaded)/float64(changed), "uploaded/changed")
		})
	}
}

// BenchmarkRemoteIncrementalWindows: as BenchmarkRemoteIncremental, for a
// tumbling window's pattern: each checkpoint adds dirty accumulators of
// new windows (keys ascending in time) and deletes as many of the
// windows that fired.
func BenchmarkRemoteIncrementalWindows(b *testing.B) {
	const n = 1000000
	key := func(buf []byte, i int) []byte {
		return append(binary.BigEndian.AppendUint64(buf[:0], uint64(i)), "auction-0000000000000000"...)
	}
	for _, dirty := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("dirty=%d/keys=%d", dirty, n), func(b *testing.B) {
			s := benchOpen(b, b.TempDir(), remoteBenches()[1].opts(b))
			defer s.Close()
			var kb, vb []byte
			cp := s.Begin(1)
			w := cp.Operator("3-window-agg")
			for i := range n {
				kb, vb = key(kb, i), accValue(vb, i, 1)
				w.Set(kb, vb)
			}
			if _, err := cp.Commit(context.Background()); err != nil {
				b.Fatal(err)
			}
			id := 1
			var uploaded, changed int64
			b.ResetTimer()
			for b.Loop() {
				id++
				cp := s.Begin(uint64(id))
				w := cp.Operator("3-window-agg")
				for i := range dirty {
					kb, vb = key(kb, n+(id-2)*dirty+i), accValue(vb, i, id)
					w.Set(kb, vb)
					w.Delete(key(kb, (id-2)*dirty+i))
				}
				info, err := cp.Commit(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				uploaded += info.Uploaded
				changed += info.Bytes
			}
			b.ReportMetric(float64(uploaded)/float64(b.N), "uploaded-B/op")
			b.ReportMetric(float64(changed)/float64(b.N), "changed-B/op")
			b.ReportMetric(float64(uploaded)/float64(changed), "uploaded/changed")
		})
	}
}

// BenchmarkRemoteCheckpoint: checkpoint duration with 1,000,000
// accumulators of state, 10,000 of them changed per checkpoint: local
// only, a local-directory checkpoint dir, and S3 on loopback. first-ms is
// the first (full) checkpoint.
func BenchmarkRemoteCheckpoint(b *testing.B) {
	const n, dirty = 1000000, 10000
	for _, rb := range remoteBenches() {
		b.Run(fmt.Sprintf("%s/keys=%d/dirty=%d", rb.name, n, dirty), func(b *testing.B) {
			s := benchOpen(b, b.TempDir(), rb.opts(b))
			defer s.Close()
			cp := s.Begin(1)
			writeAccs(b, cp.Operator("3-window-agg"), seq(n), 1)
			start := time.Now()
			if _, err := cp.Commit(context.Background()); err != nil {
				b.Fatal(err)
			}
			first := time.Since(start)
			id := uint64(1)
			keys := make([]int, dirty)
			var upload time.Duration
			b.ResetTimer()
			for b.Loop() {
				id++
				for j := range keys {
					keys[j] = int((uint64(j)*2654435761 + id*7919) % n)
				}
				cp := s.Begin(id)
				writeAccs(b, cp.Operator("3-window-agg"), keys, int(id))
				info, err := cp.Commit(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				upload += info.UploadDuration
			}
			b.ReportMetric(float64(first.Milliseconds()), "first-ms")
			b.ReportMetric(float64(upload.Microseconds())/1000/float64(b.N), "upload-ms/op")
		})
	}
}

// BenchmarkRemoteRestore: restore of 1,000,000 accumulators from the
// checkpoint dir onto an empty state dir (download, open, verify, scan).
func BenchmarkRemoteRestore(b *testing.B) {
	const n = 1000000
	for _, rb := range remoteBenches()[1:] {
		b.Run(fmt.Sprintf("%s/keys=%d", rb.name, n), func(b *testing.B) {
			o := rb.opts(b)
			s := benchOpen(b, b.TempDir(), o)
			cp := s.Begin(1)
			writeAccs(b, cp.Operator("3-window-agg"), seq(n), 1)
			info, err := cp.Commit(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				dir := b.TempDir()
				b.StartTimer()
				s := benchOpen(b, dir, o)
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
			b.ReportMetric(float64(info.Uploaded), "checkpoint-B")
		})
	}
}
