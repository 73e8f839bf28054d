package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, nil)
	_, err := Open(dir, Options{JobName: "job"})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "is in use by another process") {
		t.Fatalf("second open: %v", err)
	}
	// Another job in the same state dir is independent.
	other := openTest(t, dir, nil, func(o *Options) { o.JobName = "other/job" })
	commit(t, other, 1, map[string][]string{"agg": {"x=1"}})
	other.Close()
	s.Close()
	s = openTest(t, dir, nil)
	defer s.Close()
	if r := mustRestore(t, s); r != nil {
		t.Fatalf("job saw another job's checkpoint %d", r.ID())
	}
}

func TestNotRestored(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, nil)
	commit(t, s, 1, map[string][]string{"agg": {"a=1"}})
	s.Close()
	s = openTest(t, dir, nil)
	defer s.Close()
	if _, err := s.Begin(2).Commit(context.Background()); !errors.Is(err, ErrNotRestored) {
		t.Fatalf("commit before restore: %v", err)
	}
	mustRestore(t, s)
	commit(t, s, 2, nil)
}

// TestConcurrentWriters has several operators write from their own
// goroutines, as the runtime's tasks do; run with -race.
func TestConcurrentWriters(t *testing.T) {
	s := openTest(t, t.TempDir(), nil)
	defer s.Close()
	for id := uint64(1); id <= 3; id++ {
		cp := s.Begin(id)
		var wg sync.WaitGroup
		for op := range 4 {
			wg.Go(func() {
				w := cp.Operator(fmt.Sprintf("op%d", op))
				for k := range 500 {
					w.Set(fmt.Appendf(nil, "k%03d", k), fmt.Appendf(nil, "%d", id))
				}
				cp.SetSourceOffset("src", fmt.Sprint(op), []byte("x"))
			})
		}
		wg.Wait()
		cp.SetAlignment(time.Millisecond)
		if _, err := cp.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	r := mustRestore(t, s)
	if got := len(r.Operators()); got != 4 {
		t.Fatalf("%d operators", got)
	}
	if got := len(r.SourceOffsets("src")); got != 4 {
		t.Fatalf("%d splits", got)
	}
}

// TestDuplicateWrites: the last write of a key in one checkpoint wins and
// the checksum still verifies.
func TestDuplicateWrites(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, nil)
	commit(t, s, 1, map[string][]string{"agg": {"a=1", "a=2", "-a", "b=1", "-b", "b=3", "\x00=z", "\x00\x00=zz", "=empty"}})
	s.Close()
	s = openTest(t, dir, nil)
	defer s.Close()
	r := mustRestore(t, s)
	if got, want := dump(t, r, "agg"), "=empty \x00=z \x00\x00=zz b=3"; got != want {
		t.Fatalf("state %q, want %q", got, want)
	}
}

func TestCoordinator(t *testing.T) {
	clock := newFakeClock() // ticks 1s per Now
	c := NewCoordinator(10*time.Second, clock)
	t0 := clock.t
	if c.Due(t0.Add(9 * time.Second)) {
		t.Fatal("due early")
	}
	if !c.Due(t0.Add(10 * time.Second)) {
		t.Fatal("not due after the interval")
	}
	if c.Due(t0.Add(15 * time.Second)) {
		t.Fatal("due again too soon")
	}
	c.Trigger()
	if !c.Due(t0.Add(16 * time.Second)) {
		t.Fatal("trigger ignored")
	}
	if c.Due(t0.Add(17*time.Second)) || !c.Due(t0.Add(26*time.Second)) {
		t.Fatal("trigger did not restart the interval")
	}
	off := NewCoordinator(0, clock)
	if off.Due(t0.Add(time.Hour)) {
		t.Fatal("interval 0 due")
	}
	off.Trigger()
	if !off.Due(t0) {
		t.Fatal("interval 0 ignores trigger")
	}
}

func TestEscRoundTrip(t *testing.T) {
	for _, s := range []string{"", "a", "\x00", "\x00\x01", "a\x00b\x00", "\xff\x00\xff"} {
		enc := appendEsc(nil, []byte(s))
		dec, rest, ok := decodeEsc(nil, append(enc, 'x'))
		if !ok || string(dec) != s || string(rest) != "x" {
			t.Fatalf("%q: %q %q %v", s, dec, rest, ok)
		}
	}
}
