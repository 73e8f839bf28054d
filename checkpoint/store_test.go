package checkpoint

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock advances one second per call.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// logBuffer collects log output for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func openTest(t testing.TB, dir string, logs *logBuffer, mod ...func(*Options)) *Store {
	t.Helper()
	o := Options{JobName: "job", Clock: newFakeClock(), NumRetained: 3}
	if logs != nil {
		o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	for _, m := range mod {
		m(&o)
	}
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// dump returns an operator's state as "k=v" lines.
func dump(t testing.TB, r *Restored, op string) string {
	t.Helper()
	sr := r.Operator(op)
	if sr == nil {
		return "<none>"
	}
	var lines []string
	if err := sr.Scan(func(k, v []byte) error {
		lines = append(lines, fmt.Sprintf("%s=%s", k, v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, " ")
}

func mustRestore(t testing.TB, s *Store) *Restored {
	t.Helper()
	r, err := s.Restore()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func commit(t testing.TB, s *Store, id uint64, writes map[string][]string) CheckpointInfo {
	t.Helper()
	cp := s.Begin(id)
	for _, op := range slices.Sorted(mapsKeys(writes)) {
		w := cp.Operator(op)
		for _, kv := range writes[op] {
			if k, ok := strings.CutPrefix(kv, "-"); ok {
				if err := w.Delete([]byte(k)); err != nil {
					t.Fatal(err)
				}
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			if err := w.Set([]byte(k), []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
	}
	cp.SetSourceOffset("src", "0", []byte(fmt.Sprintf("off%d", id)))
	cp.SetSinkHandle("sink", []byte(fmt.Sprintf("txn%d", id)))
	info, err := cp.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestBasicRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, nil)
	if r := mustRestore(t, s); r != nil {
		t.Fatalf("fresh store restored %d", r.ID())
	}
	commit(t, s, 1, map[string][]string{"agg": {"a=1", "b=2", "c\x00x=3"}, "stateless": nil})
	commit(t, s, 2, map[string][]string{"agg": {"a=10", "-b", "d=4"}})
	// Never committed: invisible.
	cp := s.Begin(3)
	cp.Operator("agg").Set([]byte("zz"), []byte("nope"))
	cp.SetSourceOffset("src", "0", []byte("off3"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, nil)
	defer s.Close()
	r := mustRestore(t, s)
	if r.ID() != 2 {
		t.Fatalf("restored %d, want 2", r.ID())
	}
	if got, want := dump(t, r, "agg"), "a=10 c\x00x=3 d=4"; got != want {
		t.Fatalf("state %q, want %q", got, want)
	}
	if got := string(r.SourceOffsets("src")["0"]); got != "off2" {
		t.Fatalf("offset %q", got)
	}
	if got := string(r.SinkHandle("sink")); got != "txn2" {
		t.Fatalf("handle %q", got)
	}
	if got := r.Operators(); !slices.Equal(got, []string{"agg"}) {
		t.Fatalf("operators %v", got)
	}
	if r.Operator("stateless") != nil {
		t.Fatal("stateless operator has a reader")
	}
	if _, err := s.Begin(2).Commit(context.Background()); err == nil {
		t.Fatal("stale id accepted")
	}
	commit(t, s, 3, map[string][]string{"agg": {"e=5"}})
}
