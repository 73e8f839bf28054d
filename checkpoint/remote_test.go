package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/streamsql/streamsql/checkpoint/objstore"
)

// countingBucket counts the Gets and the bytes Put through a real Bucket,
// and fails Puts while failPuts is set.
type countingBucket struct {
	objstore.Bucket
	gets, puts, putBytes atomic.Int64
	failPuts             atomic.Bool
	// ghostManifests: a manifest Put stores the object but reports a
	// failure (a request that timed out and landed later).
	ghostManifests atomic.Bool
	// onlyMarkers: every Put but a _failed marker fails.
	onlyMarkers atomic.Bool
	// failMarkers: every Put of a _failed marker fails.
	failMarkers atomic.Bool
}

func (c *countingBucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	c.gets.Add(1)
	return c.Bucket.Get(ctx, key)
}

func (c *countingBucket) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if c.failPuts.Load() || c.onlyMarkers.Load() && !strings.HasSuffix(key, "/"+failedKey) ||
		c.failMarkers.Load() && strings.HasSuffix(key, "/"+failedKey) {
		return fmt.Errorf("injected failure putting %s", key)
	}
	if c.ghostManifests.Load() && strings.HasSuffix(key, "/"+manifestKey) {
		if err := c.Bucket.Put(ctx, key, r, size); err != nil {
			return err
		}
		return fmt.Errorf("injected timeout putting %s (it landed)", key)
	}
	c.puts.Add(1)
	c.putBytes.Add(size)
	return c.Bucket.Put(ctx, key, r, size)
}

// remoteTest is a checkpoint dir in a local directory, opened through a
// counting wrapper (installed on the store after Open).
type remoteTest struct {
	t    testing.TB
	loc  string // the checkpoint dir
	logs *logBuffer
}

func newRemoteTest(t testing.TB) *remoteTest {
	return &remoteTest{t: t, loc: filepath.Join(t.TempDir(), "remote"), logs: &logBuffer{}}
}

