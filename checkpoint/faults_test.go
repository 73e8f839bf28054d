package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// tryCommit is commit without t.Fatal on a Commit error.
func tryCommit(s *Store, id uint64, writes map[string][]string) error {
	cp := s.Begin(id)
	for _, op := range slices.Sorted(mapsKeys(writes)) {
		w := cp.Operator(op)
		for _, kv := range writes[op] {
			if k, ok := strings.CutPrefix(kv, "-"); ok {
				_ = w.Delete([]byte(k))
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			_ = w.Set([]byte(k), []byte(v))
		}
	}
	cp.SetSourceOffset("src", "0", fmt.Appendf(nil, "off%d", id))
	_, err := cp.Commit(context.Background())
	return err
}

// TestFullDiskInjected makes every write to the store's files fail with
// ENOSPC, as on a full disk: Commit returns an error (it does not panic,
// as Pebble's "fatal commit error" did), the failure is counted, the
// checkpoints after it fail too while the disk is full, and once writes
// succeed again the next checkpoint lands, holding the deltas of the
// failed ones, so that a restore sees exactly the state written.
func TestFullDiskInjected(t *testing.T) {
	dir := t.TempDir()
	var full errorfs.Toggle
	full.Injector = errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind.ReadOrWrite() == errorfs.OpIsWrite && op.Kind != errorfs.OpRemove && op.Kind != errorfs.OpRemoveAll {
			return &os.PathError{Op: "write", Path: op.Path, Err: syscall.ENOSPC}
		}
		return nil
	})
	fs := errorfs.Wrap(vfs.Default, &full)
	logs := &logBuffer{}
	s := openTest(t, dir, logs, func(o *Options) { o.FS = fs })
	commit(t, s, 1, map[string][]string{"agg": {"a=1", "b=1"}})

	full.On()
	err := tryCommit(s, 2, map[string][]string{"agg": {"a=2", "c=2"}})
	if err == nil || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("commit on a full disk: %v, want ENOSPC", err)
	}
	if err := s.RecordFailure(2, err); err != nil {
		t.Fatalf("record failure while the store is down: %v", err)
	}
	// Still full: the reopen fails, cleanly.
	err = tryCommit(s, 3, map[string][]string{"agg": {"-b", "d=3"}})
	if err == nil {
		t.Fatal("commit 3 on a full disk succeeded")
	}
	if err := s.RecordFailure(3, err); err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(); err == nil {
		t.Fatal("List on a store that failed and is not reopened: no error")
	}
	f, err := s.Failures()
	if err != nil || f.Count != 2 || f.LastID != 3 {
		t.Fatalf("failures while down: %+v, %v", f, err)
	}

	full.Off()
	commit(t, s, 4, map[string][]string{"agg": {"e=4"}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTest(t, dir, nil)
	defer s.Close()
	r := mustRestore(t, s)
	if r.ID() != 4 {
		t.Fatalf("restored %d, want 4", r.ID())
	}
	if got, want := dump(t, r, "agg"), "a=2 c=2 d=3 e=4"; got != want {
		t.Fatalf("state after the full disk: %s, want %s", got, want)
	}
	if got := string(r.SourceOffsets("src")["0"]); got != "off4" {
		t.Fatalf("offset %q", got)
	}
	f, err = s.Failures()
	if err != nil || f.Count != 2 || f.LastID != 3 {
		t.Fatalf("failures after reopening: %+v, %v", f, err)
	}
	if strings.Contains(logs.String(), "panic") {
		t.Fatalf("logs mention a panic:\n%s", logs)
	}
}

// TestReadOnlyChangesNothing lists and restores a copy of a store whose
// log holds checkpoints not yet in a table (a read-write open would flush
// it into one) and compares every file before and after.
func TestReadOnlyChangesNothing(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, nil)
	for id := uint64(1); id <= 4; id++ {
		commit(t, s, id, map[string][]string{"agg": {fmt.Sprintf("k%d=%d", id, id)}})
	}
	s.Close()
	before := snapshotDir(t, filepath.Join(dir, "job"))
	ro := openTest(t, dir, nil, func(o *Options) { o.ReadOnly = true })
	list, err := ro.List()
	if err != nil || len(list) != 3 {
		t.Fatalf("list: %d checkpoints, %v", len(list), err)
	}
	r := mustRestore(t, ro)
	if r.ID() != 4 || dump(t, r, "agg") != "k1=1 k2=2 k3=3 k4=4" {
		t.Fatalf("read-only restore: %d %s", r.ID(), dump(t, r, "agg"))
	}
	if _, err := ro.Begin(5).Commit(context.Background()); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("commit on a read-only store: %v", err)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	after := snapshotDir(t, filepath.Join(dir, "job"))
	if !maps2Equal(before, after) {
		t.Fatalf("read-only open changed the directory:\nbefore %v\nafter  %v", keysOf(before), keysOf(after))
	}
	if _, err := Open(t.TempDir(), Options{JobName: "none", ReadOnly: true}); err == nil {
		t.Fatal("read-only open of a missing store created it")
	}
}

// snapshotDir returns file name → content of every file under dir.
func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[strings.TrimPrefix(p, dir)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func maps2Equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func keysOf(m map[string]string) []string {
	return slices.Sorted(mapsKeys(m))
}
