package state

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// mapState is a StateWriter and StateReader over a map (key order does
// not matter to a Meter).
type mapState struct {
	m    map[string][]byte
	fail bool
}

var errWrite = errors.New("write failed")

func (s *mapState) Set(k, v []byte) error {
	if s.fail {
		return errWrite
	}
	s.m[string(k)] = append([]byte(nil), v...)
	return nil
}

func (s *mapState) Delete(k []byte) error {
	if s.fail {
		return errWrite
	}
	delete(s.m, string(k))
	return nil
}

func (s *mapState) Scan(fn func(k, v []byte) error) error {
	for k, v := range s.m {
		if err := fn([]byte(k), v); err != nil {
			return err
		}
	}
	return nil
}

func (s *mapState) bytes() int64 {
	n := 0
	for k, v := range s.m {
		n += len(k) + len(v)
	}
	return int64(n)
}

// TestMeter: random sets (new keys and overwrites of other sizes) and
// deletes (of present and absent keys) through a metered writer keep the
// meter equal to a scan of what was written; failed writes change nothing;
// Restore recomputes the size of a state it did not see written.
func TestMeter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	st := &mapState{m: map[string][]byte{}}
	m := NewMeter()
	w := m.Writer(st)
	for i := range 20000 {
		k := []byte(fmt.Sprintf("key-%d", rng.IntN(500)))
		var err error
		if rng.IntN(3) == 0 {
			err = w.Delete(k)
		} else {
			err = w.Set(k, make([]byte, rng.IntN(40)))
		}
		if err != nil {
			t.Fatal(err)
		}
		if i%1000 == 0 || i == 19999 {
			if got, want := m.Bytes(), st.bytes(); got != want {
				t.Fatalf("after %d writes: meter %d, scan %d", i+1, got, want)
			}
			if m.Entries() != len(st.m) {
				t.Fatalf("after %d writes: meter has %d entries, state %d", i+1, m.Entries(), len(st.m))
			}
		}
	}
	if m.Bytes() == 0 {
		t.Fatal("the random writes left no state: the test checks nothing")
	}
	before := m.Bytes()
	st.fail = true
	if err := w.Set([]byte("key-new"), []byte("v")); !errors.Is(err, errWrite) {
		t.Fatalf("failing Set: %v", err)
	}
	for k := range st.m {
		if err := w.Delete([]byte(k)); !errors.Is(err, errWrite) {
			t.Fatalf("failing Delete: %v", err)
		}
		break
	}
	if m.Bytes() != before {
		t.Fatalf("failed writes changed the meter from %d to %d", before, m.Bytes())
	}
	st.fail = false

	// A restore sees the state once; later writes go on from there.
	r := NewMeter()
	if err := r.Restore(st); err != nil {
		t.Fatal(err)
	}
	if r.Bytes() != st.bytes() {
		t.Fatalf("restored meter %d, scan %d", r.Bytes(), st.bytes())
	}
	rw := r.Writer(st)
	for k := range st.m {
		if err := rw.Delete([]byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if r.Bytes() != 0 || len(st.m) != 0 {
		t.Fatalf("after deleting every restored entry: meter %d, %d entries left", r.Bytes(), len(st.m))
	}
	if err := r.Restore(nil); err != nil || r.Bytes() != 0 {
		t.Fatalf("Restore(nil): %v, %d bytes", err, r.Bytes())
	}
}