func (rt *remoteTest) open(stateDir string, mod ...func(*Options)) (*Store, error) {
	o := Options{JobName: "job", Clock: newFakeClock(), NumRetained: 3, CheckpointDir: rt.loc}
	o.Logger = slog.New(slog.NewTextHandler(rt.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	for _, m := range mod {
		m(&o)
	}
	return OpenContext(context.Background(), stateDir, o)
}

func (rt *remoteTest) mustOpen(stateDir string, mod ...func(*Options)) *Store {
	rt.t.Helper()
	s, err := rt.open(stateDir, mod...)
	if err != nil {
		rt.t.Fatal(err)
	}
	return s
}

// count wraps the store's bucket.
func count(s *Store) *countingBucket {
	c := &countingBucket{Bucket: s.remote.bucket}
	s.remote.bucket = c
	return c
}

// jobFiles lists the keys under the job's prefix.
func (rt *remoteTest) jobFiles() []string {
	rt.t.Helper()
	b, err := jobBucket(context.Background(), rt.loc, "job", objstore.Config{})
	if err != nil {
		rt.t.Fatal(err)
	}
	objs, err := b.List(context.Background(), "")
	if err != nil {
		rt.t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}

// writeKeys commits checkpoint id setting keys [from, to) of operator "op"
// to values tagged with id.
func writeKeys(t testing.TB, s *Store, id uint64, from, to int) CheckpointInfo {
	t.Helper()
	p := s.Begin(id)
	w := p.Operator("op")
	for i := from; i < to; i++ {
		if err := w.Set(fmt.Appendf(nil, "key-%07d", i), fmt.Appendf(nil, "value-%d-%d-padding-padding-padding", i, id)); err != nil {
			t.Fatal(err)
		}
	}
	p.SetSourceOffset("src", "topic/0", fmt.Appendf(nil, "%d", id))
	p.SetSinkHandle("sink", fmt.Appendf(nil, "txn-%d", id))
	info, err := p.Commit(context.Background())
	if err != nil {
		t.Fatalf("commit %d: %v", id, err)
	}
	return info
}

func restoreDump(t testing.TB, s *Store) (uint64, string, string) {
	t.Helper()
	r, err := s.Restore()
	if err != nil {
		t.Fatal(err)
	}
	if r == nil {
		return 0, "", ""
	}
	return r.ID(), dump(t, r, "op"), string(r.SourceOffsets("src")["topic/0"])
}

func TestRemoteIncrementalAndRestoreAnywhere(t *testing.T) {
	rt := newRemoteTest(t)
	dirA := t.TempDir()
	s := rt.mustOpen(dirA)
	restoreDump(t, s)
	info1 := writeKeys(t, s, 1, 0, 20000)
	if info1.Uploaded < 20000*20 {
		t.Fatalf("first checkpoint uploaded %d bytes, less than its state", info1.Uploaded)
	}
	info2 := writeKeys(t, s, 2, 0, 100) // a small delta
	if info2.Uploaded*10 > info1.Uploaded {
		t.Fatalf("second checkpoint (100 of 20000 keys changed) uploaded %d bytes, first %d: not incremental", info2.Uploaded, info1.Uploaded)
	}
	if info2.UploadDuration <= 0 || s.Stats().UploadedBytes != info2.Uploaded {
		t.Fatalf("upload stats: %+v, info %d %v", s.Stats(), info2.Uploaded, info2.UploadDuration)
	}
	wantID, wantState, wantOff := restoreDump(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Another machine: an empty state dir.
	dirB := t.TempDir()
	s2 := rt.mustOpen(dirB)
	id, state, off := restoreDump(t, s2)
	if id != wantID || state != wantState || off != wantOff {
		t.Fatalf("restored onto an empty dir: id %d off %q, state equal %v", id, off, state == wantState)
	}
	// It resumes: ids go on, and the next checkpoint uploads only files
	// that are not in the checkpoint dir yet: the downloaded tables are
	// known by name and size (Pebble may compact them into new ones).
	info3 := writeKeys(t, s2, 3, 100, 150)
	m2, err := readManifest(context.Background(), s2.remote.bucket, "job", 2)
	if err != nil {
		t.Fatal(err)
	}
	m3, err := readManifest(context.Background(), s2.remote.bucket, "job", 3)
	if err != nil {
		t.Fatal(err)
	}
	var fresh int64
	for _, f := range m3.Files {
		if !slices.ContainsFunc(m2.Files, func(g remoteFile) bool { return g.Key == f.Key }) {
			fresh += f.Size
		}
	}
	b, err := getAll(context.Background(), s2.remote.bucket, "chk-3/"+manifestKey)
	if err != nil {
		t.Fatal(err)
	}
	if info3.Uploaded != fresh+int64(len(b)) {
		t.Fatalf("checkpoint 3 uploaded %d bytes; its new files and manifest have %d", info3.Uploaded, fresh+int64(len(b)))
	}
	s2.Close()

	// The same machine again: the local store is current, nothing is
	// downloaded but the manifest.
	s3 := rt.mustOpen(dirB)
	s3.Close()
	if !strings.Contains(rt.logs.String(), "not downloading") {
		t.Fatalf("a current local store was downloaded again:\n%s", rt.logs)
	}
	// dirA is behind (checkpoint 2): it is replaced by checkpoint 3.
	s4 := rt.mustOpen(dirA)
	id, _, off = restoreDump(t, s4)
	if id != 3 || off != "3" {
		t.Fatalf("stale local dir restored %d (offset %q), want 3", id, off)
	}
	s4.Close()
}

func TestRemoteCurrentLocalDirNoDownload(t *testing.T) {
	rt := newRemoteTest(t)
	dir := t.TempDir()
	s := rt.mustOpen(dir)
	writeKeys(t, s, 1, 0, 1000)
	writeKeys(t, s, 2, 0, 10)
	s.Close()
	before := inodes(t, dir)
	c := &countingBucket{}
	s = rt.mustOpen(dir, func(o *Options) {
		o.wrapBucket = func(b objstore.Bucket) objstore.Bucket { c.Bucket = b; return c }
	})
	if c.gets.Load() != 2 { // the two manifests, no file
		t.Fatalf("%d Gets to open a store holding the newest checkpoint, want 2 (the manifests)", c.gets.Load())
	}
	id, _, _ := restoreDump(t, s)
	writeKeys(t, s, 3, 0, 10)
	s.Close()
	if id != 2 {
		t.Fatalf("restored %d, want 2", id)
	}
	if c.gets.Load() != 3 { // and the read-back of the new one
		t.Fatalf("%d Gets in all, want 2", c.gets.Load())
	}
	after := inodes(t, dir)
	same := 0
	for name, ino := range before {
		if strings.HasSuffix(name, ".sst") && after[name] == ino {
			same++
		}
	}
	if same == 0 {
		t.Fatalf("no table file of the local store survived the reopen: it was downloaded\nbefore %v\nafter %v", before, after)
	}
}

func inodes(t testing.TB, dir string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	jd, _ := JobDir(dir, "job")
	ents, err := os.ReadDir(jd)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = inodeOf(fi)
	}
	return out
}

func TestRemoteBadManifestsSkippedLoudly(t *testing.T) {
	rt := newRemoteTest(t)
	s := rt.mustOpen(t.TempDir(), func(o *Options) { o.NumRetained = 5 })
	for id := uint64(1); id <= 4; id++ {
		writeKeys(t, s, id, 0, 200*int(id))
	}
	s.Close()
	jd := filepath.Join(rt.loc, "job")
	// 4: torn manifest; 3: no manifest; 2: a damaged shared file.
	m4 := filepath.Join(jd, "chk-4", manifestKey)
	b, err := os.ReadFile(m4)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m4, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(jd, "chk-3", manifestKey)); err != nil {
		t.Fatal(err)
	}
	m2, err := readManifest(context.Background(), mustBucket(t, rt), "job", 2)
	if err != nil {
		t.Fatal(err)
	}
	damaged := false
	m1, err := readManifest(context.Background(), mustBucket(t, rt), "job", 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m2.Files {
		if !isShared(f.Name) || slices.ContainsFunc(m1.Files, func(g remoteFile) bool { return g.Key == f.Key }) {
			continue
		}
		p := filepath.Join(jd, filepath.FromSlash(f.Key))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		damaged = true
		break
	}
	if !damaged {
		t.Fatal("checkpoint 2 has no table file of its own")
	}
	s = rt.mustOpen(t.TempDir())
	id, _, off := restoreDump(t, s)
	s.Close()
	if id != 1 || off != "1" {
		t.Fatalf("restored %d (offset %q), want the fallback to 1", id, off)
	}
	logs := rt.logs.String()
	for _, want := range []string{
		"checkpoint=4 problem=\"manifest checksum mismatch",
		"INCOMPLETE REMOTE CHECKPOINT SKIPPED (no manifest, or its upload failed)\" job=job location=" + jd + " checkpoint=3",
		"checkpoint=2 problem=\"file shared/",
		"fails its checksum",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}

	// Nothing valid left: an error, not a fresh start.
	if err := os.WriteFile(filepath.Join(jd, "chk-1", manifestKey), []byte("garbage\n{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"2", "4"} {
		os.Remove(filepath.Join(jd, "chk-"+id, manifestKey))
	}
	if _, err := rt.open(t.TempDir()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("no valid manifest: %v, want ErrCorrupt", err)
	}
	// Fresh starts over, and removes the old checkpoints.
	s = rt.mustOpen(t.TempDir(), func(o *Options) { o.Fresh = true })
	id, _, _ = restoreDump(t, s)
	s.Close()
	if id != 0 || len(rt.jobFiles()) != 0 {
		t.Fatalf("fresh: restored %d, remote holds %v", id, rt.jobFiles())
	}
}

func mustBucket(t testing.TB, rt *remoteTest) objstore.Bucket {
	b, err := jobBucket(context.Background(), rt.loc, "job", objstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRemoteUploadFailure(t *testing.T) {
	rt := newRemoteTest(t)
	s := rt.mustOpen(t.TempDir())
	writeKeys(t, s, 1, 0, 100)
	c := count(s)
	c.failPuts.Store(true)
	p := s.Begin(2)
	p.Operator("op").Set([]byte("key-2"), []byte("two"))
	_, err := p.Commit(context.Background())
	if err == nil || !strings.Contains(err.Error(), "upload of checkpoint 2 to "+filepath.Join(rt.loc, "job")) || !strings.Contains(err.Error(), "injected failure putting") {
		t.Fatalf("failed upload: %v", err)
	}
	if s.Stats().RemoteFailures != 1 {
		t.Fatalf("stats %+v", s.Stats())
	}
	c.failPuts.Store(false)
	p = s.Begin(3)
	p.Operator("op").Set([]byte("key-3"), []byte("three"))
	p.SetSourceOffset("src", "topic/0", []byte("3"))
	if _, err := p.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = rt.mustOpen(t.TempDir())
	r, err := s.Restore()
	if err != nil {
		t.Fatal(err)
	}
	state := dump(t, r, "op")
	s.Close()
	if r.ID() != 3 || !strings.Contains(state, "key-2=two") || !strings.Contains(state, "key-3=three") {
		t.Fatalf("restored %d: %s", r.ID(), state)
	}

	// A job killed after the local commit but before the manifest: the
	// remote is the truth, the local checkpoint is not restored.
	dir := t.TempDir()
	s = rt.mustOpen(dir)
	restoreDump(t, s)
	count(s).failPuts.Store(true)
	p = s.Begin(4)
	p.Operator("op").Set([]byte("key-4"), []byte("four"))
	if _, err := p.Commit(context.Background()); err == nil {
		t.Fatal("upload did not fail")
	}
	s.Close()
	s = rt.mustOpen(dir)
	id, state, _ := restoreDump(t, s)
	s.Close()
	if id != 3 || strings.Contains(state, "key-4") {
		t.Fatalf("restored %d with %q after a failed upload of 4", id, state)
	}
}

func TestRemoteRetention(t *testing.T) {
	rt := newRemoteTest(t)
	s := rt.mustOpen(t.TempDir())
	for id := uint64(1); id <= 50; id++ {
		writeKeys(t, s, id, int(id)*37%500, int(id)*37%500+200)
	}
	s.Close()
	b := mustBucket(t, rt)
	want := map[string]bool{}
	for _, id := range []uint64{48, 49, 50} {
		m, err := readManifest(context.Background(), b, "job", id)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range manifestKeys(m) {
			want[k] = true
		}
	}
	got := rt.jobFiles()
	var extra []string
	for _, k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
		delete(want, k)
	}
	if len(extra) > 0 || len(want) > 0 {
		t.Fatalf("after 50 checkpoints: unreferenced %v, missing %v", extra, want)
	}
	ids, _, err := remoteManifests(context.Background(), b)
	if err != nil || !slices.Equal(ids, []uint64{50, 49, 48}) {
		t.Fatalf("manifests %v %v", ids, err)
	}
	list, err := ListRemote(context.Background(), rt.loc, "job", objstore.Config{})
	if err != nil || len(list) != 3 || list[2].ID != 50 || list[2].Files == 0 || list[2].Size == 0 ||
		list[2].Uploaded <= 0 || list[2].Uploaded > list[2].Size || string(list[2].SourceOffsets["src"]["topic/0"]) != "50" {
		t.Fatalf("ListRemote: %+v %v", list, err)
	}
	rc, err := InspectRemote(context.Background(), rt.loc, "job", 0, objstore.Config{})
	if err != nil || rc.ID != 50 || string(rc.SinkHandles["sink"]) != "txn-50" {
		t.Fatalf("InspectRemote: %+v %v", rc, err)
	}
}

func TestRemoteSavepoint(t *testing.T) {
	rt := newRemoteTest(t)
	s := rt.mustOpen(t.TempDir())
	writeKeys(t, s, 1, 0, 500)
	writeKeys(t, s, 2, 0, 50)
	_, want, _ := restoreDump(t, s)
	sp := filepath.Join(t.TempDir(), "sp")
	// The local-directory bucket stands in for S3 here (Savepoint sends
	// only s3:// locations this way; see the S3 tests).
	s.mu.Lock()
	info, err := s.savepointRemote(context.Background(), sp)
	if err == nil {
		_, err2 := s.savepointRemote(context.Background(), sp)
		if err2 == nil || !strings.Contains(err2.Error(), "already exists") {
			t.Errorf("second savepoint to the same place: %v", err2)
		}
	}
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if info.CheckpointID != 2 {
		t.Fatalf("savepoint info %+v", info)
	}
	if ri, err := ReadSavepointContext(context.Background(), sp, objstore.Config{}); err != nil || ri.CheckpointID != 2 || ri.Job != "job" {
		t.Fatalf("ReadSavepointContext: %+v %v", ri, err)
	}
	// Restore it with another checkpoint dir, onto an empty dir; the
	// next checkpoint goes to that checkpoint dir.
	rt2 := newRemoteTest(t)
	dst := t.TempDir()
	s2 := rt2.mustOpen(dst, func(o *Options) { o.FromSavepoint = sp })
	r2, err := s2.Restore()
	if err != nil {
		t.Fatal(err)
	}
	if r2.ID() != 2 || dump(t, r2, "op") != want {
		t.Fatalf("restored %d from the savepoint", r2.ID())
	}
	writeKeys(t, s2, 3, 0, 1)
	s2.Close()
	s3 := rt2.mustOpen(t.TempDir())
	if id, _, _ := restoreDump(t, s3); id != 3 {
		t.Fatalf("after the savepoint: restored %d", id)
	}
	s3.Close()

	// A damaged savepoint file is detected.
	spm, err := readRemoteSavepointFiles(sp)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(sp, filepath.FromSlash(spm))
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 1
	os.WriteFile(p, b, 0o644)
	if _, err := rt2.open(t.TempDir(), func(o *Options) { o.FromSavepoint = sp }); err == nil || !strings.Contains(err.Error(), "fails its checksum") {
		t.Fatalf("damaged savepoint: %v", err)
	}
}

// readRemoteSavepointFiles returns the key of the savepoint's largest table file.
func readRemoteSavepointFiles(sp string) (string, error) {
	_, m, err := readRemoteSavepoint(context.Background(), sp, objstore.Config{})
	if err != nil {
		return "", err
	}
	best := remoteFile{}
	for _, f := range m.Files {
		if isShared(f.Name) && f.Size > best.Size {
			best = f
		}
	}
	return best.Key, nil
}

func inodeOf(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// A manifest whose Put failed but landed anyway is never restored: the
// next upload marks it failed before anything else.
func TestRemoteGhostManifest(t *testing.T) {
	rt := newRemoteTest(t)
	c := &countingBucket{}
	s := rt.mustOpen(t.TempDir(), func(o *Options) {
		o.wrapBucket = func(b objstore.Bucket) objstore.Bucket { c.Bucket = b; return c }
	})
	restoreDump(t, s)
	writeKeys(t, s, 1, 0, 100)
	c.ghostManifests.Store(true)
	p := s.Begin(2)
	p.Operator("op").Set([]byte("ghost"), []byte("2"))
	if _, err := p.Commit(context.Background()); err == nil {
		t.Fatal("checkpoint 2 succeeded")
	}
	c.ghostManifests.Store(false)
	c.onlyMarkers.Store(true) // the outage goes on, but the marker lands
	p = s.Begin(3)
	if _, err := p.Commit(context.Background()); err == nil {
		t.Fatal("checkpoint 3 succeeded")
	}
	s.Close()
	s = rt.mustOpen(t.TempDir())
	id, state, _ := restoreDump(t, s)
	s.Close()
	if id != 1 || strings.Contains(state, "ghost") {
		t.Fatalf("restored %d (%q): the failed checkpoint 2 came back", id, state)
	}
	if !strings.Contains(rt.logs.String(), "(no manifest, or its upload failed)\" job=job location="+filepath.Join(rt.loc, "job")+" checkpoint=2") {
		t.Errorf("the skip is not logged:\n%s", rt.logs)
	}
}

// A manifest whose PUT failed is marked failed before Commit returns, so
// that the job's sinks go on only once the checkpoint cannot be restored:
// a process killed right after the failure restores the previous one.
func TestRemoteGhostManifestMarkedBeforeCommitReturns(t *testing.T) {
	rt := newRemoteTest(t)
	c := &countingBucket{}
	s := rt.mustOpen(t.TempDir(), func(o *Options) {
		o.wrapBucket = func(b objstore.Bucket) objstore.Bucket { c.Bucket = b; return c }
	})
	restoreDump(t, s)
	writeKeys(t, s, 1, 0, 100)
	c.ghostManifests.Store(true)
	p := s.Begin(2)
	p.Operator("op").Set([]byte("ghost"), []byte("2"))
	_, err := p.Commit(context.Background())
	if err == nil {
		t.Fatal("checkpoint 2 succeeded")
	}
	if errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("the marker could be written, yet the outcome is unknown: %v", err)
	}
	s.Close() // killed: no later checkpoint writes the marker
	s = rt.mustOpen(t.TempDir())
	id, state, _ := restoreDump(t, s)
	s.Close()
	if id != 1 || strings.Contains(state, "ghost") {
		t.Fatalf("restored %d (%q): the failed checkpoint 2 came back", id, state)
	}
}

// When neither the manifest's PUT nor the marker's is confirmed, Commit
// says the outcome is unknown (the job must stop), and a restore may take
// the checkpoint: it is complete.
func TestRemoteOutcomeUnknown(t *testing.T) {
	rt := newRemoteTest(t)
	c := &countingBucket{}
	s := rt.mustOpen(t.TempDir(), func(o *Options) {
		o.wrapBucket = func(b objstore.Bucket) objstore.Bucket { c.Bucket = b; return c }
		o.UploadTimeout = 300 * time.Millisecond
		o.OpenRetry = 600 * time.Millisecond
	})
	restoreDump(t, s)
	writeKeys(t, s, 1, 0, 100)
	c.ghostManifests.Store(true)
	c.failMarkers.Store(true)
	p := s.Begin(2)
	p.Operator("op").Set([]byte("ghost"), []byte("2"))
	_, err := p.Commit(context.Background())
	if !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("Commit = %v, want ErrOutcomeUnknown", err)
	}
	s.Close()
	s = rt.mustOpen(t.TempDir())
	id, state, _ := restoreDump(t, s)
	s.Close()
	if id != 2 || !strings.Contains(state, "ghost") {
		t.Fatalf("restored %d (%q), want the landed checkpoint 2", id, state)
	}
}

// A marker that cannot be written at first is retried past the upload
// timeout, for as long as Open would wait: an object store that restarts
// (seconds) costs the job a stall at the barrier, not the job.
func TestRemoteMarkerOutlastsUploadTimeout(t *testing.T) {
	rt := newRemoteTest(t)
	c := &countingBucket{}
	s := rt.mustOpen(t.TempDir(), func(o *Options) {
		o.wrapBucket = func(b objstore.Bucket) objstore.Bucket { c.Bucket = b; return c }
		o.UploadTimeout = 200 * time.Millisecond
		o.OpenRetry = 30 * time.Second
	})
	restoreDump(t, s)
	writeKeys(t, s, 1, 0, 100)
	c.ghostManifests.Store(true)
	c.failMarkers.Store(true)
	time.AfterFunc(time.Second, func() { c.failMarkers.Store(false) }) // the server is back
	p := s.Begin(2)
	p.Operator("op").Set([]byte("ghost"), []byte("2"))
	start := time.Now()
	_, err := p.Commit(context.Background())
	if err == nil {
		t.Fatal("checkpoint 2 succeeded")
	}
	if errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("gave up on the marker after %v (upload timeout 200ms, retry window 30s): %v", time.Since(start), err)
	}
	s.Close()
	s = rt.mustOpen(t.TempDir())
	id, state, _ := restoreDump(t, s)
	s.Close()
	if id != 1 || strings.Contains(state, "ghost") {
		t.Fatalf("restored %d (%q): the failed checkpoint 2 came back", id, state)
	}
}

// A run that restores checkpoint 1 after an earlier run's attempt 2 was
// marked failed must not take id 2 again: its own checkpoint 2 would sit
// beside the marker and never be restored, although its sinks committed.
// The same holds with no checkpoint restored at all (attempt 1 failed).
func TestRemoteNextIDSkipsFailedAttempts(t *testing.T) {
	for _, restored := range []bool{true, false} {
		t.Run(fmt.Sprint("restored=", restored), func(t *testing.T) {
			rt := newRemoteTest(t)
			c := &countingBucket{}
			s := rt.mustOpen(t.TempDir(), func(o *Options) {
				o.wrapBucket = func(b objstore.Bucket) objstore.Bucket { c.Bucket = b; return c }
			})
			restoreDump(t, s)
			next := uint64(1)
			if restored {
				writeKeys(t, s, 1, 0, 100)
				next = 2
			}
			c.ghostManifests.Store(true)
			p := s.Begin(next)
			p.Operator("op").Set([]byte("ghost"), []byte("x"))
			if _, err := p.Commit(context.Background()); err == nil || errors.Is(err, ErrOutcomeUnknown) {
				t.Fatalf("checkpoint %d: want a failed (marked) checkpoint, got %v", next, err)
			}
			s.Close()

			s = rt.mustOpen(t.TempDir())
			id, _, _ := restoreDump(t, s)
			if id != next-1 {
				t.Fatalf("restored %d, want %d", id, next-1)
			}
			if got := s.NextID(); got != next+1 {
				t.Fatalf("NextID = %d after the failed attempt %d, want %d", got, next, next+1)
			}
			writeKeys(t, s, s.NextID(), 0, 10)
			s.Close()
			s = rt.mustOpen(t.TempDir())
			defer s.Close()
			if id, _, _ := restoreDump(t, s); id != next+1 {
				t.Fatalf("the checkpoint after the failed attempt was not restored: restored %d, want %d", id, next+1)
			}
		})
	}
}
