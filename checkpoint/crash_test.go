package checkpoint

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The crash test re-executes the test binary as a child that commits
// checkpoints in a loop with content that is a function of the id alone;
// the parent SIGKILLs it at random moments, reopens the store, and checks
// that the restored checkpoint is intact and holds exactly what that id's
// content must be.

const crashEnv = "STREAMSQL_CHECKPOINT_CRASH_CHILD"

// crashKeys is the key space of the crash job's one operator.
const crashKeys = 2000

// crashWrites returns the writes checkpoint id makes: sets of some keys,
// deletes of others, each id touching a different, overlapping subset.
func crashWrites(id uint64) (sets map[int]string, dels []int) {
	r := rand.New(rand.NewPCG(id, 42))
	sets = map[int]string{}
	n := 50 + r.IntN(400)
	if id%7 == 1 {
		n = crashKeys // now and then a large, full checkpoint
	}
	for range n {
		k := r.IntN(crashKeys)
		if r.IntN(5) == 0 {
			dels = append(dels, k)
			delete(sets, k)
		} else {
			sets[k] = fmt.Sprintf("v%d-%d", id, k)
		}
	}
	return sets, dels
}

// crashState is the state checkpoint id must restore: every checkpoint's
// writes up to id applied in order (the last write of a key in one
// checkpoint wins, as in crashWrites' map).
func crashState(id uint64) map[int]string {
	st := map[int]string{}
	for i := uint64(1); i <= id; i++ {
		sets, dels := crashWrites(i)
		// Apply in the order crashChild writes them: deletes, then sets
		// (crashWrites never leaves a key in both).
		for _, k := range dels {
			if _, ok := sets[k]; !ok {
				delete(st, k)
			}
		}
		for k, v := range sets {
			st[k] = v
		}
	}
	return st
}

func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashRecovery")
	}
	s, err := Open(dir, Options{JobName: "crash", NumRetained: 2})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	r, err := s.Restore()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	id := uint64(1)
	if r != nil {
		id = r.ID() + 1
	}
	for ; ; id++ {
		cp := s.Begin(id)
		w := cp.Operator("agg")
		sets, dels := crashWrites(id)
		for _, k := range dels {
			if _, ok := sets[k]; !ok {
				w.Delete([]byte(strconv.Itoa(k)))
			}
		}
		for k, v := range sets {
			w.Set([]byte(strconv.Itoa(k)), []byte(v))
		}
		cp.SetSourceOffset("src", "0", []byte(strconv.FormatUint(id*100, 10)))
		if _, err := cp.Commit(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
	}
}

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	last := uint64(0)
	for round := range 12 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(50+rng.IntN(400)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child ended with %v, not by SIGKILL", round, err)
		}

		logs := &logBuffer{}
		s := openTest(t, dir, logs, func(o *Options) { o.JobName = "crash"; o.NumRetained = 2 })
		r, err := s.Restore()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if r == nil {
			s.Close()
			t.Logf("round %d: killed before the first checkpoint", round)
			continue
		}
		if r.ID() < last {
			t.Fatalf("round %d: restored %d, older than %d restored before", round, r.ID(), last)
		}
		last = r.ID()
		if l := logs.String(); l != "" {
			t.Fatalf("round %d: unexpected warnings:\n%s", round, l)
		}
		want := crashState(r.ID())
		got := map[int]string{}
		if err := r.Operator("agg").Scan(func(k, v []byte) error {
			n, _ := strconv.Atoi(string(k))
			got[n] = string(v)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("round %d: checkpoint %d has %d keys, want %d", round, r.ID(), len(got), len(want))
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("round %d: checkpoint %d key %d = %q, want %q", round, r.ID(), k, got[k], v)
			}
		}
		if off := string(r.SourceOffsets("src")["0"]); off != strconv.FormatUint(r.ID()*100, 10) {
			t.Fatalf("round %d: offset %q", round, off)
		}
		t.Logf("round %d: restored checkpoint %d (%d keys)", round, r.ID(), len(got))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if last == 0 {
		t.Fatal("no round got as far as a checkpoint")
	}
}
