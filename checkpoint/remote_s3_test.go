package checkpoint

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/internal/s3test"
)

// The remote protocol against a real S3 server: restore anywhere, a
// savepoint on S3, an outage that fails checkpoints until the server is
// back, and Open waiting for an unreachable server. Credentials never
// appear in logs or errors.
func TestRemoteS3(t *testing.T) {
	srv := s3test.Start(t)
	logs := &logBuffer{}
	cfg := srv.Config()
	cfg.Timeout = time.Second // a paused server: requests time out quickly
	opts := func(mod ...func(*Options)) Options {
		o := Options{JobName: "job/1", Clock: newFakeClock(), NumRetained: 2, CheckpointDir: srv.URL("ckpt"),
			ObjectStore: cfg, UploadTimeout: 5 * time.Second,
			Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}
		for _, m := range mod {
			m(&o)
		}
		return o
	}
	ctx := context.Background()
	var errs []string
	s, err := OpenContext(ctx, t.TempDir(), opts())
	if err != nil {
		t.Fatal(err)
	}
	restoreDump(t, s)
	for id := uint64(1); id <= 4; id++ {
		writeKeys(t, s, id, 0, 300*int(id))
	}
	_, want, _ := restoreDump(t, s)
	sp := srv.URL("savepoints/sp-1")
	if _, err := s.Savepoint(ctx, sp); err != nil {
		t.Fatal(err)
	}

	// An outage: the checkpoint fails (in time), the local state stays.
	srv.Pause(t)
	start := time.Now()
	p := s.Begin(5)
	p.Operator("op").Set([]byte("during"), []byte("outage"))
	_, err = p.Commit(ctx)
	if err == nil {
		t.Fatal("a checkpoint during the outage succeeded")
	}
	if !strings.Contains(err.Error(), "upload of checkpoint 5 to s3://"+srv.Bucket+"/ckpt/job%2F1") {
		t.Fatalf("outage error: %v", err)
	}
	errs = append(errs, err.Error())
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("failed checkpoint took %v", d)
	}
	srv.Resume(t)
	writeKeys(t, s, 6, 0, 10)
	_, want6, _ := restoreDump(t, s)
	s.Close()

	// Another machine restores 6, the outage's write included.
	s2, err := OpenContext(ctx, t.TempDir(), opts())
	if err != nil {
		t.Fatal(err)
	}
	id, got, off := restoreDump(t, s2)
	s2.Close()
	if id != 6 || off != "6" || got != want6 || !strings.Contains(got, "during=outage") {
		t.Fatalf("restored %d (offset %q) from S3", id, off)
	}

	// The savepoint on S3 restores onto an empty dir.
	s3, err := OpenContext(ctx, t.TempDir(), opts(func(o *Options) { o.FromSavepoint = sp; o.JobName = "other" }))
	if err != nil {
		t.Fatal(err)
	}
	id, got, _ = restoreDump(t, s3)
	s3.Close()
	if id != 4 || got != want {
		t.Fatalf("restored %d from the S3 savepoint", id)
	}

	// Open while the server is down waits for it (longer than the upload
	// timeout).
	srv.Pause(t)
	go func() {
		time.Sleep(1500 * time.Millisecond)
		srv.Resume(t)
	}()
	s4, err := OpenContext(ctx, t.TempDir(), opts(func(o *Options) { o.UploadTimeout = time.Second }))
	if err != nil {
		t.Fatal(err)
	}
	if id, _, _ := restoreDump(t, s4); id != 6 {
		t.Fatalf("restored %d after waiting for the server", id)
	}
	s4.Close()
	if !strings.Contains(logs.String(), "checkpoint dir unreachable, retrying") {
		t.Errorf("no retry logged:\n%s", logs)
	}
	// And gives up, naming the location.
	srv.Pause(t)
	defer srv.Resume(t)
	_, err = OpenContext(ctx, t.TempDir(), opts(func(o *Options) { o.OpenRetry = time.Second }))
	if err == nil || !strings.Contains(err.Error(), "unreachable") || !strings.Contains(err.Error(), srv.URL("ckpt")) {
		t.Fatalf("open with the server down: %v", err)
	}
	errs = append(errs, err.Error())

	all := logs.String() + strings.Join(errs, "\n")
	if strings.Contains(all, srv.SecretKey) || strings.Contains(all, srv.AccessKey) {
		t.Fatal("credentials in logs or errors")
	}
}
